"""FactorVAE (``factor_vae``): reconstruction + KL + γ·TC, the total correlation estimated by a
discriminator between z and z with each dimension shuffled across the batch.

The discriminator (6 × 1000 leaky-ReLU layers, slope 0.2) and its own Adam (β1 0.5, β2 0.9, the
run's learning rate) belong to the objective and are checkpointed with the run. Both losses come
from one forward pass, and neither reaches the other side's parameters
(:func:`~jlonevae_lib.train.dlib_losses.factor_vae_terms`), so the trainer's one backward pass
gives each its own gradient; the discriminator steps after the model. One batch is one update
of each: disentanglement_lib counts that as two "steps" of its global step (docs/method.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from jlonevae_lib.train.dlib_losses import (
    FactorVAEDiscriminator,
    factor_vae_regulariser,
    factor_vae_terms,
)
from jlonevae_lib.train.objectives import register_objective
from jlonevae_lib.train.objectives.dlib_vae import DlibTerms, DlibVAE
from jlonevae_lib.utils.errors import short_reason

if TYPE_CHECKING:
    from jlonevae_lib.train.config import TrainConfig

#: The objective's part of a checkpoint (:meth:`FactorVAE.state_dict`).
_STATE_KEYS = ("discriminator", "discriminator_optimizer")
#: The discriminator's Adam moments, as disentanglement_lib's study sets them.
DISCRIMINATOR_BETAS = (0.5, 0.9)


@register_objective("factor_vae")
class FactorVAE(DlibVAE):
    hyperparameters: ClassVar[dict[str, float]] = {"gamma": 30.0}

    def __init__(self, config: TrainConfig, device: torch.device,
                 generator: torch.Generator) -> None:
        super().__init__(config, device, generator)
        self.discriminator = FactorVAEDiscriminator(config.latent_dim, generator).to(device)
        # Fused: one pass over the discriminator's 5M parameters instead of one per Adam
        # operation, which makes this optimiser's step several times faster on a CPU
        # (benchmarks/README.md, "FactorVAE's discriminator Adam, fused").
        self.discriminator_optimizer = torch.optim.Adam(
            self.discriminator.parameters(), lr=config.lr, betas=DISCRIMINATOR_BETAS,
            fused=True)
        #: The discriminator's loss of the step in progress (set by :meth:`regulariser`).
        self._discriminator_loss = torch.zeros(())

    def loss(self, model: nn.Module, x: torch.Tensor, step: int) -> DlibTerms:
        self.discriminator_optimizer.zero_grad(set_to_none=True)
        terms = super().loss(model, x, step)
        terms.total = terms.total + self._discriminator_loss
        terms.extra["discriminator_loss"] = self._discriminator_loss
        return terms

    def regulariser(self, kl: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                    z: torch.Tensor, step: int) -> torch.Tensor:
        # Per-step draws: on the run's device (see Objective); the discriminator's initial
        # weights above came from the CPU generator, the same on every device.
        pieces = factor_vae_terms(self.discriminator, z, self.device_generator)
        self._discriminator_loss = pieces.discriminator_loss
        return factor_vae_regulariser(kl, pieces.tc, self.config.objective_params["gamma"])

    def after_model_step(self, model: nn.Module, terms: DlibTerms, step: int) -> None:
        self.discriminator_optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        return {"discriminator": self.discriminator.state_dict(),
                "discriminator_optimizer": self.discriminator_optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        missing = [key for key in _STATE_KEYS
                   if not isinstance(state, dict) or key not in state]
        if missing:
            raise self.checkpoint_refused(
                f"it lacks FactorVAE's discriminator state ({', '.join(missing)}): it was not "
                "written by this FactorVAE run")
        try:
            self.discriminator.load_state_dict(state["discriminator"])
            self.discriminator_optimizer.load_state_dict(state["discriminator_optimizer"])
        except (RuntimeError, ValueError, KeyError, TypeError) as err:
            raise self.checkpoint_refused(
                f"its FactorVAE discriminator does not fit this run's ({short_reason(err)})"
            ) from None
