"""Helpers for fault-injection tests: real subprocesses, real signals, real files."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from jlonevae_lib.utils.atomic import STALE_AFTER_SECONDS

TRAIN = [sys.executable, "-m", "jlonevae_lib.train.train_jlonevae_models"]

# A toy run on procedural three-dots: a few ms per batch, tiny checkpoints.
TOY_FLAGS = ["--dataset", "threeDots", "--latent-dim", "3", "--batch-size", "4", "--beta", "4",
             "--gamma", "0.1", "--jacobian-batch", "2", "--annealingBatches", "5",
             "--log-interval", "1", "--checkpoint-every", "1", "--device", "cpu", "--seed", "3"]


def toy_env() -> dict[str, str]:
    """The environment of a toy run: this process's, with a fixed thread count.

    Runs compared bit for bit must use the same number of threads: kernels split their sums
    over threads, and another split rounds differently. Left to itself, torch takes the CPUs
    the process may use, which a scheduler (Slurm's CPU binding, taskset) can change between
    two runs on the same machine.
    """
    return {**os.environ, "OMP_NUM_THREADS": "2"}


def run_cli(args: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("env", toy_env())
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, **kwargs)


def start_cli(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=toy_env())


def checkpoint_step(run_dir: Path) -> int:
    """Step of the run's checkpoint, or -1 if none yet (atomic writes: never half a file)."""
    path = run_dir / "checkpoints" / "checkpoint.pt"
    if not path.exists():
        return -1
    return int(torch.load(path, weights_only=True)["step"])


class CodePayload:
    """A pickled object whose unpickling runs a shell command that creates ``marker``: the
    file's existence afterwards proves the payload ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def one_line_error(result: subprocess.CompletedProcess, code: int = 2) -> str:
    """The single stderr line of a CLI that failed with ``code`` and no traceback."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def limit_file_size(max_bytes: int):
    """A ``preexec_fn``: files above ``max_bytes`` cannot be written (a disk that fills up)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an EFBIG error instead of death
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


def wait_until(predicate, timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _nonempty_temporaries(target: Path, suffix: str) -> list[Path]:
    """atomic_path's temporaries of ``target`` that hold data; one renamed away meanwhile is
    skipped."""
    found = []
    for path in target.parent.glob(f".{target.name}.*.tmp{suffix}"):
        try:
            if path.stat().st_size > 0:
                found.append(path)
        except FileNotFoundError:
            pass
    return found


def kill_while_writing(proc: subprocess.Popen, target: Path, suffix: str = "",
                       timeout: float = 120.0) -> Path:
    """SIGKILL ``proc`` once it is writing ``target`` (its temporary holds data); returns the
    temporary it left. Polled every millisecond: on a fast disk a write may take only a few
    hundred."""
    deadline = time.monotonic() + timeout
    while not _nonempty_temporaries(target, suffix) and proc.poll() is None:
        assert time.monotonic() < deadline, f"timed out waiting for the write of {target}"
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    _, errors = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, f"it ended before the kill: {errors!r}"
    (leftover,) = _nonempty_temporaries(target, suffix)
    return leftover


def make_stale(path: Path) -> None:
    """Date ``path`` back beyond atomic_path's stale age, as if left an hour ago."""
    then = path.stat().st_mtime - STALE_AFTER_SECONDS - 1
    os.utime(path, (then, then))


def find_run_dir(out: Path) -> Path:
    runs = list((out / "trainedModels").glob("*/*"))
    assert len(runs) == 1, runs
    return runs[0]


def _final_state(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "checkpoint.pt", weights_only=True)


def _logged(log_root: Path) -> dict[str, list[tuple[int, float]]]:
    (run_logs,) = list(log_root.glob("*/*"))
    events = EventAccumulator(str(run_logs))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()["scalars"]}


def assert_same_run(a: Path, b: Path) -> None:
    state_a, state_b = _final_state(find_run_dir(a)), _final_state(find_run_dir(b))
    assert state_a["step"] == state_b["step"]
    for name, tensor in state_a["model"].items():
        assert torch.equal(tensor, state_b["model"][name]), name
    for key, slot in state_a["optimizer"]["state"].items():
        for name, tensor in slot.items():
            assert torch.equal(tensor, state_b["optimizer"]["state"][key][name]), (key, name)
    assert _logged(a / "logs") == _logged(b / "logs")


@pytest.fixture(scope="session")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("straight")
    done = run_cli([*TRAIN, *TOY_FLAGS, "--num-batches", "60"], cwd=out)
    assert done.returncode == 0, done.stderr
    return out
