"""The trainer's speed choices compute exactly what the plain choices compute."""

from __future__ import annotations

import copy

import pytest
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


def _run(tmp_path, name: str, chunk: int | None, tuned: bool, steps: int = 6):
    trainer = Trainer(config(tmp_path / name, num_batches=steps, jacobian_batch=None,
                             batch_size=16))
    trainer.objective.chunk_size = chunk
    trainer.model.tuned_cpu_kernels = tuned
    terms = [trainer.training_step() for _ in range(steps)]
    return [t.total.item() for t in terms], [t.penalty.item() for t in terms]


def test_chunked_tuned_steps_track_the_plain_steps(tmp_path):
    """The chunked penalty backward and the CPU kernel choice change float32 rounding only.

    Forward differences amplify rounding by 1/ε, and the FD penalty's weight gradient is a
    difference of O(1/ε) terms, so ANY change of rounding lets trajectories drift apart by a
    little more each step: the plain path run with 1 instead of 2 threads drifts as much (penalty
    7.61 vs 7.56 at step 4 here). Over 6 steps at lr 1e-3 the paths stay within 1e-3 (loss) and
    5% (penalty) of each other; the first penalty, after one VAE step, agrees to 1e-3.
    """
    assert Trainer(config(tmp_path / "probe")).objective.chunk_size == 8  # FD's CPU default
    fast_loss, fast_penalty = _run(tmp_path, "fast", chunk=4, tuned=True)
    plain_loss, plain_penalty = _run(tmp_path, "plain", chunk=None, tuned=False)
    # γ = 0 at step 0: no penalty, the same VAE step but for the decoder's last kernel, which
    # rounds differently (a few float32 ulps of a loss of order 1e2).
    assert fast_loss[0] == pytest.approx(plain_loss[0], rel=1e-6)
    assert fast_penalty[1] == pytest.approx(plain_penalty[1], rel=1e-3)
    assert fast_loss == pytest.approx(plain_loss, rel=1e-3)
    assert fast_penalty == pytest.approx(plain_penalty, rel=5e-2)
