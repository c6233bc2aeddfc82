"""The Slurm backend on a real one-node cluster (one cluster for the module).

- A 4-member toy study goes in as a job array with its evaluation as a dependent job; two of
  its members diverge (a huge gamma), one of the others is requeued mid-run (as a preemption
  does), resumes from its checkpoint and finishes, and is never marked failed meanwhile; the
  evaluation job, which waits for the array whatever its outcome, evaluates the trained
  members and names the diverged ones. ``status`` agrees with what Slurm is doing throughout.
- A trainer SIGKILLed alone (as the out-of-memory killer does) is counted, its task requeues
  itself, and the requeued task takes over the lock its earlier run left, even one naming
  another node, and finishes.
- A second ``jlonevae-sweep run`` while the array is queued submits nothing, and ``status``
  shows the members queued with their job ids (from the study's ledger and one squeue).
- A member that reaches its time limit checkpoints on USR2, is requeued by submitit and
  resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from jlonevae_lib.runs import layout
from jlonevae_lib.sweep import ledger
from jlonevae_lib.sweep.studies import get_study, plan_study
from jlonevae_lib.utils.lock import FolderLock
from tests.reliability.conftest import checkpoint_step, wait_until
from tests.slurm_cluster import local_slurm
from tests.sweep.test_cpu_study import tiny_metric_configs

pytestmark = pytest.mark.slow

SWEEP = [sys.executable, "-m", "jlonevae_lib.cli.sweep"]
NUM_BATCHES = 300
TOY_SETTINGS = {"dataset": "threeDots", "latent_dim": 3, "batch_size": 4, "jacobian_batch": 2,
                "annealing_batches": 5, "log_interval": 5, "checkpoint_every": 5,
                "num_batches": NUM_BATCHES, "device": "cpu"}
#: A gamma whose penalty overflows float32 as soon as the annealing lets it in (batch 2): the
#: trainer writes FAILED ("non-finite loss") and exits 3.
DIVERGING_GAMMA = "1e39"
#: Batches of the requeued member: enough that it is still training when the test requeues it
#: (a toy batch takes 20-100 ms here).
REQUEUED_BATCHES = 600


@pytest.fixture(scope="module")
def slurm_env(tmp_path_factory) -> dict[str, str]:
    # accounting: submitit asks sacct about its jobs; fast_requeue: a requeued task may start
    # again after ~20 s instead of ~2 min.
    with local_slurm(tmp_path_factory.mktemp("slurm"), accounting=True,
                     fast_requeue=True) as conf:
        yield {**os.environ, "OMP_NUM_THREADS": "1", "SLURM_CONF": str(conf)}


def _scontrol_job(job: str, env: dict[str, str]) -> dict[str, str]:
    line = subprocess.run(["scontrol", "-o", "show", "job", job], env=env, capture_output=True,
                          text=True, timeout=60).stdout.strip()
    return dict(field.split("=", 1) for field in line.split() if "=" in field)


def _settings(settings: dict) -> list[str]:
    return [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]


def member_line(lines: list[str], index: int) -> str:
    """Member ``index``'s line of a ``status`` report."""
    return next(line for line in lines[1:] if line.split()[:1] == [str(index)])


def _sweep(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*SWEEP, *args], env=env, capture_output=True, text=True,
                          timeout=120)


@contextmanager
def cancelled(jobs: list[str], env: dict[str, str]) -> Iterator[None]:
    """Cancel ``jobs`` (filled in by the block) when the block ends, and wait until Slurm has
    ended them: a job left running would outlive the cluster and disturb the next one's."""
    try:
        yield
    finally:
        if jobs:
            subprocess.run(["scancel", *jobs], env=env, timeout=60)

            def gone() -> bool:
                listed = subprocess.run(["squeue", "-h", "-o", "%i", "-j", ",".join(jobs)],
                                        env=env, capture_output=True, text=True, timeout=60)
                return not listed.stdout.strip()

            wait_until(gone, timeout=60, what="the test's jobs to end")


@contextmanager
def never_failed(runs: list[Path]) -> Iterator[list[str]]:
    """Watch ``runs`` for a ``FAILED`` marker, every 0.1 s, for the ``with`` block; yields the
    list of the markers seen (what they said), which must stay empty."""
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for run in runs:
                marker = layout.failed_path(run)
                if marker.is_file():
                    seen.append(f"{run}: {marker.read_text()}")
                    return
            stop.wait(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        stop.set()
        watcher.join(timeout=5)


def test_study_array_with_a_requeued_and_two_diverged_members(slurm_env, tmp_path: Path
                                                              ) -> None:
    metrics = [str(p) for p in tiny_metric_configs(tmp_path / "metrics")[:2]]
    out = tmp_path / "runs"
    env = {**slurm_env, "DISENTANGLEMENT_LIB_DATA": str(tmp_path / "data")}
    settings = {**TOY_SETTINGS, "num_batches": REQUEUED_BATCHES}
    study = ["cpu_study", "--seeds", "1", "2", "--gammas", "0", DIVERGING_GAMMA,
             *_settings(settings), "--metrics", *metrics, "--output-dir", str(out)]

    def status() -> list[str]:
        done = _sweep(["status", *study], env)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    def state(lines: list[str], index: int) -> str:
        return member_line(lines, index).split()[1]

    members = plan_study(get_study("cpu_study"), overrides={**settings, "output_dir": str(out)},
                         axes={"seed": (1, 2), "gamma": (0.0, float(DIVERGING_GAMMA))}).members
    trained = [m for m in members if m.config.gamma == 0.0]
    diverging = [m for m in members if m.config.gamma != 0.0]
    victim = trained[0]
    assert victim.index == 0

    jobs: list[str] = []
    with never_failed([m.run_dir for m in trained]) as failed_markers, cancelled(jobs, env):
        submitted = _sweep(["run", *study, "--backend", "slurm", "--partition", "debug",
                            "--time", "10", "--cpus", "1", "--array-parallelism", "2",
                            "--stages", "train", "evaluate"], env)
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        array = re.search(r"submitted training array (\d+) \(4 tasks\)", submitted.stdout)
        evaluation = re.search(r"submitted evaluation job (\d+) \(after array (\d+), whatever",
                               submitted.stdout)
        assert array and evaluation and evaluation.group(2) == array.group(1), submitted.stdout
        jobs += [array.group(1), evaluation.group(1)]
        dependency = _scontrol_job(evaluation.group(1), env).get("Dependency", "")
        assert dependency.startswith(f"afterany:{array.group(1)}"), dependency
        logs = Path(re.search(r"^logs: (.+)$", submitted.stdout, re.M).group(1))

        # Requeued as soon as it has a checkpoint (as a preemption would); the trainer saves
        # and exits 143, and its task waits for Slurm's kill. Held in the queue until status
        # has seen it there (a plain requeue may run again ~11 s later, before a status on a
        # loaded machine asks squeue), then released.
        wait_until(lambda: checkpoint_step(victim.run_dir) >= 10, timeout=240,
                   what="member 0 at batch 10")
        task = f"{array.group(1)}_0"
        subprocess.run(["scontrol", "requeuehold", task], env=env, check=True, timeout=60)
        wait_until(lambda: _scontrol_job(task, env).get("JobState") == "PENDING", timeout=60,
                   what="the requeue")
        stopped_at = checkpoint_step(victim.run_dir)
        assert 10 <= stopped_at < REQUEUED_BATCHES
        requeued = status()
        subprocess.run(["scontrol", "release", task], env=env, check=True, timeout=60)
        # The requeued task is queued again (the study's ledger and squeue say so), and it
        # resumes from its checkpoint.
        assert state(requeued, 0) == "queued", requeued
        assert (f"Slurm job {task} pending; resumes at batch {stopped_at}/{REQUEUED_BATCHES}"
                in member_line(requeued, 0)), requeued

        def finished() -> bool:
            return status()[0].startswith("cpu_study: 4 members: 2 done")

        wait_until(finished, timeout=600, what="the two trainable members evaluated")
        wait_until(lambda: _scontrol_job(evaluation.group(1), env).get("JobState")
                   == "COMPLETED", timeout=120, what="the evaluation job to complete")
    assert failed_markers == []
    final = status()
    assert "2 failed" in final[0], final
    for member in diverging:
        line = member_line(final, member.index)
        assert line.split()[1] == "failed" and "non-finite loss" in line, final
    for member in trained:
        for metric in metrics:
            assert layout.evaluation_path(member.run_dir, Path(metric).stem).is_file()
    assert _scontrol_job(task, env).get("Restarts") == "1"
    log = "".join(path.read_text() for path in logs.glob(f"{task}/*_log.*"))
    assert "restart 0" in log and "restart 1" in log, log[-3000:]
    assert "stopped by a signal at batch" in log, log[-3000:]
    assert "waiting for Slurm to end this task" in log, log[-3000:]
    assert f"Trained {REQUEUED_BATCHES} batches." in log, log[-3000:]
    # The evaluation job ran although two tasks failed, and names the diverged members.
    evaluation_log = "".join(path.read_text()
                             for path in logs.glob(f"{evaluation.group(1)}/*_log.out"))
    assert "== 2 of 4 members trained and evaluated" in evaluation_log, evaluation_log[-3000:]
    for member in diverging:
        assert f"diverged: [{member.index}] {member.label}: non-finite loss" in evaluation_log
        failed_task = f"{array.group(1)}_{member.index}"
        assert _scontrol_job(failed_task, env).get("JobState") == "FAILED"


def test_a_killed_trainer_is_requeued_and_takes_its_lock_over(slurm_env, tmp_path: Path
                                                              ) -> None:
    """The trainer alone is SIGKILLed (the out-of-memory killer's way); its lock, rewritten as
    if its node had died (another host, the same Slurm job), is taken over by the requeue."""
    out = tmp_path / "runs"
    env = {**slurm_env, "DISENTANGLEMENT_LIB_DATA": str(tmp_path / "data")}
    study = ["cpu_study", "--seeds", "1", "--gammas", "0", *_settings(TOY_SETTINGS),
             "--output-dir", str(out)]
    (member,) = plan_study(get_study("cpu_study"),
                           overrides={**TOY_SETTINGS, "output_dir": str(out)},
                           axes={"seed": (1,), "gamma": (0.0,)}).members
    run = member.run_dir
    jobs: list[str] = []
    with never_failed([run]) as failed_markers, cancelled(jobs, env):
        submitted = _sweep(["run", *study, "--backend", "slurm", "--partition", "debug",
                            "--time", "10", "--cpus", "1", "--stages", "train"], env)
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        job = re.search(r"submitted training array (\d+) \(1 tasks?\)", submitted.stdout)
        assert job, submitted.stdout
        jobs.append(job.group(1))
        logs = Path(re.search(r"^logs: (.+)$", submitted.stdout, re.M).group(1))
        wait_until(lambda: checkpoint_step(run) >= 10, timeout=240, what="batch 10")
        lock = FolderLock(run).path
        record = json.loads(lock.read_text())
        assert record["purpose"] == "training" and record["slurm_job_id"] == job.group(1)
        os.kill(record["pid"], signal.SIGKILL)
        # What a node that died leaves: its lock, naming that node and this Slurm job.
        forged = {**record, "host": "a-node-that-died", "pid": 1, "token": "0" * 16}
        (lock.parent / "forged.tmp").write_text(json.dumps(forged))
        os.replace(lock.parent / "forged.tmp", lock)
        wait_until(lambda: _scontrol_job(job.group(1), env).get("Restarts") == "1",
                   timeout=120, what="the task to requeue itself")
        wait_until(lambda: layout.is_finished(run), timeout=240, what="the requeue to finish")
    assert failed_markers == []
    assert not layout.failed_path(run).exists()
    assert not layout.killed_path(run).exists()  # the count ends with the run
    log = "".join(path.read_text() for path in sorted(logs.glob("*/*_log.out")))
    assert "killed (SIGKILL, 1 of 3 at this checkpoint)" in log, log[-3000:]
    assert f"requeued {job.group(1)}" in log, log[-3000:]
    assert "restart 1" in log and f"Trained {NUM_BATCHES} batches." in log, log[-3000:]
    assert ": busy:" not in log  # the requeue took the lock over, never waited on it


def test_a_second_run_submits_nothing_while_the_array_is_queued(slurm_env, tmp_path: Path
                                                                ) -> None:
    out = tmp_path / "runs"
    env = {**slurm_env, "DISENTANGLEMENT_LIB_DATA": str(tmp_path / "data")}
    metrics = [str(p) for p in tiny_metric_configs(tmp_path / "metrics")[:1]]
    study = ["cpu_study", "--seeds", "1", "2", "--gammas", "0", *_settings(TOY_SETTINGS),
             "--metrics", *metrics, "--output-dir", str(out)]
    run = ["run", *study, "--backend", "slurm", "--partition", "debug", "--time", "10",
           "--cpus", "1", "--stages", "train", "evaluate"]
    # Every CPU of the node taken: the study's jobs stay queued (reason Resources).
    cpus = subprocess.run(["sinfo", "-h", "-o", "%c"], env=env, capture_output=True,
                          text=True, check=True, timeout=60).stdout.split()[0]
    blocker = subprocess.run(["sbatch", "--parsable", "-p", "debug", "-c", cpus, "--wrap",
                              "sleep 600"], env=env, capture_output=True, text=True,
                             check=True, timeout=60, cwd=tmp_path).stdout.strip()
    jobs = [blocker]
    with cancelled(jobs, env):
        wait_until(lambda: _scontrol_job(blocker, env).get("JobState") == "RUNNING",
                   timeout=60, what="the blocking job to run")
        first = _sweep(run, env)
        assert first.returncode == 0, first.stdout + first.stderr
        array = re.search(r"submitted training array (\d+) \(2 tasks\)", first.stdout)
        evaluation = re.search(r"submitted evaluation job (\d+)", first.stdout)
        assert array and evaluation, first.stdout
        jobs += [array.group(1), evaluation.group(1)]

        status = _sweep(["status", *study], env)
        assert status.returncode == 0, status.stderr
        lines = status.stdout.splitlines()
        assert lines[0].startswith("cpu_study: 2 members: 0 done, 0 trained, 0 running, "
                                   "2 queued"), status.stdout
        for index in (0, 1):
            assert member_line(lines, index).split()[1] == "queued"
            assert f"Slurm job {array.group(1)}_{index} pending" in member_line(lines, index)

        second = _sweep(run, env)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "submitted" not in second.stdout and "nothing to submit" in second.stdout
        assert f"[0] seed=1 gamma=0.0: queued: Slurm job {array.group(1)}_0 pending" \
            in second.stdout, second.stdout
        entries = ledger.read_ledger(layout.ledger_path(out, "cpu_study"))["submissions"]
        assert len(entries) == 1 and entries[0]["array_job_id"] == array.group(1)
        assert entries[0]["tasks"]["1"]["job_id"] == f"{array.group(1)}_1"
        queue = subprocess.run(["squeue", "-h", "-o", "%i"], env=env, capture_output=True,
                               text=True, check=True, timeout=60).stdout.split()
        assert len(queue) == 3, queue  # the blocker, the array (one line), its evaluation
    # Once Slurm has forgotten them (scancel), the members are pending again.
    wait_until(lambda: "2 pending" in _sweep(["status", *study], env).stdout.splitlines()[0],
               timeout=60, what="the cancelled jobs to leave the queue")


#: Far more than one attempt under a 2-minute limit trains: the test stops the job once it has
#: resumed after its first time-limit requeue.
TIME_LIMITED_BATCHES = 20_000


def test_a_member_past_its_time_limit_is_requeued_and_resumes(slurm_env, tmp_path: Path
                                                               ) -> None:
    out = tmp_path / "runs"
    env = {**slurm_env, "DISENTANGLEMENT_LIB_DATA": str(tmp_path / "data")}
    settings = {**TOY_SETTINGS, "num_batches": TIME_LIMITED_BATCHES}
    study = ["cpu_study", "--seeds", "1", "--gammas", "0", *_settings(settings),
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

    with cancelled([job.group(1)], env):
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
        # Its progress bar starts where the first attempt stopped, not at batch 0. (Teed line
        # by line, a bar shows once its line ends: at the next redraw, 30 s later at most.)
        wait_until(lambda: f"| {stopped}/{TIME_LIMITED_BATCHES} [00:00<" in log(), timeout=90,
                   what="the resumed progress bar")
