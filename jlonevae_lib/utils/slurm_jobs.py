"""Whether a Slurm job has ended, asked of this host's Slurm controller.

A lock taken on another host carries its owner's Slurm ids (:mod:`jlonevae_lib.utils.lock`).
Its PID cannot be checked from here, but its job can: when this host's controller is the
owner's cluster (same ``ClusterName``) and Slurm says the job has ended, the owner is gone and
its lock may be taken over at once instead of hours later. ``squeue`` knows a job until
``MinJobAge`` (five minutes by default) after its end; a job it no longer knows is looked up
with ``sacct`` (where the cluster keeps accounting), and counts as ended only if ``sacct``
says so: a job ``squeue`` does not show may also be another user's, hidden by ``PrivateData``.

Anything less certain answers None ("cannot tell"), and the caller falls back on the lock's
age: no ``squeue`` here, another cluster, a record without a cluster name (written before this
check existed), a controller that does not answer, no accounting, output this module cannot
read.

The answers are pure functions of the commands' output (:func:`parse_squeue`,
:func:`parse_sacct`, :func:`parse_cluster_name`), apart from :class:`SlurmJobs`, which runs
the commands.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence

#: States in which a job runs no more. Every other state (pending, running, suspended,
#: completing, requeued, ...) may still own, or come back to, what it locked.
ENDED_STATES = frozenset({"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED",
                          "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT"})
#: What ``squeue --jobs=<one id>`` prints (exit status 1) for a job its controller does not
#: show; newer Slurm versions print nothing and exit 0 instead.
UNKNOWN_JOB_MESSAGE = "Invalid job id specified"
#: :func:`parse_squeue`'s answer for a job the controller does not show.
NOT_SHOWN = "not shown"
#: Seconds an answer is reused: a status of a study may ask about many members' locks.
CACHE_S = 5.0
#: Seconds a command may take before its answer counts as "cannot tell".
COMMAND_TIMEOUT_S = 10.0


def job_query_id(record: Mapping[str, object]) -> str | None:
    """The id that names exactly the owner's job in ``squeue --jobs``: ``<array>_<task>`` for
    an array task (whose own job id can equal the array's, which names every task), else the
    job id; None outside Slurm."""
    array, task = record.get("slurm_array_job_id"), record.get("slurm_array_task_id")
    if array is not None and task is not None:
        return f"{array}_{task}"
    job = record.get("slurm_job_id")
    return None if job is None else str(job)


def _states(lines: str) -> str:
    """``"ended"`` when every state in ``lines`` (one per line) is an ended one, else
    ``"live"``; some versions spell a state with its cause (``CANCELLED by 0``)."""
    states = [line.split()[0] for line in lines.splitlines() if line.strip()]
    return "ended" if all(state in ENDED_STATES for state in states) else "live"


def parse_squeue(returncode: int, stdout: str, stderr: str) -> str | None:
    """The job's state from ``squeue --noheader --states=all --format=%T --jobs=<id>``:
    ``"ended"`` when every line (one per task) names an ended state, ``"live"`` when one names
    another, :data:`NOT_SHOWN` when the controller does not show the job, None when the
    command failed for another reason."""
    if returncode != 0:
        return NOT_SHOWN if UNKNOWN_JOB_MESSAGE in stderr and not stdout.strip() else None
    return _states(stdout) if stdout.strip() else NOT_SHOWN


def parse_sacct(returncode: int, stdout: str, stderr: str) -> str | None:
    """The job's state from ``sacct --noheader --parsable2 --allocations --format=State
    --jobs=<id>``: ``"ended"`` or ``"live"`` as :func:`parse_squeue`, None when the command
    failed (no accounting) or shows no record of the job."""
    if returncode != 0 or not stdout.strip():
        return None
    return _states(stdout)


def parse_cluster_name(stdout: str) -> str | None:
    """``ClusterName`` from ``scontrol show config``'s output, None when absent."""
    for line in stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "ClusterName":
            return value.strip() or None
    return None


Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def _run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT_S, check=False)


class SlurmJobs:
    """Asks this host's Slurm controller whether lock owners' jobs have ended.

    ``run``: runs a command and returns its completed process (default: ``subprocess.run``
    with a timeout); ``which``: finds a program (default ``shutil.which``); ``clock``: seconds,
    for the cache (answers are kept :data:`CACHE_S` seconds).
    """

    def __init__(self, run: Runner = _run,
                 which: Callable[[str], str | None] = shutil.which,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._run = run
        self._which = which
        self._clock = clock
        self._cache: dict[tuple[str, ...], tuple[float, str | None]] = {}

    def _ask(self, command: tuple[str, ...], parse: Callable[[int, str, str], str | None]
             ) -> str | None:
        now = self._clock()
        cached = self._cache.get(command)
        if cached is not None and now - cached[0] < CACHE_S:
            return cached[1]
        if self._which(command[0]) is None:
            answer = None
        else:
            try:
                done = self._run(command)
                answer = parse(done.returncode, done.stdout or "", done.stderr or "")
            except (OSError, subprocess.SubprocessError):
                answer = None
        self._cache[command] = (now, answer)
        return answer

    def cluster_name(self) -> str | None:
        """This host's Slurm cluster (its controller's ``ClusterName``); None without one."""
        return self._ask(("scontrol", "show", "config"),
                         lambda rc, out, _err: parse_cluster_name(out) if rc == 0 else None)

    def job_ended(self, record: Mapping[str, object]) -> bool | None:
        """True when the job of the lock ``record`` has ended, False while it has not, None
        when this host cannot tell (see the module's docstring)."""
        job, cluster = job_query_id(record), record.get("slurm_cluster_name")
        if job is None or not cluster or self.cluster_name() != cluster:
            return None
        state = self._ask(("squeue", "--noheader", "--states=all", "--format=%T",
                           f"--jobs={job}"), parse_squeue)
        if state == NOT_SHOWN:
            state = self._ask(("sacct", "--noheader", "--parsable2", "--allocations",
                               "--format=State", f"--jobs={job}"), parse_sacct)
        return None if state is None else state == "ended"


#: The process's one asker (its cache spans every lock it looks at).
SLURM_JOBS = SlurmJobs()
