"""benchmarks/bench_training_step.py: its restated reference step computes the same loss as
ours, and the script runs end to end in quick mode (as CI runs it)."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest
import torch

from jlonevae_lib.architecture.jacobian import jacobian_penalty
from jlonevae_lib.architecture.vae import ConvVAE, conv_vae_args

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_training_step.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_training_step", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("tuned", [False, True])
def test_reference_and_ours_give_the_same_loss(bench, tuned):
    """Same weights, batch and noise: the seed's crop-after decoder with its FD penalty and our
    padded decoder with ours. Without the CPU kernel choice the decoders are equal to rounding
    of the crop (1e-7); with it the last layer's kernel differs too, and forward differences
    amplify that by 1/ε, so the penalty agrees to ~1e-5 and the VAE loss to ~1e-7."""
    args = conv_vae_args("defaultConv", im_channels=1, latent_dim=10)
    torch.manual_seed(0)
    ours = ConvVAE(**args)
    ours.tuned_cpu_kernels = tuned
    seed = bench.SeedConvVAE(args)
    seed.load_state_dict(copy.deepcopy(ours.state_dict()))
    x = torch.rand(16, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    values = []
    for model, penalty in ((seed, lambda z: bench.seed_jacobian_loss(seed, z)),
                           (ours, lambda z: jacobian_penalty(ours.decode, z))):
        torch.manual_seed(2)
        recon, mu, logvar, z = model(x)
        values.append((bench.vae_loss(recon, x, mu, logvar).item(), penalty(z.detach()).item()))
    (vae_seed, pen_seed), (vae_ours, pen_ours) = values
    assert vae_ours == pytest.approx(vae_seed, rel=1e-6)
    assert pen_ours == pytest.approx(pen_seed, rel=1e-6 if not tuned else 1e-4)


@pytest.mark.slow
def test_quick_mode_runs(bench, capsys):
    assert bench.main(["--quick"]) == 0
    out = capsys.readouterr().out
    for variant in ("(a) seed", "(b) plain", "(c) fd", "(d) exact", "(e) fd-sub16"):
        assert variant in out
    # On glibc the reference is also timed under our malloc tuning, and the FD step's ratio
    # given against both.
    assert ("(c) fd / (a1) seed+malloc" in out) == bench.MALLOC_TUNED
