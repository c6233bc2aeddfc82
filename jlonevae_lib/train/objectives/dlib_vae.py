"""disentanglement_lib's form of a VAE objective, shared by its six baselines.

loss = reconstruction + regulariser, where the reconstruction is the per-image sum of sigmoid
cross-entropy on the decoder's logits, averaged over the batch, and the regulariser is the
method's own, KL included (β·KL for β-VAE, KL + γ·TC for FactorVAE, ...). The functions are
those of :mod:`jlonevae_lib.train.dlib_losses`; see docs/method.md, "The six baselines". A model
trained this way needs ``decode_logits`` (both registered architectures have it).

A method is a subclass that sets :attr:`~Objective.hyperparameters` (disentanglement_lib's names
and its values at hyperparameter index 2) and implements :meth:`DlibVAE.regulariser`; its runs
are named ``<arch>_<method>_<parameter><value>…_lat<d>_batch<B>_lr<lr>`` (docs/formats.md).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from jlonevae_lib.runs import naming
from jlonevae_lib.train.dlib_losses import bernoulli_logits_loss, gaussian_kl
from jlonevae_lib.train.objectives import Objective, check_finite_outputs
from jlonevae_lib.utils.errors import JLoneVAEError

if TYPE_CHECKING:
    from jlonevae_lib.train.config import TrainConfig


@dataclass
class DlibTerms:
    """One step's loss in disentanglement_lib's terms (scalars, each averaged over the batch).

    ``total`` is what the trainer differentiates: the model's loss plus, for a method with an
    auxiliary network, that network's own loss (its graph reaches only that network's
    parameters, so one backward pass serves both; see FactorVAE).
    """

    total: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor
    regulariser: torch.Tensor
    #: Further scalars to log (e.g. the discriminator's loss).
    extra: dict[str, torch.Tensor] = field(default_factory=dict)

    def scalars(self) -> dict[str, float]:
        """TensorBoard scalars under disentanglement_lib's names."""
        values = {"reconstruction_loss": self.reconstruction, "kl_loss": self.kl,
                  "regularizer": self.regulariser, "loss": self.reconstruction + self.regulariser,
                  "elbo": self.reconstruction + self.kl, **self.extra}
        return {name: value.item() for name, value in values.items()}

    def describe(self) -> str:
        return (f"reconstruction {float(self.reconstruction):.4g}, KL {float(self.kl):.4g}, "
                f"regulariser {float(self.regulariser):.4g}")


class DlibVAE(Objective):
    """Reconstruction from logits + :meth:`regulariser`; no Jacobian penalty."""

    default_settings: ClassVar[dict[str, Any]] = {"gamma": 0.0}
    #: Whether the method reads ``TrainConfig.beta`` (β-VAE, β-TCVAE) and
    #: ``annealing_batches`` (β-VAE's ramp of β; disentanglement_lib's own has none).
    uses_beta: ClassVar[bool] = False
    uses_annealing: ClassVar[bool] = False

    def loss(self, model: nn.Module, x: torch.Tensor, step: int) -> DlibTerms:
        mu, logvar = model.encode(x)
        z = model.reparameterize(mu, logvar)
        logits = model.decode_logits(z)
        check_finite_outputs(logits, mu, logvar, self.finite_guard)
        reconstruction = bernoulli_logits_loss(logits, x)
        kl = gaussian_kl(mu, logvar)
        regulariser = self.regulariser(kl, mu, logvar, z, step)
        return DlibTerms(total=reconstruction + regulariser, reconstruction=reconstruction,
                         kl=kl, regulariser=regulariser)

    @abc.abstractmethod
    def regulariser(self, kl: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                    z: torch.Tensor, step: int) -> torch.Tensor:
        """The method's regulariser, KL included: a scalar. mu, logvar, z: (B, d); ``step``:
        batches already taken."""

    @classmethod
    def check_config(cls, config: TrainConfig) -> None:
        if config.gamma != 0 or config.jacobian_batch is not None:
            raise JLoneVAEError(f"the {cls.name} objective has no Jacobian penalty: leave out "
                                "gamma and jacobian_batch (or use the jlonevae objective)")
        if config.annealing_batches and not cls.uses_annealing:
            raise JLoneVAEError(f"the {cls.name} objective has no β schedule: set "
                                "annealing_batches to 0 (--annealingBatches 0)")

    @classmethod
    def name_parts(cls, config: TrainConfig) -> list[tuple[str, float]]:
        parts = [(naming.BETA_LABEL, config.beta)] if cls.uses_beta else []
        return parts + list(config.objective_params.items())
