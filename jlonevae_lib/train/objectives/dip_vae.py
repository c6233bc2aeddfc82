"""DIP-VAE-I and -II (``dip_vae_i``, ``dip_vae_ii``): reconstruction + KL + λod·Σ offdiag(C)² +
λd·Σ(diag(C) − 1)², λd = ``lambda_d_factor``·λod, with C the covariance of the encoder means
(I) or of z under q (II: plus the batch mean of diag(exp logvar)).

In a bf16 run (``TrainConfig.precision``) the regulariser stays float32, autocast off: the
penalty drives cov_ii − 1 and cov_ij towards 0, and bfloat16's rounding of the (d, B) × (B, d)
product E[mu·muᵀ] (up to 2⁻⁹ of cov_ii ≈ 1) is an absolute error of that size on them, where
float32's is 2⁻²⁴; a product that small saves no time in bfloat16 anyway."""

from __future__ import annotations

from typing import ClassVar

import torch

from jlonevae_lib.train.dlib_losses import dip_vae_i_regulariser, dip_vae_ii_regulariser
from jlonevae_lib.train.objectives import register_objective
from jlonevae_lib.train.objectives.dlib_vae import DlibVAE
from jlonevae_lib.utils.precision import autocast_disabled


@register_objective("dip_vae_i")
class DipVAEI(DlibVAE):
    hyperparameters: ClassVar[dict[str, float]] = {"lambda_od": 5.0, "lambda_d_factor": 10.0}

    def regulariser(self, kl: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                    z: torch.Tensor, step: int) -> torch.Tensor:
        params = self.config.objective_params
        with autocast_disabled():  # float32 (see the module docstring)
            return dip_vae_i_regulariser(kl, mu, params["lambda_od"],
                                         params["lambda_d_factor"])


@register_objective("dip_vae_ii")
class DipVAEII(DlibVAE):
    hyperparameters: ClassVar[dict[str, float]] = {"lambda_od": 5.0, "lambda_d_factor": 1.0}

    def regulariser(self, kl: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                    z: torch.Tensor, step: int) -> torch.Tensor:
        params = self.config.objective_params
        with autocast_disabled():  # float32 (see the module docstring)
            return dip_vae_ii_regulariser(kl, mu, logvar, params["lambda_od"],
                                          params["lambda_d_factor"])
