"""benchmarks/bench_cuda_training.py runs end to end in quick mode (on the CPU, as CI runs it);
the device check it used to run first has its own test (test_cuda_pipeline_check.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_cuda_training.py"

pytestmark = pytest.mark.slow


def test_quick_run_reports_every_variant_and_the_projection(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path))
    spec = importlib.util.spec_from_file_location("bench_cuda_training", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--quick", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    for variant in ("(a) seed", *module.OURS):
        row = next(line for line in out.splitlines() if line.startswith(variant))
        ms, per_second = (float(v) for v in row[len(variant):].split()[:2])
        assert ms > 0 and abs(per_second - 1e3 / ms) <= 0.1 + 1e-3 * per_second
    assert "projected paper run (ours fd, 300,000 batches)" in out
    assert "no GPU here" in out and "goal" not in out
