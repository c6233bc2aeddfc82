"""A study member's state, read from its run folder (no database; the one question put to a
scheduler is whether the Slurm job of a lock taken on another host has ended).

- ``done``: training finished (``DONE``) and every metric of the study has its results;
- ``failed``: ``FAILED`` holds the reason (a diverged loss, written by the trainer, or a
  crashed training process, written by the runner), or ``EVALUATION_FAILED`` that of a trained
  run's evaluation that failed (written by the runner) while metrics are still missing;
- ``running``: a live process holds the run's lock (training, or a sweep's evaluation of the
  trained run, from its first ``jlonevae-evaluate`` process's start to its last one's end) or
  a metric's (any evaluation, while it computes that metric); a lock taken on another machine
  counts as running until it is stale by :func:`jlonevae_lib.utils.lock.stale_reason` (its
  Slurm job has ended, by this host's controller, or it was not refreshed for hours), since
  its process cannot be checked here;
- ``trained``: training finished, some metrics are missing: the evaluation is what is left;
- ``interrupted``: a checkpoint and nobody at work: the next run resumes it (a lock left by
  a process that is gone is named with why it is stale, and taken over by that run);
- ``queued``: nothing at work yet, but the study's ledger has a scheduler job for it that is
  still queued or running (:mod:`.ledger`);
- ``pending``: nothing written yet.

A started run's batch comes from the progress record its trainer writes with each checkpoint
(``checkpoints/progress.json``), never from the checkpoint itself: ``status`` of a large study
reads a few bytes per member.

Slurm, the local pool and a researcher's shell all leave the same files, so ``jlonevae-sweep
status`` tells the same story whoever ran the members.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from jlonevae_lib.runs import layout
from jlonevae_lib.sweep.members import Member
from jlonevae_lib.utils.lock import LockHolder as LockHolder  # re-exported: one implementation
from jlonevae_lib.utils.lock import lock_holder

DONE, FAILED, RUNNING, TRAINED, INTERRUPTED, QUEUED, PENDING = (
    "done", "failed", "running", "trained", "interrupted", "queued", "pending")
#: How the counts of ``status`` group the states: trained members are counted apart from the
#: done ones (trained and evaluated), so a training-only run does not read as "0 done".
COUNTED_AS = {DONE: "done", TRAINED: "trained", RUNNING: "running", QUEUED: "queued",
              FAILED: "failed", INTERRUPTED: "pending", PENDING: "pending"}


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


def checkpoint_batches(run: Path) -> int | None:
    """The batch of ``run``'s latest checkpoint, from its progress record (the checkpoint
    itself is never read); None without one, or while it is replaced. The record is written
    just after the checkpoint, so a kill between the two leaves it one checkpoint behind (the
    run then resumes one checkpoint later than it says)."""
    try:
        step = layout.read_json_object(layout.progress_path(run)).get("step")
    except Exception:  # noqa: BLE001 - missing, or replaced under us: no batch known
        return None
    return step if isinstance(step, int) else None


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
        # A sweep's evaluation, also between two metrics or processes, and one computing every
        # metric again (--overwrite); a training lock left on a finished run is no work.
        sweep = lock_holder(run)
        if not (sweep is not None and sweep.alive
                and sweep.purpose == layout.EVALUATION_LOCK_PURPOSE):
            sweep = None
        if not missing and sweep is None:
            return MemberStatus(member, DONE, batches=total)
        evaluating = [name for name in missing
                      if (holder := lock_holder(layout.metric_results_dir(run, name).parent))
                      and holder.alive]
        to_go = (f"{len(missing)} of {len(metric_names)} metrics to go" if missing
                 else f"all {len(metric_names)} metrics evaluated again")
        if evaluating:
            return MemberStatus(member, RUNNING, f"evaluating {', '.join(evaluating)}; {to_go}",
                                batches=total)
        if sweep is not None:
            return MemberStatus(member, RUNNING, f"{sweep.purpose}, pid {sweep.pid} on "
                                f"{sweep.host}: {to_go}", batches=total)
        marker = layout.evaluation_failed_path(run)
        if marker.is_file():
            return MemberStatus(member, FAILED, failure_reason(marker), batches=total,
                                evaluation_failed=True)
        return MemberStatus(member, TRAINED, f"trained; {len(missing)} of {len(metric_names)} "
                            f"metrics to compute", batches=total)
    holder = lock_holder(run) if run.is_dir() else None
    batches = checkpoint_batches(run) if run.is_dir() else None
    checkpoint = layout.checkpoint_path(run)
    if batches is not None:
        progress = f"batch {batches}/{total} (checkpoint {_age(checkpoint, now)} ago)"
    elif checkpoint.is_file():  # written before progress records existed
        progress = f"a checkpoint {_age(checkpoint, now)} old (its batch is not recorded)"
    else:
        progress = f"batch 0/{total} (no checkpoint yet)"
    if holder is not None and holder.alive:
        where = f"pid {holder.pid} on {holder.host}"
        return MemberStatus(member, RUNNING, f"{holder.purpose}, {where}: {progress}", batches)
    if batches is not None or checkpoint.is_file():
        at = f"batch {batches}/{total}" if batches is not None else "its checkpoint"
        left = f" (its lock is stale: {holder.stale_reason})" if holder is not None else ""
        return MemberStatus(member, INTERRUPTED, f"resumes at {at}{left}", batches)
    return MemberStatus(member, PENDING)


def study_status(members: Iterable[Member], metric_names: Sequence[str]) -> list[MemberStatus]:
    now = time.time()
    return [member_status(member, metric_names, now=now) for member in members]


def state_counts(statuses: Iterable[MemberStatus]) -> dict[str, int]:
    """``{"done": n, "trained": n, "running": n, "queued": n, "failed": n, "pending": n}``
    (interrupted members are pending work)."""
    counts = dict.fromkeys(("done", "trained", "running", "queued", "failed", "pending"), 0)
    for status in statuses:
        counts[COUNTED_AS[status.state]] += 1
    return counts


def counts_line(counts: dict[str, int], evaluated: bool) -> str:
    """The counts in words: ``12 trained (evaluation not run), 0 running, ...``; ``evaluated``:
    whether the study has metrics (without, a trained member is done)."""
    parts = []
    for name, count in counts.items():
        if name == "trained" and evaluated:
            parts.append(f"{count} trained" + (" (evaluation not run)" if count else ""))
        elif name != "trained" or count:
            parts.append(f"{count} {name}")
    return ", ".join(parts)


def generated_at(summary_json: Path) -> float | None:
    """When the summary at ``summary_json`` was generated (its ``generated_at``, ``YYYY-MM-DD
    HH:MM UTC``), as Unix time; None when it does not say, or cannot be read. Its file's date
    is a clone's or a copy's, not the summary's."""
    try:
        stamp = layout.read_json_object(summary_json).get("generated_at")
        return calendar.timegm(time.strptime(str(stamp), "%Y-%m-%d %H:%M UTC"))
    except Exception:  # noqa: BLE001 - any unreadable summary or stamp: the file's date instead
        return None


def summary_state(results_dir: Path | None, statuses: Sequence[MemberStatus]) -> str | None:
    """The study's summary stage in words (None: the study has none): not written yet, or
    when it was generated and whether members finished since."""
    if results_dir is None:
        return None
    marker = results_dir / layout.SUMMARY_JSON
    if not marker.is_file():
        return f"summary: not written yet ({results_dir})"
    written = generated_at(marker)
    if written is None:  # a summary that does not say: its file's date (a clone's, perhaps)
        written = marker.stat().st_mtime
        stamp = time.strftime("file dated %Y-%m-%d %H:%M", time.localtime(written))
    else:
        stamp = time.strftime("generated %Y-%m-%d %H:%M UTC", time.gmtime(written))
    newer = sum(1 for s in statuses if s.state == DONE
                and layout.done_path(s.member.run_dir).stat().st_mtime > written)
    return (f"summary: {results_dir} {stamp}"
            + (f"; {newer} member(s) finished since: run the study again to redo it"
               if newer else ""))


def render_status(study: str, statuses: Sequence[MemberStatus], *, evaluated: bool = True,
                  summary: str | None = None) -> str:
    """The ``status`` report: the counts, the summary's state, then one line per member."""
    counts = state_counts(statuses)
    lines = [f"{study}: {len(statuses)} members: {counts_line(counts, evaluated)}"]
    if summary:
        lines.append(summary)
    width = max((len(s.member.label) for s in statuses), default=0)
    for status in statuses:
        detail = f"  {status.detail}" if status.detail else ""
        lines.append(f"{status.member.index:>4}  {status.state:<11}  "
                     f"{status.member.label:<{width}}  {status.member.run_dir}{detail}")
    return "\n".join(lines)
