"""The Slurm backend on a real one-node cluster: a 4-member toy study goes in as a job array
with its evaluation as a dependent job; one member is requeued mid-run (as a preemption does),
resumes from its checkpoint, and every member ends trained and evaluated. ``status``, which
reads only the run folders, agrees with what Slurm is doing at each point. A member that
reaches its time limit checkpoints on USR2, is requeued by submitit and resumes where it
stopped."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from jlonevae_lib.runs import layout
from jlonevae_lib.sweep.studies import get_study, plan_study
from tests.reliability.conftest import checkpoint_step, wait_until
from tests.slurm_cluster import local_slurm
from tests.sweep.test_cpu_study import tiny_metric_configs

pytestmark = pytest.mark.slow

SWEEP = [sys.executable, "-m", "jlonevae_lib.cli.sweep"]
NUM_BATCHES = 300
TOY_SETTINGS = {"dataset": "threeDots", "latent_dim": 3, "batch_size": 4, "jacobian_batch": 2,
                "annealing_batches": 5, "log_interval": 5, "checkpoint_every": 5,
                "num_batches": NUM_BATCHES, "device": "cpu"}


@pytest.fixture(scope="module")
def slurm_env() -> dict[str, str]:
    # --accounting: submitit asks sacct about its jobs; --fast-requeue: a requeued task may start
    # again after ~20 s instead of ~2 min.
    with local_slurm(None, "--accounting", "--fast-requeue") as conf:
        yield {**os.environ, "OMP_NUM_THREADS": "1", "SLURM_CONF": str(conf)}


def _scontrol_job(job: str, env: dict[str, str]) -> dict[str, str]:
    line = subprocess.run(["scontrol", "-o", "show", "job", job], env=env, capture_output=True,
                          text=True, timeout=60).stdout.strip()
    return dict(field.split("=", 1) for field in line.split() if "=" in field)


def test_study_array_with_a_requeued_member(slurm_env, tmp_path: Path) -> None:
    metrics = [str(p) for p in tiny_metric_configs(tmp_path / "metrics")[:2]]
    out = tmp_path / "runs"
    env = {**slurm_env, "DISENTANGLEMENT_LIB_DATA": str(tmp_path / "data")}
    study = ["cpu_study", "--seeds", "1", "2", "--gammas", "0", "0.1",
             *(arg for key, value in TOY_SETTINGS.items() for arg in ("--set", f"{key}={value}")),
             "--metrics", *metrics, "--output-dir", str(out)]

    def status() -> list[str]:
        done = subprocess.run([*SWEEP, "status", *study], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    def state(lines: list[str], index: int) -> str:
        return lines[1 + index].split()[1]

    submitted = subprocess.run(
        [*SWEEP, "run", *study, "--backend", "slurm", "--partition", "debug", "--time", "10",
         "--cpus", "1", "--array-parallelism", "2", "--stages", "train", "evaluate"],
        env=env, capture_output=True, text=True, timeout=120)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    array = re.search(r"submitted training array (\d+) \(4 tasks\)", submitted.stdout)
    evaluation = re.search(r"submitted evaluation job (\d+) \(after array", submitted.stdout)
    assert array and evaluation, submitted.stdout
    logs = Path(re.search(r"^logs: (.+)$", submitted.stdout, re.M).group(1))
    first = status()
    assert first[0].startswith("cpu_study: 4 members: 0 done")
    assert "0 failed" in first[0]

    members = plan_study(get_study("cpu_study"), overrides={**TOY_SETTINGS,
                                                            "output_dir": str(out)},
                         axes={"seed": (1, 2)}).members
    victim = members[0].run_dir
    wait_until(lambda: checkpoint_step(victim) >= 10, timeout=240, what="member 0 at batch 10")
    running = status()
    assert state(running, 0) == "running" and f"/{NUM_BATCHES}" in running[1], running

    task = f"{array.group(1)}_0"
    subprocess.run(["scontrol", "requeue", task], env=env, check=True, timeout=60)
    wait_until(lambda: _scontrol_job(task, env).get("JobState") == "PENDING", timeout=60,
               what="the requeue")
    stopped_at = checkpoint_step(victim)
    assert 10 <= stopped_at < NUM_BATCHES
    requeued = status()
    assert state(requeued, 0) == "interrupted", requeued
    assert f"resumes at batch {stopped_at}/{NUM_BATCHES}" in requeued[1]

    def all_done() -> bool:
        return status()[0].startswith("cpu_study: 4 members: 4 done")

    wait_until(all_done, timeout=600, what="every member trained and evaluated")
    for member in members:
        for metric in metrics:
            assert layout.evaluation_path(member.run_dir, Path(metric).stem).is_file()
    assert _scontrol_job(task, env).get("Restarts") == "1"
    log = "".join(path.read_text() for path in logs.glob(f"{task}/*_log.*"))
    assert "restart 0" in log and "restart 1" in log, log[-3000:]
    assert "stopped by a signal at batch" in log, log[-3000:]
    assert f"Trained {NUM_BATCHES} batches." in log, log[-3000:]
    wait_until(lambda: _scontrol_job(evaluation.group(1), env).get("JobState") == "COMPLETED",
               timeout=120, what="the evaluation job to complete")


#: Far more than one attempt under a 2-minute limit trains: the test stops the job once it has
#: resumed after its first time-limit requeue.
TIME_LIMITED_BATCHES = 20_000


def test_a_member_past_its_time_limit_is_requeued_and_resumes(slurm_env, tmp_path: Path
                                                               ) -> None:
    out = tmp_path / "runs"
    env = {**slurm_env, "DISENTANGLEMENT_LIB_DATA": str(tmp_path / "data")}
    settings = {**TOY_SETTINGS, "num_batches": TIME_LIMITED_BATCHES}
    study = ["cpu_study", "--seeds", "1", "--gammas", "0",
             *(arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")),
             "--output-dir", str(out)]
    # A 2-minute limit with USR2 30 s before it (Slurm may send it up to 60 s earlier still).
    submitted = subprocess.run(
        [*SWEEP, "run", *study, "--backend", "slurm", "--partition", "debug", "--time", "2",
         "--signal-delay", "30", "--cpus", "1", "--stages", "train"],
        env=env, capture_output=True, text=True, timeout=120)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    job = re.search(r"submitted training array (\d+) \(1 tasks?\)", submitted.stdout)
    assert job, submitted.stdout
    logs = Path(re.search(r"^logs: (.+)$", submitted.stdout, re.M).group(1))
    (member,) = plan_study(get_study("cpu_study"), overrides={**settings, "output_dir": str(out)},
                           axes={"seed": (1,), "gamma": (0.0,)}).members

    def log(stream: str = "*") -> str:
        # submitit names the folder after the job (the array's id for a one-task array).
        return "".join(path.read_text() for path in sorted(logs.glob(f"*/*_log.{stream}")))

    try:
        wait_until(lambda: "restart 1" in log(), timeout=420,
                   what="the task's restart after its time limit")
        text = log()
        assert "Job has timed out" in text and "Calling checkpoint method" in text, text[-3000:]
        stopped = int(re.search(r"stopped by a signal at batch (\d+)", text).group(1))
        assert 0 < stopped < TIME_LIMITED_BATCHES
        # The second attempt resumes at the batch the first one saved, and goes on from there.
        assert checkpoint_step(member.run_dir) >= stopped
        wait_until(lambda: checkpoint_step(member.run_dir) > stopped, timeout=120,
                   what="training to go on after the resume")
        # Its progress bar (stderr) starts where the first attempt stopped, not at batch 0.
        progress = log("err")
        assert f"| {stopped}/{TIME_LIMITED_BATCHES} [00:00<" in progress, progress[-3000:]
    finally:
        subprocess.run(["scancel", job.group(1)], env=env, timeout=60)
