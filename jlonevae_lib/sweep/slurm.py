"""The Slurm backend: a study's training runs as one job array, its evaluation as a job that
waits for the array, both through submitit.

Each array task runs one member's ``jlonevae-train`` in a child process (:class:`TrainTask`).
Slurm stops a task in two ways, and both end in a resumed run:

- preemption, ``scontrol requeue`` or ``scancel``: every process of the task gets SIGTERM; the
  trainer checkpoints and exits 143, the task then waits for the SIGKILL that follows instead
  of reporting an error (submitit would record one, and call the task done), and Slurm starts
  it again later with the same pickled member, which resumes from the checkpoint;
- the time limit: ``--signal USR2@delay`` reaches the task; submitit calls
  :meth:`TrainTask.checkpoint`, which stops the trainer with SIGTERM (it checkpoints) and hands
  submitit a fresh task to requeue. The child ignores USR2 (it would die of it), and the task
  ignores SIGTERM from then on: Slurm's own SIGTERM of the requeue could otherwise kill
  submitit's ``scontrol requeue`` halfway.

The evaluation job (:class:`EvaluateTask`) depends on the whole array with ``afterok`` and
``kill-on-invalid-dep``: a failed member cancels it rather than leaving it pending forever;
``jlonevae-sweep run`` again then submits only what is left. State is read from the run folders
(:mod:`.status`), as for the local backend: Slurm's and submitit's own records are not needed
to know where a study stands.
"""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import submitit

from jlonevae_lib.sweep.members import Member, train_command
from jlonevae_lib.sweep.runner import (
    EVALUATE,
    SUMMARY,
    TRAIN,
    Decision,
    clear_failure,
    evaluate_member,
    record_training_failure,
    run_summary,
)
from jlonevae_lib.sweep.status import TRAINED, study_status
from jlonevae_lib.sweep.studies import StudyPlan
from jlonevae_lib.utils.errors import JLoneVAEError

#: Where a study's submitit folders go, under the members' output_dir.
SWEEPS_DIR = "sweeps"


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
    #: How long a task that its trainer left with exit 143 waits for Slurm's SIGKILL.
    kill_wait_s: int = 300

    def __post_init__(self) -> None:
        if self.time_min * 60 <= self.signal_delay_s + 60:
            raise JLoneVAEError(f"--time {self.time_min} min leaves no room for the checkpoint "
                                f"signal {self.signal_delay_s} s before the limit (which may "
                                "come 60 s early): give a longer --time")
        for name in ("cpus", "time_min", "evaluate_time_min"):
            if getattr(self, name) < 1:
                raise JLoneVAEError(f"{name} must be >= 1, got {getattr(self, name)}")


def _ignore_usr2() -> None:
    # In the child before it runs the trainer: USR2 is the time-limit warning meant for the
    # task, and by default it kills a process.
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)


class TrainTask(submitit.helpers.Checkpointable):
    """One array task: train one member in a child process (see the module's docstring)."""

    def __init__(self, threads: int, kill_wait_s: int) -> None:
        self.threads = threads
        self.kill_wait_s = kill_wait_s
        self._proc: subprocess.Popen | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_proc": None}  # a process is not carried into a requeue

    def __call__(self, member: Member) -> str:
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads),
               "MKL_NUM_THREADS": str(self.threads)}
        print(f"member {member.index} ({member.label}): {member.run_dir}; restart "
              f"{os.environ.get('SLURM_RESTART_COUNT', '0')}", flush=True)
        self._proc = subprocess.Popen(train_command(member), env=env, preexec_fn=_ignore_usr2)
        returncode = self._proc.wait()
        if returncode == 143:
            # Slurm's SIGTERM (requeue, preemption, scancel): the trainer saved its checkpoint.
            # Report nothing; the SIGKILL that follows ends this task, which Slurm requeues.
            time.sleep(self.kill_wait_s)
        if returncode != 0:
            reason = record_training_failure(member, returncode, [])
            raise RuntimeError(f"member {member.index} ({member.label}): {reason}")
        return str(member.run_dir)

    def checkpoint(self, member: Member) -> submitit.helpers.DelayedSubmission:
        """Called by submitit on the time-limit signal: stop the trainer (it checkpoints) and
        requeue a fresh task for the same member."""
        proc = self._proc
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                # Not proc.wait(): __call__ is inside it, holding its lock.
                os.waitpid(proc.pid, 0)
            except ChildProcessError:
                pass
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # shield submitit's own requeue
        return submitit.helpers.DelayedSubmission(TrainTask(self.threads, self.kill_wait_s),
                                                  member)


class EvaluateTask:
    """The job after the array: evaluate every trained member, then the study's summary."""

    def __init__(self, threads: int, stages: Sequence[str], overwrite: bool) -> None:
        self.threads = threads
        self.stages = tuple(stages)
        self.overwrite = overwrite

    def __call__(self, plan: StudyPlan, metric_names: Sequence[str]) -> dict[str, int]:
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads),
               "MKL_NUM_THREADS": str(self.threads)}
        failures = 0
        evaluated = 0
        if EVALUATE in self.stages and plan.metrics:
            for status in study_status(plan.members, metric_names):
                if status.state != TRAINED and not (self.overwrite and status.state == "done"):
                    continue
                outcome = evaluate_member(
                    status.member, plan.metrics, metric_names,
                    only_dataset=plan.study.only_dataset, overwrite=self.overwrite, env=env,
                    output=lambda line, i=status.member.index: print(f"[{i}] {line}",
                                                                      flush=True))
                evaluated += 1
                failures += not outcome.ok
                print(f"[{status.member.index}] {outcome.result} {outcome.detail}", flush=True)
        summary_ok = True
        if SUMMARY in self.stages:
            summary_ok = run_summary(plan, env=env, output=lambda line: print(line, flush=True))
        if failures or not summary_ok:
            raise RuntimeError(f"{failures} of {evaluated} evaluations failed"
                               + ("; the summary failed" if not summary_ok else ""))
        return {"evaluated": evaluated}


@dataclass(frozen=True)
class Submission:
    folder: Path
    train_jobs: tuple[Any, ...]
    evaluate_job: Any | None

    @property
    def array_id(self) -> str | None:
        return self.train_jobs[0].job_id.split("_")[0] if self.train_jobs else None


def submission_folder(plan: StudyPlan, now: datetime.datetime | None = None) -> Path:
    """A fresh submitit folder for one submission: a new cluster reuses job ids, and submitit
    must never read an earlier submission's results as this one's."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    stamp = now.strftime("%Y%m%dT%H%M%S.%fZ")
    return plan.output_dir.resolve() / SWEEPS_DIR / plan.study.name / "submitit" / stamp


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
           folder: Path | None = None) -> Submission:
    """Submit the members that need training as one array, and the evaluation and summary as
    a job that runs when the whole array has succeeded (at once, if nothing needs training)."""
    folder = folder or submission_folder(plan)
    to_train = [d for d in decisions if TRAIN in d.steps]
    for decision in decisions:  # a failed evaluation is retried by the evaluation job
        if decision.retry:
            clear_failure(decision.member)
    train_jobs: list[Any] = []
    if to_train:
        executor = submitit.AutoExecutor(folder=folder / "%j", cluster="slurm",
                                         slurm_max_num_timeout=options.max_requeues)
        executor.update_parameters(name=f"{plan.study.name}-train",
                                   slurm_signal_delay_s=options.signal_delay_s,
                                   **_resources(options, options.gpus, options.time_min))
        if options.array_parallelism:
            executor.update_parameters(slurm_array_parallelism=options.array_parallelism)
        task = TrainTask(options.cpus, options.kill_wait_s)
        train_jobs = executor.map_array(task, [d.member for d in to_train])
    needs_evaluation = EVALUATE in stages and plan.metrics and any(
        d.steps for d in decisions if EVALUATE in d.steps)
    evaluate_job = None
    if needs_evaluation or (SUMMARY in stages and plan.summary_steps()):
        executor = submitit.AutoExecutor(folder=folder / "%j", cluster="slurm")
        executor.update_parameters(name=f"{plan.study.name}-evaluate",
                                   **_resources(options, options.gpus,
                                                options.evaluate_time_min))
        if train_jobs:
            array_id = train_jobs[0].job_id.split("_")[0]
            # Without kill-on-invalid-dep a failed task leaves this job pending forever.
            executor.update_parameters(slurm_dependency=f"afterok:{array_id}",
                                       slurm_additional_parameters={
                                           "kill-on-invalid-dep": "yes"})
        evaluate_job = executor.submit(EvaluateTask(options.cpus, stages, overwrite), plan,
                                       list(metric_names))
    return Submission(folder=folder, train_jobs=tuple(train_jobs), evaluate_job=evaluate_job)
