"""A lock file per folder, so two processes never write the same run (or data, or results).

``folder/.lock`` holds its owner's record (JSON): host, PID, purpose, a random ``token`` that
tells this lock apart from any other, when it was taken (``created``) and the Slurm ids of the
owner's job. The owner writes the record to a temporary file and hard-links it to ``.lock``:
the link fails if the lock exists, so taking the lock is exclusive, and a lock file, whenever
it exists, is complete (never a half-written record that a second process could mistake for a
crash's leftover). Releasing removes the lock only if it still holds the owner's token.

A lock is *stale* — may be taken over — by :func:`stale_reason`'s rules alone: its process is
gone (same host), it is unreadable for longer than :data:`UNREADABLE_STALE_S`, it is an earlier
run of the current Slurm job (a requeue takes over what it left on another node), its owner's
Slurm job on another host has ended (asked of this host's controller when it is the owner's
cluster and the lock has gone unrefreshed for :data:`SLURM_CHECK_AFTER_S`:
:mod:`jlonevae_lib.utils.slurm_jobs`), or its owner on another host has not refreshed
it (:meth:`FolderLock.refresh`) for ``abandoned_after_s``. A killed run can thus always be
resumed, and a live process on this host never loses its lock.
Taking a stale lock over is race-free too: see :meth:`FolderLock._take_over`.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.exit_status import EXIT_BUSY
from jlonevae_lib.utils.slurm_jobs import SLURM_JOBS, job_step_node

LOCK_NAME = ".lock"
#: An unreadable lock older than this (seconds) is stale. A lock is linked into place complete,
#: so an unreadable one is damage (or a hand edit), not an owner still writing it; the wait only
#: spares a lock written by an older version of this module, which wrote after creating.
UNREADABLE_STALE_S = 60.0
#: Default of ``FolderLock(abandoned_after_s=...)``: a lock on another host (whose PID cannot
#: be checked from here) that nobody refreshed for this long (seconds) is abandoned, so stale.
#: Owners that hold a lock longer must call :meth:`FolderLock.refresh` more often than this.
ABANDONED_AFTER_S = 6 * 3600.0
#: A lock on another host idle (not refreshed) for longer than this (seconds) is checked with
#: Slurm (:mod:`jlonevae_lib.utils.slurm_jobs`); one refreshed since is taken as its owner's
#: at work without asking, so a ``status`` of a large study asks about fewer locks. (A trainer
#: refreshes at each checkpoint, a sweep's evaluation at most every 10 minutes while its
#: processes print; a metric's lock is not refreshed: Slurm answers for those.)
SLURM_CHECK_AFTER_S = 300.0
#: A takeover claim (``.lock.takeover-*``) older than this (seconds) was left by a process that
#: died while taking a stale lock over; the claim is held for milliseconds.
TAKEOVER_STALE_S = 60.0
#: Record field → the environment variable it copies at acquire time. A requeued Slurm job keeps
#: its job id (an array task too) and counts up SLURM_RESTART_COUNT (unset before the first
#: restart), which tells a requeue from a second task of one job. The record's ``slurm_node``
#: is the node of a step of the job (:func:`jlonevae_lib.utils.slurm_jobs.job_step_node`).
SLURM_FIELDS = {"slurm_job_id": "SLURM_JOB_ID", "slurm_array_job_id": "SLURM_ARRAY_JOB_ID",
                "slurm_array_task_id": "SLURM_ARRAY_TASK_ID",
                "slurm_restart_count": "SLURM_RESTART_COUNT",
                "slurm_cluster_name": "SLURM_CLUSTER_NAME"}
#: Tries of one acquire() when the lock changes under it (released, taken over meanwhile).
_ATTEMPTS = 50


class LockedError(JLoneVAEError):
    """Another live process holds the lock (or took this process's lock over)."""

    #: Not bad input: the work is being done elsewhere, try later (utils/exit_status.py).
    exit_code = EXIT_BUSY


def slurm_ids(environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """The Slurm ids of this process (``environ``: default ``os.environ``), by record field;
    None where unset (outside Slurm: all of them)."""
    environ = os.environ if environ is None else environ
    return {**{field: environ.get(name) or None for field, name in SLURM_FIELDS.items()},
            "slurm_node": job_step_node(environ)}


def _pid_alive(pid: int) -> bool:
    if pid <= 0:  # not one process (0 and -n name process groups): no owner of a lock
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # OverflowError: past any PID
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _parse(data: bytes) -> dict | None:
    """The record in ``data``, None when it is not a valid one (no host or no PID)."""
    try:
        record = json.loads(data.decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("host"), str):
        return None
    pid = record.get("pid")
    return record if isinstance(pid, int) and not isinstance(pid, bool) else None


def _same_job(record: Mapping[str, object], current: Mapping[str, str | None]) -> bool:
    """Whether ``record`` was left by the job of the Slurm ids ``current``: the same job id,
    or, where either lacks one, the same array job and task. Array ids alone do not tell when
    both have a job id: a job submitted from an array task inherits the task's array ids."""
    job, recorded = current.get("slurm_job_id"), record.get("slurm_job_id")
    if job is not None and recorded is not None:
        return recorded == job
    array, task = current.get("slurm_array_job_id"), current.get("slurm_array_task_id")
    return (array is not None and task is not None and record.get("slurm_array_job_id") == array
            and record.get("slurm_array_task_id") == task)


def _restarts(value: object) -> int:
    try:
        return int(str(value)) if value is not None else 0
    except ValueError:
        return 0


def stale_reason(record: Mapping[str, object] | None, mtime: float, *,
                 now: float | None = None, abandoned_after_s: float = ABANDONED_AFTER_S,
                 slurm: Mapping[str, str | None] | None = None,
                 job_ended: Callable[[Mapping[str, object]], bool | None] | None = None,
                 ) -> str | None:
    """Why a lock with ``record`` (None: unreadable or invalid) and file ``mtime`` is stale,
    or None while it is live. The one staleness rule, for taking a lock and for reporting who
    holds one (:func:`lock_holder`).

    Stale: (a) on this host, its PID is gone; (b) unreadable and older than
    :data:`UNREADABLE_STALE_S`; (c) on another host, the current Slurm job (``slurm``, default
    this process's :func:`slurm_ids`: same job id, or same array job and task) at a later
    restart: a requeue takes over its previous run's lock; (d) on another host, not refreshed
    for :data:`SLURM_CHECK_AFTER_S`, and its owner's Slurm job has ended by
    ``job_ended(record)`` (default :meth:`jlonevae_lib.utils.slurm_jobs.SlurmJobs.job_ended`:
    True ended, False not, None cannot tell); (e) on another host and not refreshed for
    ``abandoned_after_s``. A live PID on this host is never stale.
    """
    idle = (time.time() if now is None else now) - mtime
    if record is None:
        return (f"unreadable for {idle:.0f} s" if idle > UNREADABLE_STALE_S else None)
    host, pid = record.get("host"), record.get("pid")
    if host == socket.gethostname():
        return None if isinstance(pid, int) and _pid_alive(pid) else f"process {pid} is gone"
    slurm = slurm_ids() if slurm is None else slurm
    if (_same_job(record, slurm)
            and _restarts(slurm.get("slurm_restart_count"))
            > _restarts(record.get("slurm_restart_count"))):
        return "left by an earlier run of this (requeued) Slurm job"
    if (idle > SLURM_CHECK_AFTER_S
            and (SLURM_JOBS.job_ended if job_ended is None else job_ended)(record)):
        return f"its Slurm job {record.get('slurm_job_id')} has ended"
    if idle > abandoned_after_s:
        return f"not refreshed for {idle / 3600:.1f} h"
    return None


@dataclass(frozen=True)
class _Seen:
    """One look at a lock file: its bytes, its record (None: unreadable), mtime and inode."""

    data: bytes
    record: dict | None
    mtime: float
    inode: tuple[int, int]

    def same_file(self, other: _Seen | None) -> bool:
        return other is not None and other.inode == self.inode and other.data == self.data

    @property
    def token(self) -> object:
        return None if self.record is None else self.record.get("token")


def _gone(err: OSError) -> bool:
    """Whether ``err`` says the file or its folder is not there: ENOENT, or on NFS ESTALE (a
    handle to a folder removed meanwhile, which a later look finds gone)."""
    return isinstance(err, FileNotFoundError) or err.errno == errno.ESTALE


def _look(path: Path) -> _Seen | None:
    """The lock file at ``path`` now, None when there is none."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
    except OSError as err:
        if _gone(err):
            return None
        raise
    return _Seen(data, _parse(data), st.st_mtime, (st.st_dev, st.st_ino))


def remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` if it is empty: a folder a lock made for work that then failed (an
    empty folder would read as work begun). One another process has locked meanwhile is not
    empty, and a lock makes its folder again if it goes first (:meth:`FolderLock.acquire`)."""
    try:
        folder.rmdir()
    except OSError:  # not empty (results, another process's lock), or gone already
        pass


def _link_new(path: Path, temp: Path) -> bool:
    """Hard-link the complete ``temp`` to ``path``; False when ``path`` exists."""
    try:
        os.link(temp, path)
    except FileExistsError:
        # NFS may report a retried link as failed although it was made: the link count says.
        return os.stat(temp).st_nlink == 2
    except OSError as err:
        raise JLoneVAEError(f"cannot take the lock {path}: its filesystem refused a hard link "
                            f"({err}); FolderLock needs one that has them") from err
    return True


def _create(path: Path, record: Mapping[str, object], token: str) -> bool:
    """Create ``path`` holding ``record``, complete, unless it exists (then False)."""
    temp = path.with_name(f"{path.name}.{token}.tmp")
    try:
        try:
            temp.write_text(json.dumps(record))
        except OSError as err:
            if _gone(err):
                return False  # the folder was removed meanwhile (an emptied one): made again
            raise JLoneVAEError(f"cannot write the lock file {temp} ({err.strerror or err}); "
                                "check that the folder is writable and its disk has room"
                                ) from None
        return _link_new(path, temp)
    finally:
        try:
            temp.unlink(missing_ok=True)
        except OSError as err:
            if not _gone(err):
                raise


def _remove_if_same(path: Path, seen: _Seen, token: str) -> bool:
    """Remove ``path`` if it is still the file ``seen``; True when it was (and is removed).

    Rename it aside first (atomic), then compare: whatever was renamed is the file a plain
    unlink would have removed. If another process replaced the file meanwhile, the new one is
    linked back into place (unless yet another process took the place) and left alone.
    """
    aside = path.with_name(f"{path.name}.stale-{token}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    if seen.same_file(_look(aside)):
        aside.unlink(missing_ok=True)
        return True
    try:
        os.link(aside, path)
    except FileExistsError:
        pass
    aside.unlink(missing_ok=True)
    return False


def _record_owner(record: Mapping[str, object]) -> str:
    # A job's own id names it; array ids may be inherited from the task that submitted it.
    job = record.get("slurm_job_id")
    array, task = record.get("slurm_array_job_id"), record.get("slurm_array_task_id")
    slurm = (f" (Slurm job {job})" if job is not None
             else f" (Slurm job {array}_{task})" if array is not None and task is not None
             else "")
    return f"process {record.get('pid')} on {record.get('host')}{slurm}"


class FolderLock:
    """Exclusive lock on ``folder`` through ``folder/.lock`` (see the module's docstring).

    ``with FolderLock(run_dir, "training") as lock: ...; lock.refresh()  # each checkpoint``

    ``abandoned_after_s``: how long a lock on another host may go without a refresh before
    this process takes it over (:func:`stale_reason`'s rule e).
    """

    def __init__(self, folder: str | os.PathLike, purpose: str = "use", *,
                 abandoned_after_s: float = ABANDONED_AFTER_S) -> None:
        self.path = Path(folder) / LOCK_NAME
        self.purpose = purpose
        self.abandoned_after_s = abandoned_after_s
        self._token: str | None = None

    @property
    def held(self) -> bool:
        return self._token is not None

    def _stale(self, seen: _Seen) -> str | None:
        return stale_reason(seen.record, seen.mtime, abandoned_after_s=self.abandoned_after_s)

    def _busy(self, seen: _Seen) -> LockedError:
        folder = self.path.parent
        if seen.record is None:
            wait = UNREADABLE_STALE_S - (time.time() - seen.mtime)
            return LockedError(f"{folder} is locked by an unreadable {self.path}; it counts as "
                               f"stale in {max(wait, 0.0):.0f} s (or delete it if no process "
                               f"works on {folder})")
        return LockedError(f"{folder} is in {seen.record.get('purpose', 'use')} by "
                           f"{_record_owner(seen.record)}; wait for it to finish (or delete "
                           f"{self.path} if that process is gone)")

    def acquire(self) -> None:
        """Take the lock, taking a stale one over; LockedError while a live process holds it."""
        token = secrets.token_hex(8)
        record = {"host": socket.gethostname(), "pid": os.getpid(), "purpose": self.purpose,
                  "token": token, "created": time.time(), **slurm_ids()}
        for _ in range(_ATTEMPTS):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if _create(self.path, record, token):
                self._token = token
                return
            seen = _look(self.path)
            if seen is None:
                continue  # released meanwhile
            if self._stale(seen) is None:
                raise self._busy(seen)
            self._take_over(seen, token)
        raise LockedError(f"could not take the lock {self.path}; another process keeps "
                          f"taking it")

    def _take_over(self, seen: _Seen, token: str) -> None:
        """Remove the stale lock ``seen`` (the caller then tries to take the lock again).

        Two processes may judge the same stale lock, and the lock may be released and taken
        anew between a look and a removal: a plain unlink could then remove a live owner's
        fresh lock. So the remover first claims this very lock: it creates
        ``.lock.takeover-<key of seen>`` (exclusive, like the lock); one process wins it. The
        winner looks again: while the lock is still ``seen`` and stale, nobody else can
        replace it (the lock exists, so nobody can take it; the other removers have lost the
        claim; its owner is gone), so the removal (rename aside, check, delete) removes
        ``seen``. A late remover gets a fresh claim only after ``seen`` is gone, and then
        finds another lock (or none) and leaves it. Losers wait a moment and look again.
        """
        claim = self._claim_path(seen)
        mine = {"host": socket.gethostname(), "pid": os.getpid(), "token": token,
                "created": time.time()}
        if not _create(claim, mine, token):
            other = _look(claim)
            if other is not None and self._claim_stale(other):
                _remove_if_same(claim, other, token)  # its taker died mid-way
            else:
                time.sleep(0.005)  # another process is removing it now
            return
        try:
            now_seen = _look(self.path)
            if seen.same_file(now_seen) and self._stale(now_seen) is not None:
                _remove_if_same(self.path, seen, token)
        finally:
            left = _look(claim)
            if left is not None and left.token == token:
                claim.unlink(missing_ok=True)

    def _claim_path(self, seen: _Seen) -> Path:
        """The takeover claim's name for the lock file ``seen``: one per lock file."""
        key = hashlib.sha256(seen.data + repr(seen.inode).encode()).hexdigest()[:16]
        return self.path.with_name(f"{self.path.name}.takeover-{key}")

    @staticmethod
    def _claim_stale(claim: _Seen) -> bool:
        if time.time() - claim.mtime > TAKEOVER_STALE_S:
            return True
        record = claim.record
        return (record is not None and record.get("host") == socket.gethostname()
                and not _pid_alive(int(record["pid"])))

    def _still_mine(self) -> _Seen | None:
        """The lock file if it is still this lock's, else None."""
        seen = _look(self.path)
        return seen if seen is not None and seen.token == self._token else None

    def refresh(self) -> None:
        """Touch the lock (its mtime), proving its owner is at work: a lock on another host
        counts as abandoned ``abandoned_after_s`` after its last refresh. Owners call it at
        every checkpoint. LockedError when the lock is no longer this one's (taken over as
        stale, or removed): the caller must stop writing the folder, someone else may be."""
        if self._token is None:
            raise RuntimeError(f"refresh() of {self.path}, which this FolderLock does not hold")
        if self._still_mine() is None:
            self._token = None
            seen = _look(self.path)
            by = (_record_owner(seen.record) if seen is not None and seen.record is not None
                  else "nobody (it was removed)")
            raise LockedError(f"the lock {self.path} was taken over while this process held "
                              f"it; it is now held by {by}: stop writing {self.path.parent}")
        os.utime(self.path)

    def release(self) -> bool:
        """Remove the lock if it is still this one's; True when it was. A lock that is gone
        or was taken over (judged stale) is left alone: it is another owner's now."""
        if self._token is None:
            return False
        mine = self._still_mine()
        self._token = None
        if mine is None:
            return False
        # Still ours: only a stale lock is ever removed by another process, and a live owner's
        # lock on this host is never stale, so this unlinks ours.
        self.path.unlink(missing_ok=True)
        return True

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


@dataclass(frozen=True)
class LockHolder:
    """Who holds a folder's :class:`FolderLock`, from its record (see :func:`lock_holder`)."""

    host: str
    pid: int | None
    purpose: str
    #: Not stale by :func:`stale_reason`: False for a crash's leftover (same host, process
    #: gone), an earlier run of this Slurm job, a lock whose Slurm job has ended, an
    #: unreadable or an abandoned lock.
    alive: bool
    slurm_job_id: str | None = None
    slurm_array_job_id: str | None = None
    slurm_array_task_id: str | None = None
    #: Seconds since the lock was taken (since the file was written, when unreadable).
    age_s: float = 0.0
    #: Seconds since the owner last refreshed it (what abandoned_after_s measures).
    idle_s: float = 0.0
    #: Why it is stale (:func:`stale_reason`), None while it is alive.
    stale_reason: str | None = None


def lock_holder(folder: str | os.PathLike, *, abandoned_after_s: float = ABANDONED_AFTER_S,
                now: float | None = None) -> LockHolder | None:
    """Who holds ``folder``'s :class:`FolderLock`, or None when nobody does; ``alive`` by the
    same rule that lets :meth:`FolderLock.acquire` take a lock over."""
    now = time.time() if now is None else now
    path = Path(folder) / LOCK_NAME
    try:
        seen = _look(path)
    except OSError:  # there, but not readable by this user: report it as unreadable
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        seen = _Seen(b"", None, st.st_mtime, (st.st_dev, st.st_ino))
    if seen is None:
        return None
    record = seen.record or {}
    created = record.get("created")
    created = float(created) if isinstance(created, (int, float)) else seen.mtime

    def text(field: str) -> str | None:
        value = record.get(field)
        return None if value is None else str(value)

    stale = stale_reason(seen.record, seen.mtime, now=now, abandoned_after_s=abandoned_after_s)
    return LockHolder(
        host=str(record.get("host", "?")), pid=record.get("pid"),
        purpose=str(record.get("purpose", "use")), alive=stale is None, stale_reason=stale,
        slurm_job_id=text("slurm_job_id"), slurm_array_job_id=text("slurm_array_job_id"),
        slurm_array_task_id=text("slurm_array_task_id"),
        age_s=max(0.0, now - created), idle_s=max(0.0, now - seen.mtime))
