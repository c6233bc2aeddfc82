"""benchmarks/bench_rendering.py runs end to end and reports an exact match with OpenCV."""

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_rendering.py"


def test_quick_benchmark_runs(capsys):
    pytest.importorskip("cv2")
    spec = importlib.util.spec_from_file_location("bench_rendering", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--quick", "--num-images", "30", "--cache-images", "50"]) == 0
    out = capsys.readouterr().out
    ours = next(line for line in out.splitlines() if line.startswith("ours"))
    assert ours.split()[-1] == "0"  # max |Δ| against the OpenCV reference
    assert "4,096 bytes/image" in out
