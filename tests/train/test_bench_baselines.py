"""benchmarks/bench_baselines.py: its plain port is disentanglement_lib's network and β-VAE
loss, and the script runs end to end in quick mode (as CI runs it)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from jlonevae_lib.architecture.dlib_conv import DlibConvVAE
from jlonevae_lib.train.dlib_losses import bernoulli_logits_loss, gaussian_kl

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_baselines.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_baselines", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_baselines"] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["bench_baselines"]


def test_plain_port_is_disentanglement_libs_network(bench):
    """The reference computes what dlibConv computes: same parameter count, and with dlibConv's
    weights copied in (the flatten and reshape permuted to NCHW order), the same means,
    log-variances and logits to float32 rounding."""
    torch.manual_seed(0)
    ours = DlibConvVAE(latent_dim=10)
    plain = bench.plain_dlib_vae(latent_dim=10)
    assert sum(p.numel() for p in plain.parameters()) == sum(
        p.numel() for p in ours.parameters()) == 690517
    enc, dec = ours.encoder, ours.decoder
    with torch.no_grad():
        convs = [m for m in plain["encoder"] if isinstance(m, torch.nn.Conv2d)]
        for mine, theirs in zip(convs, (enc.e1, enc.e2, enc.e3, enc.e4), strict=True):
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
        e5, head = [m for m in plain["encoder"] if isinstance(m, torch.nn.Linear)]
        # ours flattens (h, w, c); the port flattens (c, h, w)
        e5.weight.copy_(enc.e5.weight.reshape(256, 4, 4, 64).permute(0, 3, 1, 2)
                        .reshape(256, 1024))
        e5.bias.copy_(enc.e5.bias)
        head.weight.copy_(torch.cat((enc.means.weight, enc.log_var.weight)))
        head.bias.copy_(torch.cat((enc.means.bias, enc.log_var.bias)))
        dense, dense_1 = [m for m in plain["decoder"] if isinstance(m, torch.nn.Linear)]
        dense.weight.copy_(dec.dense.weight)
        dense.bias.copy_(dec.dense.bias)
        dense_1.weight.copy_(dec.dense_1.weight.reshape(4, 4, 64, 256).permute(2, 0, 1, 3)
                             .reshape(1024, 256))
        dense_1.bias.copy_(dec.dense_1.bias.reshape(4, 4, 64).permute(2, 0, 1).reshape(1024))
        deconvs = [m for m in plain["decoder"] if isinstance(m, torch.nn.ConvTranspose2d)]
        for mine, theirs in zip(deconvs, (dec.conv2d_transpose, dec.conv2d_transpose_1,
                                          dec.conv2d_transpose_2, dec.conv2d_transpose_3),
                                strict=True):
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
        x = torch.rand(3, 1, 64, 64, generator=torch.Generator().manual_seed(1))
        z = torch.randn(3, 10, generator=torch.Generator().manual_seed(2))
        mu, logvar = plain["encoder"](x).chunk(2, dim=1)
        torch.testing.assert_close((mu, logvar), ours.encode(x), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(plain["decoder"](z), ours.decode_logits(z),
                                   rtol=1e-5, atol=1e-5)
        # and the port's loss terms are disentanglement_lib's
        logits = plain["decoder"](z)
        reconstruction = F.binary_cross_entropy_with_logits(
            logits, x, reduction="none").sum(dim=(1, 2, 3)).mean()
        torch.testing.assert_close(reconstruction, bernoulli_logits_loss(logits, x))
        kl = (0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(dim=1)).mean()
        torch.testing.assert_close(kl, gaussian_kl(mu, logvar))


def test_every_baseline_has_a_tensorflow_figure_and_runs_its_study_setting(bench, tmp_path):
    assert set(bench.TF_STEP_MS) == set(bench.METHODS)
    for method in bench.METHODS:
        config = bench.baseline_config(method, "threeDots", 8, tmp_path)
        assert (config.objective, config.architecture, config.batch_size) == (method, "dlibConv", 8)
        assert config.lr == 1e-4 and config.latent_dim == 10
    assert bench.baseline_config("factor_vae", "threeDots", 8, tmp_path).objective_params == {
        "gamma": 30.0}


def test_table_verdicts(bench):
    per_block = {bench.REFERENCE: [0.040, 0.050, 0.045], "beta_vae": [0.026, 0.025, 0.027],
                 "factor_vae": [0.040, 0.041, 0.039], "jlonevae fd": [0.3]}
    table = bench.format_table(per_block)
    rows = {line.split()[0]: line for line in table.splitlines()}
    assert rows["beta_vae"].split()[1:3] == ["26.0", "25.0"]
    assert rows["beta_vae"].endswith(" met")  # 26.0 <= 0.7 * 37.5
    assert rows["factor_vae"].endswith("not met")  # 40.0 > 0.7 * 50.7
    assert "TF" not in rows["jlonevae"].split("x", 1)[1]
    assert "target met by 1 of 6 baselines" in table
    assert "TF ms" not in bench.format_table(per_block, compare_tf=False)


def test_table_verdicts_against_tensorflow_measured_here(bench):
    per_block = {bench.REFERENCE: [0.045], "beta_vae": [0.026], "factor_vae": [0.040]}
    measured = {method: 60.0 for method in bench.METHODS}
    table = bench.format_table(per_block, tf_step_ms=measured)
    rows = {line.split()[0]: line for line in table.splitlines()}
    assert rows["factor_vae"].endswith(" met")  # 40.0 <= 0.7 * 60, though not vs TF_STEP_MS
    assert rows[bench.REFERENCE.split()[0]].split()[-1] == "0.75x"  # 45 / TF's β-VAE 60
    assert "target met by 2 of 6" in table and "measured here, back to back" in table


#: disentanglement_lib's network, multiply-adds per image of each layer's forward pass, written
#: out from its shapes (docs/method.md): output positions × input channels × kernel taps.
DLIB_FORWARD_MACS = {
    "e1": 32 * 32 * 32 * 1 * 16, "e2": 16 * 16 * 32 * 32 * 16, "e3": 8 * 8 * 64 * 32 * 4,
    "e4": 4 * 4 * 64 * 64 * 4, "e5": 1024 * 256, "means and log_var": 256 * 2 * 10,
    "dense": 10 * 256, "dense_1": 256 * 1024,
    # transposed convolutions: input positions × input channels × output channels × taps
    "conv2d_transpose": 4 * 4 * 64 * 64 * 16, "conv2d_transpose_1": 8 * 8 * 64 * 32 * 16,
    "conv2d_transpose_2": 16 * 16 * 32 * 32 * 16, "conv2d_transpose_3": 32 * 32 * 32 * 1 * 16,
}


def test_step_flops_counts_the_networks_arithmetic(bench, monkeypatch, tmp_path):
    """A β-VAE training step does each layer's forward product, its weight gradient and its
    input gradient (all but e1's: the images need none), 2 FLOPs per multiply-add."""
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path))
    batch = 2
    step = bench.plain_beta_vae_step("threeDots", batch)
    forward = sum(DLIB_FORWARD_MACS.values())
    expected = 2 * batch * (3 * forward - DLIB_FORWARD_MACS["e1"])
    assert bench.step_flops(step) == expected
    trainer_step = bench.Trainer(bench.baseline_config("beta_vae", "threeDots", batch,
                                                       tmp_path)).training_step
    assert bench.step_flops(trainer_step) == expected


def test_floor_table_puts_a_target_under_the_floor_when_the_peak_cannot_reach_it(bench):
    per_block = {"beta_vae": [0.059], "factor_vae": [0.10], "jlonevae fd": [0.4]}
    flops = {"beta_vae": 5_271_000_000, "factor_vae": 1_000_000_000, "jlonevae fd": 39e9}
    table = bench.format_floor_table(per_block, flops, peak_gflops=184.5,
                                     tf_step_ms={m: 37.5 for m in bench.METHODS})
    rows = {line.split()[0]: line.split() for line in table.splitlines()[3:]}
    # 5.271 GFLOP at 184.5 GFLOP/s: 28.6 ms, above 0.7 × 37.5 = 26.2 ms
    assert rows["beta_vae"][1:5] == ["5.27", "28.6", "59.0", "48%"]
    assert rows["beta_vae"][5:] == ["26.2", "under", "the", "floor"]
    assert rows["factor_vae"][5:] == ["26.2", "above", "the", "floor"]  # 5.4 ms floor
    assert len(rows["jlonevae"]) == 6  # no target for our own rows
    assert "184.5 GFLOP/s" in table.splitlines()[0]
    no_tf = bench.format_floor_table(per_block, flops, 184.5, compare_tf=False)
    assert "floor" not in no_tf.splitlines()[-1]


@pytest.mark.slow
def test_quick_mode_runs(bench, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path))
    assert bench.main(["--quick", "--ablation", "--floor"]) == 0
    out = capsys.readouterr().out
    for row in (bench.REFERENCE, *bench.METHODS, *bench.JL1_ROWS, bench.ABLATION_ROW):
        line = next(line for line in out.splitlines() if line.startswith(row + " "))
        assert float(line[len(row):].split()[0]) > 0
    assert "batch 8 from threeDots" in out
    floor = out[out.index("arithmetic floor"):].splitlines()
    for row in (bench.REFERENCE, *bench.METHODS, *bench.JL1_ROWS, bench.ABLATION_ROW):
        line = next(line for line in floor if line.startswith(row + " "))
        gflop, floor_ms = map(float, line[len(row):].split()[:2])
        assert gflop > 0 and floor_ms > 0
