"""Whether a lock owner's Slurm job has ended: the output parsers on the outputs of the Slurm
versions seen in the wild, the asker with a fake Slurm, and a lock left by a real job that is
killed outright on the project's one-node cluster (tests/slurm_cluster.py)."""

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
    FAILURE_CACHE_S,
    NOT_SHOWN,
    SlurmJobs,
    expand_hostlist,
    parse_cluster_name,
    parse_sacct,
    parse_squeue,
)
from tests.slurm_cluster import local_slurm

REPO = Path(__file__).resolve().parents[2]
CONFIG = "ClusterName             = jlonevae\nMinJobAge               = 300 sec\n"


@pytest.mark.parametrize(("returncode", "stdout", "stderr", "expected"), [
    (0, "7|RUNNING|n1\n", "", "live"),
    (0, "7|PENDING|\n", "", "live"),
    (0, "7|COMPLETING|n1\n", "", "live"),
    (0, "7|SUSPENDED|n1\n", "", "live"),
    (0, "7|NODE_FAIL|n1\n", "", "live"),  # its processes may outlive the node's silence
    (0, "7|CANCELLED|n1\n", "", "ended"),
    (0, "7|CANCELLED by 0|n[0-3]\n", "", "ended"),
    (0, "7|COMPLETED|n1,n2\n", "", "ended"),
    (0, "7|OUT_OF_MEMORY|n1\n", "", "ended"),
    (0, "7|CANCELLED|n2\n", "", None),  # ended, but never on the owner's node
    (0, "7|CANCELLED|None assigned\n", "", None),
    (0, "7||n1\n", "", "live"),  # no state given: no end
    (0, "7|CANCELLED|n[a-c]\n", "", None),  # a node list that cannot be read
    # An array task whose own id is the array's: the query lists every task; its row decides.
    (0, "8|RUNNING|n1\n7|CANCELLED|n1\n", "", "ended"),
    (0, "8|CANCELLED|n1\n7|RUNNING|n1\n", "", "live"),
    (0, "8|RUNNING|n1\n", "", None),  # no row of the owner's job
    (0, "", "", NOT_SHOWN),  # newer versions: a job the controller does not show
    (1, "", "slurm_load_jobs error: Invalid job id specified\n", NOT_SHOWN),  # older ones
    (1, "", "squeue: error: Invalid job id: 88888888888\n", None),
    (1, "", "slurm_load_jobs error: Unable to contact slurm controller\n", None),
    (0, "RUNNING\n", "", None),  # not the format asked for
])
def test_job_states_from_squeue_output(returncode, stdout, stderr, expected):
    assert parse_squeue(returncode, stdout, stderr, "7", "n1") == expected


@pytest.mark.parametrize(("returncode", "stdout", "stderr", "expected"), [
    (0, "7|CANCELLED by 0|n1\n", "", "ended"),
    (0, "7|COMPLETED|n1\n7|FAILED|n1\n", "", "ended"),  # an id used twice (a reset)
    (0, "7|COMPLETED|n1\n7|RUNNING|n1\n", "", "live"),
    (0, "7|NODE_FAIL|n1\n", "", "live"),
    (0, "", "", None),  # no record: another user's, or never accounted
    (1, "", "sacct: error: Problem talking to the database: Connection refused\n", None),
    (1, "", "Slurm accounting storage is disabled\n", None),
])
def test_job_states_from_sacct_output(returncode, stdout, stderr, expected):
    assert parse_sacct(returncode, stdout, stderr, "7", "n1") == expected


@pytest.mark.parametrize(("hostlist", "expected"), [
    ("localhost", {"localhost"}),
    ("n[01-03,07],gpu1", {"n01", "n02", "n03", "n07", "gpu1"}),
    ("a[1-2]b[3-4]", {"a1b3", "a1b4", "a2b3", "a2b4"}),
    ("rack1-n[8-10]", {"rack1-n8", "rack1-n9", "rack1-n10"}),
    ("None assigned", set()),
    ("", set()),
])
def test_host_lists_expand_to_node_names(hostlist, expected):
    assert expand_hostlist(hostlist) == expected


def test_cluster_name_from_scontrol_output():
    assert parse_cluster_name(CONFIG) == "jlonevae"
    assert parse_cluster_name("ClusterNameSuffix = x\nMinJobAge = 300 sec\n") is None
    assert parse_cluster_name("ClusterName = \n") is None


class FakeSlurm:
    """Answers ``scontrol show config``, ``squeue`` and ``sacct`` as a cluster named ``name``
    (None: no controller) whose ``squeue`` shows the jobs in ``shown`` and whose accounting
    (None: none) holds ``accounted`` (job id → ``state|nodes``); records the commands."""

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
            return done(0, f"{job}|{self.accounted[job]}\n" if job in self.accounted else "",
                        "")
        if job not in self.shown:
            return done(1, "", "slurm_load_jobs error: Invalid job id specified\n")
        return done(0, f"{job}|{self.shown[job]}\n", "")


def asker(fake: FakeSlurm, *, has_slurm: bool = True) -> SlurmJobs:
    return SlurmJobs(run=fake, which=lambda program: f"/usr/bin/{program}" if has_slurm
                     else None)


def record(**fields) -> dict:
    """A lock record as a job step on node ``n1`` of cluster ``jlonevae`` writes it."""
    return {"host": "another-node", "pid": 4242, "slurm_job_id": "7",
            "slurm_cluster_name": "jlonevae", "slurm_node": "n1", **fields}


def test_ended_running_and_forgotten_jobs():
    fake = FakeSlurm("jlonevae", {"7": "RUNNING|n1", "8": "CANCELLED|n1"},
                     accounted={"9": "COMPLETED|n1", "10": "RUNNING|n1"})
    jobs = asker(fake)
    assert jobs.job_ended(record()) is False
    assert jobs.job_ended(record(slurm_job_id="8")) is True
    assert not any(command[0] == "sacct" for command in fake.commands)
    # Not shown by squeue: ended long ago by the accounting, or someone else's and hidden.
    assert jobs.job_ended(record(slurm_job_id="9")) is True
    assert jobs.job_ended(record(slurm_job_id="10")) is False
    assert jobs.job_ended(record(slurm_job_id="11")) is None


def test_the_owner_is_asked_about_by_its_own_job_id():
    # A job submitted from array task 3_1 inherits SLURM_ARRAY_JOB_ID=3 and
    # SLURM_ARRAY_TASK_ID=1; the task has ended, the job (its own id 12) runs.
    fake = FakeSlurm("jlonevae", {"12": "RUNNING|n1", "3_1": "COMPLETED|n1"})
    owner = record(slurm_job_id="12", slurm_array_job_id="3", slurm_array_task_id="1")
    assert asker(fake).job_ended(owner) is False
    assert [command[-1] for command in fake.commands if command[0] == "squeue"] == [
        "--jobs=12"]


def test_a_job_squeue_does_not_show_without_accounting_cannot_be_told():
    jobs = asker(FakeSlurm("jlonevae", {}, accounted=None))
    assert jobs.job_ended(record()) is None


@pytest.mark.parametrize("case", [
    "another cluster", "no cluster name in the record", "no node in the record",
    "no controller", "no squeue here", "outside Slurm"])
def test_cannot_tell_unless_a_job_step_of_this_hosts_cluster_owns_it(case):
    fake = FakeSlurm(None if case == "no controller" else "jlonevae", {"7": "COMPLETED|n1"})
    owner = {"another cluster": record(slurm_cluster_name="elsewhere"),
             "no cluster name in the record": record(slurm_cluster_name=None),
             # An salloc shell on a login node: what it started may outlive the job.
             "no node in the record": record(slurm_node=None),
             "outside Slurm": record(slurm_job_id=None)}.get(case, record())
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
    fake, now = FakeSlurm("jlonevae", {"7": "RUNNING|n1"}), [100.0]
    jobs = SlurmJobs(run=fake, which=lambda _: "/usr/bin/x", clock=lambda: now[0])
    assert [jobs.job_ended(record()) for _ in range(5)] == [False] * 5
    assert len(fake.commands) == 2  # one scontrol, one squeue
    fake.shown["7"] = "COMPLETED|n1"
    now[0] += CACHE_S - 0.5
    assert jobs.job_ended(record()) is False
    now[0] += 1.0
    assert jobs.job_ended(record()) is True


def test_a_controller_that_does_not_answer_is_not_asked_again_for_a_minute():
    now, calls = [100.0], []

    def slow_and_failing(command):
        calls.append(command)
        now[0] += 10.0  # the command's timeout
        raise subprocess.TimeoutExpired(command, 10)

    jobs = SlurmJobs(run=slow_and_failing, which=lambda _: "/usr/bin/x", clock=lambda: now[0])
    assert [jobs.job_ended(record(slurm_job_id=str(job))) for job in range(5)] == [None] * 5
    assert len(calls) == 1  # the cluster's name, asked once
    now[0] += FAILURE_CACHE_S
    assert jobs.job_ended(record()) is None and len(calls) == 2


def fake_proc(tmp_path: Path, tree: list[tuple[int, int, str]]) -> Path:
    """A ``/proc`` holding ``(pid, parent, command line)`` processes."""
    proc = tmp_path / "proc"
    for pid, parent, command in tree:
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "stat").write_text(f"{pid} (a (name)) S {parent} 1 1 0 -1\n")
        (proc / str(pid) / "cmdline").write_bytes(command.replace(" ", "\0").encode() + b"\0")
    return proc


STEP_ENV = {"SLURM_JOB_ID": "12", "SLURMD_NODENAME": "n1"}


@pytest.mark.parametrize(("tree", "environ", "expected"), [
    # A batch script's python, and an srun step's.
    ([(40, 30, "python -m train"), (30, 20, "/bin/sh slurm_script"),
      (20, 1, "slurmstepd: [12.batch]   ")], STEP_ENV, "n1"),
    ([(40, 20, "python -m train"), (20, 1, "slurmstepd: [12.0]")], STEP_ENV, "n1"),
    # salloc from within a step of job 4: job 12's id, job 4's step; or on a login node.
    ([(40, 30, "python -m train"), (30, 25, "salloc -p debug"),
      (25, 20, "bash"), (20, 1, "slurmstepd: [4.0]")], STEP_ENV, None),
    ([(40, 30, "python -m train"), (30, 1, "salloc -p debug")], STEP_ENV, None),
    ([(40, 20, "python"), (20, 1, "slurmstepd: [12.0]")], {"SLURM_JOB_ID": "12"}, None),
    ([(40, 20, "python"), (20, 1, "slurmstepd: [12.0]")], {}, None),
    ([(40, 20, "python")], STEP_ENV, None),  # its parent has gone: cannot tell
])
def test_the_node_is_recorded_only_in_a_step_of_the_owners_own_job(tmp_path, tree, environ,
                                                                   expected):
    assert slurm_jobs.job_step_node(environ, proc=fake_proc(tmp_path, tree), pid=40) == (
        expected)


def test_no_proc_no_node(tmp_path):
    assert slurm_jobs.job_step_node(STEP_ENV, proc=tmp_path / "none", pid=40) is None


def test_a_record_whose_job_id_is_not_a_number_is_never_put_on_a_command_line():
    fake = FakeSlurm("jlonevae", {"7": "COMPLETED|n1"})
    for job in ("2\x00", "7; rm -rf /", "--help", 7, None):
        assert asker(fake).job_ended(record(slurm_job_id=job)) is None
    assert fake.commands == []


def test_a_program_that_timed_out_is_not_run_again_for_a_minute():
    now, calls = [100.0], []

    def sacct_hangs(command):
        calls.append(command[0])
        if command[0] == "sacct":
            now[0] += 10.0
            raise subprocess.TimeoutExpired(command, 10)
        return FakeSlurm("jlonevae", {})(command)  # squeue shows none of the jobs

    jobs = SlurmJobs(run=sacct_hangs, which=lambda _: "/usr/bin/x", clock=lambda: now[0])
    assert [jobs.job_ended(record(slurm_job_id=str(job))) for job in range(5)] == [None] * 5
    assert calls.count("sacct") == 1  # one timeout, not one per lock


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
    """Two array tasks hold a lock each; one of them has the array's id as its own job id, so
    ``squeue --jobs=<it>`` lists both tasks. Each lock is judged by its own task alone."""
    # accounting: sacct answers for a job squeue no longer shows.
    with local_slurm(tmp_path / "slurm", accounting=True) as conf:
        monkeypatch.setenv("SLURM_CONF", str(conf))
        monkeypatch.setattr(lock_module, "SLURM_JOBS", SlurmJobs())
        monkeypatch.setattr("jlonevae_lib.utils.slurm_jobs.CACHE_S", 0.0)
        script = tmp_path / "hold.py"
        script.write_text(HOLD_LOCK)
        array = subprocess.run(
            ["sbatch", "--parsable", "-p", "debug", "--array=0-1", "--no-requeue",
             "-o", str(tmp_path / "task%a.log"), "--chdir", str(REPO),
             "--wrap", f"{sys.executable} {script} {tmp_path}/run$SLURM_ARRAY_TASK_ID"],
            capture_output=True, text=True, check=True, timeout=60).stdout.strip()
        logs = [tmp_path / f"task{task}.log" for task in (0, 1)]
        wait_for(lambda: all(log.is_file() and "locked" in log.read_text() for log in logs),
                 f"the tasks never took their locks: {logs}")
        folders = [tmp_path / f"run{task}" for task in (0, 1)]
        owners = {}
        unrefreshed = time.time() - SLURM_CHECK_AFTER_S - 60  # as if for six minutes
        for folder in folders:
            owner = lock_module._look(folder / ".lock").record
            # Slurm's, copied at acquire time: cluster, node, the task's own job id.
            assert (owner["host"], owner["slurm_cluster_name"], owner["slurm_node"],
                    owner["slurm_array_job_id"]) == ("another-node", "jlonevae", "localhost",
                                                     array)
            owners[folder] = owner
            os.utime(folder / ".lock", (unrefreshed, unrefreshed))
            assert lock_holder(folder).alive  # unrefreshed, but Slurm says its task runs
            with pytest.raises(LockedError, match=rf"Slurm job {owner['slurm_job_id']}\)"):
                FolderLock(folder).acquire()
            wait_for(lambda owner=owner: SlurmJobs(run=squeue_forgot).job_ended(owner) is False,
                     "sacct never showed the running task")
        # The task whose own job id is the array's: the query by its id lists both tasks.
        killed, alive = sorted(folders, key=lambda f: owners[f]["slurm_job_id"] != array)
        job = owners[killed]["slurm_job_id"]
        assert job == array

        task = f"{array}_{owners[killed]['slurm_array_task_id']}"
        subprocess.run(["scancel", "-s", "KILL", task], check=True, timeout=60)
        # The lock stays (its owner never released it), but Slurm says the job has ended.
        wait_for(lambda: not lock_holder(killed).alive, "squeue never showed the task ended")
        assert stale_reason(owners[killed], unrefreshed) == f"its Slurm job {job} has ended"
        assert lock_holder(killed).stale_reason == f"its Slurm job {job} has ended"
        assert lock_holder(alive).alive  # the other task runs on
        wait_for(lambda: SlurmJobs(run=squeue_forgot).job_ended(owners[killed]) is True,
                 "sacct never showed the task ended")
        assert SlurmJobs(run=squeue_forgot).job_ended(owners[alive]) is False
        with FolderLock(killed, "training"):
            assert lock_holder(killed).pid == os.getpid()
        with pytest.raises(LockedError):
            FolderLock(alive).acquire()
        subprocess.run(["scancel", array], check=True, timeout=60)
