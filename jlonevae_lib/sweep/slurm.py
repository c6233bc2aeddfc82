"""The Slurm backend: a study's training runs as one job array, its evaluation as a job that
waits for the array, both through submitit.

Each array task runs one member's ``jlonevae-train`` in a child process (:class:`TrainTask`),
its output teed to the task's log and the run's ``sweep_logs/train.log``. How the child ended
is judged by :func:`.exits.classify_exit`, as the local backend judges it:

- finished: the task returns;
- stopped (preemption, ``scontrol requeue`` or ``scancel``: every process of the task gets
  SIGTERM, the trainer checkpoints and exits 143): the task writes nothing and waits, however
  long, for the SIGKILL that follows (submitit would otherwise record an error and call the task
  done, and a ``FAILED`` marker would stop the requeued task), and Slurm starts it again later
  with the same pickled member, which resumes from the checkpoint. A trainer SIGKILLed alone
  (out of memory, most likely) while its task lives on is counted by ``classify_exit`` (a third
  kill at one checkpoint fails the run) and the task requeues itself;
- busy (another live process holds the run's lock): the task returns saying so; nothing is
  marked;
- diverged or failed: ``classify_exit`` wrote the ``FAILED`` marker; the task raises with its
  reason.

The time limit: ``--signal USR2@delay`` reaches the task; submitit calls
:meth:`TrainTask.checkpoint`, which stops the trainer with SIGTERM (it checkpoints), waits for
it at most :func:`stop_wait_s` (then SIGKILLs it) and hands submitit a fresh task to requeue.
The child ignores USR2 (it would die of it), and the task ignores SIGTERM from then on: Slurm's
own SIGTERM of the requeue could otherwise kill submitit's ``scontrol requeue`` halfway.

The evaluation job (:class:`EvaluateTask`) depends on the whole array with ``afterany``: it
runs once every task has ended, whatever their outcomes, evaluates every trained member, runs
the summary and names the diverged and failed members in its output and its result. It is
checkpointable in the same way (a time limit requeues it; its evaluations are idempotent, so
the requeued job does only what is missing).

Each submission is recorded in the study's ledger (:mod:`.ledger`), so that a second
``jlonevae-sweep run`` submits no member whose task is still queued or running. Otherwise state
is read from the run folders (:mod:`.status`), as for the local backend.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import submitit

from jlonevae_lib.runs import layout
from jlonevae_lib.sweep import exits
from jlonevae_lib.sweep.ledger import array_job_id
from jlonevae_lib.sweep.members import Member, train_command
from jlonevae_lib.sweep.runner import (
    EVALUATE,
    SUMMARY,
    TRAIN,
    Decision,
    clear_failure,
    evaluate_member,
    run_summary,
    stream,
)
from jlonevae_lib.sweep.status import DONE, FAILED, TRAINED, MemberStatus, study_status
from jlonevae_lib.sweep.studies import StudyPlan
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.exit_status import KILLED
from jlonevae_lib.utils.lock import slurm_ids
from jlonevae_lib.utils.threads import with_thread_count

__all__ = ["EvaluateTask", "SlurmOptions", "Submission", "TrainTask", "submit",
           "submission_folder", "stop_wait_s"]

#: Of the time-limit signal's delay, what is kept for submitit's own requeue after the child
#: process has stopped (at most; never more than half the delay).
REQUEUE_MARGIN_S = 15
#: How long a task whose trainer was SIGKILLed alone waits before it requeues itself: were the
#: kill Slurm's own (it kills every process of the task), the task is gone by then.
KILL_SETTLE_S = 5
#: The reason the trainer writes in ``FAILED`` when the loss diverged.
DIVERGED_REASON = "non-finite loss"


def stop_wait_s(signal_delay_s: int) -> int:
    """How long :meth:`TrainTask.checkpoint` (and :meth:`EvaluateTask.checkpoint`) wait for the
    child to stop after its SIGTERM before they SIGKILL it: the signal's delay less
    :data:`REQUEUE_MARGIN_S` (or half the delay, for a short one)."""
    return max(1, signal_delay_s - min(REQUEUE_MARGIN_S, signal_delay_s // 2))


@dataclass(frozen=True)
class SlurmOptions:
    """The resources of each training task (the evaluation job gets the same partition, CPUs
    and memory, no GPU unless ``gpus`` is set)."""

    partition: str | None = None
    time_min: int = 24 * 60
    evaluate_time_min: int = 12 * 60
    gpus: int = 0
    cpus: int = 1
    mem_gb: float | None = None
    #: At most this many array tasks at once (None: as many as Slurm gives).
    array_parallelism: int | None = None
    #: USR2 this many seconds before the time limit (it may come up to 60 s earlier still).
    signal_delay_s: int = 120
    #: Requeues after a time limit before submitit gives up on a task.
    max_requeues: int = 20

    def __post_init__(self) -> None:
        for name in ("cpus", "time_min", "evaluate_time_min", "signal_delay_s"):
            if getattr(self, name) < 1:
                raise JLoneVAEError(f"{name} must be >= 1, got {getattr(self, name)}")
        for flag, minutes in (("--time", self.time_min),
                              ("--evaluate-time", self.evaluate_time_min)):
            if minutes * 60 <= self.signal_delay_s + 60:
                raise JLoneVAEError(f"{flag} {minutes} min leaves no room for the checkpoint "
                                    f"signal {self.signal_delay_s} s before the limit (which "
                                    f"may come 60 s early): give a longer {flag}")


def _ignore_usr2() -> None:
    # In a child before it runs: USR2 is the time-limit warning meant for the task (submitit
    # handles it), and by default it kills a process.
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)


def _ignore_sigterm() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _print(line: str) -> None:
    print(line, flush=True)


def _wait_for_the_kill(why: str) -> NoReturn:
    """Wait for Slurm's SIGKILL, however long its grace time: the task was stopped from outside
    (requeue, preemption, cancel), and any result or error written now would be wrong. A
    time-limit signal meanwhile still requeues the task (:meth:`TrainTask.checkpoint`)."""
    print(f"{why}; waiting for Slurm to end this task (it is requeued or cancelled)",
          flush=True)
    while True:
        time.sleep(60)


def _stop_child(proc: subprocess.Popen | None, wait_s: float) -> int | None:
    """SIGTERM ``proc``, wait for it at most ``wait_s`` seconds, SIGKILL it then; its exit
    status (None: none left to stop, or reaped elsewhere). Polls: the main thread may be
    inside ``proc``'s own wait, holding its lock."""
    if proc is None or proc.returncode is not None:
        return None if proc is None else proc.returncode
    for sig, limit in ((signal.SIGTERM, wait_s), (signal.SIGKILL, 10.0)):
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + limit
        while True:
            try:
                pid, status = os.waitpid(proc.pid, os.WNOHANG)
            except ChildProcessError:
                return proc.returncode
            if pid:
                return os.waitstatus_to_exitcode(status)
            if time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        if sig == signal.SIGTERM:
            print(f"the child process {proc.pid} did not stop within {wait_s:.0f} s of its "
                  "SIGTERM: killing it", flush=True)
    return None


def _this_task() -> str | None:
    """The running job's own id (an array task's too), as scontrol takes it; the array ids
    name it only without one (a job submitted from an array task inherits the task's)."""
    ids = slurm_ids()
    if ids["slurm_job_id"]:
        return ids["slurm_job_id"]
    if ids["slurm_array_job_id"] and ids["slurm_array_task_id"]:
        return f"{ids['slurm_array_job_id']}_{ids['slurm_array_task_id']}"
    return None


class _Child:
    """A child process run by :func:`.runner.stream` in a thread of its own: its output is
    teed (task log, run log) by that thread, so the task's main thread, where submitit's
    signal handler runs, stays free, and the child's last lines are read even while that
    handler stops it."""

    def __init__(self, command: Sequence[str], env: dict[str, str], log: Path) -> None:
        self.proc: subprocess.Popen | None = None
        self.result: tuple[int, list[str]] | None = None
        self.error: BaseException | None = None
        self._started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(command, env, log),
                                       name="child output", daemon=True)
        self.thread.start()

    def _run(self, command: Sequence[str], env: dict[str, str], log: Path) -> None:
        try:
            self.result = stream(command, env=env, output=_print, log=log,
                                 preexec_fn=_ignore_usr2, started=self._on_start)
        except BaseException as err:  # noqa: BLE001 - handed to the main thread
            self.error = err
        finally:
            self._started.set()

    def _on_start(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self._started.set()

    def wait(self) -> tuple[int, list[str]]:
        """(exit status, last lines) once the child has ended and its output is read."""
        while self.thread.is_alive():
            self.thread.join(timeout=1.0)  # short: a signal handler runs between the joins
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result

    def stop(self, wait_s: float) -> tuple[int, list[str]] | None:
        """SIGTERM the child, wait for it at most ``wait_s`` seconds, SIGKILL it then; its
        (exit status, last lines), None if it could not be seen to end."""
        self._started.wait(timeout=10)
        for sig, limit in ((signal.SIGTERM, wait_s), (signal.SIGKILL, 10.0)):
            if not self.thread.is_alive():
                break
            if self.proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, sig)
            self.thread.join(timeout=limit)
            if self.thread.is_alive() and sig == signal.SIGTERM:
                print(f"the child process did not stop within {wait_s:.0f} s of its SIGTERM: "
                      "killing it", flush=True)
        return None if self.thread.is_alive() else self.result


class TrainTask(submitit.helpers.Checkpointable):
    """One array task: train one member in a child process (see the module's docstring)."""

    # Class defaults: a task pickled by an earlier version (with kill_wait_s) still runs.
    stop_wait_s: float = 105.0
    _child: _Child | None = None

    def __init__(self, threads: int, stop_wait_s: float = 105.0) -> None:
        self.threads = threads
        self.stop_wait_s = stop_wait_s
        self._child: _Child | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_child": None}  # a process is not carried into a requeue

    def __call__(self, member: Member) -> str:
        env = with_thread_count(os.environ, self.threads)
        print(f"member {member.index} ({member.label}): {member.run_dir}; restart "
              f"{slurm_ids()['slurm_restart_count'] or '0'}", flush=True)
        log = layout.sweep_log_path(member.run_dir, TRAIN)
        self._child = _Child(train_command(member), env, log)
        returncode, tail = self._child.wait()
        verdict = exits.classify_exit(member.run_dir, returncode, tail, log)
        what = f"member {member.index} ({member.label})"
        print(f"{what}: {verdict.verdict}: {verdict.detail}", flush=True)
        if verdict.verdict == exits.FINISHED:
            return str(member.run_dir)
        if verdict.verdict == exits.BUSY:
            return f"{what} is busy: {verdict.detail}"
        if verdict.verdict == exits.STOPPED:
            if returncode == KILLED:
                self._requeue_after_kill()
            _wait_for_the_kill(f"{what}: training stopped (exit status {returncode})")
        raise RuntimeError(f"{what} {verdict.verdict}: {verdict.detail}")

    @staticmethod
    def _requeue_after_kill() -> None:
        """The trainer alone was SIGKILLed (the kernel's out-of-memory killer, or a person):
        requeue this task, so the member resumes (a kill by Slurm ends the task before)."""
        time.sleep(KILL_SETTLE_S)
        job = _this_task()
        if job is None:
            raise RuntimeError("the trainer was killed and this task cannot requeue itself (no "
                               "SLURM_JOB_ID); run the study again to resume it")
        done = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True,
                              timeout=60, preexec_fn=_ignore_sigterm)
        if done.returncode != 0:
            raise RuntimeError(f"the trainer was killed and scontrol requeue {job} failed: "
                               f"{done.stderr.strip()}; run the study again to resume it")
        print(f"requeued {job}", flush=True)

    def checkpoint(self, member: Member) -> submitit.helpers.DelayedSubmission:
        """Called by submitit on the time-limit signal: stop the trainer (it checkpoints; it
        is killed after :attr:`stop_wait_s`), judge its exit, and requeue a fresh task for the
        same member."""
        child = self._child
        if child is not None and child.thread.is_alive():
            ended = child.stop(self.stop_wait_s)
            if ended is not None:
                log = layout.sweep_log_path(member.run_dir, TRAIN)
                verdict = exits.classify_exit(member.run_dir, ended[0], ended[1], log)
                print(f"member {member.index} ({member.label}) at the time limit: "
                      f"{verdict.verdict}: {verdict.detail}", flush=True)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # shield submitit's own requeue
        return submitit.helpers.DelayedSubmission(TrainTask(self.threads, self.stop_wait_s),
                                                  member)


def _training_failure(status: MemberStatus) -> str | None:
    """``diverged`` or ``failed`` for a member whose training failed, else None."""
    if status.state != FAILED or status.evaluation_failed:
        return None
    try:
        reason = layout.read_json_object(layout.failed_path(status.member.run_dir)).get("reason")
    except Exception:  # noqa: BLE001 - an unreadable marker is a failure all the same
        reason = None
    return "diverged" if reason == DIVERGED_REASON else "failed"


class EvaluateTask(submitit.helpers.Checkpointable):
    """The job after the array: evaluate every trained member, then the study's summary; name
    the members that diverged, failed or are not trained (see the module's docstring)."""

    def __init__(self, threads: int, stages: Sequence[str], overwrite: bool,
                 stop_wait_s: float = 105.0) -> None:
        self.threads = threads
        self.stages = tuple(stages)
        self.overwrite = overwrite
        self.stop_wait_s = stop_wait_s
        #: Members this job evaluated already (carried into a time-limit requeue, so that
        #: ``overwrite`` does not redo them).
        self.evaluated: set[int] = set()
        self._proc: subprocess.Popen | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_proc": None}

    def _started(self, proc: subprocess.Popen) -> None:
        self._proc = proc

    def __call__(self, plan: StudyPlan, metric_names: Sequence[str]) -> dict[str, Any]:
        env = with_thread_count(os.environ, self.threads)
        evaluation_failures: list[str] = []
        if EVALUATE in self.stages and plan.metrics:
            for status in study_status(plan.members, metric_names):
                member = status.member
                if member.index in self.evaluated or not (
                        status.state == TRAINED or (self.overwrite and status.state == DONE)):
                    continue
                outcome = evaluate_member(
                    member, plan.metrics, metric_names,
                    only_dataset=plan.study.only_dataset, overwrite=self.overwrite, env=env,
                    output=lambda line, i=member.index: print(f"[{i}] {line}", flush=True),
                    kept_metrics=plan.kept_metrics, preexec_fn=_ignore_usr2,
                    started=self._started)
                print(f"[{member.index}] {outcome.result} {outcome.detail}", flush=True)
                if outcome.result == "interrupted":
                    _wait_for_the_kill(f"[{member.index}] evaluation stopped")
                if outcome.result != "busy":  # busy: another job evaluates it
                    self.evaluated.add(member.index)
                if not outcome.ok and outcome.result != "busy":
                    evaluation_failures.append(f"[{member.index}] {member.label}")
        summary_ok = True
        if SUMMARY in self.stages:
            summary_ok = run_summary(plan, env=env, output=_print, preexec_fn=_ignore_usr2,
                                     started=self._started)
        report = self._report(study_status(plan.members, metric_names))
        report["evaluated"] = len(self.evaluated)
        if evaluation_failures or not summary_ok:
            raise RuntimeError(
                (f"{len(evaluation_failures)} evaluations failed: "
                 f"{', '.join(evaluation_failures)}" if evaluation_failures else "")
                + ("; " if evaluation_failures and not summary_ok else "")
                + ("the summary failed" if not summary_ok else ""))
        return report

    @staticmethod
    def _report(statuses: Sequence[MemberStatus]) -> dict[str, Any]:
        """Print and return the members that did not end trained and evaluated: diverged and
        failed training (by name, with the reason), failed evaluations, not trained."""
        report: dict[str, Any] = {"done": 0, "diverged": [], "failed": [], "not_trained": []}
        for status in statuses:
            member = status.member
            name = f"[{member.index}] {member.label}"
            kind = _training_failure(status)
            if kind is not None:
                report[kind].append(f"{name}: {status.detail}")
            elif status.state == FAILED:
                report["failed"].append(f"{name}: evaluation: {status.detail}")
            elif status.state in (DONE, TRAINED):
                report["done"] += status.state == DONE
            else:
                report["not_trained"].append(f"{name}: {status.state} {status.detail}".strip())
        print(f"== {report['done']} of {len(statuses)} members trained and evaluated", flush=True)
        for kind in ("diverged", "failed", "not_trained"):
            for line in report[kind]:
                print(f"   {kind.replace('_', ' ')}: {line}", flush=True)
        return report

    def checkpoint(self, plan: StudyPlan,
                   metric_names: Sequence[str]) -> submitit.helpers.DelayedSubmission:
        """On the time-limit signal: stop the current evaluation or summary process (killed
        after :attr:`stop_wait_s`) and requeue this job; it redoes only what is missing."""
        _stop_child(self._proc, self.stop_wait_s)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # shield submitit's own requeue
        task = EvaluateTask(self.threads, self.stages, self.overwrite, self.stop_wait_s)
        task.evaluated = set(self.evaluated)
        return submitit.helpers.DelayedSubmission(task, plan, list(metric_names))


@dataclass(frozen=True)
class Submission:
    folder: Path
    train_jobs: tuple[Any, ...]
    evaluate_job: Any | None
    #: The members trained by ``train_jobs``, in the same order.
    trained: tuple[Member, ...] = ()
    #: Why no evaluation job was submitted although one was wanted (or "").
    evaluation_note: str = ""

    @property
    def array_id(self) -> str | None:
        return array_job_id(self.train_jobs[0].job_id) if self.train_jobs else None

    @property
    def tasks(self) -> tuple[tuple[Member, str], ...]:
        """Each trained member with its array task's job id (``12_3``)."""
        return tuple((member, job.job_id)
                     for member, job in zip(self.trained, self.train_jobs, strict=True))


def submission_folder(plan: StudyPlan, now: datetime.datetime | None = None) -> Path:
    """A fresh submitit folder for one submission: a new cluster reuses job ids, and submitit
    must never read an earlier submission's results as this one's."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    stamp = now.strftime("%Y%m%dT%H%M%S.%fZ")
    return layout.sweep_dir(plan.output_dir, plan.study.name) / layout.SUBMITIT_DIR / stamp


def _resources(options: SlurmOptions, gpus: int, time_min: int) -> dict[str, Any]:
    params: dict[str, Any] = {"timeout_min": time_min, "cpus_per_task": options.cpus,
                              "tasks_per_node": 1, "nodes": 1}
    if options.partition:
        params["slurm_partition"] = options.partition
    if gpus:
        params["gpus_per_node"] = gpus
    if options.mem_gb is not None:
        params["mem_gb"] = options.mem_gb
    return params


def submit(plan: StudyPlan, decisions: Sequence[Decision], options: SlurmOptions, *,
           stages: Sequence[str], metric_names: Sequence[str], overwrite: bool = False,
           folder: Path | None = None, evaluation_queued: str | None = None) -> Submission:
    """Submit the members that need training as one array, and the evaluation and summary as
    a job that runs when every task of the array has ended, whatever its outcome (at once, if
    nothing needs training).

    ``evaluation_queued``: an earlier evaluation job of the same metrics and stages that is
    still queued (its id): it evaluates every trained member when it runs, so no other is
    submitted unless members are trained now."""
    folder = folder or submission_folder(plan)
    to_train = [d for d in decisions if TRAIN in d.steps]
    for decision in decisions:  # a failed evaluation is retried by the evaluation job
        if decision.retry:
            clear_failure(decision.member)
    train_jobs: list[Any] = []
    wait_s = stop_wait_s(options.signal_delay_s)
    if to_train:
        executor = submitit.AutoExecutor(folder=folder / "%j", cluster="slurm",
                                         slurm_max_num_timeout=options.max_requeues)
        executor.update_parameters(name=f"{plan.study.name}-train",
                                   slurm_signal_delay_s=options.signal_delay_s,
                                   **_resources(options, options.gpus, options.time_min))
        if options.array_parallelism:
            executor.update_parameters(slurm_array_parallelism=options.array_parallelism)
        train_jobs = executor.map_array(TrainTask(options.cpus, wait_s),
                                        [d.member for d in to_train])
    needs_evaluation = EVALUATE in stages and plan.metrics and any(
        d.steps for d in decisions if EVALUATE in d.steps)
    wanted = bool(needs_evaluation or (SUMMARY in stages and plan.summary_commands()))
    evaluate_job = None
    note = ""
    if wanted and evaluation_queued and not train_jobs:
        note = (f"evaluation job {evaluation_queued} is still queued: it evaluates every "
                "trained member (and runs the summary) when it starts")
    elif wanted:
        executor = submitit.AutoExecutor(folder=folder / "%j", cluster="slurm",
                                         slurm_max_num_timeout=options.max_requeues)
        executor.update_parameters(name=f"{plan.study.name}-evaluate",
                                   slurm_signal_delay_s=options.signal_delay_s,
                                   **_resources(options, options.gpus,
                                                options.evaluate_time_min))
        if train_jobs:
            array_id = array_job_id(train_jobs[0].job_id)
            # afterany: evaluate whatever was trained, even when a member diverged or failed
            # (afterok would cancel the job, or leave it pending forever).
            executor.update_parameters(slurm_dependency=f"afterany:{array_id}")
        evaluate_job = executor.submit(EvaluateTask(options.cpus, stages, overwrite, wait_s),
                                       plan, list(metric_names))
    return Submission(folder=folder, train_jobs=tuple(train_jobs), evaluate_job=evaluate_job,
                      trained=tuple(d.member for d in to_train), evaluation_note=note)
