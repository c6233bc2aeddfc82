"""A study member's state, read from its run folder alone (no database, no scheduler query).

- ``done``: training finished (``DONE``) and every metric of the study has its results;
- ``failed``: ``FAILED`` holds the reason (a diverged loss, written by the trainer, or a
  crashed training process, written by the runner), or ``EVALUATION_FAILED`` that of a trained
  run's evaluation that failed (written by the runner) while metrics are still missing;
- ``running``: a live process holds the run's lock (training) or a metric's (evaluation); a
  lock taken on another machine counts as running, since its process cannot be checked here;
- ``trained``: training finished, some metrics are missing: the evaluation is what is left;
- ``interrupted``: a checkpoint and nobody at work: the next run resumes it;
- ``pending``: nothing written yet.

Slurm, the local pool and a researcher's shell all leave the same files, so ``jlonevae-sweep
status`` tells the same story whoever ran the members.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from jlonevae_lib.runs import layout
from jlonevae_lib.sweep.members import Member
from jlonevae_lib.utils.lock import FolderLock

DONE, FAILED, RUNNING, TRAINED, INTERRUPTED, PENDING = (
    "done", "failed", "running", "trained", "interrupted", "pending")
STATES = (DONE, RUNNING, FAILED, TRAINED, INTERRUPTED, PENDING)
#: How the four counts of ``status`` group the states.
COUNTED_AS = {DONE: "done", RUNNING: "running", FAILED: "failed", TRAINED: "pending",
              INTERRUPTED: "pending", PENDING: "pending"}


@dataclass(frozen=True)
class LockHolder:
    host: str
    pid: int | None
    purpose: str
    #: False only when the holder is on this host and its process is gone (a crash's leftover).
    alive: bool


@dataclass(frozen=True)
class MemberStatus:
    member: Member
    state: str
    #: One line: a failure's reason, a running member's progress, the metrics left ...
    detail: str = ""
    #: Batches in the latest checkpoint, when there is one.
    batches: int | None = None
    #: Of a failed member: whether its training or its evaluation failed.
    evaluation_failed: bool = False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_holder(folder: Path) -> LockHolder | None:
    """Who holds ``folder``'s :class:`FolderLock`, or None when nobody does."""
    try:
        owner = json.loads(FolderLock(folder).path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        owner = {}  # being written, or half-written by a crash
    if not isinstance(owner, dict):
        owner = {}
    host, pid = str(owner.get("host", "?")), owner.get("pid")
    pid = pid if isinstance(pid, int) else None
    alive = host != socket.gethostname() or (pid is not None and _pid_alive(pid))
    return LockHolder(host=host, pid=pid, purpose=str(owner.get("purpose", "use")), alive=alive)


def checkpoint_batches(run: Path) -> int | None:
    """The step of ``run``'s latest checkpoint, None without one (or while unreadable)."""
    path = layout.checkpoint_path(run)
    if not path.is_file():
        return None
    import torch  # only status of started runs needs it

    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["step"])
    except Exception:  # noqa: BLE001 - replaced under us, or a half-written leftover
        return None


def _age(path: Path, now: float) -> str:
    try:
        seconds = max(0.0, now - path.stat().st_mtime)
    except FileNotFoundError:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def failure_reason(marker_path: Path) -> str:
    """The reason and message of a failure marker (``FAILED``, ``EVALUATION_FAILED``), on one
    line."""
    try:
        marker = layout.read_json_object(marker_path)
    except Exception as err:  # noqa: BLE001 - any unreadable marker still means failed
        return f"failed (marker unreadable: {err})"
    reason, message = marker.get("reason", ""), marker.get("message", "")
    text = f"{reason}: {message}" if reason and message else reason or message or "failed"
    return " ".join(str(text).split())


def missing_metrics(run: Path, metric_names: Sequence[str]) -> list[str]:
    return [name for name in metric_names if not layout.evaluation_path(run, name).is_file()]


def member_status(member: Member, metric_names: Sequence[str], *,
                  now: float | None = None) -> MemberStatus:
    """``member``'s state from its run folder (see the module's docstring)."""
    now = time.time() if now is None else now
    run = member.run_dir
    total = member.config.num_batches
    if layout.failed_path(run).is_file():
        return MemberStatus(member, FAILED, failure_reason(layout.failed_path(run)))
    if layout.is_finished(run):
        missing = missing_metrics(run, metric_names)
        if not missing:
            return MemberStatus(member, DONE, batches=total)
        evaluating = [name for name in missing
                      if (holder := lock_holder(layout.metric_results_dir(run, name).parent))
                      and holder.alive]
        if evaluating:
            return MemberStatus(member, RUNNING, f"evaluating {', '.join(evaluating)}; "
                                f"{len(missing)} of {len(metric_names)} metrics to go",
                                batches=total)
        marker = layout.evaluation_failed_path(run)
        if marker.is_file():
            return MemberStatus(member, FAILED, failure_reason(marker), batches=total,
                                evaluation_failed=True)
        return MemberStatus(member, TRAINED, f"trained; {len(missing)} of {len(metric_names)} "
                            f"metrics to compute", batches=total)
    holder = lock_holder(run) if run.is_dir() else None
    batches = checkpoint_batches(run) if run.is_dir() else None
    checkpoint = layout.checkpoint_path(run)
    progress = (f"batch {batches}/{total} (checkpoint {_age(checkpoint, now)} ago)"
                if batches is not None else f"batch 0/{total} (no checkpoint yet)")
    if holder is not None and holder.alive:
        where = f"pid {holder.pid} on {holder.host}"
        return MemberStatus(member, RUNNING, f"{holder.purpose}, {where}: {progress}", batches)
    if batches is not None:
        return MemberStatus(member, INTERRUPTED, f"resumes at batch {batches}/{total}", batches)
    return MemberStatus(member, PENDING)


def study_status(members: Iterable[Member], metric_names: Sequence[str]) -> list[MemberStatus]:
    now = time.time()
    return [member_status(member, metric_names, now=now) for member in members]


def state_counts(statuses: Iterable[MemberStatus]) -> dict[str, int]:
    """``{"done": n, "running": n, "failed": n, "pending": n}`` (trained and interrupted
    members are pending work)."""
    counts = {"done": 0, "running": 0, "failed": 0, "pending": 0}
    for status in statuses:
        counts[COUNTED_AS[status.state]] += 1
    return counts


def render_status(study: str, statuses: Sequence[MemberStatus]) -> str:
    """The ``status`` report: the counts, then one line per member."""
    counts = state_counts(statuses)
    lines = [f"{study}: {len(statuses)} members: "
             + ", ".join(f"{count} {name}" for name, count in counts.items())]
    width = max((len(s.member.label) for s in statuses), default=0)
    for status in statuses:
        detail = f"  {status.detail}" if status.detail else ""
        lines.append(f"{status.member.index:>4}  {status.state:<11}  "
                     f"{status.member.label:<{width}}  {status.member.run_dir}{detail}")
    return "\n".join(lines)
