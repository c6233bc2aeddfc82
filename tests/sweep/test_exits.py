"""How a training process's exit is judged (:mod:`jlonevae_lib.sweep.exits`), on real child
processes: each row of the module's table, the SIGKILL count, and DONE outweighing any exit."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jlonevae_lib.runs import layout
from jlonevae_lib.sweep import exits
from jlonevae_lib.sweep.runner import stream
from jlonevae_lib.utils.atomic import atomic_write_json
from jlonevae_lib.utils.exit_status import EXIT_BUSY, EXIT_DIVERGED, EXIT_SIGTERM, KILLED

# A child that handles SIGTERM as the trainer does (checkpoint, exit 143), or sleeps unhandled.
HANDLES_SIGTERM = ("import signal, sys, time\n"
                   "signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))\n"
                   "print('ready', flush=True)\n"
                   "time.sleep(60)\n")
SLEEPS = "print('ready', flush=True)\nimport time\ntime.sleep(60)\n"


def run_child(code: str) -> tuple[int, list[str]]:
    returncode, tail = stream([sys.executable, "-c", code], env=None, output=lambda line: None)
    return returncode, tail


def signalled_child(code: str, sig: int) -> int:
    """A child that announces itself, then gets ``sig``: its exit status."""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(sig)
    return proc.wait(timeout=30)


def test_finished_whatever_the_exit_status(tmp_path: Path) -> None:
    atomic_write_json(layout.done_path(tmp_path), {"num_batches": 1})
    code, tail = run_child("import sys; sys.exit(1)")
    assert exits.classify_exit(tmp_path, code, tail).verdict == exits.FINISHED
    assert not layout.failed_path(tmp_path).exists()  # a finished run is never failed


def test_a_handled_sigterm_is_a_stop_with_no_marker(tmp_path: Path) -> None:
    code = signalled_child(HANDLES_SIGTERM, signal.SIGTERM)
    assert code == EXIT_SIGTERM
    verdict = exits.classify_exit(tmp_path, code)
    assert verdict.verdict == exits.STOPPED and "resumes" in verdict.detail
    assert not layout.failed_path(tmp_path).exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_unhandled_signal_is_a_stop(tmp_path: Path, sig: int) -> None:
    code = signalled_child(SLEEPS if sig == signal.SIGTERM else
                           "import signal\nsignal.signal(signal.SIGINT, signal.SIG_DFL)\n"
                           + SLEEPS, sig)
    assert code == -sig
    assert exits.classify_exit(tmp_path, code).verdict == exits.STOPPED


def test_busy_is_not_a_failure(tmp_path: Path) -> None:
    code, tail = run_child("print('error: in training by process 1'); "
                           f"raise SystemExit({EXIT_BUSY})")
    verdict = exits.classify_exit(tmp_path, code, tail)
    assert verdict.verdict == exits.BUSY and "in training by process 1" in verdict.detail
    assert not layout.failed_path(tmp_path).exists()


def test_diverged_keeps_the_trainers_marker(tmp_path: Path) -> None:
    marker = {"reason": "non-finite loss", "step": 5, "message": "the loss became nan"}
    atomic_write_json(layout.failed_path(tmp_path), marker)
    code, tail = run_child("print('error: the loss became nan'); "
                           f"raise SystemExit({EXIT_DIVERGED})")
    assert exits.classify_exit(tmp_path, code, tail).verdict == exits.DIVERGED
    assert json.loads(layout.failed_path(tmp_path).read_text()) == marker


def test_a_crash_is_a_failure_with_reason_and_log(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    code, tail = run_child("print('loading'); raise RuntimeError('no data in /x')")
    verdict = exits.classify_exit(tmp_path, code, tail, log)
    assert verdict.verdict == exits.FAILED and code == 1
    marker = json.loads(layout.failed_path(tmp_path).read_text())
    assert marker["reason"] == "training exited with status 1"
    assert marker["message"] == "RuntimeError: no data in /x"
    assert marker["log"] == str(log)


def test_a_clean_exit_without_done_is_a_failure(tmp_path: Path) -> None:
    code, tail = run_child("pass")
    assert exits.classify_exit(tmp_path, code, tail).verdict == exits.FAILED


def test_sigkill_fails_a_run_only_after_max_kills_at_one_checkpoint(tmp_path: Path) -> None:
    atomic_write_json(layout.progress_path(tmp_path), {"step": 500})
    verdicts = []
    for _ in range(exits.MAX_KILLS):
        code = signalled_child(SLEEPS, signal.SIGKILL)
        assert code == KILLED
        verdicts.append(exits.classify_exit(tmp_path, code).verdict)
        assert not layout.failed_path(tmp_path).exists() or len(verdicts) == exits.MAX_KILLS
    assert verdicts == [exits.STOPPED] * (exits.MAX_KILLS - 1) + [exits.FAILED]
    assert "SIGKILL" in json.loads(layout.failed_path(tmp_path).read_text())["reason"]


def test_a_new_checkpoint_between_kills_starts_the_count_over(tmp_path: Path) -> None:
    for step in range(exits.MAX_KILLS + 1):
        atomic_write_json(layout.progress_path(tmp_path), {"step": 500 * (step + 1)})
        assert exits.classify_exit(tmp_path, KILLED).verdict == exits.STOPPED
    assert json.loads(layout.killed_path(tmp_path).read_text())["count"] == 1


def test_the_trainer_exits_busy_when_another_process_holds_the_run(tmp_path: Path) -> None:
    """A real jlonevae-train on a run whose lock this test holds: exit 75, judged busy, and
    the run is not marked failed."""
    from jlonevae_lib.utils.lock import FolderLock

    command = [sys.executable, "-m", "jlonevae_lib.cli.train", "--dataset", "threeDots",
               "--num-batches", "2", "--device", "cpu", "--output-dir", str(tmp_path)]
    run_dir = Path(subprocess.run([*command, "--print-run-dir"], capture_output=True, text=True,
                                  check=True).stdout.strip())
    with FolderLock(run_dir, "training"):
        started = time.monotonic()
        code, tail = stream(command, env=None, output=lambda line: None)
    assert code == EXIT_BUSY, tail
    assert time.monotonic() - started < 120
    verdict = exits.classify_exit(run_dir, code, tail)
    assert verdict.verdict == exits.BUSY
    assert not layout.failed_path(run_dir).exists()
