"""Helpers for fault-injection tests: real subprocesses, real signals, real files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

TRAIN = [sys.executable, "-m", "jlonevae_lib.train.train_jlonevae_models"]

# A toy run on procedural three-dots: a few ms per batch, tiny checkpoints.
TOY_FLAGS = ["--dataset", "threeDots", "--latent-dim", "3", "--batch-size", "4", "--beta", "4",
             "--gamma", "0.1", "--jacobian-batch", "2", "--annealingBatches", "5",
             "--log-interval", "1", "--checkpoint-every", "1", "--device", "cpu", "--seed", "3"]


def run_cli(args: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, **kwargs)


def start_cli(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def checkpoint_step(run_dir: Path) -> int:
    """Step of the run's checkpoint, or -1 if none yet (atomic writes: never half a file)."""
    path = run_dir / "checkpoints" / "checkpoint.pt"
    if not path.exists():
        return -1
    return int(torch.load(path, weights_only=True)["step"])


def wait_until(predicate, timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def find_run_dir(out: Path) -> Path:
    runs = list((out / "trainedModels").glob("*/*"))
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture
def env_cwd(tmp_path: Path) -> Path:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return tmp_path
