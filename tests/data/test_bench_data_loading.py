"""benchmarks/bench_data_loading.py runs end to end in quick mode (as CI runs it)."""

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_data_loading.py"


@pytest.mark.slow
def test_quick_benchmark_runs(capsys):
    spec = importlib.util.spec_from_file_location("bench_data_loading", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--quick"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()
            if line.startswith(("threeDotsCache ", "threeDots "))}
    assert set(rows) == {"threeDotsCache", "threeDots"}
    for row in rows.values():
        assert row.count("% of") == 3  # plain, fd and fd-sub16 steps
    assert "peak RSS" in out
