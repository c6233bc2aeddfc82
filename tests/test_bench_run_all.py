"""benchmarks/run_all.py (``make bench``): a benchmark that needs disentanglement_lib's own
environment is skipped with a note where that is not built, so a fresh checkout passes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

RUN_ALL = Path(__file__).resolve().parents[1] / "benchmarks" / "run_all.py"


def test_the_dlib_suite_is_skipped_without_its_environment(tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("run_all", RUN_ALL)
    run_all = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_all)
    monkeypatch.setenv("DLIB_VENV", str(tmp_path / "missing"))
    assert run_all.main(["--quick", "--only", "bench_dlib_suite"]) == 0
    out = capsys.readouterr().out
    assert f"bench_dlib_suite: skipped, no {tmp_path / 'missing' / 'bin' / 'python'}" in out
    assert "build_dlib_env.bash" in out
    assert "skipped: bench_dlib_suite (needs disentanglement_lib's environment)" in out
