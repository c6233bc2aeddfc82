"""disentanglement_lib's form of a VAE objective, shared by its six baselines.

loss = reconstruction + regulariser, where the reconstruction is the per-image sum of sigmoid
cross-entropy on the decoder's logits, averaged over the batch, and the regulariser is the
method's own, KL included (β·KL for β-VAE, KL + γ·TC for FactorVAE, ...). The functions are
those of :mod:`jlonevae_lib.train.dlib_losses`; see docs/method.md, "The six baselines". A model
trained this way needs ``decode_logits`` (both registered architectures have it).

A method is a subclass that sets :attr:`~Objective.hyperparameters` (disentanglement_lib's names
and its values at hyperparameter index 2) and implements :meth:`DlibVAE.regulariser`; its runs
are named ``<arch>_<method>_<parameter><value>…_lat<d>_batch<B>_lr<lr>`` (docs/formats.md).

Any of them takes the JL1 penalty on top with ``TrainConfig.gamma`` > 0 (:class:`DlibVAE`; the
penalty is the one of :mod:`.penalty`, as JL1-VAE computes it).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from jlonevae_lib.runs import naming
from jlonevae_lib.train.dlib_losses import bernoulli_logits_loss, gaussian_kl
from jlonevae_lib.train.losses import annealed
from jlonevae_lib.train.objectives import Objective, check_finite_outputs
from jlonevae_lib.train.objectives.penalty import backpropagate_penalty, penalty_chunk_size
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.precision import full_precision

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
    #: The Jacobian penalty's value (detached: its gradient is already in the decoder's .grad)
    #: and this step's γ_t, when the run has the penalty (``TrainConfig.gamma`` > 0); None and
    #: 0 without it, and then nothing of it is logged.
    jacobian_penalty: torch.Tensor | None = None
    gamma: float = 0.0

    def scalars(self) -> dict[str, float]:
        """TensorBoard scalars under disentanglement_lib's names; with the Jacobian penalty,
        also ``jacobian_penalty`` and ``gamma``, and ``loss`` includes γ_t·penalty."""
        loss = self.reconstruction + self.regulariser
        penalty = {}
        if self.jacobian_penalty is not None:
            loss = loss + self.gamma * self.jacobian_penalty
            penalty = {"jacobian_penalty": self.jacobian_penalty.item(), "gamma": self.gamma}
        values = {"reconstruction_loss": self.reconstruction, "kl_loss": self.kl,
                  "regularizer": self.regulariser, "loss": loss,
                  "elbo": self.reconstruction + self.kl, **self.extra}
        return {**{name: value.item() for name, value in values.items()}, **penalty}

    def describe(self) -> str:
        text = (f"reconstruction {float(self.reconstruction):.4g}, KL {float(self.kl):.4g}, "
                f"regulariser {float(self.regulariser):.4g}")
        if self.jacobian_penalty is not None:
            text += f", Jacobian penalty {float(self.jacobian_penalty):.4g}"
        return text


class DlibVAE(Objective):
    """Reconstruction from logits + :meth:`regulariser`, and optionally the Jacobian penalty.

    With ``TrainConfig.gamma`` = 0 (the default of these methods) the loss is
    disentanglement_lib's, computed exactly as without this option: nothing more is computed
    and nothing more drawn from any generator. With γ > 0 the loss gains γ_t × the decoder's
    Jacobian penalty (``regularization_type``, ``jacobian_method``, ``jacobian_batch``) at the
    sampled latent, detached from the encoder: JL1-VAE's penalty on the sigmoid images
    (``model.decode``), its gradient taken at once (:func:`~.penalty.backpropagate_penalty`),
    after the method's regulariser (so FactorVAE's permutations are drawn first).

    γ_t = γ·min(1, t/A), A = ``annealing_batches``. A method with a β schedule
    (:attr:`uses_annealing`: β-VAE) ramps β and γ together over A, as JL1-VAE does; for any
    other, A > 0 is refused unless γ > 0, and then ramps γ alone (the method's own weights keep
    disentanglement_lib's schedule).
    """

    default_settings: ClassVar[dict[str, Any]] = {"gamma": 0.0}
    #: Of disentanglement_lib's methods, β-VAE and β-TCVAE read ``TrainConfig.beta``; β-VAE's
    #: β alone ramps over ``annealing_batches`` (disentanglement_lib's own has no ramp). With
    #: the Jacobian penalty, ``annealing_batches`` ramps γ in every method.
    uses_beta: ClassVar[bool] = False
    uses_annealing: ClassVar[bool] = False

    def __init__(self, config: TrainConfig, device: torch.device,
                 generator: torch.Generator) -> None:
        super().__init__(config, device, generator)
        self.chunk_size = penalty_chunk_size(device, config.jacobian_method)

    def loss(self, model: nn.Module, x: torch.Tensor, step: int) -> DlibTerms:
        mu, logvar = model.encode(x)
        z = model.reparameterize(mu, logvar)
        logits = model.decode_logits(z)
        # In a bf16 run (TrainConfig.precision) the network ran in bfloat16; the sigmoid
        # cross-entropy and the KL sum thousands of terms, each to be accurate to float32, so
        # they (and the regulariser's own reductions) take float32. No copy in a float32 run.
        logits, mu, logvar, z = (full_precision(t) for t in (logits, mu, logvar, z))
        check_finite_outputs(logits, mu, logvar, self.finite_guard)
        reconstruction = bernoulli_logits_loss(logits, x)
        kl = gaussian_kl(mu, logvar)
        regulariser = self.regulariser(kl, mu, logvar, z, step)
        terms = DlibTerms(total=reconstruction + regulariser, reconstruction=reconstruction,
                          kl=kl, regulariser=regulariser)
        if self.config.gamma > 0:
            terms.gamma = annealed(self.config.gamma, step, self.config.annealing_batches)
            # Its gradient is in the decoder's .grad now; the total only carries its value, so
            # the trainer's finiteness check of the total covers it.
            terms.jacobian_penalty = backpropagate_penalty(
                model, z, terms.gamma, self.config, self.device_generator, self.chunk_size)
            terms.total = terms.total + terms.gamma * terms.jacobian_penalty
        return terms

    @abc.abstractmethod
    def regulariser(self, kl: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                    z: torch.Tensor, step: int) -> torch.Tensor:
        """The method's regulariser, KL included: a scalar. mu, logvar, z: (B, d); ``step``:
        batches already taken."""

    @classmethod
    def check_config(cls, config: TrainConfig) -> None:
        if config.gamma == 0 and config.jacobian_batch is not None:
            raise JLoneVAEError(f"jacobian_batch sets the Jacobian penalty's sub-batch, which "
                                f"the {cls.name} objective computes only with gamma > 0: "
                                "leave it out, or give gamma > 0 to add the penalty")
        if config.annealing_batches and not cls.uses_annealing and config.gamma == 0:
            raise JLoneVAEError(f"the {cls.name} objective has no β schedule: set "
                                "annealing_batches to 0 (--annealingBatches 0), or give "
                                "gamma > 0 to ramp the Jacobian penalty's weight over it")

    @classmethod
    def name_parts(cls, config: TrainConfig) -> list[tuple[str, float]]:
        """The method's parts, then, with the Jacobian penalty, ``ica<γ>`` (``jltwo_ica<γ>``
        for the L2 penalty): runs with and without it never share a folder."""
        parts = [(naming.BETA_LABEL, config.beta)] if cls.uses_beta else []
        parts += list(config.objective_params.items())
        if config.gamma > 0:
            parts.append((naming.PENALTY_LABELS[config.regularization_type], config.gamma))
        return parts
