"""A real one-node Slurm cluster requeues a training job: it resumes and ends bit-identically.

The cluster comes from :func:`tests.slurm_cluster.local_slurm`, the project's own harness
(skipped with its reason where it cannot start, e.g. without root; a failure under CI).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.reliability.conftest import (
    TOY_FLAGS,
    TRAIN,
    assert_same_run,
    checkpoint_step,
    run_cli,
    toy_env,
    wait_until,
)
from tests.slurm_cluster import local_slurm

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def slurm_env(tmp_path_factory) -> dict[str, str]:
    with local_slurm(tmp_path_factory.mktemp("slurm")) as conf:
        # sbatch passes the submitting environment on to the job: its thread count is the toy
        # runs'.
        yield {**toy_env(), "SLURM_CONF": str(conf)}


def _slurm(args: list[str], env: dict[str, str]) -> str:
    return subprocess.run(args, env=env, capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()


def _job(job: str, env: dict[str, str]) -> dict[str, str]:
    """The job's ``scontrol -o show job`` fields (JobState, Restarts, Reason, ...)."""
    line = _slurm(["scontrol", "-o", "show", "job", job], env)
    return dict(field.split("=", 1) for field in line.split() if "=" in field)


def _diagnosis(job: str, env: dict[str, str], log: Path) -> str:
    """What Slurm and the job said, for a failure message that explains itself."""
    ctld = Path(env["SLURM_CONF"]).parent / "log" / "slurmctld.log"
    tail = "\n".join(ctld.read_text().splitlines()[-15:]) if ctld.exists() else "(no log)"
    text = log.read_text() if log.exists() else "(no job log)"
    return f"job: {_job(job, env)}\njob log:\n{text}\nslurmctld.log tail:\n{tail}"


#: Long enough that the job is still training when the requeue's SIGTERM arrives (it travels
#: scontrol -> slurmctld -> slurmd -> slurmstepd; a toy batch takes tens of milliseconds).
NUM_BATCHES = 200


@pytest.fixture(scope="module")
def uninterrupted_long(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("straight_long")
    done = run_cli([*TRAIN, *TOY_FLAGS, "--num-batches", str(NUM_BATCHES)], cwd=out)
    assert done.returncode == 0, done.stderr
    return out


TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
            "BOOT_FAIL", "DEADLINE", "PREEMPTED"}


def test_requeued_training_job_resumes_identically(slurm_env, tmp_path, uninterrupted_long):
    assert shutil.which("sbatch", path=slurm_env.get("PATH")) or Path("/usr/bin/sbatch").exists()
    script = tmp_path / "train.sbatch"
    script.write_text("#!/bin/bash\n"
                      'echo "restart count: ${SLURM_RESTART_COUNT:-0}"\n'
                      f"exec {' '.join(TRAIN)} {' '.join(TOY_FLAGS)} --num-batches {NUM_BATCHES}\n")
    job = _slurm(["sbatch", "--parsable", "--requeue", "--open-mode=append", "-D", str(tmp_path),
                  "-o", str(tmp_path / "job.log"), str(script)], slurm_env)
    run_dirs = lambda: list((tmp_path / "trainedModels").glob("*/*"))  # noqa: E731
    wait_until(lambda: run_dirs() and checkpoint_step(run_dirs()[0]) >= 5, timeout=180,
               what="the job's checkpoint 5")

    _slurm(["scontrol", "requeue", job], slurm_env)  # SIGTERM now, run again later
    wait_until(lambda: _job(job, slurm_env)["JobState"] == "PENDING", timeout=60,
               what="requeue")
    stopped_at = checkpoint_step(run_dirs()[0])
    assert 5 <= stopped_at < NUM_BATCHES
    # Slurm holds a requeued job back for a while; release it sooner, but not within the second
    # of the kill: slurmd refuses a launch whose credential is as old as the revocation
    # ("Job credential revoked"), and compares the two in whole seconds. (A future StartTime
    # would wait for the next periodic scheduler pass instead, about 30 s.)
    time.sleep(1.5)
    _slurm(["scontrol", "update", f"jobid={job}", "StartTime=now"], slurm_env)
    log = tmp_path / "job.log"
    wait_until(lambda: _job(job, slurm_env)["JobState"] in TERMINAL, timeout=300,
               what="the job to end")
    ended = _job(job, slurm_env)
    assert ended["JobState"] == "COMPLETED" and ended["Restarts"] == "1", \
        _diagnosis(job, slurm_env, log)

    text = log.read_text()
    assert "restart count: 0" in text and "restart count: 1" in text, text
    assert "checkpoint saved" in text and f"Trained {NUM_BATCHES} batches" in text, text
    assert (run_dirs()[0] / "DONE").exists()
    assert_same_run(uninterrupted_long, tmp_path)
