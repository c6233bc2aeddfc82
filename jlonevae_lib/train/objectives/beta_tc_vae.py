"""β-TCVAE (``beta_tc_vae``): reconstruction + KL + (β − 1)·TC, the total correlation of q(z)
estimated by minibatch-weighted sampling; β is ``TrainConfig.beta``."""

from __future__ import annotations

import torch

from jlonevae_lib.train.dlib_losses import beta_tc_vae_regulariser
from jlonevae_lib.train.objectives import register_objective
from jlonevae_lib.train.objectives.dlib_vae import DlibVAE


@register_objective("beta_tc_vae")
class BetaTCVAE(DlibVAE):
    uses_beta = True

    def regulariser(self, kl: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                    z: torch.Tensor, step: int) -> torch.Tensor:
        return beta_tc_vae_regulariser(kl, z, mu, logvar, self.config.beta)
