"""benchmarks/bench_precision.py: float32 and bf16 runs of the same settings, interleaved; its
figures' structure (no timing is asserted: the machine decides those)."""

from __future__ import annotations

import json

import pytest

from tests.benchmark_scripts import benchmark_script


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("bench_precision") as module:
        yield module


def test_the_two_runs_differ_in_precision_only(bench, tmp_path):
    for method, architecture in (("beta_vae", "dlibConv"), ("jlonevae", "defaultConv")):
        f32, bf16 = (bench.run_config(method, precision, "threeDots", 8, tmp_path)
                     for precision in bench.PRECISIONS)
        assert (f32.precision, bf16.precision) == ("float32", "bf16")
        assert f32.same_run_as(bench.TrainConfig.from_dict(
            {**bf16.to_dict(), "precision": "float32", "output_dir": f32.output_dir}))
        assert (f32.objective, f32.architecture, f32.batch_size) == (method, architecture, 8)
    jl1 = bench.run_config("jlonevae", "bf16", "threeDots", 8, tmp_path)
    assert (jl1.gamma, jl1.jacobian_batch, jl1.lr) == (0.1, 16, 1e-3)  # the CPU study's arm


def test_loss_windows_and_the_report(bench):
    arms = {"float32": bench.Arm(None, None, [0.010, 0.012, 0.011], [10.0, 8.0, 6.0]),
            "bf16": bench.Arm(None, None, [0.005, 0.006, 0.007], [10.5, 8.0, 5.7])}
    summary = bench.summarise(arms, window=2)
    assert summary["ms_per_step"] == pytest.approx({"float32": 11.5, "bf16": 6.5})
    assert summary["best_block_ms"] == pytest.approx({"float32": 11.0, "bf16": 6.0})
    assert summary["speedup"] == pytest.approx(11.5 / 6.5)
    first, last = summary["loss_windows"]
    assert (first["first_batch"], first["last_batch"], last["first_batch"],
            last["last_batch"]) == (1, 2, 3, 3)
    assert first["relative_difference"] == pytest.approx((9.25 - 9.0) / 9.0)
    assert last["relative_difference"] == pytest.approx(-0.05)
    report = bench.format_report(summary)
    assert "bf16 speed-up: 1.77x" in report
    assert report.splitlines()[-1].split() == ["3-3", "6.000", "5.700", "-5.00%"]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["beta_vae", "jlonevae"])
def test_quick_mode_runs_and_writes_its_figures(bench, capsys, monkeypatch, tmp_path, method):
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path))
    out_json = tmp_path / "precision.json"
    assert bench.main(["--quick", "--method", method, "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert f"{method} on " in out and "batch 8 from threeDots" in out
    assert "bf16 speed-up: " in out and "training loss, mean per window" in out
    figures = json.loads(out_json.read_text())
    assert (figures["method"], figures["batch_size"], figures["batches"]) == (method, 8, 8)
    assert set(figures["ms_per_step"]) == set(figures["loss"]) == {"float32", "bf16"}
    assert all(len(losses) == 8 for losses in figures["loss"].values())
    assert all(len(blocks) == 4 for blocks in figures["block_ms"].values())
    windows = figures["loss_windows"]
    assert [(w["first_batch"], w["last_batch"]) for w in windows] == [(1, 4), (5, 8)]
    assert all(set(w) == {"first_batch", "last_batch", "float32", "bf16",
                          "relative_difference"} for w in windows)
    # the same seed: the same first batch, weights and noise; the first losses differ only by
    # bf16's rounding
    first = figures["loss"]["float32"][0], figures["loss"]["bf16"][0]
    assert first[1] == pytest.approx(first[0], rel=1e-2) and first[0] > 0
