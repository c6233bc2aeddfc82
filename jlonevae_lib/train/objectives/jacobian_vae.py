"""The paper's objective (``jlonevae``): NLL + β_t·KL + γ_t·Jacobian penalty.

The penalty is the L1 (``regularization_type="jlone"``, JL1-VAE) or squared L2 (``"jltwo"``,
the paper's appendix) norm of the decoder's Jacobian at the sampled latent, detached from the
encoder, by forward differences or exactly (``jacobian_method``), on the whole batch or a random
sub-batch (``jacobian_batch``); β and γ ramp up linearly over ``annealing_batches``. With γ = 0
the penalty is never computed: the reference's β-VAE baseline. See docs/method.md.

Experiment names are the reference's, ``<arch>_<lone|jltwo>_beta<β>_ica<γ>_lat<d>_batch<B>_lr<lr>
[_anneal<A>]``, so its notebooks and scripts find the runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from jlonevae_lib.runs import naming
from jlonevae_lib.train.losses import LossTerms, annealed, jlonevae_loss
from jlonevae_lib.train.objectives import (
    FiniteGuard,
    Objective,
    check_finite_outputs,
    register_objective,
)
from jlonevae_lib.train.objectives.penalty import backpropagate_penalty, penalty_chunk_size
from jlonevae_lib.utils.precision import autocast_disabled, full_precision

if TYPE_CHECKING:
    from jlonevae_lib.train.config import TrainConfig


def bce_safe(recon: torch.Tensor, guard: FiniteGuard) -> torch.Tensor:
    """``recon`` as the BCE may take it: unchanged when checks are immediate (a NaN has already
    stopped the step); with deferred checks, NaN → 0.5 so that CUDA's BCE does not assert (a
    device-side assert ends the process before the deferred check could report the NaN, which
    its flag still records)."""
    if not guard.deferred:
        return recon
    return torch.nan_to_num(recon, nan=0.5, posinf=1.0, neginf=0.0)


def float32_forward(model: nn.Module, x: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``model(x)``: (recon (B, C, H, W), mu, logvar, z (B, d) each), all float32.

    Outside autocast (a float32 run) it is ``model(x)`` itself. Under a bf16 run's autocast
    (``TrainConfig.precision``) the encoder and the decoder run in bfloat16, and the outputs
    come back in float32 for the loss's reductions; the sigmoid is taken in float32 on the
    decoder's logits, because in bfloat16 every probability within 2⁻⁹ of 1 rounds to 1, where
    the BCE's log(1 − p) is clamped to −100 and its gradient lost. A model without
    ``decode_logits`` has its bfloat16 images cast instead.
    """
    if not torch.is_autocast_enabled(x.device.type) or not hasattr(model, "decode_logits"):
        recon, mu, logvar, z = model(x)
        return full_precision(recon), full_precision(mu), full_precision(logvar), \
            full_precision(z)
    mu, logvar = model.encode(x)
    z = model.reparameterize(mu, logvar)
    recon = torch.sigmoid(full_precision(model.decode_logits(z)))
    return recon, full_precision(mu), full_precision(logvar), full_precision(z)


@register_objective("jlonevae")
class JacobianVAE(Objective):
    """JL1-VAE (and its L2 variant; β-VAE at γ = 0)."""

    def __init__(self, config: TrainConfig, device: torch.device,
                 generator: torch.Generator) -> None:
        super().__init__(config, device, generator)
        self.chunk_size = penalty_chunk_size(device, config.jacobian_method)

    def loss(self, model: nn.Module, x: torch.Tensor, step: int) -> LossTerms:
        cfg = self.config
        beta = annealed(cfg.beta, step, cfg.annealing_batches)
        gamma = annealed(cfg.gamma, step, cfg.annealing_batches)
        recon, mu, logvar, z = float32_forward(model, x)
        check_finite_outputs(recon, mu, logvar, self.finite_guard)
        # Its gradient is in the decoder's .grad now; the loss below only logs its value.
        penalty = backpropagate_penalty(model, z, gamma, cfg, self.device_generator,
                                        self.chunk_size)
        # The loss's reductions on float32 values, autocast off (a bf16 run's): float32 by
        # construction, and CUDA's autocast refuses binary_cross_entropy on probabilities.
        with autocast_disabled():
            return jlonevae_loss(bce_safe(recon, self.finite_guard), x, mu, logvar, penalty,
                                 beta, gamma)

    @classmethod
    def experiment_name(cls, config: TrainConfig) -> str:
        """``defaultConv_lone_beta4_0000_ica0_1000_lat10_batch64_lr0_0001_anneal100000``
        (:func:`jlonevae_lib.runs.naming.jacobian_experiment_name`)."""
        return naming.jacobian_experiment_name(
            config.architecture, config.regularization_type, config.beta, config.gamma,
            config.latent_dim, config.batch_size, config.lr, config.annealing_batches)
