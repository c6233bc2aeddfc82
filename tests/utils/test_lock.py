import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jlonevae_lib.utils import lock as lock_module
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.lock import (
    UNREADABLE_STALE_S,
    FolderLock,
    LockedError,
    LockHolder,
    lock_holder,
)
from jlonevae_lib.utils.slurm_jobs import SlurmJobs

REPO = Path(__file__).resolve().parents[2]
SLURM_VARS = ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_RESTART_COUNT",
              "SLURM_CLUSTER_NAME")


@pytest.fixture(autouse=True)
def _outside_slurm(monkeypatch):
    """Each test starts outside Slurm, whatever runs the suite, on a host whose Slurm cannot
    tell whether a job has ended (tests/utils/test_slurm_jobs.py asks a real one)."""
    for name in SLURM_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(lock_module, "SLURM_JOBS", SlurmJobs(which=lambda _program: None))


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def write_lock(folder: Path, *, age_s: float = 0.0, **record) -> Path:
    """A lock written by hand, as another process (or host) would have left it."""
    path = folder / ".lock"
    record = {"host": "another-node", "pid": 4242, "purpose": "training",
              "token": "0123456789abcdef", "created": time.time() - age_s, **record}
    path.write_text(json.dumps(record))
    os.utime(path, (time.time() - age_s,) * 2)
    return path


def test_second_holder_is_refused_while_first_lives(tmp_path):
    with FolderLock(tmp_path, "training"):
        with pytest.raises(LockedError, match="in training by process"):
            FolderLock(tmp_path).acquire()
    FolderLock(tmp_path).acquire()  # free again after release


def test_locked_error_is_a_user_error():
    assert issubclass(LockedError, JLoneVAEError)


def test_lock_file_holds_the_whole_record(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "1001")
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "1000")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")
    monkeypatch.setenv("SLURM_CLUSTER_NAME", "lab")
    before = time.time()
    with FolderLock(tmp_path, "evaluation") as lock:
        record = json.loads(lock.path.read_text())
        assert lock.held
    assert not lock.held
    assert record["host"] == socket.gethostname() and record["pid"] == os.getpid()
    assert record["purpose"] == "evaluation"
    assert len(record["token"]) == 16 and before <= record["created"] <= time.time()
    assert (record["slurm_job_id"], record["slurm_array_job_id"],
            record["slurm_array_task_id"], record["slurm_restart_count"],
            record["slurm_cluster_name"]) == ("1001", "1000", "1", None, "lab")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temporary file left


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    write_lock(tmp_path, host=socket.gethostname(), pid=dead_pid())
    with FolderLock(tmp_path):
        owner = json.loads((tmp_path / ".lock").read_text())
        assert owner["pid"] == os.getpid()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no claim or aside left


def test_old_format_lock_of_a_live_process_is_respected(tmp_path):
    (tmp_path / ".lock").write_text(json.dumps(
        {"host": socket.gethostname(), "pid": os.getppid(), "purpose": "training"}))
    with pytest.raises(LockedError, match=f"by process {os.getppid()} on"):
        FolderLock(tmp_path).acquire()


def test_unreadable_lock_is_taken_over_only_once_old(tmp_path):
    path = tmp_path / ".lock"
    path.write_text('{"host": ')
    with pytest.raises(LockedError, match="unreadable"):
        FolderLock(tmp_path).acquire()
    os.utime(path, (time.time() - UNREADABLE_STALE_S - 5,) * 2)
    with FolderLock(tmp_path):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not path.exists()


def test_release_leaves_another_owners_lock_alone(tmp_path):
    lock = FolderLock(tmp_path, "training")
    lock.acquire()
    # Judged stale and taken over meanwhile (e.g. from another host): another owner's now.
    write_lock(tmp_path, token="feedfeedfeedfeed")
    assert lock.release() is False
    assert json.loads((tmp_path / ".lock").read_text())["token"] == "feedfeedfeedfeed"
    (tmp_path / ".lock").unlink()
    other = FolderLock(tmp_path)
    other.acquire()
    (tmp_path / ".lock").unlink()  # removed by hand meanwhile
    assert other.release() is False
    mine = FolderLock(tmp_path)
    mine.acquire()
    assert mine.release() is True and not (tmp_path / ".lock").exists()
    assert mine.release() is False  # a second release is a no-op


def as_requeued_task(monkeypatch) -> None:
    """This process as array task 777_3 (its own job id 780) at its first restart."""
    for name, value in (("SLURM_ARRAY_JOB_ID", "777"), ("SLURM_ARRAY_TASK_ID", "3"),
                        ("SLURM_JOB_ID", "780"), ("SLURM_RESTART_COUNT", "1")):
        monkeypatch.setenv(name, value)


def test_requeued_slurm_task_takes_over_its_earlier_runs_lock(tmp_path, monkeypatch):
    as_requeued_task(monkeypatch)
    write_lock(tmp_path, slurm_array_job_id="777", slurm_array_task_id="3",
               slurm_job_id="780", slurm_restart_count=None)
    with FolderLock(tmp_path, "training"):
        assert json.loads((tmp_path / ".lock").read_text())["slurm_restart_count"] == "1"


def test_requeue_is_recognised_by_array_ids_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "777")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "2")
    write_lock(tmp_path, slurm_array_job_id="777", slurm_array_task_id="3",
               slurm_restart_count="1")
    FolderLock(tmp_path).acquire()


def test_other_slurm_job_or_task_on_another_host_is_respected(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "777")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    write_lock(tmp_path, slurm_array_job_id="777", slurm_array_task_id="4")  # another task
    with pytest.raises(LockedError, match=r"by process 4242 on another-node \(Slurm job 777_4\)"):
        FolderLock(tmp_path).acquire()
    write_lock(tmp_path, slurm_array_job_id="700", slurm_array_task_id="3")  # another job
    with pytest.raises(LockedError):
        FolderLock(tmp_path).acquire()
    # The same job at the same restart: a second task of one job, at work on another node.
    write_lock(tmp_path, slurm_array_job_id="777", slurm_array_task_id="3",
               slurm_restart_count="1")
    with pytest.raises(LockedError):
        FolderLock(tmp_path).acquire()


def test_a_job_that_inherited_an_array_tasks_ids_is_not_that_task(tmp_path, monkeypatch):
    # Array task 777_3 (its own job id 780) was requeued; job 790, which it submitted, runs
    # on another node and inherited SLURM_ARRAY_JOB_ID and SLURM_ARRAY_TASK_ID from it.
    as_requeued_task(monkeypatch)
    write_lock(tmp_path, slurm_array_job_id="777", slurm_array_task_id="3",
               slurm_job_id="790")
    with pytest.raises(LockedError, match=r"Slurm job 790\)"):
        FolderLock(tmp_path).acquire()


@pytest.mark.parametrize("pid", [0, -1, 2**70])
def test_a_lock_of_this_host_naming_no_possible_process_is_stale(tmp_path, pid):
    write_lock(tmp_path, host=socket.gethostname(), pid=pid)
    holder = lock_holder(tmp_path)
    assert (holder.alive, holder.stale_reason) == (False, f"process {pid} is gone")


def test_same_job_on_this_host_with_a_live_pid_is_respected(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "55")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "3")
    write_lock(tmp_path, host=socket.gethostname(), pid=os.getppid(), slurm_job_id="55")
    with pytest.raises(LockedError):
        FolderLock(tmp_path).acquire()


def test_lock_on_another_host_is_abandoned_after_its_age(tmp_path):
    path = write_lock(tmp_path, slurm_job_id="9")
    with pytest.raises(LockedError):
        FolderLock(tmp_path).acquire()  # default: hours to go
    os.utime(path, (time.time() - 50,) * 2)
    with pytest.raises(LockedError):
        FolderLock(tmp_path, abandoned_after_s=100).acquire()
    os.utime(path, (time.time() - 200,) * 2)
    with FolderLock(tmp_path, abandoned_after_s=100):
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_refresh_touches_the_lock_and_raises_after_a_takeover(tmp_path):
    lock = FolderLock(tmp_path, "training")
    with pytest.raises(RuntimeError):
        lock.refresh()  # not held
    lock.acquire()
    long_ago = time.time() - 1000
    os.utime(lock.path, (long_ago, long_ago))
    lock.refresh()
    assert lock.path.stat().st_mtime > long_ago + 900
    write_lock(tmp_path, token="feedfeedfeedfeed")  # taken over as abandoned
    with pytest.raises(LockedError, match="taken over .* held by process 4242 on another-node"):
        lock.refresh()
    assert lock.release() is False
    assert json.loads(lock.path.read_text())["token"] == "feedfeedfeedfeed"


def test_takeover_claim_left_by_a_dead_taker_is_cleared(tmp_path):
    path = write_lock(tmp_path, host=socket.gethostname(), pid=dead_pid())
    lock = FolderLock(tmp_path)
    claim = lock._claim_path(lock_module._look(path))
    claim.write_text(json.dumps({"host": socket.gethostname(), "pid": dead_pid(),
                                 "token": "0" * 16, "created": time.time()}))
    with lock:
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not claim.exists()


def test_lock_holder_reports_slurm_ids_and_whether_alive(tmp_path, monkeypatch):
    assert lock_holder(tmp_path) is None
    monkeypatch.setenv("SLURM_JOB_ID", "31")
    with FolderLock(tmp_path, "training"):
        holder = lock_holder(tmp_path)
        assert (holder.host, holder.pid, holder.purpose, holder.alive) == (
            socket.gethostname(), os.getpid(), "training", True)
        assert holder.slurm_job_id == "31" and holder.age_s < 60
    monkeypatch.delenv("SLURM_JOB_ID")
    write_lock(tmp_path, age_s=300, slurm_job_id="12", slurm_array_job_id="10",
               slurm_array_task_id="2")
    holder = lock_holder(tmp_path)
    assert holder == LockHolder(host="another-node", pid=4242, purpose="training", alive=True,
                                slurm_job_id="12", slurm_array_job_id="10",
                                slurm_array_task_id="2", age_s=holder.age_s,
                                idle_s=holder.idle_s)
    assert 290 < holder.age_s < 400 and 290 < holder.idle_s < 400
    holder = lock_holder(tmp_path, abandoned_after_s=100)
    assert (holder.alive, holder.stale_reason) == (False, "not refreshed for 0.1 h")
    gone = dead_pid()
    write_lock(tmp_path, host=socket.gethostname(), pid=gone)
    holder = lock_holder(tmp_path)
    assert (holder.alive, holder.stale_reason) == (False, f"process {gone} is gone")
    (tmp_path / ".lock").write_text("garbage")
    holder = lock_holder(tmp_path)
    assert (holder.host, holder.pid, holder.alive) == ("?", None, True)  # young: may be anything


def test_status_reads_the_holder_through_this_module():
    from jlonevae_lib.sweep import status

    assert status.lock_holder is lock_holder and status.LockHolder is LockHolder


# --- Races between real processes -------------------------------------------------------------

#: One racing process: argv = lock module file, lock folder, start folder, tries, crash rate.
#: Prints its tally as JSON. With a crash rate, each try runs in a forked child, which (at that
#: rate) exits holding the lock, as a killed process would: the others must take it over.
RACER = r"""
import importlib.util, json, os, random, sys, time

spec = importlib.util.spec_from_file_location("lock_under_test", sys.argv[1])
locks = sys.modules["lock_under_test"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(locks)
folder, start, tries, crash_rate = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
marker = os.path.join(folder, "holder")
rng = random.Random(os.getpid())
TAKEN, COLLISION, LOST, CRASHED = 1, 2, 4, 8


def one_try(crash):
    lock = locks.FolderLock(folder, "race")
    try:
        lock.acquire()
    except locks.LockedError:
        return 0
    result = TAKEN
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        result |= COLLISION  # another process holds the lock too
    else:
        os.close(fd)
        if rng.random() < 0.1:
            time.sleep(0.0005)
        os.unlink(marker)
    if crash:
        return result | CRASHED  # exits with the lock left behind
    try:
        with open(lock.path) as f:
            pid = json.load(f).get("pid")
    except (OSError, ValueError):
        pid = None
    if pid != os.getpid() or lock.release() is False:
        result |= LOST  # our lock was removed or replaced while we held it
    return result


open(os.path.join(start, f"ready-{os.getpid()}"), "w").close()
while not os.path.exists(os.path.join(start, "go")):
    time.sleep(0.001)
tally = dict.fromkeys(("tries", "taken", "collisions", "lost", "crashed"), 0)
for _ in range(tries):
    if crash_rate:
        crash = rng.random() < crash_rate
        child = os.fork()
        if child == 0:
            rng.seed(os.getpid())
            os._exit(one_try(crash))
        result = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
    else:
        result = one_try(False)
    tally["tries"] += 1
    for name, bit in (("taken", TAKEN), ("collisions", COLLISION), ("lost", LOST),
                      ("crashed", CRASHED)):
        tally[name] += bool(result & bit)
print(json.dumps(tally))
"""


def race(lock_file: Path, root: Path, *, processes: int, tries: int,
         crash_rate: float = 0.0) -> list[dict]:
    """Run ``processes`` racers on one folder under ``root``; their tallies."""
    folder, start = root / "run", root / "start"
    folder.mkdir()
    start.mkdir()
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(lock_file), str(folder),
                                str(start), str(tries), str(crash_rate)],
                               stdout=subprocess.PIPE, text=True, cwd=REPO)
              for _ in range(processes)]
    deadline = time.time() + 60
    while len(list(start.glob("ready-*"))) < processes and time.time() < deadline:
        assert all(racer.poll() is None for racer in racers), "a racer failed to start"
        time.sleep(0.01)
    (start / "go").touch()
    tallies = []
    for racer in racers:
        out, _ = racer.communicate(timeout=180)
        assert racer.returncode == 0
        tallies.append(json.loads(out))
    return tallies


@pytest.mark.slow
def test_racing_processes_never_hold_the_lock_at_once(tmp_path):
    tallies = race(Path(lock_module.__file__), tmp_path, processes=2, tries=1500)
    assert all(t["tries"] == 1500 for t in tallies)
    assert sum(t["collisions"] for t in tallies) == 0, tallies
    assert sum(t["lost"] for t in tallies) == 0, tallies
    assert all(t["taken"] >= 10 for t in tallies), tallies
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == []  # nothing left behind


@pytest.mark.slow
def test_crashed_holders_are_taken_over_by_one_process_at_a_time(tmp_path):
    tallies = race(Path(lock_module.__file__), tmp_path, processes=3, tries=500,
                   crash_rate=0.3)
    assert sum(t["collisions"] for t in tallies) == 0, tallies
    assert sum(t["lost"] for t in tallies) == 0, tallies
    assert all(t["taken"] >= 5 for t in tallies), tallies
    assert sum(t["crashed"] for t in tallies) >= 100, tallies  # takeovers were exercised
    left = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert left in ([], [".lock"]), left  # at most the last crash's lock


def test_a_lock_that_cannot_be_written_is_one_line(tmp_path, monkeypatch):
    from jlonevae_lib.utils.errors import JLoneVAEError

    def full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(JLoneVAEError, match=r"cannot write the lock file .* \(No space left"):
        FolderLock(tmp_path, "training").acquire()
    assert list(tmp_path.iterdir()) == []


def test_a_folder_removed_before_the_lock_is_written_is_made_again(tmp_path, monkeypatch):
    """An evaluation removes a metric's folder it left empty; a process about to lock it
    (folder made, lock not yet written) makes it again rather than failing."""
    folder = tmp_path / "metric"
    assert not lock_module._create(folder / ".lock", {"pid": 1}, "t0")  # gone: not taken
    real = lock_module._create
    calls = []

    def vanish_once(path, record, token):
        if not calls:
            calls.append(path)
            path.parent.rmdir()  # removed between this process's mkdir and its write
        return real(path, record, token)

    monkeypatch.setattr(lock_module, "_create", vanish_once)
    with FolderLock(folder, "evaluation") as lock:
        assert lock.held and (folder / ".lock").is_file()
    assert calls


def test_a_stale_nfs_handle_reads_as_a_vanished_folder(tmp_path, monkeypatch):
    """On NFS a folder removed meanwhile can answer ESTALE instead of ENOENT: looked at, the
    lock is not there; written into, the lock is not taken (the caller makes it again)."""
    import errno

    def stale(*args, **kwargs):
        raise OSError(errno.ESTALE, "Stale file handle")

    monkeypatch.setattr("builtins.open", stale)
    assert lock_module._look(tmp_path / ".lock") is None
    monkeypatch.undo()
    monkeypatch.setattr(Path, "write_text", stale)
    assert not lock_module._create(tmp_path / ".lock", {"pid": 1}, "t1")
    monkeypatch.undo()
    monkeypatch.setattr("builtins.open", lambda *a, **k: (_ for _ in ()).throw(
        PermissionError(errno.EACCES, "denied")))
    with pytest.raises(PermissionError):
        lock_module._look(tmp_path / ".lock")
