"""Scalars read back from real TensorBoard event files, written as training writes them."""

from __future__ import annotations

import time
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

from jlonevae_lib.runs.scalars import read_scalar_series


def _log(log_dir: Path, points: list[tuple[int, float]], tag: str = "KLD/train") -> None:
    writer = SummaryWriter(log_dir=str(log_dir))
    for step, value in points:
        writer.add_scalar(tag, value, step)
    writer.close()


def test_the_series_comes_back_in_step_order(tmp_path: Path) -> None:
    _log(tmp_path, [(100, 8.5), (200, 0.25), (300, 1.5)])
    assert read_scalar_series(tmp_path, "KLD/train") == [(100, 8.5), (200, 0.25), (300, 1.5)]


def test_a_resumed_run_keeps_the_value_written_last(tmp_path: Path) -> None:
    # Killed after batch 300 with its checkpoint at 200: the resumed run opens a new event
    # file and logs batch 300 again (another value: the kill came mid-way), then goes on.
    _log(tmp_path, [(100, 8.5), (200, 0.25), (300, 1.5)])
    # Event files are read in name order, and a name starts with the writer's start time in
    # whole seconds, then a counter written without leading zeros ("10" before "9"): a resumed
    # run is seconds later, so let this one start in the next second too.
    time.sleep(1.05 - time.time() % 1)
    _log(tmp_path, [(300, 1.25), (400, 2.0)])
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 2
    assert read_scalar_series(tmp_path, "KLD/train") == [
        (100, 8.5), (200, 0.25), (300, 1.25), (400, 2.0)]


def test_absent_logs_or_tags_give_an_empty_series(tmp_path: Path) -> None:
    assert read_scalar_series(tmp_path / "missing", "KLD/train") == []
    _log(tmp_path, [(1, 1.0)], tag="NLL/train")
    assert read_scalar_series(tmp_path, "KLD/train") == []
