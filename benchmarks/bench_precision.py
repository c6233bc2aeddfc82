"""bfloat16 mixed precision (``jlonevae-train --precision bf16``) against float32: the speed of a
training step, and what bf16 does to the training loss.

    .venv/bin/python benchmarks/bench_precision.py [--quick] [--method beta_vae]
        [--batches 3000] [--block 50] [--window 250] [--threads N] [--json PATH]

Trains one run twice from the same seed, ``TrainConfig.precision`` "float32" and "bf16", each
by ``Trainer.training_step`` exactly as ``jlonevae-train`` runs it (a batch of 64 drawn from the
20,000-image three-dots cache, the objective's loss, finite checks, backward, Adam), for
``--batches`` batches, and records every batch's loss (the objective's total, which the trainer
minimises). The two runs take turns, a block of ``--block`` batches each, the order alternating,
in one process, so the noise of a shared machine hits both alike; each run draws its own
batches and noise, exactly those it would draw alone. Printed:

- ms per step of each run: the median over blocks (the first block, which pays one-time
  set-up, left out) and the best block; and the speed-up, float32's median over bf16's;
- the training loss, the mean over windows of ``--window`` batches, of both runs side by side,
  with bf16's relative difference from float32. The runs part after their first step (their
  arithmetic differs), so this compares two trajectories, as two seeds would be compared.

``--method``: a baseline (default ``beta_vae``), on disentanglement_lib's architecture
(``dlibConv``) at its study setting 2 (``jlonevae_lib.train.baselines.method_settings``), or
``jlonevae``: the CPU study's JL1-VAE arm (``defaultConv``, β 4, γ 0.1, FD penalty on a
sub-batch of 16), whose Jacobian penalty stays IEEE float32 in the bf16 run, so that only the
rest of its step goes bf16. ``--json PATH`` writes every figure, with each block's time and each
batch's loss. ``--quick``: a few batches of 8 on procedural three-dots, for CI.

The speed depends on the CPU's bfloat16 instructions (AVX512-BF16, AMX-BF16; the header lists
those this CPU has): without them PyTorch emulates bfloat16, and bf16 is slower than float32.
The CPU only: on a GPU the per-batch loss read would wait for the device at every step.
"""

from __future__ import annotations

import os
from pathlib import Path

from jlonevae_lib.utils.timing import (
    cpu_model,
    environ_default,
    load_sibling,
    present_cpu_flags,
    tune_benchmark_process,
)

MALLOC_TUNED = tune_benchmark_process(os.environ)  # before torch is imported

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import torch  # noqa: E402

from jlonevae_lib.data.ground_truth import DATA_ROOT_ENV  # noqa: E402
from jlonevae_lib.sweep.studies import get_study  # noqa: E402
from jlonevae_lib.train.baselines import method_settings  # noqa: E402
from jlonevae_lib.train.config import TrainConfig  # noqa: E402
from jlonevae_lib.train.objectives import available_objectives  # noqa: E402
from jlonevae_lib.train.trainer import Trainer  # noqa: E402
from jlonevae_lib.utils.precision import PRECISIONS  # noqa: E402

STUDY_HP_INDEX, SEED = 2, 0
#: The CPU study's JL1-VAE arm: its shared settings (sweep/studies.py, cpu_study) and γ.
JL1_STUDY, JL1_GAMMA = "cpu_study", 0.1
#: /proc/cpuinfo flags of bfloat16 arithmetic that PyTorch's CPU kernels (oneDNN) use.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def run_config(method: str, precision: str, dataset: str, batch_size: int,
               output_dir: Path) -> TrainConfig:
    """The benchmark's run of ``method`` at ``precision``: a baseline's study member (setting
    2, seed 0) or the CPU study's JL1-VAE arm (seed 0), with this benchmark's data and batch."""
    if method == "jlonevae":
        fields = set(TrainConfig.__dataclass_fields__)
        settings = {k: v for k, v in get_study(JL1_STUDY).base.items() if k in fields}
        settings.update(gamma=JL1_GAMMA, seed=SEED)
    else:
        settings = method_settings(method, STUDY_HP_INDEX, SEED)
    settings.update(dataset=dataset, batch_size=batch_size, device="cpu",
                    output_dir=str(output_dir / precision), precision=precision)
    return TrainConfig(**settings)


@dataclass
class Arm:
    """One of the two runs: its trainer, its own state of torch's global generator (the
    model's noise; the two runs share the process's), each block's seconds per step, and every
    batch's loss."""

    trainer: Trainer
    rng_state: torch.Tensor
    block_seconds: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)

    def run_block(self, batches: int) -> None:
        """``batches`` training steps, timed together; the loss of each recorded."""
        torch.set_rng_state(self.rng_state)
        start = time.perf_counter()
        for _ in range(batches):
            self.losses.append(self.trainer.training_step().total.item())
        self.block_seconds.append((time.perf_counter() - start) / batches)
        self.rng_state = torch.get_rng_state()


def build_arms(method: str, dataset: str, batch_size: int, output_dir: Path
               ) -> dict[str, Arm]:
    """The two runs, float32 and bf16, each starting from the state of torch's generator its
    trainer left (the same seed: the same initial weights and noise)."""
    arms = {}
    for precision in PRECISIONS:
        trainer = Trainer(run_config(method, precision, dataset, batch_size, output_dir))
        arms[precision] = Arm(trainer, torch.get_rng_state())
    return arms


def train_interleaved(arms: dict[str, Arm], batches: int, block: int) -> None:
    """Train every arm ``batches`` batches, a block of ``block`` at a time, taking turns; the
    order flips every block, so neither always runs right after the other."""
    order = list(arms)
    for _ in range(batches // block):
        for name in order:
            arms[name].run_block(block)
        order.reverse()


def step_ms(arm: Arm) -> tuple[float, float]:
    """(median, best) ms per step over the arm's blocks, the first left out where there are
    others (it pays the one-time set-up: kernels chosen, buffers allocated)."""
    timed = arm.block_seconds[1:] or arm.block_seconds
    return 1e3 * statistics.median(timed), 1e3 * min(timed)


def loss_windows(arms: dict[str, Arm], window: int) -> list[dict[str, float]]:
    """Each window's mean loss of float32 and bf16 and bf16's relative difference, (bf16 −
    float32) / |float32|; windows of ``window`` batches, numbered from 1, the last maybe
    shorter."""
    f32, bf16 = arms["float32"].losses, arms["bf16"].losses
    rows = []
    for start in range(0, len(f32), window):
        a = statistics.fmean(f32[start:start + window])
        b = statistics.fmean(bf16[start:start + window])
        rows.append({"first_batch": start + 1, "last_batch": min(start + window, len(f32)),
                     "float32": a, "bf16": b, "relative_difference": (b - a) / abs(a)})
    return rows


def summarise(arms: dict[str, Arm], window: int) -> dict[str, Any]:
    """The figures printed and written: ms per step, best block, speed-up, loss windows, and
    the raw block times and losses."""
    timings = {name: step_ms(arm) for name, arm in arms.items()}
    return {
        "ms_per_step": {name: median for name, (median, _) in timings.items()},
        "best_block_ms": {name: best for name, (_, best) in timings.items()},
        "speedup": timings["float32"][0] / timings["bf16"][0],
        "loss_windows": loss_windows(arms, window),
        "block_ms": {name: [1e3 * s for s in arm.block_seconds] for name, arm in arms.items()},
        "loss": {name: arm.losses for name, arm in arms.items()},
    }


def format_report(summary: dict[str, Any]) -> str:
    """The timing lines and the loss table of :func:`summarise`'s figures."""
    ms, best = summary["ms_per_step"], summary["best_block_ms"]
    lines = [f"{name:<8} {ms[name]:8.1f} ms/step (best block {best[name]:.1f})"
             for name in PRECISIONS]
    lines.append(f"bf16 speed-up: {summary['speedup']:.2f}x (float32 ms / bf16 ms)")
    header = f"{'batches':<13} {'float32':>11} {'bf16':>11} {'bf16 vs float32':>16}"
    lines += ["", "training loss, mean per window", header, "-" * len(header)]
    for row in summary["loss_windows"]:
        span = f"{row['first_batch']}-{row['last_batch']}"
        lines.append(f"{span:<13} {row['float32']:11.3f} {row['bf16']:11.3f} "
                     f"{row['relative_difference']:+15.2%}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="8 batches of 8 on procedural data in blocks of 2 (CI: checks it "
                             "works)")
    parser.add_argument("--method", default="beta_vae",
                        help="beta_vae (default) or another baseline on dlibConv, or jlonevae "
                             "(the CPU study's JL1-VAE on defaultConv)")
    parser.add_argument("--batches", type=int, default=3000, help="batches per run")
    parser.add_argument("--block", type=int, default=50, help="batches per timed block")
    parser.add_argument("--window", type=int, default=250,
                        help="batches per window of the loss table")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's, one per core)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    if args.method not in available_objectives():
        parser.error(f"--method {args.method!r}: choose one of "
                     f"{', '.join(available_objectives())}")
    if args.quick:
        args.batches, args.block, args.window = 8, 2, 4
    if min(args.block, args.window) < 1 or args.batches < args.block \
            or args.batches % args.block:
        parser.error(f"--batches ({args.batches}) must be a positive multiple of --block "
                     f"({args.block}), and --window positive")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    batch_size, dataset = (8, "threeDots") if args.quick else (64, "threeDotsCacheSmall")
    machine_line = load_sibling("bench_training_step", __file__).machine_line
    start_line = machine_line()
    # The cache goes to $DISENTANGLEMENT_LIB_DATA if set (reused), else a temporary folder.
    with tempfile.TemporaryDirectory() as tmp, \
            environ_default(DATA_ROOT_ENV, str(Path(tmp) / "data")):
        arms = build_arms(args.method, dataset, batch_size, Path(tmp))
        train_interleaved(arms, args.batches, args.block)
    config = arms["float32"].trainer.config
    cpu = cpu_model()
    bf16_flags = present_cpu_flags(BF16_CPU_FLAGS)
    summary = {
        "method": args.method, "architecture": config.architecture, "dataset": dataset,
        "batch_size": batch_size, "batches": args.batches, "block": args.block,
        "window": args.window, "threads": torch.get_num_threads(), "torch": torch.__version__,
        "cpu": cpu, "cpu_bf16_instructions": bf16_flags, "malloc_tuned": MALLOC_TUNED,
        "at_start": start_line, "at_end": machine_line(), **summarise(arms, args.window)}
    print(f"{args.method} on {config.architecture}, batch {batch_size} from {dataset}, "
          f"{args.batches} batches per run in interleaved blocks of {args.block}, "
          f"{summary['threads']} threads; glibc malloc tuned: {MALLOC_TUNED}")
    print(f"CPU: {cpu}; bf16 instructions: {', '.join(bf16_flags) or 'none (emulated)'}")
    print(f"at start: {start_line}")
    print(f"at end:   {summary['at_end']}")
    print(format_report(summary))
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
