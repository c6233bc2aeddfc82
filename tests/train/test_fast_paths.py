"""The trainer's speed choices compute exactly what the plain choices compute."""

from __future__ import annotations

import copy

import pytest
import torch

from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.train.trainer import ADAM_FUSED, Trainer


def config(out, **overrides) -> TrainConfig:
    settings = dict(dataset="threeDots", latent_dim=4, beta=4.0, gamma=0.1, batch_size=8,
                    num_batches=5, lr=1e-3, annealing_batches=2, jacobian_batch=None, seed=3,
                    device="cpu", output_dir=str(out))
    settings.update(overrides)
    return TrainConfig(**settings)


def test_fused_adam_steps_match_default_adam_to_float32_rounding(tmp_path):
    """Adam(fused=True) runs Adam's arithmetic: after a step on the same batch, weights and
    moments equal the default for-loop's to float32 rounding (its kernel rounds differently),
    and the weights moved. Later steps drift apart as rounding does (the FD penalty amplifies
    it), so the losses of 5 steps agree to 1e-4 only."""
    assert ADAM_FUSED
    losses = []
    # One after the other: a Trainer seeds torch's global generator (the noise stream).
    fast = Trainer(config(tmp_path / "fast"))
    start = {name: tensor.clone() for name, tensor in fast.model.state_dict().items()}
    losses.append([fast.training_step().total.item()])
    after_one = {name: tensor.clone() for name, tensor in fast.model.state_dict().items()}
    fast_state = copy.deepcopy(fast.optimizer.state_dict()["state"])
    losses[0] += [fast.training_step().total.item() for _ in range(4)]
    plain = Trainer(config(tmp_path / "plain"))
    plain.optimizer = torch.optim.Adam(plain.model.parameters(), lr=plain.config.lr)
    assert not plain.optimizer.param_groups[0]["fused"]
    losses.append([plain.training_step().total.item()])
    lr = fast.config.lr
    for name, tensor in after_one.items():
        # An update of at most ~lr: a difference of 1e-4 lr is rounding, not a bug.
        torch.testing.assert_close(tensor, plain.model.state_dict()[name], rtol=0,
                                   atol=1e-4 * lr)
        assert not torch.equal(tensor, start[name]), name
    for key, state in plain.optimizer.state_dict()["state"].items():
        assert torch.equal(state["step"], fast_state[key]["step"])
        for field in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(state[field], fast_state[key][field], rtol=1e-5,
                                       atol=1e-12)
    losses[1] += [plain.training_step().total.item() for _ in range(4)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)


def test_resuming_an_older_checkpoint_uses_fused_adam(tmp_path):
    trainer = Trainer(config(tmp_path))
    trainer.training_step()
    state = copy.deepcopy(trainer.state_dict())
    for group in state["optimizer"]["param_groups"]:
        group["foreach"], group["fused"] = True, None  # as written by foreach Adam
    resumed = Trainer(config(tmp_path))
    resumed.load_state_dict(state)
    assert all(group["fused"] is ADAM_FUSED and not group["foreach"]
               for group in resumed.optimizer.param_groups)
    resumed.training_step()  # steps with the fused kernel


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
