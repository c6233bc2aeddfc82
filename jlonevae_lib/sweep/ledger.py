"""A study's ledger of its Slurm submissions, and what Slurm says of their jobs now.

A queued array task leaves nothing in its member's run folder, so the folders alone cannot tell
a second ``jlonevae-sweep run`` that a member is already on its way. Each Slurm submission is
therefore recorded in ``<output_dir>/sweeps/<study>/ledger.json``::

    {"submissions": [{"time": "2024-05-01T12:00:00Z", "backend": "slurm",
                      "folder": ".../sweeps/<study>/submitit/<stamp>",
                      "array_job_id": "12",
                      "tasks": {"0": {"job_id": "12_0", "run_dir": "...", "label": "..."}, ...},
                      "evaluate_job_id": "13", "metrics": [...], "stages": [...]}, ...]}

(``tasks`` by member index; ``array_job_id`` and ``evaluate_job_id`` null when that submission
had no such job). ``jlonevae-sweep run --backend slurm`` writes it under the study's lock
(:func:`study_lock`), after asking Slurm with one ``squeue`` call which of the members' latest
jobs are still queued or running (:func:`scheduler_view`), and submits none of those again.
``status``, the dry run and the local backend read it too and show those members as
``queued`` (:func:`with_jobs`); with no ledger they ask nothing, and without ``squeue`` (a
laptop) they say so in one line and show the run folders' states.

A job's state is the scheduler's, never the ledger's: the ledger only says which jobs to ask
about. Its history is kept (it is small: one entry per submission).
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jlonevae_lib.runs import layout
from jlonevae_lib.sweep.members import Member
from jlonevae_lib.sweep.status import (
    INTERRUPTED,
    PENDING,
    QUEUED,
    RUNNING,
    TRAINED,
    MemberStatus,
)
from jlonevae_lib.utils.atomic import atomic_write_json
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.lock import FolderLock

#: squeue's states of a job that has started (it holds its allocation); any other state it
#: lists is a job waiting to start (PENDING, REQUEUED, ...). Ended jobs it does not list: its
#: default states are the unfinished ones (SQUEUE_STATES, which would change them, is unset
#: for the call).
STARTED_STATES = frozenset({"RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "STOPPED",
                            "SIGNALING", "RESIZING", "STAGE_OUT"})
SQUEUE_TIMEOUT_S = 60


class SchedulerUnavailable(JLoneVAEError):
    """Slurm could not be asked about the ledger's jobs (no squeue, or it failed)."""


def study_lock(output_dir: Path, study: str) -> FolderLock:
    """The lock a submission of ``study`` holds while it decides, submits and records: two
    ``jlonevae-sweep run --backend slurm`` at once would otherwise both submit a member."""
    folder = layout.sweep_dir(output_dir, study)
    folder.mkdir(parents=True, exist_ok=True)
    return FolderLock(folder, "submission")


def read_ledger(path: Path) -> dict[str, Any]:
    """The ledger at ``path`` (``{"submissions": []}`` when there is none)."""
    if not path.is_file():
        return {"submissions": []}
    try:
        ledger = layout.read_json_object(path)
    except Exception as err:  # noqa: BLE001 - any unreadable ledger is reported the same way
        raise JLoneVAEError(f"the study's ledger {path} is unreadable ({err}); delete it if "
                            "none of the study's Slurm jobs is still queued") from None
    if not isinstance(ledger.get("submissions"), list):
        raise JLoneVAEError(f"the study's ledger {path} has no list of submissions; delete it "
                            "if none of the study's Slurm jobs is still queued")
    return ledger


def array_job_id(job_id: str) -> str:
    """The array job of one of its tasks' ids (``12`` of ``12_3``; a plain job's id is its
    own)."""
    return job_id.split("_")[0]


def _run_key(run_dir: str | Path) -> str:
    return str(Path(run_dir).resolve())


def record_submission(path: Path, *, folder: Path, array_job_id: str | None,
                      tasks: Sequence[tuple[Member, str]], evaluate_job_id: str | None,
                      metrics: Sequence[str], stages: Sequence[str],
                      now: datetime.datetime | None = None) -> dict[str, Any]:
    """Append one Slurm submission to the ledger at ``path`` (``tasks``: each trained member
    with its array task's job id); returns the entry. Call it under :func:`study_lock`."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    entry = {
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "backend": "slurm", "folder": str(folder),
        "array_job_id": array_job_id,
        "tasks": {str(member.index): {"job_id": job_id, "run_dir": _run_key(member.run_dir),
                                      "label": member.label}
                  for member, job_id in tasks},
        "evaluate_job_id": evaluate_job_id, "metrics": list(metrics), "stages": list(stages)}
    ledger = read_ledger(path)
    ledger["submissions"].append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, ledger)
    return entry


@dataclass(frozen=True)
class Job:
    """A ledger job that Slurm still lists, with its state (squeue's ``%T``)."""

    job_id: str
    state: str

    @property
    def started(self) -> bool:
        return self.state in STARTED_STATES

    def describe(self) -> str:
        return f"Slurm job {self.job_id} {self.state.lower()}"


Squeue = Callable[[Sequence[str]], dict[str, str]]


def squeue_states(job_ids: Sequence[str]) -> dict[str, str]:
    """squeue's state of every job and array task still listed among ``job_ids`` (array ids
    stand for all their tasks, listed one per line as ``12_3``), in one call. Jobs that
    ended are absent."""
    if not job_ids:
        return {}
    if shutil.which("squeue") is None:
        raise SchedulerUnavailable("squeue is not on PATH")
    command = ["squeue", "-h", "-r", "-o", "%i %T", "-j", ",".join(job_ids)]
    env = {key: value for key, value in os.environ.items() if key != "SQUEUE_STATES"}
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env,
                              timeout=SQUEUE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SchedulerUnavailable(f"squeue failed: {err}") from None
    if done.returncode != 0:
        # Slurm 22.05: every id unknown (all ended long ago) is an error, some unknown is not.
        if "Invalid job id" in done.stderr:
            return {}
        message = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise SchedulerUnavailable(f"squeue exited with status {done.returncode}: {message}")
    states = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            states[parts[0]] = parts[1]
    return states


@dataclass(frozen=True)
class LedgerView:
    """The ledger's jobs that Slurm still lists."""

    #: Resolved run folder -> its member's latest array task, when it is still queued or
    #: running.
    jobs: Mapping[str, Job] = field(default_factory=dict)
    #: The latest evaluation job, when it is still queued or running.
    evaluation: Job | None = None
    #: The metrics and stages that evaluation job was submitted with.
    evaluation_metrics: tuple[str, ...] = ()
    evaluation_stages: tuple[str, ...] = ()
    #: One line when Slurm could not be asked (the jobs' states are unknown).
    note: str | None = None

    def job_of(self, member: Member) -> Job | None:
        return self.jobs.get(_run_key(member.run_dir))

    def evaluation_covers(self, metrics: Sequence[str], stages: Sequence[str]) -> bool:
        """Whether the queued evaluation job does what a new one with ``metrics`` and
        ``stages`` would (it evaluates every trained member when it runs)."""
        return (self.evaluation is not None and tuple(metrics) == self.evaluation_metrics
                and tuple(stages) == self.evaluation_stages)


def scheduler_view(output_dir: Path, study: str, *, strict: bool,
                   squeue: Squeue = squeue_states) -> LedgerView:
    """Which of the ledger's latest jobs (each member's last array task, the last evaluation
    job) Slurm still lists: no query without a ledger, one ``squeue`` otherwise. ``strict``:
    raise :class:`SchedulerUnavailable` when Slurm cannot be asked (a submission must know);
    else the view has no jobs and a note that says why."""
    path = layout.ledger_path(output_dir, study)
    submissions = read_ledger(path)["submissions"]
    latest: dict[str, str] = {}
    evaluation: dict[str, Any] | None = None
    for entry in submissions:
        for task in (entry.get("tasks") or {}).values():
            latest[_run_key(task["run_dir"])] = str(task["job_id"])
        if entry.get("evaluate_job_id"):
            evaluation = entry
    ids = {array_job_id(job_id) for job_id in latest.values()}
    if evaluation is not None:
        ids.add(str(evaluation["evaluate_job_id"]))
    if not ids:
        return LedgerView()
    try:
        states = squeue(sorted(ids))
    except SchedulerUnavailable as err:
        if strict:
            raise SchedulerUnavailable(f"cannot tell which jobs of the ledger {path} are still "
                                       f"queued: {err}") from None
        return LedgerView(note=f"note: {err}: the {len(ids)} Slurm job(s) of {path} are not "
                               "checked; states are the run folders' alone")
    jobs = {run: Job(job_id, states[job_id]) for run, job_id in latest.items()
            if job_id in states}
    evaluation_job = None
    if evaluation is not None and str(evaluation["evaluate_job_id"]) in states:
        evaluation_job = Job(str(evaluation["evaluate_job_id"]),
                             states[str(evaluation["evaluate_job_id"])])
    return LedgerView(jobs=jobs, evaluation=evaluation_job,
                      evaluation_metrics=tuple(evaluation.get("metrics", ()))
                      if evaluation_job else (),
                      evaluation_stages=tuple(evaluation.get("stages", ()))
                      if evaluation_job else ())


def with_jobs(statuses: Iterable[MemberStatus], view: LedgerView) -> list[MemberStatus]:
    """``statuses`` with what the run folders cannot show: a member with nothing at work
    (pending, interrupted) whose ledger task Slurm still lists is ``queued`` (the task waits),
    or ``running`` (the task started but holds no lock: starting, or stopping after a
    signal); a trained member's evaluation job, when queued, is named."""
    out = []
    for status in statuses:
        job = view.job_of(status.member)
        if job is not None and status.state in (PENDING, INTERRUPTED):
            detail = job.describe() + (f"; {status.detail}" if status.detail else "")
            if job.started:
                status = replace(status, state=RUNNING,
                                 detail=f"{detail} (no training lock yet: starting, or "
                                        "stopping)")
            else:
                status = replace(status, state=QUEUED, detail=detail)
        elif status.state == TRAINED and view.evaluation is not None:
            status = replace(status, detail=f"{status.detail}; evaluation: "
                                            f"{view.evaluation.describe()}")
        out.append(status)
    return out
