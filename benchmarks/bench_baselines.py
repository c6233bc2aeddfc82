"""disentanglement_lib's six baselines: our training step against a plain PyTorch port and
against disentanglement_lib's TensorFlow step (issue 13's target: each ≤ 0.7× TensorFlow's).

    .venv/bin/python benchmarks/bench_baselines.py [--quick] [--steps 120] [--block 20] [--ablation]
                                                  [--tf] [--peer] [--floor] [--json PATH]

Rows, all run by ``Trainer.training_step`` exactly as ``jlonevae-train`` runs it (the batch of 64
drawn from the 20,000-image three-dots cache, the objective's loss, finite checks, backward, the
trainer's Adam at lr 1e-4, then the objective's own updates):

- the six baselines (``beta_vae`` ... ``beta_tc_vae``) on disentanglement_lib's architecture
  (``dlibConv``, d = 10), each at its study setting (hyperparameter index 2,
  ``jlonevae_lib.train.baselines.method_settings``); FactorVAE's step includes its
  discriminator's update, as TensorFlow's "one step" (one VAE + one discriminator update) does;
- our JL1 step: the paper's objective (``jlonevae``, defaultConv, β = 4, γ = 0.1, FD penalty),
  on a sub-batch of 16 as the CPU study trains it, and on the whole batch.

Reference: disentanglement_lib's β-VAE step ported the plain way, written here: ``nn.Sequential``
encoder and decoder, ``F.pad`` for TensorFlow's 'SAME' padding, sigmoid cross-entropy on the
logits, the Gaussian KL, ``torch.optim.Adam`` with its defaults. It draws its batches from the
same cache. All rows run in interleaved blocks of steps in one process, so the noise of a shared
machine hits them alike; the table gives the median ms per step over blocks (and the best
block), the ratio to the reference, and the ratio to disentanglement_lib's TensorFlow step as
measured on the development machine (:data:`TF_STEP_MS`, benchmarks/README.md) with the
issue's target. Comparing with those TensorFlow figures crosses processes and days: read the
load average printed in the header.

``--tf`` measures disentanglement_lib's TensorFlow step instead, on this machine and back to
back with ours: ``jlonevae_lib.dlib_tf.step_time`` runs in disentanglement_lib's environment
(``.venv-dlib``, or ``--tf-python``) just before and just after the PyTorch rows, with the same
thread count and batch, and each method's TensorFlow figure is the lower of its two medians
(the one less disturbed by other work).

``--peer`` times a PyTorch peer the same way: disent 0.8.0's β-VAE framework (``BetaVae``, z 10,
β 4, disentanglement_lib's loss, its own Adam at lr 1e-4) in its own environment
(``.venv-peer``, or ``--peer-python``; ``benchmarks/build_peer_env.bash`` builds it on .venv's
torch build), run by ``benchmarks/peer_step_time.py`` just before and just after the PyTorch
rows (:data:`PEER_NETWORKS`' order before, the reverse after), with our thread count, batch
size, steps and warm-up, on images from the same dataset (a file of :data:`PEER_IMAGES` of
them), on two networks: disentanglement_lib's own (``--network dlib``: written as a disent user
writes a custom model, the same arithmetic as ours) and disent's ``EncoderConv64`` /
``DecoderConv64`` (``--network disent``: the β-VAE paper's encoder, 4×4 kernels in its third
and fourth convolutions and padding 2, about 30% more arithmetic). Each network's figure is the
lower of its two medians. The table gives the dlib network's beside the two β-VAE rows (ours
and the plain port) with the target, ours at most :data:`PEER_TARGET` × the peer's step: the
fair comparison; the line under it gives ours against disent's own network too, with both
GFLOP counts. peer_step_time.py's docstring says what its step does and does not include.

``--floor`` adds each row's arithmetic (GFLOP per step, as ``torch.utils.flop_counter`` counts
matmuls and convolutions, forward and backward) and its floor: those FLOPs at the machine's
practical peak, the GFLOP/s of the fastest float32 matmul available to the step, measured here
at the same thread count (:func:`matmul_gflops`: MKL's sgemm behind torch's ``a @ b``, oneDNN's
matmul and its 1×1 convolution through torch, numpy's BLAS; on AMD CPUs oneDNN beats MKL). No
implementation that does the same arithmetic runs a step faster than its floor, so a target
under the floor cannot be met on that machine (docs in benchmarks/README.md).

``--json PATH`` also writes the run as one JSON object (atomically)::

    {"date": "2026-12-05T13:20:00Z",                       UTC, when the run ended
     "machine": {"cpu": "AMD EPYC", "cpus": 2,             /proc/cpuinfo's model name
                 "cpu_flags": {"avx512f": true, "avx512_bf16": true, "amx_bf16": false},
                 "load_average_start": [0.1, 0.2, 0.3],    /proc/loadavg, before and after
                 "load_average_end": [2.0, 1.1, 0.6]},     (null where there is none)
     "torch": "2.13.0+cpu", "threads": 2, "malloc_tuned": true,
     "settings": {"quick": false, "batch_size": 64, "dataset": "threeDotsCacheSmall",
                  "steps": 120, "block": 20, "warmup": 10, "ablation": false},
     "rows": {"beta_vae": {"median_ms": 55.1, "best_ms": 52.0, "block_ms": [...]}, ...},
                                                           every row of the table, ms per step
     "methods": {"beta_vae": {"ours_ms": 55.1, "tensorflow_ms": 44.8, "peer_ms": 62.0}, ...},
                                                           the six baselines; tensorflow_ms and
                                                           peer_ms null unless measured (--tf,
                                                           --peer; the peer has β-VAE only;
                                                           peer_ms: the dlib network's)
     "tensorflow": null or {"runs": [{"beta_vae": 44.8, ...}, {...}]},  before, after
     "peer": null or {"target": 0.8,                       PEER_TARGET, for dlib_network
                      "dlib_network":                      disentanglement_lib's network
                          {"runs": [{"beta_vae": 62.0}, {"beta_vae": 63.1}],  before, after
                           "ms": 62.0, "gflop_per_step": 5.27,  the lower; the step's GFLOP
                           "report": {...}},               peer_step_time.py's first object
                                                           (versions, parameters, ...)
                      "disent_network": {...}},            disent's EncoderConv64/DecoderConv64,
                                                           the same keys (6.89 GFLOP)
     "floor": null or {"matmul_size": 2048, "matmul_gflops": {"MKL (torch a @ b)": 58.2, ...},
                       "peak_library": "oneDNN matmul (torch)", "peak_gflops": 74.9,
                       "gflop_per_step": {row: ...}, "floor_ms": {row: ...}}}
                                                           matmul_gflops: every library timed

Keys are written sorted; times are ms per step, GFLOP/s for the matmuls.

``--ablation`` adds β-VAE with oneDNN for every layer (the decoder's CPU kernel choice off,
``DeconvDecoder.tuned_cpu_kernels``). ``--quick`` takes a few steps of batch 8 on procedural
three-dots (the peer too) and times 256² matmuls for the floor: CI checks that it works.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from jlonevae_lib.utils.dlib_env import default_dlib_python
from jlonevae_lib.utils.timing import (
    call_seconds,
    cpu_flags,
    cpu_model,
    environ_default,
    load_sibling,
    tune_benchmark_process,
)

MALLOC_TUNED = tune_benchmark_process(os.environ)  # before torch is imported

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from jlonevae_lib.architecture.dlib_conv import same_padding  # noqa: E402
from jlonevae_lib.data import get_named_ground_truth_data  # noqa: E402
from jlonevae_lib.data.ground_truth import DATA_ROOT_ENV  # noqa: E402
from jlonevae_lib.train.baselines import method_settings  # noqa: E402
from jlonevae_lib.train.config import TrainConfig  # noqa: E402
from jlonevae_lib.train.trainer import Trainer  # noqa: E402
from jlonevae_lib.utils.atomic import atomic_write_json  # noqa: E402

#: The six baselines, in the order of disentanglement_lib's study.
METHODS = ("beta_vae", "factor_vae", "dip_vae_i", "dip_vae_ii", "beta_tc_vae", "annealed_vae")
#: disentanglement_lib 1.5's TensorFlow 2.15 training step, median wall ms per ``session.run``
#: at batch 64 on the development machine (2 cores, quiet; the lowest of four runs), as
#: benchmarks/README.md records them ("bench_baselines.py").
TF_STEP_MS = {"beta_vae": 37.5, "factor_vae": 50.7, "dip_vae_i": 31.2, "dip_vae_ii": 35.5,
              "beta_tc_vae": 31.5, "annealed_vae": 33.6}
#: Issue 13's target: each baseline's step at most this fraction of TensorFlow's.
TF_TARGET = 0.7
#: Our JL1 rows: name -> penalty sub-batch (None: the whole batch).
JL1_ROWS = {"jlonevae fd-sub16": 16, "jlonevae fd": None}
REFERENCE = "plain port (β-VAE)"
#: ``--ablation``'s row: β-VAE without the decoder's CPU kernel choice.
ABLATION_ROW = "beta_vae oneDNN-only"
#: The PyTorch peer's target (issue 29): our β-VAE step at most this fraction of disent's
#: (on disentanglement_lib's network: the same arithmetic).
PEER_TARGET = 0.8
#: The peer's networks (peer_step_time.py's ``--network``) and their keys in the JSON record:
#: disentanglement_lib's (the target's comparison) and disent's own Conv64 networks.
PEER_NETWORKS = {"dlib": "dlib_network", "disent": "disent_network"}
#: Images of the training set the peer's process gets (float32, 16 MiB), drawn with replacement.
PEER_IMAGES = 1024
PEER_SCRIPT = Path(__file__).resolve().parent / "peer_step_time.py"
#: CPU flags the JSON record reports (the kernels oneDNN and MKL may pick depend on them).
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
STUDY_HP_INDEX, SEED = 2, 0
LEARNING_RATE = 1e-4
BETA = 4.0
LATENT_DIM = 10


# ------------------------------------------------------------------ the plain port (reference)

class SamePad(nn.Module):
    """TensorFlow's 'SAME' zero padding before a convolution of ``kernel`` / ``stride`` on
    (B, C, n, n) inputs, always by ``F.pad`` (the port does not special-case symmetric pads)."""

    def __init__(self, size: int, kernel: int, stride: int) -> None:
        super().__init__()
        before, after = same_padding(size, kernel, stride)
        self.pads = (before, after, before, after)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pads)


def plain_dlib_vae(latent_dim: int = LATENT_DIM, channels: int = 1) -> nn.ModuleDict:
    """disentanglement_lib's ``conv_encoder`` / ``deconv_decoder`` as two ``nn.Sequential``
    (PyTorch's default initialisation). The encoder maps (B, C, 64, 64) to (B, 2d), means then
    log-variances; the decoder (B, d) to logits (B, C, 64, 64). Transposed convolutions with
    kernel 4, stride 2 and ``padding=1`` are TensorFlow's 'SAME' ones (docs/method.md)."""
    encoder = nn.Sequential(
        SamePad(64, 4, 2), nn.Conv2d(channels, 32, 4, 2), nn.ReLU(),
        SamePad(32, 4, 2), nn.Conv2d(32, 32, 4, 2), nn.ReLU(),
        SamePad(16, 2, 2), nn.Conv2d(32, 64, 2, 2), nn.ReLU(),
        SamePad(8, 2, 2), nn.Conv2d(64, 64, 2, 2), nn.ReLU(),
        nn.Flatten(), nn.Linear(1024, 256), nn.ReLU(), nn.Linear(256, 2 * latent_dim))
    decoder = nn.Sequential(
        nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, 1024), nn.ReLU(),
        nn.Unflatten(1, (64, 4, 4)),
        nn.ConvTranspose2d(64, 64, 4, 2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(64, 32, 4, 2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(32, 32, 4, 2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(32, channels, 4, 2, padding=1))
    return nn.ModuleDict({"encoder": encoder, "decoder": decoder})


def plain_beta_vae_step(dataset_name: str, batch_size: int, seed: int = SEED
                        ) -> Callable[[], float]:
    """One β-VAE step of the plain port on a batch drawn from ``dataset_name``; returns the
    loss. Loss: per-image summed sigmoid cross-entropy on the logits + β·KL, batch means."""
    torch.manual_seed(seed)
    model = plain_dlib_vae()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    dataset = get_named_ground_truth_data(dataset_name)
    rng = np.random.default_rng(seed)

    def step() -> float:
        x = torch.from_numpy(dataset.sample_training_batch(batch_size, rng))
        optimizer.zero_grad()
        mu, logvar = model["encoder"](x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        logits = model["decoder"](z)
        reconstruction = F.binary_cross_entropy_with_logits(
            logits, x, reduction="none").sum(dim=(1, 2, 3)).mean()
        kl = (0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(dim=1)).mean()
        loss = reconstruction + BETA * kl
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


# ---------------------------------------------------------------------------- our steps

def baseline_config(method: str, dataset: str, batch_size: int, output_dir: Path) -> TrainConfig:
    """A study member's settings (index 2, seed 0) with the benchmark's dataset and batch."""
    settings = method_settings(method, STUDY_HP_INDEX, SEED)
    settings.update(dataset=dataset, batch_size=batch_size, device="cpu",
                    output_dir=str(output_dir))
    return TrainConfig(**settings)


def jl1_config(sub_batch: int | None, dataset: str, batch_size: int, output_dir: Path
               ) -> TrainConfig:
    """The paper's three-dots JL1-VAE (β 4, γ 0.1, β/γ ramp over 100,000 batches)."""
    return TrainConfig(dataset=dataset, architecture="defaultConv", objective="jlonevae",
                       latent_dim=LATENT_DIM, beta=BETA, gamma=0.1, jacobian_batch=sub_batch,
                       batch_size=batch_size, lr=LEARNING_RATE, annealing_batches=100_000,
                       seed=SEED, device="cpu", output_dir=str(output_dir))


def build_steps(dataset: str, batch_size: int, output_dir: Path, ablation: bool = False
                ) -> dict[str, Callable[[], object]]:
    """Every row's step function: the reference, the six baselines, our JL1 steps; with
    ``ablation``, also β-VAE with oneDNN for every layer (``tuned_cpu_kernels`` off)."""
    steps: dict[str, Callable[[], object]] = {
        REFERENCE: plain_beta_vae_step(dataset, batch_size)}
    for method in METHODS:
        steps[method] = Trainer(baseline_config(method, dataset, batch_size,
                                                output_dir)).training_step
    if ablation:
        trainer = Trainer(baseline_config("beta_vae", dataset, batch_size, output_dir))
        trainer.model.decoder.tuned_cpu_kernels = False
        steps[ABLATION_ROW] = trainer.training_step
    for name, sub_batch in JL1_ROWS.items():
        steps[name] = Trainer(jl1_config(sub_batch, dataset, batch_size,
                                         output_dir)).training_step
    return steps


def time_rows(steps: dict[str, Callable[[], object]], num_steps: int, warmup: int, block: int
              ) -> dict[str, list[float]]:
    """Seconds per step of each row in each block; the rows take turns, a block each."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    per_block: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(num_steps // block):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(block):
                step()
            per_block[name].append((time.perf_counter() - start) / block)
    return per_block


def step_flops(step: Callable[[], object]) -> int:
    """Floating-point operations of one call of ``step``, as ``FlopCounterMode`` counts them:
    matmuls and convolutions, forward and backward (elementwise work counts nothing, so this
    is a lower bound of the arithmetic)."""
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def _torch_matmul(a: torch.Tensor, b: torch.Tensor) -> Callable[[], object]:
    """torch's ``a @ b``: the BLAS torch was built with (MKL's sgemm in PyPI's x86 wheels)."""
    return lambda: a @ b


def _onednn_matmul(a: torch.Tensor, b: torch.Tensor) -> Callable[[], object]:
    """oneDNN's matmul (an inner product; ``brg_matmul`` on AVX-512 and AVX2 CPUs) through
    torch's mkldnn ops: ``b`` is reordered into oneDNN's blocked layout once, here, so the
    timed call does the product alone (plain ``a`` in, plain rows out)."""
    weight = torch.ops.mkldnn._reorder_linear_weight(b.t().contiguous(), a.shape[0])
    return lambda: torch.ops.mkldnn._linear_pointwise(a, weight, None, "none", [], "")


def _onednn_conv1x1(a: torch.Tensor, b: torch.Tensor) -> Callable[[], object]:
    """The same product as a 1×1 convolution in channels-last layout (oneDNN's convolution
    primitive, which runs the step's convolutions; ``brgconv_1x1`` on AVX-512 CPUs): the rows
    of ``a`` are the pixels of one (K, M/64, 64) image, ``b``'s columns the output channels,
    its weights reordered once, here (a plain ``F.conv2d`` would reorder them on every call)."""
    (m, k), n = a.shape, b.shape[1]
    if m % 64:
        raise ValueError(f"the 1×1 convolution's image is (M/64, 64) pixels: M = {m}")
    image = a.reshape(1, m // 64, 64, k).permute(0, 3, 1, 2)  # channels-last view of a
    weight = torch._C._nn.mkldnn_reorder_conv2d_weight(
        b.t().contiguous().reshape(n, k, 1, 1).to_mkldnn(), [0, 0], [1, 1], [1, 1], 1,
        list(image.shape))
    return lambda: torch.ops.mkldnn._convolution_pointwise(
        image, weight, None, [0, 0], [1, 1], [1, 1], 1, "none", [], "")


def _numpy_blas_name() -> str:
    """The BLAS numpy was built with, as its build configuration names it."""
    try:
        name = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except (TypeError, KeyError):  # numpy < 1.26 prints its configuration, returns nothing
        return "BLAS"
    return "OpenBLAS" if "openblas" in name.lower() else name


def _numpy_matmul(a: torch.Tensor, b: torch.Tensor) -> Callable[[], object]:
    """numpy's ``a @ b`` (its wheel's OpenBLAS): the caller limits its threads."""
    a_np, b_np = a.numpy(), b.numpy()
    return lambda: a_np @ b_np


def matmul_libraries() -> dict[str, Callable[[torch.Tensor, torch.Tensor],
                                             Callable[[], object]]]:
    """The float32 matmuls the floor times, by name: each takes (a, b) and returns the timed
    call (any packing of ``b`` done beforehand, untimed)."""
    blas = "MKL" if torch.backends.mkl.is_available() else "BLAS"
    libraries = {f"{blas} (torch a @ b)": _torch_matmul}
    if torch.backends.mkldnn.is_available():
        libraries["oneDNN matmul (torch)"] = _onednn_matmul
        libraries["oneDNN 1x1 conv (torch)"] = _onednn_conv1x1
    libraries[f"{_numpy_blas_name()} (numpy)"] = _numpy_matmul
    return libraries


def matmul_gflops(size: int = 2048, repeats: int = 10,
                  libraries: dict[str, Callable] | None = None) -> dict[str, float]:
    """GFLOP/s of each library's float32 (size × size) @ (size × size) product at torch's
    current thread count (numpy's BLAS limited to as many, ``threadpoolctl``): the fastest of
    ``repeats`` calls after two untimed ones, the libraries taking turns so that a shared
    machine's noise hits them alike. A library whose ops this torch lacks is left out (with a
    note on stderr). ``libraries``: by default :func:`matmul_libraries`."""
    from threadpoolctl import threadpool_limits

    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator)
    b = torch.randn(size, size, generator=generator)
    calls = {}
    for name, build in (matmul_libraries() if libraries is None else libraries).items():
        try:
            calls[name] = build(a, b)
            for _ in range(2):
                calls[name]()
        except (RuntimeError, ValueError, AttributeError) as err:
            print(f"note: the floor leaves {name} out: {str(err).splitlines()[0]}",
                  file=sys.stderr)
            calls.pop(name, None)
    best = dict.fromkeys(calls, float("inf"))
    with threadpool_limits(limits=torch.get_num_threads(), user_api="blas"), torch.no_grad():
        for _ in range(repeats):
            for name, call in calls.items():
                best[name] = min(best[name], *call_seconds(call, 1))
    return {name: 2 * size ** 3 / seconds / 1e9 for name, seconds in best.items()}


def matmul_peak(gflops: dict[str, float]) -> tuple[str, float]:
    """The fastest library of :func:`matmul_gflops` and its GFLOP/s: the floor's peak."""
    name = max(gflops, key=gflops.__getitem__)
    return name, gflops[name]


def floor_ms(flops: dict[str, int], peak_gflops: float) -> dict[str, float]:
    """Each row's floor in ms per step: its FLOPs at ``peak_gflops``."""
    return {name: count / (peak_gflops * 1e9) * 1e3 for name, count in flops.items()}


def measure_tf_steps(python: Path, threads: int, steps: int) -> dict[str, float]:
    """disentanglement_lib's median ms per TensorFlow step of each method, measured by
    ``jlonevae_lib.dlib_tf.step_time`` in its own environment (``python``)."""
    done = subprocess.run(
        [str(python), "-m", "jlonevae_lib.dlib_tf.step_time", "--steps", str(steps),
         "--threads", str(threads)], capture_output=True, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"})
    if done.returncode != 0:
        raise SystemExit(f"error: the TensorFlow step timing failed ({python}): "
                         f"{done.stderr.strip()[-500:]}")
    return _last_json_object(done.stdout)["ms_per_step"]


def _last_json_object(stdout: str) -> dict:
    """The JSON object a timing script prints last, over several lines from a line "{"."""
    return json.loads(stdout[stdout.rfind("\n{") + 1:])


def write_peer_images(dataset_name: str, path: Path, count: int = PEER_IMAGES,
                      seed: int = SEED) -> Path:
    """``count`` training images of ``dataset_name`` drawn with replacement, float32
    (count, C, 64, 64), saved to ``path`` (.npy) for the peer's process."""
    dataset = get_named_ground_truth_data(dataset_name)
    images = dataset.sample_training_batch(count, np.random.default_rng(seed + 1))
    np.save(path, np.ascontiguousarray(images, dtype=np.float32))
    return path


def measure_peer_step(python: Path, images: Path, threads: int, steps: int, warmup: int,
                      batch_size: int, tune_malloc: bool, network: str = "dlib") -> dict:
    """disent's β-VAE step on ``network`` (:data:`PEER_NETWORKS`) timed by
    ``benchmarks/peer_step_time.py`` in the peer's environment (``python``) on ``images``: its
    JSON object (``ms_per_step["beta_vae"]``, the median)."""
    command = [str(python), str(PEER_SCRIPT), "--images", str(images), "--steps", str(steps),
               "--warmup", str(warmup), "--threads", str(threads),
               "--batch-size", str(batch_size), "--network", network] + (
        ["--tune-malloc"] if tune_malloc else [])
    done = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if done.returncode != 0:
        raise SystemExit(f"error: the PyTorch peer's step timing failed ({python}): "
                         f"{done.stderr.strip()[-500:]}")
    return _last_json_object(done.stdout)


# ------------------------------------------------------------------------- the JSON record

def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (/proc/loadavg); None without it."""
    try:
        return [float(v) for v in open("/proc/loadavg").read().split()[:3]]
    except (OSError, ValueError):
        return None


def peer_record(runs: Sequence[dict]) -> dict:
    """One peer network's entry of the ``--json`` record from its runs (peer_step_time.py's
    objects, before and after ours)."""
    return {"runs": [run["ms_per_step"] for run in runs],
            "ms": min(run["ms_per_step"]["beta_vae"] for run in runs),
            "gflop_per_step": runs[0]["gflop_per_step"]["beta_vae"], "report": runs[0]}


def run_record(per_block: dict[str, list[float]], *, settings: dict, machine: dict,
               tf_runs: Sequence[dict[str, float]] = (),
               peer_runs: dict[str, Sequence[dict]] | None = None,
               flops: dict[str, int] | None = None, matmul: dict[str, float] | None = None,
               matmul_size: int = 2048) -> dict:
    """The ``--json`` object of the module docstring; ``peer_runs``: each network's
    (:data:`PEER_NETWORKS`) peer_step_time.py objects, before and after ours."""
    medians = {name: 1e3 * statistics.median(times) for name, times in per_block.items()}
    tf_ms = {m: min(run[m] for run in tf_runs) for m in METHODS} if tf_runs else None
    peer = None
    if peer_runs and any(peer_runs.values()):
        peer = {"target": PEER_TARGET, **{PEER_NETWORKS[network]: peer_record(runs)
                                          for network, runs in peer_runs.items()}}
    peer_ms = peer["dlib_network"]["ms"] if peer else None
    record = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds").replace(
            "+00:00", "Z"),
        "machine": machine, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "malloc_tuned": MALLOC_TUNED, "settings": settings,
        "rows": {name: {"median_ms": medians[name], "best_ms": 1e3 * min(times),
                        "block_ms": [1e3 * t for t in times]}
                 for name, times in per_block.items()},
        "methods": {m: {"ours_ms": medians.get(m),
                        "tensorflow_ms": None if tf_ms is None else tf_ms[m],
                        "peer_ms": peer_ms if m == "beta_vae" else None} for m in METHODS},
        "tensorflow": {"runs": list(tf_runs)} if tf_runs else None,
        "peer": peer,
        "floor": None,
    }
    if flops and matmul:
        library, peak = matmul_peak(matmul)
        record["floor"] = {
            "matmul_size": matmul_size, "matmul_gflops": matmul, "peak_library": library,
            "peak_gflops": peak, "gflop_per_step": {n: c / 1e9 for n, c in flops.items()},
            "floor_ms": floor_ms(flops, peak)}
    return record


#: The table's rows compared with the PyTorch peer (disent's β-VAE).
PEER_ROWS = ("beta_vae", REFERENCE)


def format_table(per_block: dict[str, list[float]], compare_tf: bool = True,
                 tf_step_ms: dict[str, float] | None = None,
                 peer_ms: float | None = None, peer_disent_ms: float | None = None,
                 peer_gflop: dict[str, float] | None = None) -> str:
    """Median and best-block ms per step and the ratio to the reference; with ``peer_ms`` (the
    PyTorch peer's β-VAE step on disentanglement_lib's network, measured in the same run at the
    same batch), for the β-VAE rows (:data:`PEER_ROWS`) its figure and their ratio to it, and a
    line with the :data:`PEER_TARGET` verdict of ours; with ``peer_disent_ms`` (the peer on
    disent's own Conv64 networks), a line with ours against that too; ``peer_gflop``: the two
    peer steps' GFLOP (:data:`PEER_NETWORKS`' keys), named in those lines. With ``compare_tf``
    (the TensorFlow figures are for batch 64), for the baselines the ratio to TensorFlow's step
    (``tf_step_ms``, by default the recorded :data:`TF_STEP_MS`) and the target's verdict (the
    reference's against TensorFlow's β-VAE)."""
    tf_figures = TF_STEP_MS if tf_step_ms is None else tf_step_ms
    ms = {name: 1e3 * statistics.median(times) for name, times in per_block.items()}
    header = f"{'method':<21} {'ms/step':>8} {'best':>7} {'vs plain':>9}"
    if peer_ms is not None:
        header += f" {'peer ms':>8} {'vs peer':>8}"
    if compare_tf:
        header += f" {'TF ms':>6} {'vs TF':>6}  target ≤ {TF_TARGET}× TF"
    lines = [header, "-" * len(header)]
    for name, value in ms.items():
        best = 1e3 * min(per_block[name])
        line = f"{name:<21} {value:8.1f} {best:7.1f} {value / ms[REFERENCE]:8.2f}x"
        if peer_ms is not None:
            line += (f" {peer_ms:8.1f} {value / peer_ms:7.2f}x" if name in PEER_ROWS
                     else " " * 18)
        tf_ms = tf_figures.get(name, tf_figures["beta_vae"] if name == REFERENCE else None)
        if compare_tf and tf_ms is not None:
            line += f" {tf_ms:6.1f} {value / tf_ms:5.2f}x"
            if name in tf_figures:
                line += "  met" if value <= TF_TARGET * tf_ms else "  not met"
        lines.append(line.rstrip())
    gflop = {} if peer_gflop is None else peer_gflop

    def gflop_note(network: str) -> str:
        return f", {gflop[network]:.2f} GFLOP/step" if network in gflop else ""

    if peer_ms is not None and "beta_vae" in ms:
        ratio = ms["beta_vae"] / peer_ms
        lines.append(f"PyTorch peer (disent's β-VAE on disentanglement_lib's network"
                     f"{gflop_note('dlib')}, measured here, back to back): beta_vae "
                     f"{ratio:.2f}× its step, target ≤ {PEER_TARGET}× "
                     f"{'met' if ratio <= PEER_TARGET else 'not met'}")
    if peer_disent_ms is not None and "beta_vae" in ms:
        lines.append(f"  on disent's own EncoderConv64/DecoderConv64 ({peer_disent_ms:.1f} "
                     f"ms{gflop_note('disent')}): beta_vae "
                     f"{ms['beta_vae'] / peer_disent_ms:.2f}× its step")
    if not compare_tf:
        lines.append("(no TensorFlow comparison: its figures are for batch 64)")
        return "\n".join(lines)
    met = sum(ms[m] <= TF_TARGET * tf_figures[m] for m in METHODS if m in ms)
    against = ("disentanglement_lib's TensorFlow step measured here, back to back"
               if tf_step_ms is not None else
               "disentanglement_lib's quiet TensorFlow step, benchmarks/README.md")
    lines.append(f"target met by {met} of {len(METHODS)} baselines (median ms/step against "
                 f"{against})")
    return "\n".join(lines)


def format_floor_table(per_block: dict[str, list[float]], flops: dict[str, int],
                       peak_gflops: float, compare_tf: bool = True,
                       tf_step_ms: dict[str, float] | None = None,
                       matmul: dict[str, float] | None = None, matmul_size: int = 2048) -> str:
    """Each row's GFLOP per step, its floor at ``peak_gflops``, its median ms per step and the
    share of the peak that reaches; with ``compare_tf``, for the baselines also the target
    (``TF_TARGET`` × the TensorFlow step, ``tf_step_ms`` or the recorded :data:`TF_STEP_MS`)
    and whether it lies under the floor, where no implementation of the same arithmetic can
    meet it. ``matmul``: each library's GFLOP/s (:func:`matmul_gflops`), named in the first
    line with the one that gave the peak."""
    tf_figures = TF_STEP_MS if tf_step_ms is None else tf_step_ms
    floors = floor_ms(flops, peak_gflops)
    header = (f"{'method':<21} {'GFLOP':>6} {'floor ms':>9} {'ms/step':>8} {'of peak':>8}"
              f" {'target ms':>10}  target vs floor")
    first = (f"arithmetic floor: {peak_gflops:.1f} GFLOP/s, the fastest float32 "
             f"{matmul_size}² matmul at {torch.get_num_threads()} threads")
    if matmul:
        first += f" ({matmul_peak(matmul)[0]}; " + ", ".join(
            f"{name} {value:.1f}" for name, value in matmul.items()) + ")"
    lines = [first, header, "-" * len(header)]
    for name, count in flops.items():
        ms = 1e3 * statistics.median(per_block[name])
        line = (f"{name:<21} {count / 1e9:6.2f} {floors[name]:9.1f} {ms:8.1f}"
                f" {floors[name] / ms:7.0%}")
        if compare_tf and name in METHODS:
            target = TF_TARGET * tf_figures[name]
            verdict = "under the floor" if target < floors[name] else "above the floor"
            line += f" {target:10.1f}  {verdict}"
        lines.append(line)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a few steps of batch 8 on procedural data (CI: checks it works)")
    parser.add_argument("--steps", type=int, default=120, help="timed steps per row")
    parser.add_argument("--block", type=int, default=20, help="steps per timed block")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps per row")
    parser.add_argument("--ablation", action="store_true",
                        help=f"add '{ABLATION_ROW}': β-VAE with oneDNN for every layer")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's, one per core)")
    parser.add_argument("--floor", action="store_true",
                        help="add each row's GFLOP per step and its floor at this machine's "
                             "fastest float32 matmul (MKL, oneDNN, numpy's BLAS)")
    parser.add_argument("--tf", action="store_true",
                        help="time disentanglement_lib's TensorFlow step here, before and "
                             "after ours (needs .venv-dlib: build_dlib_env.bash)")
    parser.add_argument("--tf-python", type=Path, default=default_dlib_python(os.environ),
                        help="the TensorFlow environment's interpreter (default "
                             "$DLIB_VENV/bin/python, else .venv-dlib/bin/python)")
    parser.add_argument("--peer", action="store_true",
                        help="time the PyTorch peer, disent's β-VAE, here, before and after "
                             "ours (needs .venv-peer: benchmarks/build_peer_env.bash)")
    parser.add_argument("--peer-python", type=Path, default=Path(".venv-peer/bin/python"),
                        help="the peer environment's interpreter (default "
                             ".venv-peer/bin/python)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="also write the run as JSON to PATH (format: module docstring)")
    args = parser.parse_args(argv)
    if args.tf and not args.tf_python.exists():
        parser.error(f"--tf needs disentanglement_lib's environment ({args.tf_python} is "
                     "missing): bash experimentScripts/train_baseline/build_dlib_env.bash")
    if args.peer and not args.peer_python.exists():
        parser.error(f"--peer needs the PyTorch peer's environment ({args.peer_python} is "
                     "missing): bash benchmarks/build_peer_env.bash")
    if args.quick:
        args.steps, args.block, args.warmup = 2, 1, 1
    if args.block < 1 or args.steps < args.block or args.steps % args.block:
        parser.error(f"--steps ({args.steps}) must be a positive multiple of --block "
                     f"({args.block})")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    batch_size, dataset = (8, "threeDots") if args.quick else (64, "threeDotsCacheSmall")
    machine_line = load_sibling("bench_training_step", __file__).machine_line
    start_line, start_load = machine_line(), load_average()
    tf_runs: list[dict[str, float]] = []
    peer_runs: dict[str, list[dict]] = {network: [] for network in PEER_NETWORKS}

    def time_others(networks: Sequence[str]) -> None:
        """The TensorFlow step and the peer's on each of ``networks``, once each (before and
        after ours)."""
        if args.tf:
            tf_runs.append(measure_tf_steps(args.tf_python, threads, args.steps))
        if args.peer:
            for network in networks:
                peer_runs[network].append(measure_peer_step(
                    args.peer_python, peer_images, threads, args.steps, args.warmup,
                    batch_size, MALLOC_TUNED, network))

    # The cache goes to $DISENTANGLEMENT_LIB_DATA if set (reused), else a temporary folder.
    with tempfile.TemporaryDirectory() as tmp, \
            environ_default(DATA_ROOT_ENV, str(Path(tmp) / "data")):
        steps = build_steps(dataset, batch_size, Path(tmp), args.ablation)
        peer_images = (write_peer_images(dataset, Path(tmp) / "peer_images.npy")
                       if args.peer else None)
        time_others(list(PEER_NETWORKS))
        per_block = time_rows(steps, args.steps, args.warmup, args.block)
        flops = {name: step_flops(step) for name, step in steps.items()} if args.floor \
            else {}
        if args.peer and "beta_vae" not in flops:
            flops_beta_vae = step_flops(steps["beta_vae"])
        else:
            flops_beta_vae = flops.get("beta_vae")
        time_others(list(PEER_NETWORKS)[::-1])
    print(f"training step, batch {batch_size} from {dataset}, d={LATENT_DIM}, "
          f"lr {LEARNING_RATE:g}, {threads} threads; {args.steps} timed steps "
          f"per row in blocks of {args.block} after {args.warmup} warm-up; glibc malloc "
          f"tuned: {MALLOC_TUNED}")
    print(f"baselines: dlibConv, study setting {STUDY_HP_INDEX}; jlonevae: defaultConv, "
          f"β {BETA:g}, γ 0.1, FD penalty")
    print(f"at start: {start_line}")
    print(f"at end:   {machine_line()}")
    end_load = load_average()
    tf_step_ms = None
    if args.tf:
        tf_step_ms = {m: min(run[m] for run in tf_runs) for m in METHODS}
        print("TensorFlow ms/step before and after: " + ", ".join(
            f"{m} {tf_runs[0][m]:.1f}/{tf_runs[1][m]:.1f}" for m in METHODS))
    peer = {}
    if args.peer:
        peer = {network: peer_record(runs) for network, runs in peer_runs.items()}
        report = peer["dlib"]["report"]
        print(f"PyTorch peer (disent {report['disent']}, lightning {report['lightning']}, "
              f"torch {report['torch']}, {report['threads']} threads) ms/step before and "
              "after: " + ", ".join(
                  f"{network} network {entry['runs'][0]['beta_vae']:.1f}/"
                  f"{entry['runs'][1]['beta_vae']:.1f}" for network, entry in peer.items()))
    print(format_table(
        per_block, compare_tf=batch_size == 64, tf_step_ms=tf_step_ms,
        peer_ms=peer["dlib"]["ms"] if peer else None,
        peer_disent_ms=peer["disent"]["ms"] if peer else None,
        peer_gflop={network: entry["gflop_per_step"] for network, entry in peer.items()}))
    if args.peer:
        # peer_step_time.py rounds its GFLOP to 4 decimals
        same = peer["dlib"]["gflop_per_step"] == round(flops_beta_vae / 1e9, 4)
        print(f"arithmetic per step: our beta_vae {flops_beta_vae / 1e9:.2f} GFLOP, the peer's "
              f"{peer['dlib']['gflop_per_step']:.2f} on disentanglement_lib's network "
              f"({'the same count' if same else 'NOT the same count'}) and "
              f"{peer['disent']['gflop_per_step']:.2f} on disent's Conv64 networks (the β-VAE "
              "paper's: 4×4 kernels in the encoder's 3rd and 4th layers, padding 2)")
    matmul = None
    # --quick: a 256² product, enough to check the libraries run (CI), not for a figure
    matmul_size, matmul_repeats = (256, 3) if args.quick else (2048, 10)
    if args.floor:
        matmul = matmul_gflops(matmul_size, matmul_repeats)
        print(format_floor_table(per_block, flops, matmul_peak(matmul)[1],
                                 compare_tf=batch_size == 64, tf_step_ms=tf_step_ms,
                                 matmul=matmul, matmul_size=matmul_size))
    if args.json is not None:
        machine = {"cpu": cpu_model(), "cpus": os.cpu_count(), "cpu_flags": cpu_flags(CPU_FLAGS),
                   "load_average_start": start_load, "load_average_end": end_load}
        settings = {"quick": args.quick, "batch_size": batch_size, "dataset": dataset,
                    "steps": args.steps, "block": args.block, "warmup": args.warmup,
                    "ablation": args.ablation}
        atomic_write_json(args.json, run_record(
            per_block, settings=settings, machine=machine, tf_runs=tf_runs,
            peer_runs=peer_runs if args.peer else None, flops=flops, matmul=matmul,
            matmul_size=matmul_size))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
