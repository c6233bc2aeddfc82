"""AnnealedVAE (``annealed_vae``): reconstruction + γ·|KL − C_t|, the capacity C_t growing
linearly from 0 to ``c_max`` over ``iteration_threshold`` batches (disentanglement_lib's
Burgess et al. baseline)."""

from __future__ import annotations

from typing import ClassVar

import torch

from jlonevae_lib.train.dlib_losses import annealed_vae_regulariser
from jlonevae_lib.train.objectives import register_objective
from jlonevae_lib.train.objectives.dlib_vae import DlibVAE


@register_objective("annealed_vae")
class AnnealedVAE(DlibVAE):
    hyperparameters: ClassVar[dict[str, float]] = {
        "gamma": 1000.0, "c_max": 25.0, "iteration_threshold": 100_000.0}

    def regulariser(self, kl: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                    z: torch.Tensor, step: int) -> torch.Tensor:
        params = self.config.objective_params
        return annealed_vae_regulariser(kl, step, params["gamma"], params["c_max"],
                                        int(params["iteration_threshold"]))
