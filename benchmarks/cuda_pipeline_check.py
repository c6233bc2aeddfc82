"""The whole pipeline on a GPU, checked against the CPU: train, SIGTERM, resume, export, evaluate.

    .venv/bin/python benchmarks/cuda_pipeline_check.py [--device cuda] [--quick]

``bench_cuda_training.py`` runs it first, so one command on a GPU machine checks the device
paths and then times them. Each step is the real command line in a child process:

1. ``jlonevae-train`` on the device, stopped by SIGTERM after a few checkpoints (exit 143, as a
   pre-empted Slurm job), then run again: it must resume from the checkpoint and finish.
2. The same run uninterrupted on the device: the resumed run must end with the same weights
   (bit for bit on the CPU; CUDA kernels need not be deterministic, so there, to a tolerance).
3. The same run on the CPU: the device's losses must track the CPU's (to a loose tolerance:
   float32 rounding differs between devices and forward differences amplify it).
4. The exported model read back on a CPU-only path (saved model and TorchScript) and encoded
   on the device and on the CPU: codes equal to float32 rounding.
5. ``jlonevae-evaluate`` of the run on the device and on the CPU: the same metric values to a
   tolerance (their codes differ by rounding, which rarely moves a point across a bin edge).

Without CUDA (or with ``--device cpu``) every "device" step runs on the CPU, which is how CI
checks that the script works. It prints one line per check and exits 1 if any fails.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from jlonevae_lib.architecture.export import load_torchscript
from jlonevae_lib.architecture.load_model import load_model
from jlonevae_lib.utils.device import pick_device

TRAIN = [sys.executable, "-m", "jlonevae_lib.train.train_jlonevae_models"]
EVALUATE = [sys.executable, "-m", "jlonevae_lib.evaluate.evaluation"]
#: A toy JL1-VAE run on procedural three-dots: every part of a training step, in seconds.
RUN_FLAGS = ["--dataset", "threeDots", "--latent-dim", "4", "--batch-size", "16", "--beta", "4",
             "--gamma", "0.1", "--jacobian-batch", "4", "--annealingBatches", "5", "--lr",
             "0.001", "--log-interval", "1", "--checkpoint-every", "2", "--seed", "3"]
METRIC = "small_local_mig"
#: Tolerances of the device-against-CPU comparisons (see the module docstring).
RESUME_ATOL_CUDA = 1e-4
LOSS_RTOL = 0.05
CODES_ATOL = 1e-4
METRIC_ATOL = 0.02


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


def _run(args: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} ... exited {done.returncode}: "
                           f"{done.stderr[-2000:]}")
    return done


def _run_dir(out: Path) -> Path:
    (run,) = (out / "trainedModels").glob("*/*")
    return run


def _checkpoint(out: Path) -> dict:
    return torch.load(_run_dir(out) / "checkpoints" / "checkpoint.pt", weights_only=True)


def _checkpoint_step(out: Path) -> int:
    try:
        return int(_checkpoint(out)["step"])
    except (ValueError, FileNotFoundError):  # no run folder or no checkpoint yet
        return -1


def train(out: Path, device: str, num_batches: int) -> None:
    _run([*TRAIN, *RUN_FLAGS, "--device", device, "--num-batches", str(num_batches),
          "--output-dir", str(out)])


def train_interrupted(out: Path, device: str, num_batches: int) -> Check:
    """SIGTERM after the second checkpoint, then the same command again."""
    proc = subprocess.Popen([*TRAIN, *RUN_FLAGS, "--device", device, "--num-batches",
                             str(num_batches), "--output-dir", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while _checkpoint_step(out) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=600)
    stopped_at = _checkpoint_step(out)
    interrupted = proc.returncode == 143 and 4 <= stopped_at < num_batches
    train(out, device, num_batches)
    finished = _checkpoint_step(out) == num_batches and (_run_dir(out) / "DONE").exists()
    return Check("SIGTERM, then resume", interrupted and finished,
                 f"exit {proc.returncode} at checkpoint {stopped_at}, resumed to "
                 f"{_checkpoint_step(out)}/{num_batches}"
                 + ("" if interrupted else f"; stderr: {stderr.strip()[-300:]}"))


def max_weight_difference(a: dict, b: dict) -> float:
    return max(float((a["model"][name].float() - b["model"][name].float()).abs().max())
               for name in a["model"])


def logged_losses(out: Path) -> list[float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (logs,) = (out / "logs").glob("*/*")
    events = EventAccumulator(str(logs))
    events.Reload()
    return [event.value for event in events.Scalars("ELBO/train")]


def codes_on(device: torch.device, run: Path, images: torch.Tensor) -> dict[str, np.ndarray]:
    """Mean codes (N, d) of ``images`` from the saved model and from the TorchScript file."""
    (saved,) = (run / "representation").glob("cache_batch_no*")
    with torch.no_grad():
        model = load_model(saved, device)
        script = load_torchscript(run / "representation" / "pytorch_model.pt", device)
        batch = images.to(device)
        return {"saved model": model.encode(batch)[0].cpu().numpy(),
                "TorchScript": script(batch).cpu().numpy()}


def evaluated_score(run: Path, device: str) -> float:
    _run([*EVALUATE, str(run), "--metrics", METRIC, "--device", device, "--overwrite"])
    aggregate = run / "metrics" / METRIC / "results" / "aggregate" / "evaluation.json"
    return float(json.loads(aggregate.read_text())["evaluation_results.discrete_mig"])


def run_checks(device: torch.device, workdir: Path, num_batches: int) -> list[Check]:
    dev = str(device)
    resumed, straight, cpu = workdir / "resumed", workdir / "straight", workdir / "cpu"
    checks = [train_interrupted(resumed, dev, num_batches)]
    train(straight, dev, num_batches)
    train(cpu, "cpu", num_batches)

    difference = max_weight_difference(_checkpoint(resumed), _checkpoint(straight))
    allowed = 0.0 if device.type == "cpu" else RESUME_ATOL_CUDA
    checks.append(Check("resumed = uninterrupted (weights)", difference <= allowed,
                        f"max |Δ| {difference:.3g} (allowed {allowed:g})"))

    device_losses, cpu_losses = logged_losses(straight), logged_losses(cpu)
    worst = max(abs(a - b) / abs(b) for a, b in zip(device_losses, cpu_losses, strict=True))
    checks.append(Check(f"{dev} losses track the CPU's", worst <= LOSS_RTOL,
                        f"worst relative difference {worst:.3g} over {len(cpu_losses)} "
                        f"batches (allowed {LOSS_RTOL:g})"))

    run = _run_dir(resumed)
    images = torch.rand(64, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    on_device = codes_on(device, run, images)
    on_cpu = codes_on(torch.device("cpu"), run, images)
    for source, codes in on_device.items():
        gap = float(np.abs(codes - on_cpu[source]).max())
        checks.append(Check(f"{source} codes on {dev} = on the CPU", gap <= CODES_ATOL,
                            f"max |Δ| {gap:.3g} (allowed {CODES_ATOL:g})"))

    device_score, cpu_score = evaluated_score(run, dev), evaluated_score(run, "cpu")
    checks.append(Check(f"{METRIC} on {dev} = on the CPU",
                        abs(device_score - cpu_score) <= METRIC_ATOL,
                        f"{device_score:.4f} vs {cpu_score:.4f} (allowed ±{METRIC_ATOL:g})"))
    return checks


def report(checks: Sequence[Check]) -> str:
    return "\n".join(f"{'PASS' if c.passed else 'FAIL'}  {c.name}: {c.detail}" for c in checks)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto (default), cuda, cuda:N or cpu")
    parser.add_argument("--quick", action="store_true", help="shorter runs (CI)")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    num_batches = 12 if args.quick else 40
    print(f"pipeline check on {device}: toy JL1-VAE runs of {num_batches} batches")
    with tempfile.TemporaryDirectory() as tmp:  # procedural three-dots: no data files
        checks = run_checks(device, Path(tmp), num_batches)
    print(report(checks))
    if device.type != "cuda":
        print("note: no GPU here, so the device steps ran on the CPU")
    return 0 if all(check.passed for check in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
