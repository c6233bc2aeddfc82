"""β-VAE (``beta_vae``): reconstruction + β_t·KL, disentanglement_lib's first baseline.

β comes from ``TrainConfig.beta`` and ramps up linearly over ``annealing_batches`` (0, as in
disentanglement_lib: no ramp). The same model and loss as the ``jlonevae`` objective at γ = 0,
which computes the reconstruction from the sigmoid rather than the logits (equal to float32
rounding); the reference trained its β-VAE that way, and those runs keep the reference's names.
"""

from __future__ import annotations

import torch

from jlonevae_lib.train.dlib_losses import beta_vae_regulariser
from jlonevae_lib.train.losses import annealed
from jlonevae_lib.train.objectives import register_objective
from jlonevae_lib.train.objectives.dlib_vae import DlibVAE


@register_objective("beta_vae")
class BetaVAE(DlibVAE):
    uses_beta = True
    uses_annealing = True

    def regulariser(self, kl: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                    z: torch.Tensor, step: int) -> torch.Tensor:
        beta = annealed(self.config.beta, step, self.config.annealing_batches)
        return beta_vae_regulariser(kl, beta)
