"""The trainer's speed choices compute exactly what the plain choices compute."""

from __future__ import annotations

import copy

import torch

from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.train.trainer import ADAM_FOREACH, Trainer


def config(out, **overrides) -> TrainConfig:
    settings = dict(dataset="threeDots", latent_dim=4, beta=4.0, gamma=0.1, batch_size=8,
                    num_batches=5, lr=1e-3, annealing_batches=2, jacobian_batch=None, seed=3,
                    device="cpu", output_dir=str(out))
    settings.update(overrides)
    return TrainConfig(**settings)


def test_foreach_adam_steps_equal_default_adam_bitwise(tmp_path):
    """Adam(foreach=True) on the CPU runs the per-tensor arithmetic of the default for-loop."""
    assert ADAM_FOREACH
    losses = []
    # One after the other: a Trainer seeds torch's global generator (the noise stream).
    fast = Trainer(config(tmp_path / "fast"))
    losses.append([fast.training_step().total.item() for _ in range(5)])
    plain = Trainer(config(tmp_path / "plain"))
    plain.optimizer = torch.optim.Adam(plain.model.parameters(), lr=plain.config.lr)
    assert plain.optimizer.param_groups[0]["foreach"] is None
    losses.append([plain.training_step().total.item() for _ in range(5)])
    assert losses[0] == losses[1]
    for name, tensor in fast.model.state_dict().items():
        assert torch.equal(tensor, plain.model.state_dict()[name]), name
    fast_state = fast.optimizer.state_dict()["state"]
    for key, state in plain.optimizer.state_dict()["state"].items():
        for field in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(state[field], fast_state[key][field]), (key, field)


def test_resuming_an_older_checkpoint_uses_foreach(tmp_path):
    trainer = Trainer(config(tmp_path))
    trainer.training_step()
    state = copy.deepcopy(trainer.state_dict())
    for group in state["optimizer"]["param_groups"]:
        group["foreach"] = None  # as written before the trainer set it
    resumed = Trainer(config(tmp_path))
    resumed.load_state_dict(state)
    assert all(group["foreach"] is ADAM_FOREACH for group in resumed.optimizer.param_groups)
