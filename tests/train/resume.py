"""Shared checks of exact resume: a run stopped and resumed against one that never stopped."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.train.trainer import Trainer, TrainingInterrupted, train


def interrupted_run(config: TrainConfig, stops: int) -> None:
    """Stop a run ``stops`` times (one batch each session), as SIGTERM would, then finish it."""
    config.run_dir.mkdir(parents=True, exist_ok=True)
    for _ in range(stops):
        trainer = Trainer(config)
        trainer.load_checkpoint()
        trainer.stop_requested = True  # what the SIGTERM handler sets
        with pytest.raises(TrainingInterrupted):
            trainer.fit()
    train(config)


def final_checkpoint(config: TrainConfig) -> dict[str, Any]:
    return torch.load(config.run_dir / "checkpoints" / "checkpoint.pt", weights_only=True)


def assert_bitwise_equal(a: Any, b: Any, where: str = "checkpoint") -> None:
    """Every tensor of two nested dicts/lists equal bit for bit, every other value equal."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_bitwise_equal(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_bitwise_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def assert_resumes_bit_identically(straight: TrainConfig, resumed: TrainConfig,
                                   stops: int = 3) -> dict[str, Any]:
    """Train ``straight`` at once and ``resumed`` with ``stops`` interruptions; their final
    checkpoints' model, optimiser, objective state and random streams must be equal bit for
    bit. Returns the straight run's checkpoint."""
    train(straight)
    interrupted_run(resumed, stops)
    a, b = final_checkpoint(straight), final_checkpoint(resumed)
    assert a["step"] == b["step"] == straight.num_batches
    for part in ("model", "optimizer", "objective", "torch_rng", "data_rng", "objective_rng"):
        assert_bitwise_equal(a.get(part), b.get(part), part)
    return a
