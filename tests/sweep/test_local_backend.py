"""The local backend for real: two toy members train at the same time, each with its own seed
and folder, and a worker killed with SIGKILL mid-run is resumed by running the same command
again, ending with the weights of a run that was never killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from jlonevae_lib.runs import layout
from jlonevae_lib.sweep.status import checkpoint_batches
from jlonevae_lib.sweep.studies import get_study, plan_study
from tests.reliability.conftest import checkpoint_step, wait_until

pytestmark = pytest.mark.slow

SWEEP = [sys.executable, "-m", "jlonevae_lib.cli.sweep"]
TOY_SETTINGS = {"dataset": "threeDots", "latent_dim": "3", "batch_size": "4",
                "jacobian_batch": "2", "annealing_batches": "5", "log_interval": "1",
                "checkpoint_every": "1", "num_batches": "60"}
# Two members of the CPU study (seeds 1 and 2, γ = 0.1) at toy scale, side by side; one thread
# each, so that the runs compared bit for bit split their sums alike.
TOY_STUDY = ["cpu_study", "--seeds", "1", "2", "--gammas", "0.1",
             *(arg for key, value in TOY_SETTINGS.items() for arg in ("--set", f"{key}={value}"))]
RUN = ["run", *TOY_STUDY, "--stages", "train", "--jobs", "2", "--threads", "1"]


def env_for(tmp: Path) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "DISENTANGLEMENT_LIB_DATA": str(tmp / "data")}


def sweep(args: list[str], out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*SWEEP, *args, "--output-dir", str(out)], env=env_for(out),
                          capture_output=True, text=True, timeout=600)


def toy_members(out: Path):
    overrides = {key: int(value) if value.isdigit() else value
                 for key, value in TOY_SETTINGS.items()}
    return plan_study(get_study("cpu_study"), overrides={**overrides, "output_dir": str(out)},
                      axes={"seed": (1, 2), "gamma": (0.1,)}).members


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("straight")
    done = sweep(RUN, out)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def test_two_members_train_in_parallel(uninterrupted: Path) -> None:
    members = toy_members(uninterrupted)
    assert [m.config.seed for m in members] == [1, 2]
    assert members[0].run_dir != members[1].run_dir
    intervals = []
    for member in members:
        config = json.loads(layout.config_path(member.run_dir).read_text())
        assert config["seed"] == member.config.seed and config["num_batches"] == 60
        # config.json is written as the training loop starts, DONE when it ends.
        intervals.append((layout.config_path(member.run_dir).stat().st_mtime,
                          layout.done_path(member.run_dir).stat().st_mtime))
    (start_a, end_a), (start_b, end_b) = intervals
    assert max(start_a, start_b) < min(end_a, end_b), f"no overlap: {intervals}"
    weights = [torch.load(layout.checkpoint_path(m.run_dir), weights_only=True)["model"]
               for m in members]
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_a_killed_worker_resumes_to_the_uninterrupted_weights(uninterrupted: Path,
                                                              tmp_path: Path) -> None:
    members = toy_members(tmp_path)
    victim = members[0].run_dir
    proc = subprocess.Popen([*SWEEP, *RUN, "--output-dir", str(tmp_path)], env=env_for(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: (checkpoint_batches(victim) or 0) >= 5, timeout=300,
                   what="the first member's checkpoint 5")
        worker = json.loads((victim / ".lock").read_text())["pid"]
        os.kill(worker, signal.SIGKILL)
        output, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, output[-3000:]
    assert "[0] == seed=1 gamma=0.1: interrupted" in output, output[-3000:]
    assert not layout.failed_path(victim).exists()

    status = sweep(["status", *TOY_STUDY], tmp_path)
    # status reads the progress record, written just after the checkpoint: a kill between
    # the two leaves it one checkpoint (one batch here) behind.
    stopped_at = checkpoint_batches(victim)
    assert stopped_at is not None and 5 <= stopped_at < 60
    assert checkpoint_step(victim) in (stopped_at, stopped_at + 1)
    line = next(line for line in status.stdout.splitlines() if line.split()[:1] == ["0"])
    assert line.split()[:2] == ["0", "interrupted"], status.stdout
    assert f"resumes at batch {stopped_at}/60" in line

    again = sweep(RUN, tmp_path)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert f"resumes at batch {stopped_at}/60" in again.stdout
    assert "Trained 60 batches." in again.stdout
    assert "[1] seed=2 gamma=0.1: trained" in again.stdout  # finished the first time
    for ours, theirs in zip(members, toy_members(uninterrupted), strict=True):
        a = torch.load(layout.checkpoint_path(ours.run_dir), weights_only=True)
        b = torch.load(layout.checkpoint_path(theirs.run_dir), weights_only=True)
        assert a["step"] == b["step"] == 60
        for name, tensor in a["model"].items():
            assert torch.equal(tensor, b["model"][name]), name
        for key, slot in a["optimizer"]["state"].items():
            for name, tensor in slot.items():
                assert torch.equal(tensor, b["optimizer"]["state"][key][name]), (key, name)
    final = sweep(["status", *TOY_STUDY], tmp_path).stdout.splitlines()
    # Trained, not evaluated (this run's stages): pending evaluation.
    assert final[0].endswith("0 done, 2 trained (evaluation not run), 0 running, 0 queued, "
                             "0 failed, 0 pending"), final
    assert [line.split()[1] for line in final[2:]] == ["trained", "trained"], final
