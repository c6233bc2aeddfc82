"""The Jacobian penalty as an option of every registered objective (issue 27): with γ > 0 it is
computed, logged and backpropagated to the decoder (only), ramps as documented, and resumes bit
for bit; with γ = 0 a baseline computes and draws nothing more than disentanglement_lib's loss.
"""

from __future__ import annotations

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from jlonevae_lib.architecture.jacobian import jacobian_penalty
from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.train.objectives import available_objectives, dlib_vae, objective_class
from jlonevae_lib.train.objectives.dlib_vae import DlibVAE
from jlonevae_lib.train.trainer import Trainer, train
from jlonevae_lib.utils.errors import JLoneVAEError
from tests.train.resume import assert_resumes_bit_identically

OBJECTIVES = available_objectives()
#: The penalty's TensorBoard tag: the reference's for JL1-VAE, ours for the baselines.
PENALTY_TAG = {"jlonevae": "ICALoss/train"}


def penalty_config(out, objective: str, **overrides) -> TrainConfig:
    """A tiny run of ``objective`` with γ = 0.1 on the whole batch, no ramp, three batches."""
    settings = dict(dataset="threeDots", architecture="defaultConv", objective=objective,
                    latent_dim=3, beta=4.0, gamma=0.1, batch_size=4, num_batches=3, lr=1e-3,
                    annealing_batches=0, seed=3, log_interval=1, checkpoint_every=1,
                    device="cpu", output_dir=str(out))
    settings.update(overrides)
    return TrainConfig(**settings)


def _logged(config: TrainConfig, tag: str) -> list[float]:
    events = EventAccumulator(str(config.log_dir))
    events.Reload()
    return [event.value for event in events.Scalars(tag)]


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_every_objective_trains_with_the_penalty_and_logs_it(tmp_path, objective):
    config = penalty_config(tmp_path, objective)
    result = train(config)
    tag = PENALTY_TAG.get(objective, "jacobian_penalty")
    penalties = _logged(config, tag)
    assert len(penalties) == 3 and all(value > 0 for value in penalties), penalties
    assert _logged(config, "gamma") == [pytest.approx(0.1)] * 3
    assert result.final_scalars[tag] == pytest.approx(penalties[-1])


def _gradients(objective: str, gamma: float, tmp_path) -> tuple[dict, torch.Tensor]:
    """Parameter gradients of one step's loss (step 1, same batch and noise whatever γ), and
    the latents the step sampled."""
    trainer = Trainer(penalty_config(tmp_path / f"{objective}{gamma}", objective, gamma=gamma))
    x = trainer.next_batch()
    torch.manual_seed(7)
    trainer.objective.loss(trainer.model, x, step=1).total.backward()
    torch.manual_seed(7)
    z = trainer.model.reparameterize(*trainer.model.encode(x))
    grads = {name: p.grad.clone() for name, p in trainer.model.named_parameters()
             if p.grad is not None}
    return grads, z.detach()


def _is_decoder(name: str) -> bool:
    """defaultConv's decoder parameters (gen_fcs, gen_convs)."""
    return name.startswith("gen_")


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_the_penalty_gradient_reaches_the_decoder_only(tmp_path, objective):
    """γ > 0 adds γ × the penalty's gradient to the decoder's and leaves the encoder's as it
    was: the penalty is taken at z.detach(), and it draws after everything else."""
    without, z = _gradients(objective, 0.0, tmp_path)
    with_penalty, _ = _gradients(objective, 0.1, tmp_path)
    model = Trainer(penalty_config(tmp_path / "fresh", objective)).model  # the same weights
    (0.1 * jacobian_penalty(model.decode, z)).backward()
    assert with_penalty.keys() == without.keys()
    for name, grad in with_penalty.items():
        if not _is_decoder(name):
            assert torch.equal(grad, without[name]), name
            continue
        added = dict(model.named_parameters())[name].grad
        assert added.abs().max() > 0 and not torch.equal(grad, without[name]), name
        # One chunk of 4 rows on the CPU: the same penalty gradient, added in another order;
        # the subtraction loses float32 digits of the loss's gradient (AnnealedVAE's γ = 1000
        # makes it large).
        scale = max(added.abs().max().item(), without[name].abs().max().item())
        torch.testing.assert_close(grad - without[name], added, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.slow
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_a_run_with_the_penalty_resumes_bit_identically(tmp_path, objective):
    """With a ramp and a sub-batch, so that γ_t and the sub-batch draws resume too."""
    settings = dict(annealing_batches=2, jacobian_batch=2, num_batches=4)
    assert_resumes_bit_identically(penalty_config(tmp_path / "a", objective, **settings),
                                   penalty_config(tmp_path / "b", objective, **settings),
                                   stops=2)


BASELINES = [name for name in OBJECTIVES if issubclass(objective_class(name), DlibVAE)]


@pytest.mark.parametrize("objective", BASELINES)
def test_without_the_penalty_a_baseline_computes_nothing_more(tmp_path, objective,
                                                              monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the penalty was computed at γ = 0")

    monkeypatch.setattr(dlib_vae, "backpropagate_penalty", refuse)
    trainer = Trainer(penalty_config(tmp_path, objective, gamma=0.0))
    before = trainer.objective.device_generator.get_state()
    terms = trainer.training_step()
    assert "jacobian_penalty" not in terms.scalars() and "gamma" not in terms.scalars()
    if objective != "factor_vae":  # FactorVAE's permutations draw from it; nothing else does
        assert torch.equal(trainer.objective.device_generator.get_state(), before)


@pytest.mark.parametrize("objective", [b for b in BASELINES if b != "beta_vae"])
def test_gamma_alone_ramps_where_the_method_has_no_schedule(tmp_path, objective):
    with pytest.raises(JLoneVAEError, match="no β schedule"):
        penalty_config(tmp_path, objective, gamma=0.0, annealing_batches=4)
    trainer = Trainer(penalty_config(tmp_path, objective, annealing_batches=4))
    gammas = [trainer.training_step().scalars()["gamma"] for _ in range(3)]
    assert gammas == pytest.approx([0.0, 0.025, 0.05])


def test_beta_vae_ramps_beta_and_gamma_together(tmp_path):
    trainer = Trainer(penalty_config(tmp_path, "beta_vae", annealing_batches=4))
    terms = [trainer.training_step() for _ in range(2)]
    assert [t.scalars()["gamma"] for t in terms] == pytest.approx([0.0, 0.025])
    # β-VAE's regulariser is β_t·KL: β_t = 4·t/4.
    assert [(t.regulariser / t.kl).item() for t in terms] == pytest.approx([0.0, 1.0])
