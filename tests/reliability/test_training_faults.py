"""Training survives SIGKILL, SIGTERM, concurrent launches and bad flags with nothing lost."""

from __future__ import annotations

import json
import random
import signal

import pytest
import torch

from jlonevae_lib.utils.exit_status import EXIT_BUSY
from tests.reliability.conftest import (
    TOY_FLAGS,
    TRAIN,
    assert_same_run,
    checkpoint_step,
    find_run_dir,
    limit_file_size,
    run_cli,
    start_cli,
    wait_until,
)

pytestmark = pytest.mark.slow


def test_sigkill_at_a_random_batch_then_resume_is_identical(tmp_path, uninterrupted):
    # At most half-way: the kill lands while training goes on, whatever the polling lag.
    kill_after = random.Random().randint(3, 30)
    proc = start_cli([*TRAIN, *TOY_FLAGS, "--num-batches", "60"], cwd=tmp_path)
    wait_until(lambda: list((tmp_path / "trainedModels").glob("*/*"))
               and checkpoint_step(find_run_dir(tmp_path)) >= kill_after,
               what=f"checkpoint {kill_after}")
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    run_dir = find_run_dir(tmp_path)
    killed_at = checkpoint_step(run_dir)
    assert 0 < killed_at < 60 or (run_dir / "DONE").exists() is False
    assert (run_dir / ".lock").exists()  # a crashed owner leaves its lock behind
    # A kill that lands mid-write leaves atomic_path's temporary files; make sure there are
    # some (the kill itself may also have left one).
    checkpoints = run_dir / "checkpoints"
    (checkpoints / ".checkpoint.pt.killed.tmp").write_bytes(
        (checkpoints / "checkpoint.pt").read_bytes()[:1000])
    (checkpoints / ".progress.json.killed.tmp").write_text('{"step": ')
    (run_dir / ".config.json.killed.tmp").write_text("{")

    resumed = run_cli([*TRAIN, *TOY_FLAGS, "--num-batches", "60"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(uninterrupted, tmp_path)
    assert sorted(p.name for p in checkpoints.iterdir()) == ["checkpoint.pt", "progress.json"]
    assert not list(run_dir.glob(".*.tmp"))


def test_sigterm_checkpoints_and_exits_then_resumes_identically(tmp_path, uninterrupted):
    proc = start_cli([*TRAIN, *TOY_FLAGS, "--num-batches", "60"], cwd=tmp_path)
    wait_until(lambda: list((tmp_path / "trainedModels").glob("*/*"))
               and checkpoint_step(find_run_dir(tmp_path)) >= 5, what="checkpoint 5")
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    run_dir = find_run_dir(tmp_path)
    assert proc.returncode == 143, stderr
    assert "checkpoint saved" in stderr and "Traceback" not in stderr
    assert not (run_dir / ".lock").exists()
    stopped_at = checkpoint_step(run_dir)
    assert 5 <= stopped_at < 60

    resumed = run_cli([*TRAIN, *TOY_FLAGS, "--num-batches", "60"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(uninterrupted, tmp_path)


def test_second_process_on_the_same_run_is_refused(tmp_path):
    first = start_cli([*TRAIN, *TOY_FLAGS, "--num-batches", "100000"], cwd=tmp_path)
    try:
        wait_until(lambda: list((tmp_path / "trainedModels").glob("*/*.lock"))
                   or list((tmp_path / "trainedModels").glob("*/*/.lock")), what="lock")
        second = run_cli([*TRAIN, *TOY_FLAGS, "--num-batches", "100000"], cwd=tmp_path)
        assert second.returncode == EXIT_BUSY  # not bad input: the run is in other hands
        assert "in training by process" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    assert first.returncode == 143


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--batch-size", "-64"], "positive integer"),
        (["--batch-size", "abc"], "positive integer"),
        (["--gamma", "-0.1"], ">= 0"),
        (["--dataset", "fourDots"], "threeDots"),
        (["--architecture", "hugeConv"], "defaultConv"),
        (["--architecture", "tiny16"], "pick a matching --architecture"),
        (["--device", "tpu"], "device"),
        (["--regularization_type", "jlthree"], "invalid choice"),
        (["--epochs", "2", "--num-batches", "3"], "not both"),
    ],
)
def test_bad_flags_fail_in_one_line_and_write_nothing(tmp_path, flags, message):
    result = run_cli([*TRAIN, "--dataset", "threeDots", "--num-batches", "2", *flags],
                     cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Experiment" not in result.stdout and "logging to" not in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_diverging_run_exits_nonzero_and_records_failure(tmp_path):
    result = run_cli([*TRAIN, *TOY_FLAGS, "--gamma", "0", "--lr", "1e12", "--num-batches", "200"],
                     cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert "smaller --lr" in result.stderr and "Traceback" not in result.stderr
    run_dir = find_run_dir(tmp_path)
    assert json.loads((run_dir / "FAILED").read_text())["step"] == checkpoint_step(run_dir)
    state = torch.load(run_dir / "checkpoints" / "checkpoint.pt", weights_only=True)
    assert all(torch.isfinite(t).all() for t in state["model"].values())


def test_disk_full_during_checkpoint_keeps_the_previous_one(tmp_path, uninterrupted):
    proc = start_cli([*TRAIN, *TOY_FLAGS, "--num-batches", "60"], cwd=tmp_path)
    wait_until(lambda: list((tmp_path / "trainedModels").glob("*/*"))
               and checkpoint_step(find_run_dir(tmp_path)) >= 3, what="checkpoint 3")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    run_dir = find_run_dir(tmp_path)
    before = checkpoint_step(run_dir)
    checkpoint_bytes = (run_dir / "checkpoints" / "checkpoint.pt").read_bytes()

    # A file-size limit far below a checkpoint's size: the next checkpoint write fails.
    full = run_cli([*TRAIN, *TOY_FLAGS, "--num-batches", "60"], cwd=tmp_path,
                   preexec_fn=limit_file_size(256 * 1024))
    assert full.returncode == 2, full.stderr
    assert "could not write" in full.stderr and "previous version is intact" in full.stderr
    assert "Traceback" not in full.stderr
    assert (run_dir / "checkpoints" / "checkpoint.pt").read_bytes() == checkpoint_bytes
    assert checkpoint_step(run_dir) == before
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "checkpoint.pt", "progress.json"]

    resumed = run_cli([*TRAIN, *TOY_FLAGS, "--num-batches", "60"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(uninterrupted, tmp_path)
