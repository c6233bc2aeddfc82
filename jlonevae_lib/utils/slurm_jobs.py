"""Whether a lock owner's Slurm job has ended, asked of this host's Slurm controller.

A lock taken on another host carries its owner's Slurm ids (:mod:`jlonevae_lib.utils.lock`).
Its PID cannot be checked from here, but its job can. The owner counts as gone only when all
of this holds:

- it ran in a step of its own job (its record names the node, ``slurm_node``, only then:
  :func:`job_step_node`; what an ``salloc`` shell starts carries a job id too, but may
  outlive the job);
- this host's controller is the owner's cluster (the same ``ClusterName``: a cluster's name
  must be unique among the clusters that share a filesystem, as slurmdbd requires);
- Slurm shows the job, by its own job id (not by the array ids a job submitted from an array
  task inherits), in an ended state, on a node list that holds the owner's node.

``squeue`` shows a job until ``MinJobAge`` (five minutes by default) after its end; a job it
does not show is looked up with ``sacct`` (where the cluster keeps accounting), since it may
also be another user's hidden by ``PrivateData``. ``NODE_FAIL`` is not an end here: the node
may have lost its controller, not its processes.

Anything less certain answers None ("cannot tell"), and the caller falls back on the lock's
age: no ``squeue`` here, another cluster, a record without a cluster or node name (written
before this check existed, or outside a job step), a controller that does not answer, no
accounting, output this module cannot read.

The answers are pure functions of the commands' output (:func:`parse_squeue`,
:func:`parse_sacct`, :func:`parse_cluster_name`, :func:`expand_hostlist`), apart from
:class:`SlurmJobs`, which runs the commands.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

#: States in which a job runs no more. Every other state (pending, running, suspended,
#: completing, requeued, ...) may still own, or come back to, what it locked; so may a job in
#: ``NODE_FAIL``, whose node's processes can outlive the controller's word on them.
ENDED_STATES = frozenset({"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED",
                          "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT"})
#: What ``squeue --jobs=<one id>`` prints (exit status 1) for a job its controller does not
#: show; newer Slurm versions print nothing and exit 0 instead.
UNKNOWN_JOB_MESSAGE = "Invalid job id specified"
#: :func:`parse_squeue`'s answer for a job the controller does not show.
NOT_SHOWN = "not shown"
#: Seconds an answer is reused: a status of a study may ask about many members' locks.
CACHE_S = 5.0
#: Seconds a failed or timed-out command's "cannot tell" is reused: a controller that does not
#: answer would otherwise cost every lock looked at the command's timeout.
FAILURE_CACHE_S = 60.0
#: Seconds a command may take before its answer counts as "cannot tell".
COMMAND_TIMEOUT_S = 10.0
#: The command line slurmstepd gives itself: ``slurmstepd: [<job id>.<step>]``.
STEPD_COMMAND = re.compile(r"slurmstepd: \[(\d+)\.")
#: How far up the process tree :func:`job_step_node` looks for its step.
MAX_ANCESTORS = 64
#: A job id as ``SLURM_JOB_ID`` gives it; a record's other text is never put on a command line.
JOB_ID = re.compile(r"\d+")
SQUEUE_FORMAT = "%A|%T|%N"
SACCT_FORMAT = "JobIDRaw,State,NodeList"


def _parent_and_command(proc: Path, pid: int) -> tuple[int, str]:
    """Process ``pid``'s parent and command line, from ``proc`` (``/proc``)."""
    stat = (proc / str(pid) / "stat").read_text()
    parent = int(stat.rsplit(")", 1)[1].split()[1])  # the name, in parentheses, may hold spaces
    command = (proc / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ")
    return parent, command.decode(errors="replace").strip()


def job_step_node(environ: Mapping[str, str], *, proc: Path = Path("/proc"),
                  pid: int | None = None) -> str | None:
    """The node (``SLURMD_NODENAME``) when process ``pid`` (default: this one) runs in a step of
    its own job (``SLURM_JOB_ID`` of ``environ``), else None.

    The nearest ``slurmstepd: [<job>.<step>]`` among its ancestors must be that job's: Slurm
    ends a step's processes with its job, but a process started by ``salloc`` (on a login node,
    or from within a step of another job, whose ``SLURMD_NODENAME`` it inherits) is in no step
    of the job whose id it carries, and may outlive it.
    """
    job, node = environ.get("SLURM_JOB_ID"), environ.get("SLURMD_NODENAME")
    if not job or not node:
        return None
    pid = os.getpid() if pid is None else pid
    try:
        for _ in range(MAX_ANCESTORS):
            parent, command = _parent_and_command(proc, pid)
            step = STEPD_COMMAND.match(command)
            if step is not None:
                return node if step.group(1) == job else None
            if parent <= 1:
                return None
            pid = parent
    except (OSError, ValueError, IndexError):  # no /proc, a process gone, an unreadable stat
        return None
    return None


def expand_hostlist(hostlist: str) -> set[str]:
    """The node names of a Slurm host list: ``node[01-03,07],gpu1`` → ``{node01, node02,
    node03, node07, gpu1}``, ``a[1-2]b[3-4]`` → ``{a1b3, a1b4, a2b3, a2b4}``; empty for
    ``None assigned``. ValueError for a range that is not one of numbers."""
    names: set[str] = set()
    for item in re.findall(r"(?:[^,\[]|\[[^\]]*\])+", hostlist.strip()):
        if " " in item:  # "None assigned", "(null)"
            continue
        parts = re.split(r"\[([^\]]*)\]", item)
        choices = []
        for index, part in enumerate(parts):
            if index % 2 == 0:
                choices.append([part])
                continue
            ranges = []
            for span in part.split(","):
                low, _, high = span.partition("-")
                if not high:
                    ranges.append(low)
                    continue
                ranges.extend(str(n).zfill(len(low)) for n in range(int(low), int(high) + 1))
            choices.append(ranges)
        names.update("".join(pieces) for pieces in itertools.product(*choices))
    return names


def _answer(stdout: str, job_id: str, node: str) -> str | None:
    """``"live"`` when a row of job ``job_id`` (``id|state|nodes`` lines) names a state not
    ended; ``"ended"`` when each of its rows names an ended state and one ran on ``node``;
    None when no row is the job's, or the ended job never ran on ``node``."""
    rows = [line.split("|") for line in stdout.splitlines() if line.strip()]
    mine = [row for row in rows if len(row) == 3 and row[0].strip() == job_id]
    if not mine:
        return None
    # Some versions spell a state with its cause: "CANCELLED by 0". A blank state is no end.
    if any((state.split() or [""])[0] not in ENDED_STATES for _, state, _ in mine):
        return "live"
    try:
        ran_there = any(node in expand_hostlist(nodes) for _, _, nodes in mine)
    except ValueError:  # a node list this module cannot read
        return None
    return "ended" if ran_there else None


def parse_squeue(returncode: int, stdout: str, stderr: str, job_id: str,
                 node: str) -> str | None:
    """Job ``job_id``'s state from ``squeue --noheader --states=all --format=%A|%T|%N
    --jobs=<job_id>``: ``"live"``, ``"ended"`` (on ``node``) or None as :func:`_answer`;
    :data:`NOT_SHOWN` when the controller does not show the job; None when the command failed
    for another reason."""
    if returncode != 0:
        return NOT_SHOWN if UNKNOWN_JOB_MESSAGE in stderr and not stdout.strip() else None
    if not stdout.strip():
        return NOT_SHOWN
    return _answer(stdout, job_id, node)


def parse_sacct(returncode: int, stdout: str, stderr: str, job_id: str,
                node: str) -> str | None:
    """Job ``job_id``'s state from ``sacct --noheader --parsable2 --allocations
    --format=JobIDRaw,State,NodeList --jobs=<job_id>``, as :func:`parse_squeue`; None when the
    command failed (no accounting) or holds no record of the job."""
    if returncode != 0:
        return None
    return _answer(stdout, job_id, node)


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
    for the cache (an answer is kept :data:`CACHE_S` seconds after its command returned, a
    failed command's :data:`FAILURE_CACHE_S`, and a program that timed out is not run again
    for :data:`FAILURE_CACHE_S`).
    """

    def __init__(self, run: Runner = _run,
                 which: Callable[[str], str | None] = shutil.which,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._run = run
        self._which = which
        self._clock = clock
        self._cache: dict[tuple[str, ...], tuple[float, str | None]] = {}
        self._down_until: dict[str, float] = {}

    def _ask(self, command: tuple[str, ...], parse: Callable[[int, str, str], str | None],
             key: tuple[str, ...] = ()) -> str | None:
        """``parse``'s answer to ``command``'s output, cached under ``command + key``."""
        key = command + key
        cached = self._cache.get(key)
        if cached is not None and self._clock() < cached[0]:
            return cached[1]
        program = command[0]
        if self._clock() < self._down_until.get(program, float("-inf")):
            return None
        keep_s = CACHE_S
        if self._which(program) is None:
            answer, keep_s = None, FAILURE_CACHE_S
        else:
            try:
                done = self._run(command)
                answer = parse(done.returncode, done.stdout or "", done.stderr or "")
            except (OSError, subprocess.SubprocessError, ValueError):
                # A timeout, a vanished program, output that is not text: no other command
                # of this program is tried for a while (a hung slurmdbd costs one timeout).
                self._down_until[program] = self._clock() + FAILURE_CACHE_S
                return None
            if done.returncode != 0 and answer is None:
                keep_s = FAILURE_CACHE_S
        self._cache[key] = (self._clock() + keep_s, answer)
        return answer

    def cluster_name(self) -> str | None:
        """This host's Slurm cluster (its controller's ``ClusterName``); None without one."""
        return self._ask(("scontrol", "show", "config"),
                         lambda rc, out, _err: parse_cluster_name(out) if rc == 0 else None)

    def job_ended(self, record: Mapping[str, object]) -> bool | None:
        """True when the job of the lock ``record`` has ended, False while it has not, None
        when this host cannot tell (see the module's docstring)."""
        job, node = record.get("slurm_job_id"), record.get("slurm_node")
        cluster = record.get("slurm_cluster_name")
        if (not isinstance(job, str) or not JOB_ID.fullmatch(job) or not isinstance(node, str)
                or not node or not cluster or self.cluster_name() != cluster):
            return None
        state = self._ask(("squeue", "--noheader", "--states=all", f"--format={SQUEUE_FORMAT}",
                           f"--jobs={job}"),
                          lambda rc, out, err: parse_squeue(rc, out, err, job, node), (node,))
        if state == NOT_SHOWN:
            state = self._ask(("sacct", "--noheader", "--parsable2", "--allocations",
                               f"--format={SACCT_FORMAT}", f"--jobs={job}"),
                              lambda rc, out, err: parse_sacct(rc, out, err, job, node),
                              (node,))
        return None if state is None else state == "ended"


#: The process's one asker (its cache spans every lock it looks at).
SLURM_JOBS = SlurmJobs()
