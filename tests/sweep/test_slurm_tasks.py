"""The Slurm backend's tasks without a cluster: :class:`TrainTask` judges its training child's
exit with :func:`jlonevae_lib.sweep.exits.classify_exit` (real child processes stand in for
``jlonevae-train``), its time-limit checkpoint waits for the child only so long, and the
evaluation job names the diverged and failed members."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jlonevae_lib.runs import layout
from jlonevae_lib.sweep import slurm
from jlonevae_lib.sweep.members import Member
from jlonevae_lib.sweep.slurm import EvaluateTask, SlurmOptions, TrainTask, stop_wait_s
from jlonevae_lib.sweep.status import study_status
from jlonevae_lib.sweep.studies import get_study, plan_study
from jlonevae_lib.utils.atomic import atomic_write_json
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.exit_status import EXIT_BUSY, EXIT_DIVERGED, EXIT_SIGTERM


def members(tmp_path: Path, seeds: tuple[int, ...] = (1,)) -> tuple[Member, ...]:
    return plan_study(get_study("cpu_study"),
                      overrides={"output_dir": str(tmp_path), "num_batches": 10,
                                 "device": "cpu"},
                      axes={"seed": seeds, "gamma": (0.0,)}).members


class WaitedForTheKill(Exception):
    """Raised in place of the endless wait for Slurm's SIGKILL."""


@pytest.fixture
def task_with_child(monkeypatch, tmp_path: Path):
    """(a TrainTask whose 'training' is the Python ``code`` given, its member, a record of the
    task's calls to requeue itself)."""
    calls: list[str] = []

    def wait(why: str):
        calls.append(f"wait: {why}")
        raise WaitedForTheKill(why)

    monkeypatch.setattr(slurm, "_wait_for_the_kill", wait)
    monkeypatch.setattr(TrainTask, "_requeue_after_kill", staticmethod(
        lambda: calls.append("requeue")))
    (member,) = members(tmp_path)

    def make(code: str) -> TrainTask:
        monkeypatch.setattr(slurm, "train_command", lambda m: [sys.executable, "-c", code])
        return TrainTask(threads=1, stop_wait_s=2)

    return make, member, calls


def _child_writing(path: Path, content: dict, then: str) -> str:
    return (f"import json, pathlib, sys\np = pathlib.Path({str(path)!r})\n"
            "p.parent.mkdir(parents=True, exist_ok=True)\n"
            f"p.write_text(json.dumps({content!r}))\n{then}\n")


def test_a_finished_run_returns_its_folder(task_with_child) -> None:
    make, member, calls = task_with_child
    task = make(_child_writing(layout.done_path(member.run_dir), {"num_batches": 10},
                               "print('Trained 10 batches.')"))
    assert task(member) == str(member.run_dir)
    assert not layout.failed_path(member.run_dir).exists() and calls == []
    # The child's output is teed to the run's own log as well as to the task's.
    assert "Trained 10 batches." in layout.sweep_log_path(member.run_dir, "train").read_text()


def test_busy_returns_saying_so_and_marks_nothing(task_with_child) -> None:
    make, member, calls = task_with_child
    task = make(f"print('error: {member.run_dir} is in training by process 7 on n1')\n"
                f"raise SystemExit({EXIT_BUSY})")
    result = task(member)
    assert "busy" in result and "in training by process 7" in result
    assert not layout.failed_path(member.run_dir).exists() and calls == []


def test_a_diverged_run_raises_with_the_trainers_reason(task_with_child) -> None:
    make, member, calls = task_with_child
    marker = {"reason": "non-finite loss", "step": 4, "message": "the loss became nan"}
    task = make(_child_writing(layout.failed_path(member.run_dir), marker,
                               f"print('error: the loss became nan')\nsys.exit({EXIT_DIVERGED})"))
    with pytest.raises(RuntimeError, match="diverged: the loss diverged: the loss became"):
        task(member)
    assert json.loads(layout.failed_path(member.run_dir).read_text()) == marker
    assert calls == []


def test_a_crash_raises_and_is_marked_failed_with_its_log(task_with_child) -> None:
    make, member, calls = task_with_child
    task = make("print('loading', flush=True)\nraise RuntimeError('no data in /x')")
    with pytest.raises(RuntimeError, match="failed: training exited with status 1: "
                                           "RuntimeError: no data in /x"):
        task(member)
    marker = json.loads(layout.failed_path(member.run_dir).read_text())
    assert marker["reason"] == "training exited with status 1"
    log = layout.sweep_log_path(member.run_dir, "train")
    assert marker["log"] == str(log) and "RuntimeError: no data in /x" in log.read_text()
    assert calls == []


def test_a_stopped_trainer_waits_for_the_kill_and_writes_no_verdict(task_with_child) -> None:
    """Exit 143 (Slurm's SIGTERM handled: checkpoint saved): no FAILED, no result, whatever the
    grace time — the task waits until Slurm kills it (the old 300 s sleep then FAILED)."""
    make, member, calls = task_with_child
    task = make(f"print('stopped by a signal at batch 4', flush=True)\n"
                f"raise SystemExit({EXIT_SIGTERM})")
    with pytest.raises(WaitedForTheKill):
        task(member)
    assert calls == [f"wait: member 0 ({member.label}): training stopped (exit status 143)"]
    assert not layout.failed_path(member.run_dir).exists()


def test_a_trainer_killed_alone_requeues_its_task(task_with_child) -> None:
    """SIGKILL of the child only (out of memory): counted, the task requeues itself and waits."""
    make, member, calls = task_with_child
    task = make("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    with pytest.raises(WaitedForTheKill):
        task(member)
    assert calls[0] == "requeue" and calls[1].startswith("wait: ")
    assert json.loads(layout.killed_path(member.run_dir).read_text())["count"] == 1
    assert not layout.failed_path(member.run_dir).exists()


def test_the_real_wait_for_the_kill_outlasts_any_grace_time(tmp_path: Path) -> None:
    """The unpatched task after exit 143, in a process of its own: still alive and silent
    seconds later, until killed."""
    code = ("import sys\nfrom pathlib import Path\nfrom jlonevae_lib.sweep import slurm\n"
            "from tests.sweep.test_slurm_tasks import members\n"
            f"(member,) = members(Path({str(tmp_path / 'out')!r}))\n"
            "slurm.train_command = lambda m: [sys.executable, '-c', 'raise SystemExit(143)']\n"
            "slurm.TrainTask(1)(member)\n"
            "print('returned')\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    try:
        deadline = time.monotonic() + 60
        log = tmp_path / "out"
        while time.monotonic() < deadline and not list(log.rglob("train.log")):
            time.sleep(0.2)
        time.sleep(3)
        assert proc.poll() is None, proc.communicate()[0]
        assert not list(log.rglob("FAILED"))
    finally:
        proc.kill()
    output = proc.communicate()[0]
    assert "waiting for Slurm to end this task" in output and "returned" not in output


def _start_child(task: TrainTask, member: Member, code: str) -> None:
    """Start ``code`` as ``task``'s training child, as ``__call__`` does, and wait until it
    has said 'ready'."""
    log = layout.sweep_log_path(member.run_dir, "train")
    task._child = slurm._Child([sys.executable, "-c", code], dict(os.environ), log)
    deadline = time.monotonic() + 60
    while "ready" not in (log.read_text() if log.is_file() else ""):
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)


def _checkpoint(task: TrainTask, member: Member):
    previous = signal.getsignal(signal.SIGTERM)
    try:
        started = time.monotonic()
        delayed = task.checkpoint(member)
        return delayed, time.monotonic() - started
    finally:
        signal.signal(signal.SIGTERM, previous)  # checkpoint() ignores SIGTERM from then on


def test_the_time_limit_checkpoint_stops_the_trainer_and_requeues(tmp_path: Path,
                                                                  capsys) -> None:
    (member,) = members(tmp_path)
    task = TrainTask(threads=1, stop_wait_s=30)
    _start_child(task, member, "import signal, sys, time\n"
                 "def stop(*args):\n"
                 "    print('stopped by a signal at batch 4; checkpoint saved', flush=True)\n"
                 "    sys.exit(143)\n"
                 "signal.signal(signal.SIGTERM, stop)\n"
                 "print('ready', flush=True)\ntime.sleep(60)")
    # The time-limit signal reaches every process of the task: the child ignores it.
    os.kill(task._child.proc.pid, signal.SIGUSR2)
    time.sleep(0.5)
    assert task._child.thread.is_alive()
    delayed, took = _checkpoint(task, member)
    assert took < 10
    assert isinstance(delayed.function, TrainTask) and delayed.args == (member,)
    assert delayed.function.stop_wait_s == 30 and delayed.function._child is None
    # The trainer's last words reach the task's log and the run's, before the requeue.
    last = "stopped by a signal at batch 4; checkpoint saved"
    assert last in capsys.readouterr().out
    assert last in layout.sweep_log_path(member.run_dir, "train").read_text()
    assert not layout.failed_path(member.run_dir).exists()
    assert not layout.killed_path(member.run_dir).exists()


def test_the_checkpoints_wait_for_the_trainer_is_bounded(tmp_path: Path) -> None:
    """A trainer that ignores SIGTERM is SIGKILLed after stop_wait_s; the kill is counted."""
    (member,) = members(tmp_path)
    task = TrainTask(threads=1, stop_wait_s=1)
    _start_child(task, member, "import signal, time\n"
                 "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                 "print('ready', flush=True)\ntime.sleep(120)")
    pid = task._child.proc.pid
    _, took = _checkpoint(task, member)
    assert 1 <= took < 10
    with pytest.raises(ProcessLookupError):  # killed and reaped
        os.kill(pid, 0)
    assert json.loads(layout.killed_path(member.run_dir).read_text())["count"] == 1
    assert not layout.failed_path(member.run_dir).exists()


def test_the_stop_wait_is_under_the_signal_delay() -> None:
    assert stop_wait_s(120) == 105 and stop_wait_s(30) == 15 and stop_wait_s(1) == 1
    for delay in (1, 2, 10, 30, 60, 120, 600):
        assert stop_wait_s(delay) <= delay
    with pytest.raises(JLoneVAEError, match="--evaluate-time"):
        SlurmOptions(time_min=60, evaluate_time_min=1, signal_delay_s=30)


def test_the_evaluation_job_names_diverged_and_failed_members(tmp_path: Path, capsys) -> None:
    done, diverged, crashed, untouched = members(tmp_path, seeds=(1, 2, 3, 4))
    atomic_write_json(layout.done_path(done.run_dir), {"num_batches": 10})
    atomic_write_json(layout.failed_path(diverged.run_dir),
                      {"reason": "non-finite loss", "step": 3, "message": "the loss became nan"})
    atomic_write_json(layout.failed_path(crashed.run_dir),
                      {"reason": "training exited with status 1", "message": "OSError: disk"})
    plan = plan_study(get_study("cpu_study"),
                      overrides={"output_dir": str(tmp_path), "num_batches": 10,
                                 "device": "cpu"},
                      axes={"seed": (1, 2, 3, 4), "gamma": (0.0,)}, metrics=())
    result = EvaluateTask(1, ["evaluate"], overwrite=False)(plan, [])
    out = capsys.readouterr().out
    assert result["done"] == 1 and result["evaluated"] == 0
    assert [line.split(":")[0] for line in result["diverged"]] == [f"[1] {diverged.label}"]
    assert "non-finite loss" in result["diverged"][0]
    assert [line.split(":")[0] for line in result["failed"]] == [f"[2] {crashed.label}"]
    assert [line.split(":")[0] for line in result["not_trained"]] == [f"[3] {untouched.label}"]
    assert f"diverged: [1] {diverged.label}: non-finite loss" in out
    assert f"failed: [2] {crashed.label}: training exited with status 1" in out
    assert [s.state for s in study_status(plan.members, [])] == ["done", "failed", "failed",
                                                                "pending"]


def test_the_evaluation_checkpoint_requeues_with_its_progress(tmp_path: Path) -> None:
    (member,) = members(tmp_path)
    task = EvaluateTask(1, ["evaluate", "summary"], overwrite=True, stop_wait_s=1)
    task.evaluated = {0}
    task._proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    previous = signal.getsignal(signal.SIGTERM)
    try:
        delayed = task.checkpoint("plan", ["m"])
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert isinstance(delayed.function, EvaluateTask) and delayed.function.evaluated == {0}
    assert delayed.args == ("plan", ["m"])
    assert delayed.function._proc is None


def test_this_task_is_the_jobs_own_id(monkeypatch):
    from jlonevae_lib.sweep import slurm

    for name in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
        monkeypatch.delenv(name, raising=False)
    assert slurm._this_task() is None
    monkeypatch.setenv("SLURM_JOB_ID", "41")
    assert slurm._this_task() == "41"
    # An array task's own id (scontrol requeue takes it), not the array ids, which a job
    # submitted from an array task inherits.
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "40")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    assert slurm._this_task() == "41"
    monkeypatch.delenv("SLURM_JOB_ID")
    assert slurm._this_task() == "40_3"
