"""benchmarks/cuda_pipeline_check.py, the prepared device check, in its CPU mode (``--quick``,
as CI runs it): the CPU parts pass, the CUDA parts say SKIP, the JSON record is written (with
part 5's bf16 figures; its timings are not asserted on)."""

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
    assert len(skipped) == 4 and any(name.startswith("host syncs") for name in skipped)
    assert "bf16: no slower than float32 x 1.1" in skipped  # the speed gate: CUDA only
    assert status["precision: FD Jacobian under emulated TF32 (CPU)"] == "PASS"
    assert status["pipeline: resumed = uninterrupted, --deterministic (weights)"] == "PASS"
    throughput = [c for c in record["checks"] if c["name"].startswith("throughput")]
    assert len(throughput) == 8  # the paper's configuration, β-VAE and the six baselines
    assert all(c["values"]["batches_per_s"] > 0 for c in throughput)
    assert_bf16_part(record, status)
    assert "no GPU here" in out and "PASS  device check: 0 of 11 checks failed" in out


def assert_bf16_part(record: dict, status: dict[str, str]) -> None:
    """Part 5 on the CPU: bf16 accepted; both runs' speed (INFO) and final loss (PASS) lines;
    the penalty in the bf16 run bit for bit float32's; the figures under the record's bf16."""
    runs = ("beta_vae (dlibConv)", "JL1-VAE (defaultConv, FD penalty)")
    assert status["bf16: autocast support on cpu"] == "PASS"
    for run in runs:
        assert status[f"bf16: {run} speed on cpu"] == "INFO"
        assert status[f"bf16: {run} final loss = float32's"] == "PASS"
    assert status["bf16: JL1 penalty and its decoder gradient in a bf16 run = float32's"] == \
        "PASS"
    bf16 = record["bf16"]
    assert bf16["device"] == "cpu" and bf16["supported"] is True
    assert (bf16["dataset"], bf16["batch_size"]) == ("threeDots", 8)
    assert sorted(bf16["runs"]) == sorted(runs)
    for figures in bf16["runs"].values():
        assert set(figures) == {"ms_per_step", "speedup", "final_loss", "loss_relative"}
        assert all(figures["ms_per_step"][p] > 0 and figures["final_loss"][p] > 0
                   for p in ("float32", "bf16"))
        assert figures["speedup"] > 0 and figures["loss_relative"] <= bf16["loss_rtol"]
    penalty = bf16["penalty"]
    # Bitwise on the CPU by construction: in one process the penalty runs the same float32
    # kernels on the same tensors with autocast off (on CUDA the check allows 2e-3).
    assert penalty["bit_identical"] and penalty["tolerance"] == 0 and penalty["autocast_on"]
    assert penalty["relative"] == penalty["gradient_relative"] == 0
