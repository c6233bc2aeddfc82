"""The paper's three-dots training on a GPU: our trainer's batches/s against the reference step,
and the projected time of the paper's 300,000-batch run (issue 5's goal: at most
:data:`GOAL_MINUTES` on one H100).

    .venv/bin/python benchmarks/bench_cuda_training.py [--quick] [--device cuda] [--steps 200]

Ours: ``Trainer.training_step`` exactly as ``jlonevae-train`` runs it — the batch drawn from the
training cache on the CPU and copied to the device, the FD penalty, Adam, the finite-loss checks
— in the paper's configuration (defaultConv, d = 10, B = 64, β = 4, γ = 0.1, lr 1e-4; the cache
is the 20,000-image one, whose draws cost what the 500,000-image one's do). Also our β-VAE step
(γ = 0) and the penalty on a sub-batch of 16. Reference: the seed's step restated in
``bench_training_step.py`` (under our malloc tuning, i.e. its "(a1)"), on batches already on
the device, so the ratio flatters it. The variants run in interleaved blocks of steps, so
clock and thermal changes hit them alike.

The prepared check for a GPU machine is ``cuda_pipeline_check.py``: one command that checks
the device paths (precision, resume, host syncs), times the paper's configuration and every
baseline, and runs several members on one GPU. This script is the finer timing of our step
against the reference's.

Without CUDA (or with ``--device cpu``) it runs on the CPU and says so; ``--quick`` takes a few
tiny steps there, which is how CI checks that the script works.
"""

from __future__ import annotations

import os

from jlonevae_lib.utils.timing import environ_default, load_sibling, tune_benchmark_process

tune_benchmark_process(os.environ)  # before torch is imported

import argparse  # noqa: E402
import itertools  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402

import torch  # noqa: E402

from jlonevae_lib.data.ground_truth import DATA_ROOT_ENV  # noqa: E402
from jlonevae_lib.train.config import TrainConfig  # noqa: E402
from jlonevae_lib.train.trainer import Trainer  # noqa: E402
from jlonevae_lib.utils.device import pick_device  # noqa: E402

PAPER_BATCHES = 300_000
GOAL_MINUTES = 15.0
#: Our variants: (γ, penalty sub-batch).
OURS = {"ours fd (paper)": (0.1, None), "ours fd-sub16": (0.1, 16), "ours plain (γ=0)": (0.0, None)}
REFERENCE = "(a) seed"


def load_training_step_bench() -> ModuleType:
    """``bench_training_step.py`` beside this file, for its restated reference step."""
    return load_sibling("bench_training_step", __file__)


def build_steps(device: torch.device, dataset: str, batch_size: int, output_dir: Path
                ) -> dict[str, Callable[[], object]]:
    """Step functions: the reference's on device-resident random batches, then our trainers'."""
    reference = load_training_step_bench().build_seed_step(device)
    data = torch.Generator().manual_seed(2)
    batches = itertools.cycle(
        [torch.rand(batch_size, 1, 64, 64, generator=data).to(device) for _ in range(8)])
    steps: dict[str, Callable[[], object]] = {REFERENCE: lambda: reference(next(batches))}
    for name, (gamma, sub_batch) in OURS.items():
        config = TrainConfig(dataset=dataset, gamma=gamma, jacobian_batch=sub_batch,
                             batch_size=batch_size, num_batches=PAPER_BATCHES, lr=1e-4,
                             annealing_batches=100_000, device=str(device),
                             output_dir=str(output_dir))
        steps[name] = Trainer(config).training_step
    return steps


def time_blocks(steps: dict[str, Callable[[], object]], device: torch.device, num_steps: int,
                warmup: int, block: int) -> dict[str, float]:
    """Median seconds per step of each variant, over blocks of ``block`` steps run in turn."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda *_: None)
    for step in steps.values():
        for _ in range(warmup):
            step()
    per_step: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(num_steps // block):
        for name, step in steps.items():
            sync(device)
            start = time.perf_counter()
            for _ in range(block):
                step()
            sync(device)
            per_step[name].append((time.perf_counter() - start) / block)
    return {name: statistics.median(times) for name, times in per_step.items()}


def format_report(seconds: dict[str, float], device: torch.device) -> str:
    reference = seconds[REFERENCE]
    header = f"{'variant':<18} {'ms/step':>9} {'batches/s':>10} {'vs seed':>8} {'300k run':>10}"
    lines = [header, "-" * len(header)]
    for name, s in seconds.items():
        lines.append(f"{name:<18} {1e3 * s:9.2f} {1 / s:10.1f} {reference / s:7.2f}x "
                     f"{PAPER_BATCHES * s / 60:8.1f} min")
    paper = seconds["ours fd (paper)"] * PAPER_BATCHES / 60
    line = f"projected paper run (ours fd, 300,000 batches): {paper:.1f} min on {device}"
    if device.type == "cuda":
        verdict = "met" if paper <= GOAL_MINUTES else "not met"
        line += f" (issue 5 goal on one H100: <= {GOAL_MINUTES:g} min: {verdict})"
    lines.append(line)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a few steps of batch 8 on procedural data (CI: checks it works)")
    parser.add_argument("--device", default="auto", help="auto (default), cuda, cuda:N or cpu")
    parser.add_argument("--steps", type=int, default=200, help="timed steps per variant")
    parser.add_argument("--block", type=int, default=25, help="steps per timed block")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps per variant")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    if args.quick:
        args.steps, args.block, args.warmup = 2, 1, 1
    if args.block < 1 or args.steps < args.block or args.steps % args.block:
        parser.error(f"--steps ({args.steps}) must be a positive multiple of --block "
                     f"({args.block})")
    batch_size, dataset = (8, "threeDots") if args.quick else (64, "threeDotsCacheSmall")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (no CUDA)"
    print(f"device: {device} ({name}); torch {torch.__version__}; batch {batch_size}, "
          f"dataset {dataset}, {args.steps} timed steps per variant in blocks of {args.block}")
    # The cache goes to $DISENTANGLEMENT_LIB_DATA if set (reused), else a temporary folder.
    with tempfile.TemporaryDirectory() as tmp, \
            environ_default(DATA_ROOT_ENV, str(Path(tmp) / "data")):
        steps = build_steps(device, dataset, batch_size, Path(tmp))
        seconds = time_blocks(steps, device, args.steps, args.warmup, args.block)
    print(format_report(seconds, device))
    if device.type != "cuda":
        print("note: no GPU here, so these are CPU figures; run this on a CUDA machine for "
              "issue 5's GPU numbers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
