"""What to do for each member of a study, and doing it for one member.

:func:`decide` turns a member's state (:mod:`.status`) into the work left: a finished member
is skipped, an interrupted one trained again (the trainer resumes it from its checkpoint), a
trained one only evaluated, a failed one left alone and listed, unless ``retry_failed``. The
backends (:mod:`.local`, :mod:`.slurm`) run :func:`run_member` for the members with work, then
:func:`run_summary`.

Every member is a ``jlonevae-train`` process followed by a ``jlonevae-evaluate`` process, both
idempotent: a killed worker, a requeued Slurm task or a second ``jlonevae-sweep run`` redoes
nothing that is on disk. How a training process ended is judged by :mod:`.exits`, for both
backends: finished, stopped (resumed later), busy (another process has it), diverged or failed
(a ``FAILED`` marker with the reason and the log, ``sweep_logs/train.log`` in the run folder),
so that ``status`` lists it and the next run does not repeat it blindly.
"""

from __future__ import annotations

import collections
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jlonevae_lib.runs import layout
from jlonevae_lib.sweep import exits
from jlonevae_lib.sweep.exits import last_telling_line
from jlonevae_lib.sweep.members import Member, evaluate_command, train_command
from jlonevae_lib.sweep.status import (
    DONE,
    FAILED,
    INTERRUPTED,
    PENDING,
    QUEUED,
    RUNNING,
    TRAINED,
    MemberStatus,
    missing_metrics,
)
from jlonevae_lib.sweep.studies import StudyPlan
from jlonevae_lib.utils.atomic import atomic_write_json
from jlonevae_lib.utils.exit_status import EXIT_BUSY, KILLED
from jlonevae_lib.utils.lock import FolderLock, LockedError, lock_holder

TRAIN, EVALUATE, SUMMARY = "train", "evaluate", "summary"
#: How often (seconds, at most) a sweep refreshes the run's lock while an evaluation process
#: prints; far under the hours after which a lock on another host counts as abandoned.
LOCK_REFRESH_S = 600.0
STAGES = (TRAIN, EVALUATE, SUMMARY)
#: Lines of a process's output kept for a failure's reason.
TAIL_LINES = 20

Output = Callable[[str], None]


@dataclass(frozen=True)
class Decision:
    """The work left for one member: ``steps`` among train and evaluate, in order."""

    member: Member
    steps: tuple[str, ...]
    #: What the member's state is, or why nothing runs.
    note: str
    #: Clear the failure markers before the steps (``--retry-failed``).
    retry: bool = False


def decide(status: MemberStatus, stages: Sequence[str], *, evaluated: bool,
           retry_failed: bool = False) -> Decision:
    """The work ``stages`` leave for a member in ``status`` (``evaluated``: the study has
    metrics). Pure: the tests walk every state through it."""
    member, state = status.member, status.state
    evaluate = (EVALUATE,) if EVALUATE in stages and evaluated else ()
    if state == DONE:
        return Decision(member, (), "done")
    if state == RUNNING:
        return Decision(member, (), f"running elsewhere: {status.detail}")
    if state == QUEUED:
        return Decision(member, (), f"queued: {status.detail}")
    if state == TRAINED:
        if evaluate:
            return Decision(member, evaluate, status.detail)
        return Decision(member, (), "trained" if not evaluated else status.detail)
    if state == FAILED:
        if retry_failed and status.evaluation_failed and evaluate:
            return Decision(member, evaluate, f"retrying: {status.detail}", retry=True)
        if retry_failed and TRAIN in stages and not status.evaluation_failed:
            return Decision(member, (TRAIN, *evaluate), f"retrying: {status.detail}",
                            retry=True)
        return Decision(member, (), f"failed: {status.detail} (rerun with --retry-failed "
                                    "to try again)")
    if state in (INTERRUPTED, PENDING):
        if TRAIN not in stages:
            return Decision(member, (), "not trained yet")
        return Decision(member, (TRAIN, *evaluate),
                        status.detail or "not started")
    raise ValueError(f"unknown state {state!r}")


# ------------------------------------------------------------------------- one member's work


@dataclass(frozen=True)
class Outcome:
    member: Member
    #: done, trained, failed, interrupted, busy (another process holds the run), or
    #: evaluation failed.
    result: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.result in ("done", "trained")


def stream(command: Sequence[str], *, env: Mapping[str, str] | None, output: Output,
           cwd: Path | None = None, log: Path | None = None,
           preexec_fn: Callable[[], None] | None = None,
           started: Callable[[subprocess.Popen], None] | None = None) -> tuple[int, list[str]]:
    """Run ``command`` with its stdout and stderr line by line to ``output`` (and appended to
    ``log``, if given); (exit status, its last lines). ``preexec_fn`` runs in the child before
    the command (the Slurm tasks make it ignore their time-limit signal); ``started`` gets the
    process as soon as it runs (to stop it from a signal handler)."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    log_file = None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log_file = log.open("a", encoding="utf-8")
        log_file.write(layout.sweep_log_attempt_line(command, datetime.now()))
    try:
        with subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              env=None if env is None else dict(env), cwd=cwd, text=True,
                              errors="replace", bufsize=1, preexec_fn=preexec_fn) as proc:
            assert proc.stdout is not None
            if started is not None:
                started(proc)
            for raw in proc.stdout:
                # tqdm redraws with carriage returns: each redraw is a line of its own.
                for line in raw.rstrip("\n").split("\r"):
                    if line.strip():
                        tail.append(line)
                        output(line)
                        if log_file is not None:
                            log_file.write(line + "\n")
                            log_file.flush()
            returncode = proc.wait()
    finally:
        if log_file is not None:
            log_file.close()
    return returncode, list(tail)


def clear_failure(member: Member) -> None:
    """Remove ``member``'s failure markers (``--retry-failed``): the next training resumes
    from the last good checkpoint, or starts over without one; a failed evaluation runs
    again."""
    layout.failed_path(member.run_dir).unlink(missing_ok=True)
    layout.evaluation_failed_path(member.run_dir).unlink(missing_ok=True)


#: The outcome of a member's training for each exit verdict (:mod:`.exits`).
_TRAINING_OUTCOMES = {exits.FINISHED: "trained", exits.STOPPED: "interrupted",
                      exits.BUSY: "busy", exits.DIVERGED: "failed", exits.FAILED: "failed"}


def train_member(member: Member, *, env: Mapping[str, str] | None,
                 output: Output) -> Outcome:
    """Train (or resume) ``member`` in a ``jlonevae-train`` process; its exit is judged by
    :func:`.exits.classify_exit`, as the Slurm backend's is."""
    log = layout.sweep_log_path(member.run_dir, TRAIN)
    returncode, tail = stream(train_command(member), env=env, output=output, log=log)
    verdict = exits.classify_exit(member.run_dir, returncode, tail, log)
    result = _TRAINING_OUTCOMES[verdict.verdict]
    return Outcome(member, result, "" if result == "trained" else verdict.detail)


def _all_computed(member: Member, metric_names: Sequence[str], batches: int | None,
                  overwrite: bool) -> bool:
    """Whether every one of ``metric_names`` of the model kept at ``batches`` (None: the final
    model) has its results, so that its process has nothing to do. A kept model whose metrics
    are all computed may be gone (a study's snapshot leaves it out), and its process would fail
    on the missing model."""
    names = [name for name in metric_names
             if layout.parse_kept_metric_name(name)[1] == batches]
    return not overwrite and bool(names) and not missing_metrics(member.run_dir, names)


def evaluate_member(member: Member, metrics: Sequence[str], metric_names: Sequence[str], *,
                    only_dataset: str | None, overwrite: bool, env: Mapping[str, str] | None,
                    output: Output, kept_metrics: Sequence[str] = (),
                    preexec_fn: Callable[[], None] | None = None,
                    started: Callable[[subprocess.Popen], None] | None = None) -> Outcome:
    """Compute ``member``'s metrics in ``jlonevae-evaluate`` processes: ``metrics`` of its final
    model, then ``kept_metrics`` of each model it kept at an earlier batch. ``preexec_fn``,
    ``started``: as for :func:`stream`.

    The run's lock is held (purpose ``evaluation``) from the first process's start to the last
    one's end, so that ``status`` reads the member as running, not as trained with its
    evaluation not run, while a process starts up or between two of them; a second sweep finds
    the member busy. A plain ``jlonevae-evaluate`` takes no such lock: it locks each metric it
    computes, as these processes do.
    """
    commands = []
    if not _all_computed(member, metric_names, None, overwrite):
        commands.append(evaluate_command(member, metrics, only_dataset=only_dataset,
                                         overwrite=overwrite))
    if kept_metrics:
        commands += [evaluate_command(member, kept_metrics, only_dataset=only_dataset,
                                      overwrite=overwrite, at_batch=batches)
                     for batches in member.config.keep_models_at
                     if not _all_computed(member, metric_names, batches, overwrite)]
    lock: FolderLock | None = FolderLock(member.run_dir, layout.EVALUATION_LOCK_PURPOSE)
    try:
        lock.acquire()
    except LockedError as err:
        holder = lock_holder(member.run_dir)
        if (holder is None or holder.purpose != layout.TRAINING_LOCK_PURPOSE
                or holder.host == socket.gethostname() or not layout.is_finished(member.run_dir)):
            return Outcome(member, "busy", str(err))
        # A training lock on the finished run held on another host: its process killed after
        # DONE, or a rerun finding the run finished (an extension's lock says so, and is
        # respected), so no work on the run; as status reads it. Each metric's lock still keeps
        # two evaluations of one metric apart.
        lock = None
    # Proof of life, before each process and with its output at most every
    # LOCK_REFRESH_S: a lock on another host not refreshed for hours is abandoned.
    lost: list[LockedError] = []
    refreshed = [time.monotonic()]

    def refresh() -> None:
        if lock is None or lost:
            return
        try:
            lock.refresh()
        except LockedError as err:  # taken over as stale: the taker evaluates it now
            lost.append(err)
        except OSError:
            pass  # a file system's hiccup: the lock stays this sweep's; the next try may do
        refreshed[0] = time.monotonic()

    def output_and_refresh(line: str) -> None:
        output(line)
        if time.monotonic() - refreshed[0] > LOCK_REFRESH_S:
            refresh()

    returncode, tail = 0, []
    try:
        for command in commands:
            refresh()
            if lost:  # what the processes before wrote stays: each metric had its own lock
                return Outcome(member, "busy", str(lost[0]))
            returncode, tail = stream(command, env=env, output=output_and_refresh,
                                      log=layout.sweep_log_path(member.run_dir, EVALUATE),
                                      preexec_fn=preexec_fn, started=started)
            if returncode != 0:
                break
    finally:
        if lock is not None:
            lock.release()
    missing = missing_metrics(member.run_dir, metric_names)
    if lost:  # during the last process: the sweep that took the lock over goes on
        return Outcome(member, "busy", str(lost[0]))
    elsewhere = [name for name in missing if (
        holder := lock_holder(layout.metric_results_dir(member.run_dir, name).parent))
        and holder.alive]
    if elsewhere:  # skipped by the processes: another one evaluates them now
        return Outcome(member, "busy", f"another process evaluates {', '.join(elsewhere)}")
    marker = layout.evaluation_failed_path(member.run_dir)
    if returncode == 0 and not missing:
        marker.unlink(missing_ok=True)
        return Outcome(member, "done")
    if returncode in exits.SIGNAL_EXITS or returncode == KILLED:
        return Outcome(member, "interrupted", f"evaluation stopped (exit status {returncode})")
    if returncode == EXIT_BUSY:
        return Outcome(member, "busy", "another process evaluates it: " + last_telling_line(tail))
    why = last_telling_line(tail) if returncode else f"no results for {', '.join(missing)}"
    reason = f"evaluation exited with status {returncode}"
    # Written so that status and later runs see it: not retried without --retry-failed.
    atomic_write_json(marker, {"reason": reason, "metrics": missing, "message": why})
    return Outcome(member, "evaluation failed", f"{reason}: {why}")


def run_member(decision: Decision, *, metrics: Sequence[str], metric_names: Sequence[str],
               only_dataset: str | None = None, overwrite: bool = False,
               env: Mapping[str, str] | None = None, output: Output = print,
               kept_metrics: Sequence[str] = ()) -> Outcome:
    """Do ``decision``'s steps for its member: train, then evaluate."""
    member = decision.member
    if decision.retry:
        clear_failure(member)
    outcome = Outcome(member, "trained")
    if TRAIN in decision.steps:
        output(f"== training {member.run_dir}")
        outcome = train_member(member, env=env, output=output)
        if not outcome.ok:
            return outcome
    if EVALUATE in decision.steps:
        output(f"== evaluating {member.run_dir}: {' '.join(metrics)}")
        outcome = evaluate_member(member, metrics, metric_names, only_dataset=only_dataset,
                                  overwrite=overwrite, env=env, output=output,
                                  kept_metrics=kept_metrics)
    return outcome


def run_summary(plan: StudyPlan, *, env: Mapping[str, str] | None = None,
                output: Output = print, preexec_fn: Callable[[], None] | None = None,
                started: Callable[[subprocess.Popen], None] | None = None) -> bool:
    """Run the study's summary commands; False when a required one failed (an optional one, a
    figure with nothing to draw yet, is reported and skipped). ``preexec_fn``, ``started``: as
    for :func:`stream`."""
    ok = True
    for command in plan.summary_commands():
        output(f"== summary: {' '.join(command.argv[2:5])} ...")
        returncode, tail = stream(command.argv, env=env, output=output, cwd=command.cwd,
                                  preexec_fn=preexec_fn, started=started)
        if returncode != 0:
            output(f"note: summary command {' '.join(command.argv[2:4])} failed "
                   f"(exit status {returncode}): {last_telling_line(tail)}")
            ok = ok and not command.required
    return ok
