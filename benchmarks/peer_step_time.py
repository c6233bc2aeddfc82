"""Milliseconds per training step of disent's β-VAE: the PyTorch peer of issue 29.

Usage (in the peer's environment, ``.venv-peer``, which ``benchmarks/build_peer_env.bash``
builds; ``bench_baselines.py --peer`` runs it)::

    .venv-peer/bin/python benchmarks/peer_step_time.py --images IMAGES.npy
        [--steps 120] [--warmup 10] [--threads N] [--batch-size 64] [--tune-malloc]
    .venv-peer/bin/python benchmarks/peer_step_time.py --check

``IMAGES.npy``: float32 (N, 1, 64, 64) images in [0, 1] (``bench_baselines.py`` writes 1,024
from the dataset it trains ours on). ``--check`` (the environment's build script runs it) only
builds the model and checks its loss terms and optimiser against disentanglement_lib's
(:func:`check_losses`). Otherwise it prints one JSON object::

    {"ms_per_step": {"beta_vae": 61.2},   median wall ms per step after the warm-up
     "first_step_ms": {"beta_vae": 80.0}, the first step
     "gflop_per_step": {"beta_vae": 6.9}, matmul and convolution GFLOP of one step, forward
                                          and backward, as torch.utils.flop_counter counts them
     "threads": 2, "batch_size": 64, "steps": 120, "warmup": 10, "malloc_tuned": true,
     "torch": "2.13.0+cpu", "disent": "0.8.0", "lightning": "2.6.6",
     "torchvision": "0.28.0" (or "absent: an inert stand-in module"),
     "network": "disent EncoderConv64/DecoderConv64"}

The model: disent 0.8.0's ``BetaVae`` framework on its ``EncoderConv64`` / ``DecoderConv64``
(x_shape (1, 64, 64), z_size 10), configured as disentanglement_lib's β-VAE: ``recon_loss='bce'``
(sigmoid cross-entropy on the logits) and ``loss_reduction='mean_sum'`` (each image's sum,
averaged over the batch; disent's docstring names this disentanglement_lib's loss), the
Gaussian KL (``latent_distribution='normal'``, ``kl_loss_mode='direct'``: the closed form),
β = 4, and disent's own optimiser (``configure_optimizers``: ``torch.optim.Adam``, lr 1e-4,
PyTorch's other defaults). disent's networks are the β-VAE paper's, not exactly
disentanglement_lib's: 4×4 kernels in the encoder's third and fourth convolutions (2×2 there)
and symmetric padding 2 (33×33, 17×17, 9×9, 5×5 maps, a 1,600-wide flatten), so its step does
more arithmetic than ours; ``gflop_per_step`` says how much.

One timed step is what Lightning's automatic optimisation does for one batch, without the
Lightning ``Trainer`` around it:

- timed: drawing the batch (64 indices drawn with replacement, one gather from the preloaded
  float32 images: what a ``DataLoader``'s collation costs at least; ours gathers from the uint8
  cache and converts), wrapping it as disent's batch ``{"x_targ": (x,)}``, the framework's
  ``training_step`` (its schedules, of which there are none; ``do_training_step``: encoding,
  the reparameterised sample, decoding, the reconstruction and KL losses, its ``self.log``
  calls, which with no trainer attached return after a check; its ``float(loss)`` reads and
  the NaN/inf/bound checks of ``_assert_valid_loss``), ``loss.backward()``,
  ``optimizer.step()`` and ``optimizer.zero_grad()`` (set to None, PyTorch's default);
- not timed: the ``Trainer``'s fit loop, hooks, callbacks, logger, progress bar and
  ``DataLoader`` workers, which a disent training run would also pay.

Ours (``Trainer.training_step``) draws a batch, zeroes the gradients, computes the loss, checks
it is finite (a host read), runs backward and Adam's step: the same work, so the two medians
compare steps of a training loop, not of a framework. Threads: ``--threads`` (torch's intra-op
threads, as ours); ``GOMP_SPINCOUNT`` and the other OpenMP settings come from the parent's
environment, and ``--tune-malloc`` applies the glibc malloc tuning the parent runs under
(``jlonevae_lib.utils.allocator.tune_glibc_malloc``'s settings, copied here: this script runs
without jlonevae installed). The steps run in one block after the warm-up; each is timed alone.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import importlib.abc
import importlib.machinery
import importlib.metadata
import json
import statistics
import sys
import time
import warnings
from collections.abc import Sequence

LATENT_DIM = 10
BETA = 4.0
LEARNING_RATE = 1e-4
SEED = 0
NETWORK = "disent EncoderConv64/DecoderConv64"
#: glibc's mallopt parameters and the values ``tune_glibc_malloc`` sets (no mmap'ed blocks,
#: 1 GiB trim threshold).
_MALLOPT_SETTINGS = ((-4, 0), (-1, 1 << 30))


def tune_glibc_malloc() -> bool:
    """``jlonevae_lib.utils.allocator.tune_glibc_malloc``'s settings; True if glibc took them."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    if not (hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt")):
        return False
    libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(libc.mallopt(param, value) == 1 for param, value in _MALLOPT_SETTINGS)


class _InertTorchvision(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``torchvision`` and its submodules as inert modules: each attribute is a class
    that refuses to be instantiated (disent subclasses ``torchvision.datasets.ImageFolder`` at
    import time), so importing disent works and using torchvision fails loudly."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torchvision" and not fullname.startswith("torchvision."):
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        return None  # the default module

    def exec_module(self, module):
        name = module.__name__
        module.__path__ = []

        def unavailable(*args, **kwargs):
            raise RuntimeError(f"{name}: torchvision is not installed in the peer environment "
                               "(an inert stand-in, benchmarks/peer_step_time.py)")

        def attribute(attr: str):
            if attr.startswith("__"):
                raise AttributeError(attr)
            return type(attr, (), {"__init__": unavailable, "__module__": name})
        module.__getattr__ = attribute


def _torchvision_state() -> str:
    """Import lightning (whose torchmetrics probes for torchvision), then make sure disent's
    imports of torchvision succeed. Where the environment has no torchvision
    (build_peer_env.bash removes a CUDA build that cannot load on the CPU torch), inert modules
    stand in (:class:`_InertTorchvision`): disent imports it only for its datasets, dataset
    transforms and the DFC-VAE's VGG, none of which the β-VAE step runs. Returns the JSON's
    ``torchvision`` entry."""
    import lightning  # noqa: F401  (torchmetrics decides here whether torchvision is there)

    try:
        import torchvision  # noqa: F401
    except ModuleNotFoundError:
        sys.meta_path.append(_InertTorchvision())
        return "absent: an inert stand-in module"
    return importlib.metadata.version("torchvision")


def build_beta_vae(z_size: int = LATENT_DIM, beta: float = BETA, lr: float = LEARNING_RATE):
    """disent's ``BetaVae`` on ``EncoderConv64`` / ``DecoderConv64`` for (1, 64, 64) images,
    configured as disentanglement_lib's β-VAE (the module docstring), and its optimiser."""
    from disent.frameworks.vae import BetaVae
    from disent.model import AutoEncoder
    from disent.model.ae import DecoderConv64, EncoderConv64

    x_shape = (1, 64, 64)
    model = AutoEncoder(encoder=EncoderConv64(x_shape=x_shape, z_size=z_size, z_multiplier=2),
                        decoder=DecoderConv64(x_shape=x_shape, z_size=z_size))
    framework = BetaVae(model=model, cfg=BetaVae.cfg(
        optimizer="adam", optimizer_kwargs={"lr": lr}, recon_loss="bce",
        loss_reduction="mean_sum", latent_distribution="normal", kl_loss_mode="direct",
        beta=beta))
    framework.train()
    return framework, framework.configure_optimizers()


def check_losses(framework, optimizer) -> None:
    """Raise AssertionError unless the framework computes disentanglement_lib's β-VAE loss
    terms: per-image summed sigmoid cross-entropy on the logits and the Gaussian KL, each
    averaged over the batch, β = 4, and Adam at lr 1e-4 (its other settings PyTorch's)."""
    import torch
    from torch.nn import functional as F

    generator = torch.Generator().manual_seed(1)
    x = (torch.rand(3, 1, 64, 64, generator=generator) > 0.8).float()
    logits = torch.randn(3, 1, 64, 64, generator=generator)
    mu, logvar = torch.randn(2, 3, LATENT_DIM, generator=generator)
    reconstruction = framework.recon_handler.compute_ave_loss_from_partial([logits], [x])
    expected = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(
        dim=(1, 2, 3)).mean()
    torch.testing.assert_close(reconstruction, expected)
    posterior, prior = framework.latents_handler.encoding_to_dists((mu, logvar))
    kl, _ = framework.compute_ave_reg_loss([posterior], [prior], [posterior.rsample()])
    expected_kl = (0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(dim=1)).mean()
    torch.testing.assert_close(kl, BETA * expected_kl)
    assert isinstance(optimizer, torch.optim.Adam), type(optimizer)
    group = optimizer.param_groups[0]
    assert (group["lr"], group["betas"], group["eps"], group["weight_decay"]) == (
        LEARNING_RATE, (0.9, 0.999), 1e-8, 0), group


def step_function(framework, optimizer, images, batch_size: int, seed: int = SEED):
    """One optimisation step as Lightning's automatic optimisation runs it; returns the loss
    tensor (detached)."""
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    index = [0]

    def step() -> torch.Tensor:
        x = torch.from_numpy(images[rng.integers(0, len(images), size=batch_size)])
        loss = framework.training_step({"x_targ": (x,)}, index[0])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        index[0] += 1
        return loss.detach()

    return step


def step_gflop(step) -> float:
    """GFLOP of one call of ``step`` (matmuls and convolutions, forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops() / 1e9


def step_time_report(images, steps: int, warmup: int, threads: int | None, batch_size: int,
                     malloc_tuned: bool) -> dict:
    """The JSON object of the module docstring."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    torchvision = _torchvision_state()
    torch.manual_seed(SEED)
    framework, optimizer = build_beta_vae()
    step = step_function(framework, optimizer, images, batch_size)
    elapsed = []
    for _ in range(max(warmup, 1) + steps):
        start = time.perf_counter()
        step()
        elapsed.append((time.perf_counter() - start) * 1e3)
    timed = elapsed[max(warmup, 1):]
    return {"ms_per_step": {"beta_vae": round(statistics.median(timed), 3)},
            "first_step_ms": {"beta_vae": round(elapsed[0], 3)},
            "gflop_per_step": {"beta_vae": round(step_gflop(step), 4)},
            "threads": torch.get_num_threads(), "batch_size": batch_size, "steps": steps,
            "warmup": warmup, "malloc_tuned": malloc_tuned, "torch": torch.__version__,
            "disent": importlib.metadata.version("disent"),
            "lightning": importlib.metadata.version("lightning"),
            "torchvision": torchvision, "network": NETWORK}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", help="float32 (N, 1, 64, 64) .npy of training images")
    parser.add_argument("--steps", type=int, default=120, help="timed steps")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first (>= 1)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--tune-malloc", action="store_true",
                        help="glibc malloc tuned as jlonevae's benchmarks run")
    parser.add_argument("--check", action="store_true",
                        help="only import disent's β-VAE and its networks, then exit")
    args = parser.parse_args(argv)
    # Lightning's "self.log() without a trainer" and disent's config notices: not timed, noise.
    warnings.filterwarnings("ignore")
    malloc_tuned = args.tune_malloc and tune_glibc_malloc()  # before torch allocates
    if args.check:
        _torchvision_state()
        check_losses(*build_beta_vae())
        return 0
    if args.images is None or args.steps < 1:
        parser.error("--images is required (and --steps must be positive)")
    import numpy as np

    images = np.load(args.images)
    if images.dtype != np.float32 or images.ndim != 4 or images.shape[1:] != (1, 64, 64):
        parser.error(f"{args.images}: float32 (N, 1, 64, 64) images expected, got "
                     f"{images.dtype} {images.shape}")
    report = step_time_report(images, args.steps, args.warmup, args.threads, args.batch_size,
                              malloc_tuned)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
