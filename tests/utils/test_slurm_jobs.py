"""Whether a lock owner's Slurm job has ended: the output parsers on the outputs of the Slurm
versions seen in the wild, the asker with a fake runner, and a lock left by a real job that
is killed outright on the project's one-node cluster (tests/slurm_cluster.py)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jlonevae_lib.utils import lock as lock_module
from jlonevae_lib.utils import slurm_jobs
from jlonevae_lib.utils.lock import (
    SLURM_CHECK_AFTER_S,
    FolderLock,
    LockedError,
    lock_holder,
    stale_reason,
)
from jlonevae_lib.utils.slurm_jobs import (
    CACHE_S,
    NOT_SHOWN,
    SlurmJobs,
    job_query_id,
    parse_cluster_name,
    parse_sacct,
    parse_squeue,
)
from tests.slurm_cluster import local_slurm

REPO = Path(__file__).resolve().parents[2]
CONFIG = "ClusterName             = jlonevae\nMinJobAge               = 300 sec\n"


@pytest.mark.parametrize(("returncode", "stdout", "stderr", "expected"), [
    (0, "RUNNING\n", "", "live"),
    (0, "PENDING\n", "", "live"),
    (0, "COMPLETING\n", "", "live"),
    (0, "SUSPENDED\n", "", "live"),
    (0, "CANCELLED\n", "", "ended"),
    (0, "CANCELLED by 0\n", "", "ended"),
    (0, "COMPLETED\n", "", "ended"),
    (0, "NODE_FAIL\n", "", "ended"),
    (0, "OUT_OF_MEMORY\n", "", "ended"),
    (0, "COMPLETED\nRUNNING\n", "", "live"),  # one task of several still runs
    (0, "COMPLETED\nTIMEOUT\n", "", "ended"),
    (0, "", "", NOT_SHOWN),  # newer versions: a job the controller does not show
    (1, "", "slurm_load_jobs error: Invalid job id specified\n", NOT_SHOWN),  # older ones
    (1, "", "squeue: error: Invalid job id: 88888888888\n", None),
    (1, "", "slurm_load_jobs error: Unable to contact slurm controller\n", None),
    (1, "", "", None),
])
def test_job_states_from_squeue_output(returncode, stdout, stderr, expected):
    assert parse_squeue(returncode, stdout, stderr) == expected


@pytest.mark.parametrize(("returncode", "stdout", "stderr", "expected"), [
    (0, "CANCELLED by 0\n", "", "ended"),
    (0, "COMPLETED\nFAILED\n", "", "ended"),  # a job id used twice (a controller reset)
    (0, "COMPLETED\nRUNNING\n", "", "live"),
    (0, "", "", None),  # no record: another user's, or never accounted
    (1, "", "sacct: error: Problem talking to the database: Connection refused\n", None),
    (1, "", "Slurm accounting storage is disabled\n", None),
])
def test_job_states_from_sacct_output(returncode, stdout, stderr, expected):
    assert parse_sacct(returncode, stdout, stderr) == expected


def test_cluster_name_from_scontrol_output():
    assert parse_cluster_name(CONFIG) == "jlonevae"
    assert parse_cluster_name("ClusterNameSuffix = x\nMinJobAge = 300 sec\n") is None
    assert parse_cluster_name("ClusterName = \n") is None


def test_the_query_names_an_array_task_exactly():
    assert job_query_id({"slurm_job_id": "12"}) == "12"
    assert job_query_id({"slurm_job_id": "3", "slurm_array_job_id": "3",
                         "slurm_array_task_id": "1"}) == "3_1"
    assert job_query_id({"slurm_job_id": None}) is None


class FakeSlurm:
    """Answers ``scontrol show config``, ``squeue`` and ``sacct`` as a cluster named ``name``
    (None: no controller) whose ``squeue`` shows the jobs in ``shown`` and whose accounting
    (None: none) holds ``accounted``; records the commands."""

    def __init__(self, name: str | None, shown: dict[str, str],
                 accounted: dict[str, str] | None = None) -> None:
        self.name, self.shown, self.accounted, self.commands = name, shown, accounted, []

    def __call__(self, command):
        self.commands.append(list(command))
        done = functools.partial(subprocess.CompletedProcess, command)
        if command[0] == "scontrol":
            return (done(1, "", "Unable to contact slurm controller") if self.name is None
                    else done(0, f"ClusterName = {self.name}\n", ""))
        job = command[-1].removeprefix("--jobs=")
        if command[0] == "sacct":
            if self.accounted is None:
                return done(1, "", "Slurm accounting storage is disabled\n")
            return done(0, self.accounted.get(job, "") and self.accounted[job] + "\n", "")
        if job not in self.shown:
            return done(1, "", "slurm_load_jobs error: Invalid job id specified\n")
        return done(0, self.shown[job] + "\n", "")


def asker(fake: FakeSlurm, *, has_slurm: bool = True) -> SlurmJobs:
    return SlurmJobs(run=fake, which=lambda program: f"/usr/bin/{program}" if has_slurm
                     else None)


def record(**fields) -> dict:
    return {"host": "another-node", "pid": 4242, "slurm_job_id": "7",
            "slurm_cluster_name": "jlonevae", **fields}


def test_ended_running_and_forgotten_jobs():
    fake = FakeSlurm("jlonevae", {"7": "RUNNING", "8": "CANCELLED", "3_1": "TIMEOUT"},
                     accounted={"9": "COMPLETED", "10": "RUNNING"})
    jobs = asker(fake)
    assert jobs.job_ended(record()) is False
    assert jobs.job_ended(record(slurm_job_id="8")) is True
    assert jobs.job_ended(record(slurm_job_id="3", slurm_array_job_id="3",
                                 slurm_array_task_id="1")) is True
    assert ["squeue", "--noheader", "--states=all", "--format=%T", "--jobs=3_1"] in (
        fake.commands)
    assert not any(command[0] == "sacct" for command in fake.commands)
    # Not shown by squeue: ended long ago by the accounting, or someone else's and hidden.
    assert jobs.job_ended(record(slurm_job_id="9")) is True
    assert jobs.job_ended(record(slurm_job_id="10")) is False
    assert jobs.job_ended(record(slurm_job_id="11")) is None


def test_a_job_squeue_does_not_show_without_accounting_cannot_be_told():
    jobs = asker(FakeSlurm("jlonevae", {}, accounted=None))
    assert jobs.job_ended(record()) is None


@pytest.mark.parametrize("case", ["another cluster", "no cluster name in the record",
                                  "no controller", "no squeue here", "outside Slurm"])
def test_cannot_tell_unless_this_host_speaks_to_the_owners_cluster(case):
    fake = FakeSlurm(None if case == "no controller" else "jlonevae", {})
    owner = record(slurm_cluster_name={"another cluster": "elsewhere",
                                       "no cluster name in the record": None}.get(
                                           case, "jlonevae"))
    if case == "outside Slurm":
        owner = record(slurm_job_id=None)
    jobs = asker(fake, has_slurm=case != "no squeue here")
    assert jobs.job_ended(owner) is None  # the lock's age decides, as before
    assert not any(command[0] == "squeue" for command in fake.commands)


def test_a_hanging_or_missing_command_cannot_tell():
    def hangs(command):
        raise subprocess.TimeoutExpired(command, 10)

    assert SlurmJobs(run=hangs, which=lambda _: "/usr/bin/x").job_ended(record()) is None

    def vanished(command):
        raise FileNotFoundError(command[0])

    assert SlurmJobs(run=vanished, which=lambda _: "/usr/bin/x").job_ended(record()) is None


def test_answers_are_reused_for_a_few_seconds():
    fake, now = FakeSlurm("jlonevae", {"7": "RUNNING"}), [100.0]
    jobs = SlurmJobs(run=fake, which=lambda _: "/usr/bin/x", clock=lambda: now[0])
    assert [jobs.job_ended(record()) for _ in range(5)] == [False] * 5
    assert len(fake.commands) == 2  # one scontrol, one squeue
    fake.shown["7"] = "COMPLETED"
    now[0] += CACHE_S - 0.5
    assert jobs.job_ended(record()) is False
    now[0] += 1.0
    assert jobs.job_ended(record()) is True


def test_a_lock_whose_job_ended_is_stale_only_on_another_host():
    now = time.time()
    ended, running = (lambda _record: True), (lambda _record: False)
    idle = now - SLURM_CHECK_AFTER_S - 1
    assert stale_reason(record(), idle, now=now, job_ended=ended) == (
        "its Slurm job 7 has ended")
    assert stale_reason(record(), idle, now=now, job_ended=running) is None
    assert stale_reason(record(), now - 7 * 3600, now=now, job_ended=running) is not None
    mine = record(host=lock_module.socket.gethostname(), pid=os.getpid())
    assert stale_reason(mine, idle, now=now, job_ended=ended) is None  # its PID decides


def test_slurm_is_asked_only_about_locks_that_went_unrefreshed():
    now, asked = time.time(), []

    def ended(owner):
        asked.append(owner)
        return True

    assert stale_reason(record(), now - 60, now=now, job_ended=ended) is None
    assert asked == []  # a lock refreshed a minute ago: its owner is at work
    assert stale_reason(record(), now - SLURM_CHECK_AFTER_S - 1, now=now,
                        job_ended=ended) is not None
    assert len(asked) == 1


# ------------------------------------------------------------------ on a real Slurm cluster

HOLD_LOCK = """
import socket, sys, time
socket.gethostname = lambda: "another-node"  # as if the job ran on another node
from jlonevae_lib.utils.lock import FolderLock
FolderLock(sys.argv[1], "training").acquire()
print("locked", flush=True)
time.sleep(600)
"""


def squeue_forgot(command):
    """Runs ``command``, except that ``squeue`` answers as it does ``MinJobAge`` (five
    minutes) after a job's end: it no longer shows the job. ``sacct`` is the real one."""
    if command[0] == "squeue":
        return subprocess.CompletedProcess(
            command, 1, "", "slurm_load_jobs error: Invalid job id specified\n")
    return slurm_jobs._run(command)


def wait_for(predicate, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


@pytest.mark.slow
def test_a_lock_left_by_a_killed_job_is_taken_over_once_slurm_says_it_ended(
        tmp_path, monkeypatch):
    # accounting: sacct answers for a job squeue no longer shows.
    with local_slurm(tmp_path / "slurm", accounting=True) as conf:
        monkeypatch.setenv("SLURM_CONF", str(conf))
        monkeypatch.setattr(lock_module, "SLURM_JOBS", SlurmJobs())
        monkeypatch.setattr("jlonevae_lib.utils.slurm_jobs.CACHE_S", 0.0)
        folder, script, log = tmp_path / "run", tmp_path / "hold.py", tmp_path / "job.log"
        script.write_text(HOLD_LOCK)
        job = subprocess.run(
            ["sbatch", "--parsable", "-p", "debug", "-o", str(log), "--chdir", str(REPO),
             "--wrap", f"{sys.executable} {script} {folder}"],
            capture_output=True, text=True, check=True, timeout=60).stdout.strip()
        wait_for(lambda: log.is_file() and "locked" in log.read_text(),
                 f"the job never took the lock: {log}")
        holder = lock_holder(folder)
        assert (holder.host, holder.slurm_job_id, holder.alive) == ("another-node", job, True)
        with pytest.raises(LockedError, match=f"Slurm job {job}"):
            FolderLock(folder).acquire()

        lock_file = folder / ".lock"
        unrefreshed = time.time() - SLURM_CHECK_AFTER_S - 60  # as if for six minutes
        os.utime(lock_file, (unrefreshed, unrefreshed))
        assert lock_holder(folder).alive  # unrefreshed, but Slurm says its job runs
        with pytest.raises(LockedError, match=f"Slurm job {job}"):
            FolderLock(folder).acquire()

        owner = lock_module._look(lock_file).record
        assert owner["slurm_cluster_name"] == "jlonevae"  # Slurm's, copied at acquire time
        wait_for(lambda: SlurmJobs(run=squeue_forgot).job_ended(owner) is False,
                 "sacct never showed the running job")

        subprocess.run(["scancel", "-s", "KILL", job], check=True, timeout=60)
        # The lock stays (its owner never released it), but Slurm says the job has ended.
        wait_for(lambda: not lock_holder(folder).alive, "squeue never showed the job ended")
        assert stale_reason(owner, unrefreshed) == f"its Slurm job {job} has ended"
        wait_for(lambda: SlurmJobs(run=squeue_forgot).job_ended(owner) is True,
                 "sacct never showed the job ended")
        with FolderLock(folder, "training"):
            assert lock_holder(folder).pid == os.getpid()
