"""benchmarks/cuda_pipeline_check.py, the prepared device check, in its CPU mode (``--quick``,
as CI runs it): the CPU parts pass, the CUDA parts say SKIP, the JSON record is written."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

CHECK = Path(__file__).resolve().parents[2] / "benchmarks" / "cuda_pipeline_check.py"

pytestmark = pytest.mark.slow


def test_quick_cpu_mode_runs_the_cpu_parts_and_skips_the_cuda_ones(capsys, tmp_path,
                                                                   monkeypatch):
    spec = importlib.util.spec_from_file_location("cuda_pipeline_check", CHECK)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "cuda_pipeline_check", module)  # for its dataclasses
    spec.loader.exec_module(module)
    record_path = tmp_path / "check.json"
    assert module.main(["--quick", "--device", "cpu", "--json", str(record_path)]) == 0
    out = capsys.readouterr().out
    record = json.loads(record_path.read_text())
    status = {check["name"]: check["status"] for check in record["checks"]}
    assert record["passed"] and "FAIL" not in status.values(), out
    assert record["environment"]["device"] == "cpu"
    # Every check printed as one line: status, then name.
    for check in record["checks"]:
        assert f"{check['status']:<4}  {check['name']}: " in out
    skipped = [name for name, word in status.items() if word == "SKIP"]
    assert len(skipped) == 3 and any(name.startswith("host syncs") for name in skipped)
    assert status["precision: FD Jacobian under emulated TF32 (CPU)"] == "PASS"
    assert status["pipeline: resumed = uninterrupted, --deterministic (weights)"] == "PASS"
    throughput = [c for c in record["checks"] if c["name"].startswith("throughput")]
    assert len(throughput) == 8  # the paper's configuration, β-VAE and the six baselines
    assert all(c["values"]["batches_per_s"] > 0 for c in throughput)
    assert "no GPU here" in out and "PASS  device check: 0 of 7 checks failed" in out
