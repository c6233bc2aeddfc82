"""The objective registry: the built-in methods, and a method with its own network and optimiser
that trains, checkpoints and resumes bit-identically without any change to the trainer."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from jlonevae_lib.train import objectives
from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.train.losses import gaussian_kl_terms
from jlonevae_lib.train.objectives import (
    Objective,
    available_objectives,
    objective_class,
    register_objective,
)
from jlonevae_lib.train.trainer import Trainer
from jlonevae_lib.utils.errors import JLoneVAEError
from tests.train.resume import assert_resumes_bit_identically


def tiny_config(out, **overrides) -> TrainConfig:
    settings = dict(dataset="threeDots", architecture="defaultConv", latent_dim=3, beta=4.0,
                    gamma=0.0, batch_size=4, num_batches=6, lr=1e-3, annealing_batches=2,
                    seed=5, log_interval=2, checkpoint_every=2, device="cpu",
                    output_dir=str(out))
    settings.update(overrides)
    return TrainConfig(**settings)


def test_builtin_objectives_and_unknown_names():
    assert {"jlonevae", "beta_vae"} <= set(available_objectives())
    with pytest.raises(JLoneVAEError, match="unknown objective 'nope'; known objectives: "):
        objective_class("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_objective("jlonevae")(objective_class("beta_vae"))


def test_experiment_names():
    """The paper's objective keeps the reference's names; others follow the generic form."""
    jl1 = TrainConfig(gamma=0.1, lr=1e-4, annealing_batches=100_000)
    assert jl1.experiment_name == ("defaultConv_lone_beta4_0000_ica0_1000_lat10_batch64_lr0_0001"
                                   "_anneal100000")
    assert TrainConfig(regularization_type="jltwo", gamma=0.2, annealing_batches=0
                       ).experiment_name.startswith("defaultConv_jltwo_beta4_0000_ica0_2000_lat10")
    plain = TrainConfig(objective="beta_vae", gamma=0.0, lr=1e-3, annealing_batches=2667)
    assert plain.experiment_name == (
        "defaultConv_beta_vae_beta4_0000_lat10_batch64_lr0_0010_anneal2667")
    # With the Jacobian penalty, another objective's name gains the paper's γ label.
    assert TrainConfig(objective="beta_vae", gamma=0.1).experiment_name == (
        "defaultConv_beta_vae_beta4_0000_ica0_1000_lat10_batch64_lr0_0001_anneal100000")


def test_beta_vae_trains_as_the_paper_objective_without_penalty(tmp_path):
    """The same loss; the reconstruction from logits (beta_vae) or from the sigmoid (jlonevae)
    differs by float32 rounding, and three Adam steps keep it at that scale."""
    losses = []
    for objective in ("jlonevae", "beta_vae"):
        trainer = Trainer(tiny_config(tmp_path / objective, objective=objective))
        losses.append([trainer.training_step().total.item() for _ in range(3)])
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)


class Critic(nn.Module):
    """A small network on the latents, trained to tell the encoder's z from prior samples."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, 8), nn.ReLU(), nn.Linear(8, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(1)


class AdversarialTerms:
    def __init__(self, total: torch.Tensor, z: torch.Tensor, critic_loss: float | None) -> None:
        self.total, self.z, self.critic_loss = total, z, critic_loss

    def scalars(self) -> dict[str, float]:
        return {"ELBO/train": self.total.item(), "critic/train": self.critic_loss or 0.0}

    def describe(self) -> str:
        return f"total {float(self.total):.4g}"


class AdversarialToy(Objective):
    """NLL + KL + a critic's score of z (as FactorVAE's TC term, on a toy scale); the critic is
    trained after each model step with its own Adam on samples from its own generator."""

    def __init__(self, config, device, generator) -> None:
        super().__init__(config, device, generator)
        self.critic = Critic(config.latent_dim).to(device)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=1e-2,
                                                 betas=(0.5, 0.9))

    def loss(self, model, x, step):
        recon, mu, logvar, z = model(x)
        nll = nn.functional.binary_cross_entropy(recon, x, reduction="sum") / x.shape[0]
        # The critic's parameters get no gradient from the model's loss: frozen here.
        score = torch.func.functional_call(
            self.critic, {k: v.detach() for k, v in self.critic.named_parameters()}, (z,))
        total = nll + gaussian_kl_terms(mu, logvar).kl + 0.1 * score.mean()
        return AdversarialTerms(total, z.detach(), None)

    def after_model_step(self, model, terms, step) -> None:
        prior = torch.randn(terms.z.shape, generator=self.generator).to(self.device)
        logits = torch.cat([self.critic(terms.z), self.critic(prior)])
        labels = torch.cat([torch.ones(len(terms.z)), torch.zeros(len(prior))]).to(self.device)
        critic_loss = nn.functional.binary_cross_entropy_with_logits(logits, labels)
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optimizer.step()
        terms.critic_loss = critic_loss.item()

    def state_dict(self) -> dict[str, Any]:
        return {"critic": self.critic.state_dict(),
                "critic_optimizer": self.critic_optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.critic.load_state_dict(state["critic"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])


@pytest.fixture
def adversarial_toy(monkeypatch):
    """AdversarialToy registered in a copy of the registry, restored after the test."""
    objectives._load_builtins()
    monkeypatch.setattr(objectives, "_REGISTRY", dict(objectives._REGISTRY))
    register_objective("adversarial_toy")(AdversarialToy)
    return "adversarial_toy"


def test_an_objective_with_its_own_network_and_optimiser_resumes_bit_identically(
        tmp_path, adversarial_toy):
    straight = tiny_config(tmp_path / "a", objective=adversarial_toy, checkpoint_every=1)
    assert straight.experiment_name.startswith("defaultConv_adversarial_toy_beta4_0000_lat3")
    final = assert_resumes_bit_identically(
        straight, tiny_config(tmp_path / "b", objective=adversarial_toy, checkpoint_every=1))
    critic_a = final["objective"]["critic"]
    assert len(critic_a) == 4 and final["objective"]["critic_optimizer"]["state"]
    # The critic really trained: its weights moved from their initial values.
    fresh = Trainer(tiny_config(tmp_path / "c", objective=adversarial_toy)).objective
    assert not torch.equal(fresh.critic.state_dict()["net.0.weight"], critic_a["net.0.weight"])


def test_a_checkpoint_of_another_objective_is_refused(tmp_path, adversarial_toy):
    config = tiny_config(tmp_path, objective=adversarial_toy)
    trainer = Trainer(config)
    state = trainer.state_dict()
    plain = Trainer(tiny_config(tmp_path, objective="beta_vae"))
    with pytest.raises(JLoneVAEError, match="belongs to another objective"):
        plain.load_state_dict(state)


def test_a_loss_that_is_not_one_number_is_one_readable_error(tmp_path, monkeypatch):
    """A regulariser left per latent (B, d → d) would fail in backward() with torch's
    "grad can be implicitly created only for scalar outputs", pointing at the trainer."""
    from jlonevae_lib.train.objectives.dlib_vae import DlibVAE

    class PerLatent(DlibVAE):
        def regulariser(self, kl, mu, logvar, z, step):
            return kl + (mu ** 2).mean(dim=0)  # (d,): one reduction short

    objectives._load_builtins()
    monkeypatch.setattr(objectives, "_REGISTRY", dict(objectives._REGISTRY))
    register_objective("per_latent_toy")(PerLatent)
    trainer = Trainer(tiny_config(tmp_path, objective="per_latent_toy",
                                  architecture="dlibConv", annealing_batches=0))
    with pytest.raises(JLoneVAEError, match=r"the per_latent_toy objective's loss has shape "
                                            r"\(3,\), not a single number"):
        trainer.training_step()


def test_default_hyperparameters_are_checked_at_registration(monkeypatch):
    from jlonevae_lib.train.objectives.dlib_vae import DlibVAE

    class Flagged(DlibVAE):
        hyperparameters = {"weight": 1.0, "center": True}

    objectives._load_builtins()
    monkeypatch.setattr(objectives, "_REGISTRY", dict(objectives._REGISTRY))
    with pytest.raises(JLoneVAEError, match="objective 'flagged_toy''s default hyperparameters: "
                                            "objective parameter center must be a number >= 0, "
                                            "got True"):
        register_objective("flagged_toy")(Flagged)
    assert "flagged_toy" not in available_objectives()
