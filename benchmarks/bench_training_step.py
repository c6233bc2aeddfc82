"""One JL1-VAE optimiser step: ours vs a re-statement of the reference (seed) implementation.

A step is forward + BCE/KL loss (+ γ·Jacobian penalty) + backward + Adam, on defaultConv
64×64×1, d = 10, batch 64, random images in [0, 1] (docs/method.md). Variants:

  (a) seed      the reference's algorithm, restated here: ConvTranspose2d without padding,
                then a crop (ZeroPad2d with negative padding), FD Jacobian on (d+1)·B rows,
                timed as it ran: under glibc's default malloc (see below)
  (a1) seed+malloc  the same, under the malloc tuning our training CLI applies
  (b) plain     ours, γ = 0: no penalty computed (a β-VAE step)
  (c) fd        ours, FD Jacobian (the default)
  (d) exact     ours, exact Jacobian (forward-mode autodiff)
  (e) fd-sub16  ours, FD Jacobian on a random sub-batch of 16 rows

"Ours" is what Trainer.training_step runs: ConvVAE with its CPU kernel choice
(``tuned_cpu_kernels``), the trainer's optimiser (``build_adam``, fused Adam) and the
penalty's backward in chunks of latents (``jacobian_penalty_backward``, ``penalty_chunk_size``).
``--ablation`` adds (b0), (c0), (e0): the same as (b), (c), (e) with oneDNN for every layer,
Adam's default for-loop and the penalty in the loss's graph, i.e. ours before those choices.

All variants start from the same weights and see the same batches; their steps are
interleaved in one process so machine noise hits them alike. Reported: median wall ms per
step and, on CPU, median process CPU ms per step (all threads; steadier than wall time when
other processes share the cores) and system (kernel) ms, which exposes allocator thrashing.
The last lines give the ratios that issue 5 sets targets for, the FD step's against both (a)
and (a1).

    .venv/bin/python benchmarks/bench_training_step.py [--quick] [--device cpu] [--steps N]
        [--threads N] [--ablation]

glibc's malloc is tuned before torch is imported (see jlonevae_lib/utils/allocator.py), and
(a)'s steps alone run under glibc's defaults again (``glibc_default_malloc``: they pay the
page faults of mmap'ed blocks as the seed's code did, and the heap is grown back, untimed,
before the next variant). Set JLONEVAE_MALLOC_TUNING=0 to measure every variant untuned
(then (a1) is left out, being (a)). On a 2-core machine that other processes
share, libgomp's default spin-waiting makes 2-thread steps several times slower; like the
training CLI, the script limits it (jlonevae_lib/utils/threads.py; JLONEVAE_OMP_TUNING=0 to
measure without).
The header prints the load average and the OpenMP settings so a table can be judged.
"""

from __future__ import annotations

import os

from jlonevae_lib.utils.allocator import glibc_default_malloc
from jlonevae_lib.utils.timing import tune_benchmark_process

MALLOC_TUNED = tune_benchmark_process(os.environ)  # before torch is imported

import argparse  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from contextlib import AbstractContextManager, nullcontext  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from jlonevae_lib.architecture.jacobian import (  # noqa: E402
    jacobian_penalty,
    jacobian_penalty_backward,
)
from jlonevae_lib.architecture.vae import ConvVAE, conv_vae_args  # noqa: E402
from jlonevae_lib.train.objectives.penalty import penalty_chunk_size  # noqa: E402
from jlonevae_lib.train.trainer import build_adam  # noqa: E402

BETA = 4.0
GAMMA = 0.1
LEARNING_RATE = 1e-4
FD_EPSILON = 1e-3
SUB_BATCH = 16

MODEL_ARGS = conv_vae_args("defaultConv", im_channels=1, latent_dim=10)

#: The reference as it ran, under glibc's default malloc: the base of every ratio.
SEED = "(a) seed"
#: The reference under our malloc tuning: a stricter base for the FD step's ratio.
SEED_TUNED_MALLOC = "(a1) seed+malloc"


class SeedConvVAE(nn.Module):
    """The reference's ConvVAE forward pass, restated: transposed convolutions without padding,
    each followed by a ``ZeroPad2d`` with negative padding that crops to TensorFlow's 'SAME'
    size. Same parameter names as ours, so the two share a state dict."""

    def __init__(self, args: dict) -> None:
        super().__init__()
        self.args = args
        side, channels = args["im_side_len"], args["im_channels"]
        emb_convs = []
        for out_ch, stride, kernel in zip(args["emb_conv_layers_channels"],
                                          args["emb_conv_layers_strides"],
                                          args["emb_conv_layers_kernel_sizes"], strict=True):
            emb_convs.append(nn.Conv2d(channels, out_ch, kernel, stride))
            side, channels = (side - kernel) // stride + 1, out_ch
        features = side * side * channels
        emb_fcs = []
        for out_f in args["emb_fc_layers_num_features"]:
            emb_fcs.append(nn.Linear(features, out_f))
            features = out_f
        self.fcmu = nn.Linear(features, args["latent_dim"])
        self.fclogvar = nn.Linear(features, args["latent_dim"])
        self.emb_convs, self.emb_fcs = nn.ModuleList(emb_convs), nn.ModuleList(emb_fcs)
        gen_fcs, features = [], args["latent_dim"]
        for out_f in args["gen_fc_layers_num_features"]:
            gen_fcs.append(nn.Linear(features, out_f))
            features = out_f
        self.gen_fcs = nn.ModuleList(gen_fcs)
        side = args["gen_first_im_side_len"]
        channels = self.first_channels = features // (side * side)
        gen_convs, self.crops = [], []
        for out_ch, stride, kernel in zip(args["gen_conv_layers_channels"],
                                          args["gen_conv_layers_strides"],
                                          args["gen_conv_layers_kernel_sizes"], strict=True):
            gen_convs.append(nn.ConvTranspose2d(channels, out_ch, kernel, stride))
            excess = (side - 1) * stride + kernel - side * stride
            lo, hi = excess // 2, excess - excess // 2
            self.crops.append(nn.ZeroPad2d((-lo, -hi, -lo, -hi)) if excess > 0 else None)
            side, channels = side * stride, out_ch
        self.gen_convs = nn.ModuleList(gen_convs)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for conv in self.emb_convs:
            x = F.relu(conv(x))
        x = torch.flatten(x, 1)
        for fc in self.emb_fcs:
            x = F.relu(fc(x))
        return self.fcmu(x), self.fclogvar(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        for fc in self.gen_fcs:
            z = F.relu(fc(z))
        s0 = self.args["gen_first_im_side_len"]
        h = z.view(-1, self.first_channels, s0, s0)
        for i, (conv, crop) in enumerate(zip(self.gen_convs, self.crops, strict=True)):
            h = conv(h)
            if i + 1 < len(self.gen_convs):
                h = F.relu(h)
            if crop is not None:
                h = crop(h)
        return torch.sigmoid(h)

    def forward(self, x: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decode(z), mu, logvar, z


def seed_jacobian_loss(model: SeedConvVAE, z: torch.Tensor) -> torch.Tensor:
    """The reference's FD penalty: z tiled (d+1) times, e_k steps added, one decoder call."""
    batch_size, latent_dim = z.shape
    rows = z.repeat(latent_dim + 1, 1).detach().clone()
    delta = torch.eye(latent_dim).reshape(latent_dim, 1, latent_dim).repeat(1, batch_size, 1)
    delta = delta.reshape(latent_dim * batch_size, latent_dim)
    rows += FD_EPSILON * torch.cat((delta, torch.zeros(batch_size, latent_dim))).to(z.device)
    recons = model.decode(rows)
    recons = recons.reshape(latent_dim + 1, batch_size, *recons.shape[1:])
    jacobian = (recons[:-1] - recons[-1]) / FD_EPSILON
    return jacobian.abs().sum() / batch_size


def vae_loss(recon: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
             ) -> torch.Tensor:
    """NLL + β·KL of docs/method.md, The loss (the same code for every variant)."""
    batch_size = x.shape[0]
    nll = F.binary_cross_entropy(recon, x, reduction="sum") / batch_size
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / batch_size
    return nll + BETA * kl


def make_step(model: nn.Module, penalty: Callable[[torch.Tensor], torch.Tensor] | None,
              optimizer: torch.optim.Optimizer | None = None
              ) -> Callable[[torch.Tensor], float]:
    """A closure doing one optimiser step on a batch; returns the loss. The optimiser defaults
    to Adam as the reference made it (PyTorch's defaults)."""
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)

    def step(x: torch.Tensor) -> float:
        optimizer.zero_grad(set_to_none=True)
        recon, mu, logvar, z = model(x)
        loss = vae_loss(recon, x, mu, logvar)
        if penalty is not None:
            loss = loss + GAMMA * penalty(z.detach())
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def make_trainer_step(model: ConvVAE, method: str | None, sub_batch: int | None,
                      generator: torch.Generator, device: torch.device
                      ) -> Callable[[torch.Tensor], float]:
    """One step as Trainer.training_step takes it: the trainer's optimiser, and the penalty's
    gradient accumulated chunk by chunk before the VAE loss's backward."""
    optimizer = build_adam(model.parameters(), LEARNING_RATE)
    chunk_size = penalty_chunk_size(device, method or "fd")

    def step(x: torch.Tensor) -> float:
        optimizer.zero_grad(set_to_none=True)
        recon, mu, logvar, z = model(x)
        loss = vae_loss(recon, x, mu, logvar)
        penalty = 0.0
        if method is not None:
            penalty = jacobian_penalty_backward(
                model.decode, z.detach(), GAMMA, method=method, sub_batch=sub_batch,
                generator=generator, chunk_size=chunk_size).item()
        loss.backward()
        optimizer.step()
        return loss.item() + GAMMA * penalty

    return step


def initial_weights() -> dict[str, torch.Tensor]:
    """The state dict every variant starts from (ours and the seed's share parameter names)."""
    torch.manual_seed(0)
    return ConvVAE(**MODEL_ARGS).state_dict()


def build_seed_step(device: torch.device, initial: dict[str, torch.Tensor] | None = None
                    ) -> Callable[[torch.Tensor], float]:
    """The seed's step (its model, FD penalty and Adam) from ``initial`` weights."""
    seed = SeedConvVAE(MODEL_ARGS)
    seed.load_state_dict(initial_weights() if initial is None else initial)
    seed.to(device)
    return make_step(seed, lambda z: seed_jacobian_loss(seed, z))


def build_variants(device: torch.device, ablation: bool = False
                   ) -> dict[str, Callable[[torch.Tensor], float]]:
    initial = initial_weights()

    def ours(tuned: bool = True) -> ConvVAE:
        model = ConvVAE(**MODEL_ARGS)
        model.load_state_dict(initial)
        model.tuned_cpu_kernels = tuned
        return model.to(device)

    def step(model: ConvVAE, method: str | None, sub_batch: int | None = None,
             tuned: bool = True) -> Callable[[torch.Tensor], float]:
        generator = torch.Generator().manual_seed(1)  # the same sub-batches for (e) and (e0)
        if not tuned:
            return make_step(model, None if method is None else lambda z: jacobian_penalty(
                model.decode, z, method=method, sub_batch=sub_batch, generator=generator))
        return make_trainer_step(model, method, sub_batch, generator, device)

    variants = {SEED: build_seed_step(device, initial)}
    if MALLOC_TUNED:
        variants[SEED_TUNED_MALLOC] = build_seed_step(device, initial)
    variants.update({
        "(b) plain": step(ours(), None),
        "(c) fd": step(ours(), "fd"),
        "(d) exact": step(ours(), "exact"),
        "(e) fd-sub16": step(ours(), "fd", SUB_BATCH),
    })
    if ablation:
        variants.update({
            "(b0) plain": step(ours(False), None, tuned=False),
            "(c0) fd": step(ours(False), "fd", tuned=False),
            "(e0) fd-sub16": step(ours(False), "fd", SUB_BATCH, tuned=False),
        })
    return variants


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _cpu_seconds() -> tuple[float, float]:
    """(user + system, system) CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_stime


def run(steps: int, warmup: int, batch_size: int, device: torch.device, ablation: bool = False
        ) -> dict[str, dict[str, float]]:
    """Median wall, CPU and system ms per step of every variant, keyed by variant name."""
    variants = build_variants(device, ablation)
    samples: dict[str, dict[str, list[float]]] = {
        name: {"ms": [], "cpu_ms": [], "sys_ms": []} for name in variants}
    data_gen = torch.Generator().manual_seed(2)
    for i in range(warmup + steps):
        x = torch.rand(batch_size, 1, 64, 64, generator=data_gen).to(device)
        for name, step in variants.items():
            malloc: AbstractContextManager = (
                glibc_default_malloc() if name == SEED and MALLOC_TUNED else nullcontext())
            with malloc:  # left (re-tuning, heap regrowth) after the timer stops
                _sync(device)
                start_wall, (start_cpu, start_sys) = time.perf_counter(), _cpu_seconds()
                loss = step(x)
                _sync(device)
                end_wall, (end_cpu, end_sys) = time.perf_counter(), _cpu_seconds()
            if not math.isfinite(loss):
                raise RuntimeError(f"{name}: non-finite loss {loss}")
            if i >= warmup:
                samples[name]["ms"].append(1e3 * (end_wall - start_wall))
                samples[name]["cpu_ms"].append(1e3 * (end_cpu - start_cpu))
                samples[name]["sys_ms"].append(1e3 * (end_sys - start_sys))
    return {name: {key: statistics.median(values) for key, values in by_key.items()}
            for name, by_key in samples.items()}


def format_table(results: dict[str, dict[str, float]], show_cpu: bool) -> str:
    """Wall ms per step and its ratio to (a); on CPU also process CPU ms (all threads, less
    disturbed by other processes than wall time) with its ratio, and kernel ms."""
    base = results[SEED]
    header = f"{'variant':<17} {'ms/step':>9} {'vs (a)':>7}"
    if show_cpu:
        header += f" {'cpu ms':>9} {'vs (a)':>7} {'sys ms':>7}"
    lines = [header, "-" * len(header)]
    for name, r in results.items():
        line = f"{name:<17} {r['ms']:9.1f} {base['ms'] / r['ms']:6.2f}x"
        if show_cpu:
            line += f" {r['cpu_ms']:9.1f} {base['cpu_ms'] / r['cpu_ms']:6.2f}x {r['sys_ms']:7.1f}"
        lines.append(line)
    ratios = [("(c) fd", SEED, "issue 5 target <= 0.5"),
              ("(c) fd", SEED_TUNED_MALLOC, "the same target, against the seed given our malloc"),
              ("(e) fd-sub16", "(b) plain", "issue 5 target <= 2.5")]
    for num, den, note in ratios:
        if den not in results:
            continue
        line = f"{num} / {den}: {results[num]['ms'] / results[den]['ms']:.2f} wall"
        if show_cpu:
            line += f", {results[num]['cpu_ms'] / results[den]['cpu_ms']:.2f} cpu"
        lines.append(f"{line} ({note})")
    return "\n".join(lines)


def machine_line() -> str:
    """Load average and the OpenMP settings that decide how a shared CPU behaves."""
    try:
        load = " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        load = "n/a"
    omp = ", ".join(f"{name}={os.environ[name]}" for name in ("OMP_NUM_THREADS",
                    "OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if name in os.environ)
    return (f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {load}"
            f"{', ' + omp if omp else ''}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 steps after 1 warm-up at batch 8: a smoke test for CI")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per variant")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's, one per core)")
    parser.add_argument("--ablation", action="store_true",
                        help="add (b0), (c0), (e0): ours without the CPU kernel choice, "
                             "multi-tensor Adam and the chunked penalty backward")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.warmup, args.batch_size = 2, 1, 8
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    start_line = machine_line()
    results = run(args.steps, args.warmup, args.batch_size, device, args.ablation)
    print(f"training step, defaultConv 64x64x1, d=10, batch {args.batch_size}, device {device}, "
          f"{torch.get_num_threads()} threads, median of {args.steps} steps after {args.warmup} "
          f"warm-up; glibc malloc tuned: {MALLOC_TUNED}"
          f"{' (but for (a))' if MALLOC_TUNED else ''}")
    print(f"at start: {start_line}")
    print(f"at end:   {machine_line()}")
    print(format_table(results, show_cpu=device.type == "cpu"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
