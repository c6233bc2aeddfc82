"""What to do for each member of a study, and doing it for one member.

:func:`decide` turns a member's state (:mod:`.status`) into the work left: a finished member
is skipped, an interrupted one trained again (the trainer resumes it from its checkpoint), a
trained one only evaluated, a failed one left alone and listed, unless ``retry_failed``. The
backends (:mod:`.local`, :mod:`.slurm`) run :func:`run_member` for the members with work, then
:func:`run_summary`.

Every member is a ``jlonevae-train`` process followed by a ``jlonevae-evaluate`` process, both
idempotent: a killed worker, a requeued Slurm task or a second ``jlonevae-sweep run`` redoes
nothing that is on disk. A training process that ends with an error (not a stop by a signal)
gets a ``FAILED`` marker in its run folder, with the last line it printed as the reason, so that
``status`` lists it and the next run does not repeat it blindly.
"""

from __future__ import annotations

import collections
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jlonevae_lib.runs import layout
from jlonevae_lib.sweep.members import Member, evaluate_command, train_command
from jlonevae_lib.sweep.status import (
    DONE,
    FAILED,
    INTERRUPTED,
    PENDING,
    RUNNING,
    TRAINED,
    MemberStatus,
    checkpoint_batches,
    lock_holder,
    missing_metrics,
)
from jlonevae_lib.sweep.studies import StudyPlan
from jlonevae_lib.utils.atomic import atomic_write_json

TRAIN, EVALUATE, SUMMARY = "train", "evaluate", "summary"
STAGES = (TRAIN, EVALUATE, SUMMARY)
#: Exit statuses of a training process stopped from outside (SIGTERM or SIGINT handled by the
#: trainer: 143; killed: minus the signal): its checkpoint stands, the member resumes later.
STOPPED_EXITS = {143, 130, -2, -9, -15}
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
           cwd: Path | None = None) -> tuple[int, list[str]]:
    """Run ``command`` with its stdout and stderr line by line to ``output``; (exit status,
    its last lines)."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    with subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=None if env is None else dict(env), cwd=cwd, text=True,
                          errors="replace", bufsize=1) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            # tqdm redraws with carriage returns: each redraw is a line of its own.
            for line in raw.rstrip("\n").split("\r"):
                if line.strip():
                    tail.append(line)
                    output(line)
        returncode = proc.wait()
    return returncode, list(tail)


def _reason(tail: Sequence[str]) -> str:
    """The most telling line of a failed process's output: its ``error:`` line, else the
    last."""
    for line in reversed(tail):
        if line.startswith("error:") or "Error" in line.split(":", 1)[0]:
            return line.strip()
    return tail[-1].strip() if tail else "(no output)"


def record_training_failure(member: Member, returncode: int, tail: Sequence[str]) -> str:
    """Write ``member``'s ``FAILED`` marker (reason, step, message) after its training process
    ended with ``returncode``, unless the trainer wrote one already; returns the reason."""
    run = member.run_dir
    if layout.failed_path(run).is_file():
        return "training failed"
    reason = f"training exited with status {returncode}"
    run.mkdir(parents=True, exist_ok=True)
    atomic_write_json(layout.failed_path(run), {
        "reason": reason, "step": checkpoint_batches(run) or 0, "message": _reason(tail)})
    return reason


def clear_failure(member: Member) -> None:
    """Remove ``member``'s failure markers (``--retry-failed``): the next training resumes
    from the last good checkpoint, or starts over without one; a failed evaluation runs
    again."""
    layout.failed_path(member.run_dir).unlink(missing_ok=True)
    layout.evaluation_failed_path(member.run_dir).unlink(missing_ok=True)


def train_member(member: Member, *, env: Mapping[str, str] | None,
                 output: Output) -> Outcome:
    """Train (or resume) ``member`` in a ``jlonevae-train`` process."""
    returncode, tail = stream(train_command(member), env=env, output=output)
    if returncode == 0 and layout.is_finished(member.run_dir):
        return Outcome(member, "trained")
    if returncode in STOPPED_EXITS:
        return Outcome(member, "interrupted", f"stopped (exit status {returncode}); the next "
                                              "run resumes it from its checkpoint")
    holder = lock_holder(member.run_dir)
    if holder is not None and holder.alive and not layout.failed_path(member.run_dir).is_file():
        return Outcome(member, "busy", f"another process ({holder.purpose}, pid {holder.pid} "
                                       f"on {holder.host}) holds the run")
    reason = record_training_failure(member, returncode, tail)
    return Outcome(member, "failed", f"{reason}: {_reason(tail)}")


def evaluate_member(member: Member, metrics: Sequence[str], metric_names: Sequence[str], *,
                    only_dataset: str | None, overwrite: bool, env: Mapping[str, str] | None,
                    output: Output) -> Outcome:
    """Compute ``member``'s metrics in a ``jlonevae-evaluate`` process."""
    command = evaluate_command(member, metrics, only_dataset=only_dataset, overwrite=overwrite)
    returncode, tail = stream(command, env=env, output=output)
    missing = missing_metrics(member.run_dir, metric_names)
    marker = layout.evaluation_failed_path(member.run_dir)
    if returncode == 0 and not missing:
        marker.unlink(missing_ok=True)
        return Outcome(member, "done")
    if returncode in STOPPED_EXITS:
        return Outcome(member, "interrupted", f"evaluation stopped (exit status {returncode})")
    why = _reason(tail) if returncode else f"no results for {', '.join(missing)}"
    reason = f"evaluation exited with status {returncode}"
    # Written so that status and later runs see it: not retried without --retry-failed.
    atomic_write_json(marker, {"reason": reason, "metrics": missing, "message": why})
    return Outcome(member, "evaluation failed", f"{reason}: {why}")


def run_member(decision: Decision, *, metrics: Sequence[str], metric_names: Sequence[str],
               only_dataset: str | None = None, overwrite: bool = False,
               env: Mapping[str, str] | None = None, output: Output = print) -> Outcome:
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
                                  overwrite=overwrite, env=env, output=output)
    return outcome


def run_summary(plan: StudyPlan, *, env: Mapping[str, str] | None = None,
                output: Output = print) -> bool:
    """Run the study's summary steps; False when a required one failed (an optional one, a
    figure with nothing to draw yet, is reported and skipped)."""
    ok = True
    for step in plan.summary_steps():
        output(f"== summary: {' '.join(step.argv[2:5])} ...")
        returncode, tail = stream(step.argv, env=env, output=output, cwd=step.cwd)
        if returncode != 0:
            output(f"note: summary step {' '.join(step.argv[2:4])} failed "
                   f"(exit status {returncode}): {_reason(tail)}")
            ok = ok and not step.required
    return ok
