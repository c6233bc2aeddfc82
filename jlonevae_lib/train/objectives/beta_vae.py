"""Plain β-VAE (``beta_vae``): NLL + β_t·KL, β ramping up linearly over ``annealing_batches``.

The same model and loss as the ``jlonevae`` objective at γ = 0 (the reference trained its β-VAE
baseline that way, and those runs keep the reference's names); as its own objective it has no
Jacobian settings, and its runs are named ``<arch>_beta_vae_beta<β>_lat<d>_batch<B>_lr<lr>
[_anneal<A>]``. See docs/method.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from jlonevae_lib.train.losses import LossTerms, annealed, jlonevae_loss
from jlonevae_lib.train.objectives import Objective, register_objective
from jlonevae_lib.train.objectives.jacobian_vae import check_finite_outputs
from jlonevae_lib.utils.errors import JLoneVAEError

if TYPE_CHECKING:
    from jlonevae_lib.train.config import TrainConfig


@register_objective("beta_vae")
class BetaVAE(Objective):
    """β-VAE without any Jacobian penalty."""

    default_settings: ClassVar[dict[str, Any]] = {"gamma": 0.0}

    def loss(self, model: nn.Module, x: torch.Tensor, step: int) -> LossTerms:
        beta = annealed(self.config.beta, step, self.config.annealing_batches)
        recon, mu, logvar, z = model(x)
        check_finite_outputs(recon, mu, logvar)
        no_penalty = torch.zeros((), device=x.device)
        return jlonevae_loss(recon, x, mu, logvar, no_penalty, beta, 0.0)

    @classmethod
    def check_config(cls, config: TrainConfig) -> None:
        if config.gamma != 0 or config.jacobian_batch is not None:
            raise JLoneVAEError("the beta_vae objective has no Jacobian penalty: leave out "
                                "gamma and jacobian_batch (or use the jlonevae objective)")
