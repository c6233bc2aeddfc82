import os
import platform
import subprocess
import sys
import time

import pytest

from jlonevae_lib.utils.timing import best_time, call_seconds, median_time


def test_timings_call_the_function_each_time_and_summarise(monkeypatch):
    """A fake clock that each call advances by its delay: exact, whatever the machine's load."""
    clock = [100.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])
    delays = iter([0.03, 0.0, 0.01])
    calls = []

    def sleeper() -> None:
        calls.append(1)
        clock[0] += next(delays)

    assert call_seconds(sleeper, 3) == pytest.approx([0.03, 0.0, 0.01], abs=1e-12)
    assert len(calls) == 3
    delays = iter([0.02, 0.0, 0.01])
    assert best_time(sleeper, 3) == pytest.approx(0.0, abs=1e-12)
    delays = iter([0.02, 0.0, 0.01])
    assert median_time(sleeper, 3) == pytest.approx(0.01, abs=1e-12)


@pytest.mark.parametrize(("malloc", "omp"), [("1", "1"), ("0", "1"), ("1", "0")])
def test_benchmark_process_tuning_follows_the_switches(malloc, omp):
    # Process-wide settings: checked in a fresh interpreter.
    code = ("import os; from jlonevae_lib.utils.timing import tune_benchmark_process; "
            "print(tune_benchmark_process(os.environ), os.environ.get('GOMP_SPINCOUNT'))")
    env = {key: value for key, value in os.environ.items()
           if key not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    env.update(JLONEVAE_MALLOC_TUNING=malloc, JLONEVAE_OMP_TUNING=omp)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    glibc = platform.libc_ver()[0] == "glibc"
    assert out[0] == str(malloc == "1" and glibc)
    assert (out[1] != "None") == (omp == "1")


def test_cpu_model_and_flags_read_cpuinfo(monkeypatch, tmp_path):
    import builtins

    from jlonevae_lib.utils import timing
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\n"
                    "flags\t\t: fpu avx2 avx512f avx512_bf16\n")
    real_open = builtins.open

    def fake_open(path, *args, **kwargs):
        return real_open(info if path == "/proc/cpuinfo" else path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    assert timing.cpu_model() == "Test CPU 9000"
    assert timing.cpu_flags(("avx2", "amx_bf16", "avx512_bf16")) == {
        "avx2": True, "amx_bf16": False, "avx512_bf16": True}
    assert timing.present_cpu_flags(("avx512_bf16", "amx_bf16", "avx2")) == ["avx512_bf16", "avx2"]
    info.unlink()  # no cpuinfo: no flags, and the model falls back to the platform's name
    assert timing.cpu_flags(("avx2",)) is None
    assert timing.present_cpu_flags(("avx2",)) == []
    assert timing.cpu_model() == (platform.processor() or platform.machine() or "unknown")


def test_environ_default_keeps_the_users_value_and_restores(monkeypatch):
    from jlonevae_lib.utils import timing

    monkeypatch.delenv("JLONEVAE_TEST_ROOT", raising=False)
    with timing.environ_default("JLONEVAE_TEST_ROOT", "/tmp/x") as value:
        assert value == os.environ["JLONEVAE_TEST_ROOT"] == "/tmp/x"
    assert "JLONEVAE_TEST_ROOT" not in os.environ
    with pytest.raises(RuntimeError), timing.environ_default("JLONEVAE_TEST_ROOT", "/tmp/x"):
        raise RuntimeError("a failed benchmark")
    assert "JLONEVAE_TEST_ROOT" not in os.environ
    monkeypatch.setenv("JLONEVAE_TEST_ROOT", "/data")
    with timing.environ_default("JLONEVAE_TEST_ROOT", "/tmp/x") as value:
        assert value == os.environ["JLONEVAE_TEST_ROOT"] == "/data"
    assert os.environ["JLONEVAE_TEST_ROOT"] == "/data"
    monkeypatch.setenv("JLONEVAE_TEST_ROOT", "")  # set but empty counts as unset
    with timing.environ_default("JLONEVAE_TEST_ROOT", "/tmp/x") as value:
        assert value == os.environ["JLONEVAE_TEST_ROOT"] == "/tmp/x"
    assert os.environ["JLONEVAE_TEST_ROOT"] == ""
