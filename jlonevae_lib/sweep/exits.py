"""What a training process's exit means for its member: one classification for both backends.

===========  =================================================  ===============================
verdict      when                                               what the runner does
===========  =================================================  ===============================
finished     the run has ``DONE`` (whatever the exit status:    evaluate it
             a run with ``DONE`` is never a failure)
stopped      SIGTERM / SIGINT handled (143, 130) or not         nothing: the checkpoint stands
             (-15, -2); SIGKILL (-9) fewer than                 and the next run resumes it;
             :data:`MAX_KILLS` times in a row at one            Slurm's task waits for its kill
             checkpoint
busy         75: another live process holds the run's lock      nothing: that process trains it
diverged     3: the loss became NaN (the trainer's ``FAILED``)  listed as failed
failed       anything else, or the :data:`MAX_KILLS`-th         ``FAILED`` with the reason, the
             SIGKILL at one checkpoint (out of memory, most     last output line and the log
             likely)                                            path
===========  =================================================  ===============================

A SIGKILL is ambiguous: the kernel's out-of-memory killer sends it, and so do a scheduler after
its grace time and a researcher's ``kill -9``. Retrying a run that the OOM killer ends is
hopeless, retrying one a scheduler killed is right, so kills are counted in the run's
``KILLED`` marker and only :data:`MAX_KILLS` kills without a new checkpoint in between make it
a failure — the same rule locally and on Slurm.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jlonevae_lib.runs import layout
from jlonevae_lib.sweep.status import checkpoint_batches
from jlonevae_lib.utils.atomic import atomic_write_json
from jlonevae_lib.utils.exit_status import (
    EXIT_BUSY,
    EXIT_DIVERGED,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    KILLED,
)

FINISHED, STOPPED, BUSY, DIVERGED, FAILED = "finished", "stopped", "busy", "diverged", "failed"
#: Exit statuses of a process stopped from outside that checkpointed (handled signal) or could
#: not (SIGTERM or SIGINT not handled: killed before the trainer set its handlers).
SIGNAL_EXITS = frozenset({EXIT_SIGTERM, EXIT_SIGINT, -15, -2})
#: SIGKILLs at the same checkpoint (no progress saved in between) that make a run failed.
MAX_KILLS = 3


@dataclass(frozen=True)
class ExitVerdict:
    verdict: str
    #: One line for the user: why, and what happens next.
    detail: str


def _count_kill(run: Path) -> int:
    """Record one more SIGKILL of ``run``'s training in its ``KILLED`` marker; the number of
    kills at its current checkpoint (a new checkpoint since the last kill starts over at 1)."""
    path = layout.killed_path(run)
    step = checkpoint_batches(run)
    count = 0
    if path.is_file():
        try:
            marker = layout.read_json_object(path)
        except Exception:  # noqa: BLE001 - a damaged counter counts from zero
            marker = {}
        if marker.get("step") == step and isinstance(marker.get("count"), int):
            count = marker["count"]
    count += 1
    run.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {"step": step, "count": count, "time": time.time()})
    return count


def last_telling_line(tail: Sequence[str]) -> str:
    """The most telling line of a failed process's output: its ``error:`` line (without that
    prefix: callers put the line after their own words), else the last."""
    for line in reversed(tail):
        if line.startswith("error:"):
            return line.removeprefix("error:").strip()
        if "Error" in line.split(":", 1)[0]:
            return line.strip()
    return tail[-1].strip() if tail else "(no output)"


def record_failure(run: Path, reason: str, message: str, log: Path | None) -> None:
    """Write ``run``'s ``FAILED`` marker, unless it has one (the trainer's own: a diverged loss)
    or is finished (another process finished it meanwhile)."""
    if layout.failed_path(run).is_file() or layout.is_finished(run):
        return
    run.mkdir(parents=True, exist_ok=True)
    atomic_write_json(layout.failed_path(run), {
        "reason": reason, "step": checkpoint_batches(run) or 0, "message": message,
        "log": str(log) if log is not None else None})


def classify_exit(run: Path, returncode: int, tail: Sequence[str] = (),
                  log: Path | None = None) -> ExitVerdict:
    """The verdict on a training process of ``run`` that exited with ``returncode`` (``tail``:
    its last output lines; ``log``: where all of it is), with its side effects on disk: a
    SIGKILL is counted, a failure gets its ``FAILED`` marker (see the module's table)."""
    if layout.is_finished(run):
        layout.killed_path(run).unlink(missing_ok=True)
        return ExitVerdict(FINISHED, "trained")
    if returncode == EXIT_BUSY:
        return ExitVerdict(BUSY, "another process holds the run: " + last_telling_line(tail))
    if returncode in SIGNAL_EXITS:
        return ExitVerdict(STOPPED, f"stopped (exit status {returncode}); the next run resumes "
                                    "it from its checkpoint")
    if returncode == KILLED:
        kills = _count_kill(run)
        if kills < MAX_KILLS:
            return ExitVerdict(STOPPED, f"killed (SIGKILL, {kills} of {MAX_KILLS} at this "
                                        "checkpoint); the next run resumes it")
        reason = (f"killed by SIGKILL {kills} times without a new checkpoint (out of memory? "
                  "give it more memory or fewer --jobs)")
        record_failure(run, reason, last_telling_line(tail), log)
        return ExitVerdict(FAILED, reason)
    if returncode == EXIT_DIVERGED and layout.failed_path(run).is_file():
        return ExitVerdict(DIVERGED, "the loss diverged: " + last_telling_line(tail))
    if returncode == EXIT_OK:
        reason = f"training exited with status 0 but the run has no {layout.DONE_FILE}"
    else:
        reason = f"training exited with status {returncode}"
    record_failure(run, reason, last_telling_line(tail), log)
    return ExitVerdict(FAILED, f"{reason}: {last_telling_line(tail)}")
