"""The JL1-VAE objective (docs/method.md, The loss) as small pure functions.

loss = NLL + β_t·KL + γ_t·penalty, with NLL the Bernoulli negative log-likelihood summed over
pixels and averaged over the batch, and β_t, γ_t annealed linearly from 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def annealed(value: float, step: int, annealing_batches: int) -> float:
    """``value · min(1, step / annealing_batches)``; no annealing when ``annealing_batches == 0``.

    ``step`` is the number of batches already taken (0 at the first step), as in the reference.
    """
    if annealing_batches <= 0 or step >= annealing_batches:
        return value
    return value * step / annealing_batches


def bernoulli_nll(recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy summed over pixels and batch, divided by B. recon, x: (B, C, H, W)."""
    return F.binary_cross_entropy(recon, x, reduction="sum") / x.shape[0]


@dataclass
class KLTerms:
    """KL(q(z|x) || N(0, I)) per image and its two parts, each averaged over the batch."""

    kl: torch.Tensor
    mu_div: torch.Tensor  # ½Σmu²/B
    var_div: torch.Tensor  # -½Σ(1 + logvar - exp(logvar))/B


def gaussian_kl_terms(mu: torch.Tensor, logvar: torch.Tensor) -> KLTerms:
    """KL of a diagonal Gaussian to the standard normal and its two parts. mu, logvar: (B, d).

    The reference's form, each part summed over the batch then divided by B: the KL that
    JL1-VAE minimises and logs (``MuDiv``, ``VarDiv``). The baselines' KL is
    :func:`~jlonevae_lib.train.dlib_losses.gaussian_kl`, the same value summed in
    disentanglement_lib's order (per image, then the batch mean), so each loss keeps its own
    reference's float32 rounding.
    """
    batch = mu.shape[0]
    mu_div = 0.5 * mu.pow(2).sum() / batch
    var_div = -0.5 * (1 + logvar - logvar.exp()).sum() / batch
    return KLTerms(kl=mu_div + var_div, mu_div=mu_div, var_div=var_div)


@dataclass
class LossTerms:
    """Every term of one step's loss; ``total`` is what is minimised."""

    total: torch.Tensor
    nll: torch.Tensor
    kl: KLTerms
    penalty: torch.Tensor
    beta: float
    gamma: float

    def scalars(self) -> dict[str, float]:
        """The TensorBoard scalars under the reference's names (docs/formats.md)."""
        tensors = {
            "ICALoss/train": self.penalty,
            "ELBO/train": self.total,
            "KLD/train": self.kl.kl,
            "MuDiv/train": self.kl.mu_div,
            "VarDiv/train": self.kl.var_div,
            "NLL/train": self.nll,
        }
        return {**{name: t.item() for name, t in tensors.items()},
                "beta": self.beta, "gamma": self.gamma}

    def describe(self) -> str:
        """The loss's parts, for the message of a diverged run."""
        return (f"NLL {float(self.nll):.4g}, KL {float(self.kl.kl):.4g}, "
                f"penalty {float(self.penalty):.4g}")


def jlonevae_loss(
    recon: torch.Tensor,
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    penalty: torch.Tensor,
    beta: float,
    gamma: float,
) -> LossTerms:
    """NLL + β·KL + γ·penalty. ``penalty`` is a scalar (zero when γ = 0 and it was skipped)."""
    nll = bernoulli_nll(recon, x)
    kl = gaussian_kl_terms(mu, logvar)
    total = nll + beta * kl.kl + gamma * penalty
    return LossTerms(total=total, nll=nll, kl=kl, penalty=penalty, beta=beta, gamma=gamma)
