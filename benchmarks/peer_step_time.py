"""Milliseconds per training step of disent's β-VAE: the PyTorch peer of issue 29.

Usage (in the peer's environment, ``.venv-peer``, which ``benchmarks/build_peer_env.bash``
builds; ``bench_baselines.py --peer`` runs it, once per network)::

    .venv-peer/bin/python benchmarks/peer_step_time.py --images IMAGES.npy
        [--network {disent,dlib}] [--steps 120] [--warmup 10] [--threads N]
        [--batch-size 64] [--tune-malloc]
    .venv-peer/bin/python benchmarks/peer_step_time.py --check [--network {disent,dlib}]

``IMAGES.npy``: float32 (N, 1, 64, 64) images in [0, 1] (``bench_baselines.py`` writes 1,024
of the dataset it trains ours on). ``--network``: ``disent`` (the default) times disent's own
``EncoderConv64`` / ``DecoderConv64``; ``dlib`` the same framework on disentanglement_lib's
network written as a disent user writes a custom model (:func:`dlib_conv64_networks`), the
apples-to-apples peer of ours. ``--check`` (the environment's build script runs it) only builds
the model and checks its loss terms and optimiser against disentanglement_lib's
(:func:`check_losses`), and for ``dlib`` that the network is ours to the parameter and the
FLOP (:func:`check_dlib_network`); without ``--network`` it checks both networks. Otherwise it
prints one JSON object::

    {"ms_per_step": {"beta_vae": 61.2},   median wall ms per step after the warm-up
     "first_step_ms": {"beta_vae": 80.0}, the first step
     "gflop_per_step": {"beta_vae": 6.9}, matmul and convolution GFLOP of one step, forward
                                          and backward, as torch.utils.flop_counter counts them
                                          (at batch 64: 6.89 for disent, 5.27 for dlib)
     "threads": 2, "batch_size": 64, "steps": 120, "warmup": 10, "malloc_tuned": true,
     "torch": "2.13.0+cpu", "disent": "0.8.0", "lightning": "2.6.6",
     "torchvision": "0.28.0" (or "absent: an inert stand-in module"),
     "network": "disent EncoderConv64/DecoderConv64",  (:data:`NETWORKS`, by --network)
     "parameters": 911701}                             the model's parameters (dlib: 690,517)

The model: disent 0.8.0's ``BetaVae`` framework on its ``EncoderConv64`` / ``DecoderConv64``
(``--network disent``) or on disentanglement_lib's network (``--network dlib``), x_shape
(1, 64, 64), z_size 10, configured as disentanglement_lib's β-VAE: ``recon_loss='bce'``
(sigmoid cross-entropy on the logits) and ``loss_reduction='mean_sum'`` (each image's sum,
averaged over the batch; disent's docstring names this disentanglement_lib's loss), the
Gaussian KL (``latent_distribution='normal'``, ``kl_loss_mode='direct'``: the closed form),
β = 4, and disent's own optimiser (``configure_optimizers``: ``torch.optim.Adam``, lr 1e-4,
PyTorch's other defaults). disent's networks are the β-VAE paper's, not exactly
disentanglement_lib's: 4×4 kernels in the encoder's third and fourth convolutions (2×2 there)
and symmetric padding 2 (33×33, 17×17, 9×9, 5×5 maps, a 1,600-wide flatten), so its step does
more arithmetic than ours (6.9 GFLOP against 5.27 at batch 64); ``gflop_per_step`` says how
much. ``--network dlib`` swaps in :func:`dlib_conv64_networks`: disentanglement_lib's
``conv_encoder`` / ``deconv_decoder`` as subclasses of disent's ``DisentEncoder`` /
``DisentDecoder``, written the way disent writes ``EncoderConv64`` (an ``nn.Sequential``,
NCHW, PyTorch's default initialisation, in-place ReLUs), so the two peers differ in the
encoder alone (disent's decoder already is disentanglement_lib's). That step does our
``beta_vae`` step's arithmetic exactly (:data:`DLIB_STEP_FLOPS`, :data:`DLIB_PARAMETERS`).

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
from collections.abc import Callable, Sequence
from typing import Any

LATENT_DIM = 10
BETA = 4.0
LEARNING_RATE = 1e-4
SEED = 0
#: ``--network``'s choices and the JSON's ``network`` for each.
NETWORKS = {"disent": "disent EncoderConv64/DecoderConv64",
            "dlib": "disentanglement_lib conv_encoder/deconv_decoder as disent "
                    "DisentEncoder/DisentDecoder subclasses"}
#: Parameters of disentanglement_lib's network at z 10 on (1, 64, 64) images: our
#: ``jlonevae_lib.architecture.dlib_conv.DlibConvVAE(latent_dim=10)``'s count (this script runs
#: without jlonevae; tests/train/test_peer_step_time.py checks the number against it).
DLIB_PARAMETERS = 690_517
#: Matmul and convolution FLOPs (``torch.utils.flop_counter``, forward and backward) of one
#: β-VAE step on that network at batch :data:`DLIB_FLOPS_BATCH`: those of our ``beta_vae`` row
#: (``Trainer.training_step`` on dlibConv, bench_baselines.py's ``step_flops``: 5.27 GFLOP),
#: checked against it by tests/train/test_peer_step_time.py.
DLIB_STEP_FLOPS = 5_270_994_944
DLIB_FLOPS_BATCH = 64
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


_DLIB_NETWORKS: tuple | None = None


def dlib_conv64_networks() -> tuple[type, type]:
    """disentanglement_lib's ``conv_encoder`` and ``deconv_decoder`` (its
    ``methods/shared/architectures.py``) as a disent user writes a custom model: subclasses of
    disent's ``DisentEncoder`` / ``DisentDecoder`` in the style of its ``EncoderConv64`` /
    ``DecoderConv64``, in plain PyTorch. Returns the two classes (defined on the first call:
    disent and torch are imported here, not at module level).

    Encoder: convolutions 32 k4 s2, 32 k4 s2, 64 k2 s2, 64 k2 s2, each with a ReLU, under
    TensorFlow's 'SAME' padding, which on 64×64 inputs is symmetric: 1 for the k4 s2 layers
    (64→32→16), 0 for the k2 s2 ones (16→8→4); flatten (1,024), dense 256 with a ReLU, dense 2z
    (means then log-variances, as disent's encoders return them). Decoder: dense 256 and dense
    1,024 with ReLUs, reshape (64, 4, 4), transposed convolutions 64, 32, 32, C with kernel 4,
    stride 2 and padding 1 (TensorFlow's 'SAME' ones), ReLUs but after the last: logits."""
    global _DLIB_NETWORKS
    if _DLIB_NETWORKS is not None:
        return _DLIB_NETWORKS
    from disent.model import DisentDecoder, DisentEncoder
    from torch import nn

    class DlibEncoderConv64(DisentEncoder):
        """disentanglement_lib's ``conv_encoder``."""

        def __init__(self, x_shape: tuple[int, int, int] = (1, 64, 64), z_size: int = LATENT_DIM,
                     z_multiplier: int = 2) -> None:
            (C, H, W) = x_shape
            assert (H, W) == (64, 64), "This model only works with image size 64x64."
            super().__init__(x_shape=x_shape, z_size=z_size, z_multiplier=z_multiplier)
            self.model = nn.Sequential(
                nn.Conv2d(in_channels=C, out_channels=32, kernel_size=4, stride=2, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(in_channels=32, out_channels=32, kernel_size=4, stride=2, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(in_channels=32, out_channels=64, kernel_size=2, stride=2, padding=0),
                nn.ReLU(inplace=True),
                nn.Conv2d(in_channels=64, out_channels=64, kernel_size=2, stride=2, padding=0),
                nn.ReLU(inplace=True),
                nn.Flatten(),
                nn.Linear(in_features=1024, out_features=256),
                nn.ReLU(inplace=True),
                nn.Linear(in_features=256, out_features=self.z_total),  # means, log-variances
            )

        def encode(self, x):
            return self.model(x)

    class DlibDecoderConv64(DisentDecoder):
        """disentanglement_lib's ``deconv_decoder``: logits."""

        def __init__(self, x_shape: tuple[int, int, int] = (1, 64, 64), z_size: int = LATENT_DIM,
                     z_multiplier: int = 1) -> None:
            (C, H, W) = x_shape
            assert (H, W) == (64, 64), "This model only works with image size 64x64."
            super().__init__(x_shape=x_shape, z_size=z_size, z_multiplier=z_multiplier)
            self.model = nn.Sequential(
                nn.Linear(in_features=self.z_size, out_features=256),
                nn.ReLU(inplace=True),
                nn.Linear(in_features=256, out_features=1024),
                nn.ReLU(inplace=True),
                nn.Unflatten(dim=1, unflattened_size=[64, 4, 4]),
                nn.ConvTranspose2d(64, 64, kernel_size=4, stride=2, padding=1),
                nn.ReLU(inplace=True),
                nn.ConvTranspose2d(64, 32, kernel_size=4, stride=2, padding=1),
                nn.ReLU(inplace=True),
                nn.ConvTranspose2d(32, 32, kernel_size=4, stride=2, padding=1),
                nn.ReLU(inplace=True),
                nn.ConvTranspose2d(32, C, kernel_size=4, stride=2, padding=1),
            )

        def decode(self, z):
            return self.model(z)

    _DLIB_NETWORKS = (DlibEncoderConv64, DlibDecoderConv64)
    return _DLIB_NETWORKS


def build_beta_vae(z_size: int = LATENT_DIM, beta: float = BETA, lr: float = LEARNING_RATE,
                   network: str = "disent") -> tuple[Any, Any]:
    """disent's ``BetaVae`` on ``network`` (:data:`NETWORKS`: disent's ``EncoderConv64`` /
    ``DecoderConv64``, or :func:`dlib_conv64_networks`) for (1, 64, 64) images, configured as
    disentanglement_lib's β-VAE (the module docstring), and its optimiser."""
    from disent.frameworks.vae import BetaVae
    from disent.model import AutoEncoder
    from disent.model.ae import DecoderConv64, EncoderConv64

    if network not in NETWORKS:
        raise ValueError(f"network {network!r}: one of {sorted(NETWORKS)}")
    encoder, decoder = (EncoderConv64, DecoderConv64) if network == "disent" else \
        dlib_conv64_networks()
    x_shape = (1, 64, 64)
    model = AutoEncoder(encoder=encoder(x_shape=x_shape, z_size=z_size, z_multiplier=2),
                        decoder=decoder(x_shape=x_shape, z_size=z_size))
    framework = BetaVae(model=model, cfg=BetaVae.cfg(
        optimizer="adam", optimizer_kwargs={"lr": lr}, recon_loss="bce",
        loss_reduction="mean_sum", latent_distribution="normal", kl_loss_mode="direct",
        beta=beta))
    framework.train()
    return framework, framework.configure_optimizers()


def check_losses(framework: Any, optimizer: Any) -> None:
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


def parameter_count(framework: Any) -> int:
    """The framework's trainable parameters (its model's: the β-VAE has no others)."""
    return sum(p.numel() for p in framework.parameters() if p.requires_grad)


def check_dlib_network(framework: Any, optimizer: Any) -> None:
    """Raise AssertionError unless the ``dlib`` network is ours: :data:`DLIB_PARAMETERS`
    parameters, and one step at batch :data:`DLIB_FLOPS_BATCH` (random binary images) does
    :data:`DLIB_STEP_FLOPS` matmul and convolution FLOPs, as our ``beta_vae`` step does."""
    import numpy as np

    count = parameter_count(framework)
    assert count == DLIB_PARAMETERS, f"{count:,} parameters, ours has {DLIB_PARAMETERS:,}"
    images = (np.random.default_rng(SEED).random((DLIB_FLOPS_BATCH, 1, 64, 64)) > 0.8).astype(
        np.float32)
    flops = round(step_gflop(step_function(framework, optimizer, images, DLIB_FLOPS_BATCH))
                  * 1e9)
    assert flops == DLIB_STEP_FLOPS, f"{flops:,} FLOPs per step, ours does {DLIB_STEP_FLOPS:,}"


def step_function(framework: Any, optimizer: Any, images: Any, batch_size: int, seed: int = SEED
                  ) -> Callable[[], Any]:
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


def step_gflop(step: Callable[[], Any]) -> float:
    """GFLOP of one call of ``step`` (matmuls and convolutions, forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops() / 1e9


def step_time_report(images: Any, steps: int, warmup: int, threads: int | None, batch_size: int,
                     malloc_tuned: bool, network: str = "disent") -> dict:
    """The JSON object of the module docstring, for ``network`` (:data:`NETWORKS`)."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    torchvision = _torchvision_state()
    torch.manual_seed(SEED)
    framework, optimizer = build_beta_vae(network=network)
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
            "torchvision": torchvision, "network": NETWORKS[network],
            "parameters": parameter_count(framework)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", help="float32 (N, 1, 64, 64) .npy of training images")
    parser.add_argument("--network", choices=sorted(NETWORKS), default=None,
                        help="disent: disent's EncoderConv64/DecoderConv64 (the default); "
                             "dlib: disentanglement_lib's network as disent subclasses")
    parser.add_argument("--steps", type=int, default=120, help="timed steps")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first (>= 1)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--tune-malloc", action="store_true",
                        help="glibc malloc tuned as jlonevae's benchmarks run")
    parser.add_argument("--check", action="store_true",
                        help="only build disent's β-VAE on the network (both without "
                             "--network), check its loss terms and, for dlib, that the "
                             "network is ours (parameters, FLOPs); then exit")
    args = parser.parse_args(argv)
    # Lightning's "self.log() without a trainer" and disent's config notices: not timed, noise.
    warnings.filterwarnings("ignore")
    malloc_tuned = args.tune_malloc and tune_glibc_malloc()  # before torch allocates
    if args.check:
        _torchvision_state()
        for network in sorted(NETWORKS) if args.network is None else [args.network]:
            framework, optimizer = build_beta_vae(network=network)
            check_losses(framework, optimizer)
            if network == "dlib":
                check_dlib_network(framework, optimizer)
        return 0
    if args.images is None or args.steps < 1:
        parser.error("--images is required (and --steps must be positive)")
    import numpy as np

    images = np.load(args.images)
    if images.dtype != np.float32 or images.ndim != 4 or images.shape[1:] != (1, 64, 64):
        parser.error(f"{args.images}: float32 (N, 1, 64, 64) images expected, got "
                     f"{images.dtype} {images.shape}")
    report = step_time_report(images, args.steps, args.warmup, args.threads, args.batch_size,
                              malloc_tuned, args.network or "disent")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
