"""disentanglement_lib's losses for its six baselines, as pure functions on tensors.

Each function restates one piece of ``disentanglement_lib/methods/unsupervised/vae.py`` (and
``methods/shared/losses.py``, ``architectures.py``) in PyTorch; docs/method.md, "The six
baselines", gives the formulas. A baseline's loss is ``bernoulli_logits_loss + regulariser``,
where each ``*_regulariser`` returns what disentanglement_lib's ``regularizer()`` returns (the
KL included where it includes it). Tensors are float32, as disentanglement_lib's are; in a bf16
run (``TrainConfig.precision``) they run under bfloat16 autocast, and FactorVAE's discriminator,
whose products autocast takes to bfloat16, hands its logits to the losses in float32.

Notation: B the batch size, d the latent size, C/H/W the image channels/height/width.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from jlonevae_lib.utils.precision import full_precision

#: The discriminator's probabilities are clipped to [PROB_CLIP, 1 − PROB_CLIP] before their log.
PROB_CLIP = 1e-6
#: Slope of ``tf.nn.leaky_relu``'s default, which the discriminator uses (PyTorch's is 0.01).
LEAKY_RELU_SLOPE = 0.2
#: Width and number of the discriminator's hidden layers (FactorVAE paper, appendix A).
DISCRIMINATOR_WIDTH = 1000
DISCRIMINATOR_DEPTH = 6


def bernoulli_logits_loss(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Sigmoid cross-entropy of decoder logits against images, summed per image, batch mean.

    logits, x: (B, C, H, W), x in [0, 1]. Returns a scalar. A sum over everything divided by B
    is the per-image sum averaged over the batch, without a (B,) intermediate.
    """
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per image, batch mean. mu, logvar: (B, d); scalar.

    disentanglement_lib's form: mean over the batch of ½Σ_l(mu² + exp(logvar) − logvar − 1).
    The JL1-VAE loss's KL, with its parts, is :func:`~jlonevae_lib.train.losses.gaussian_kl_terms`
    (the same value, summed in the reference's order).
    """
    return 0.5 * (mu.square() + logvar.exp() - logvar - 1).sum(dim=1).mean()


def annealed_capacity(step: int, c_max: float, iteration_threshold: int) -> float:
    """AnnealedVAE's capacity C_t = min(c_max, c_max·t/threshold), in float32 as TensorFlow has it.

    ``step`` is the number of updates already taken (disentanglement_lib's global step, read
    before the update). It is computed as t·(c_max·(1/threshold)), each operation rounded to
    float32: the order left once TensorFlow's graph optimiser turns the division by a constant
    into a multiplication by its reciprocal and merges the constants. At t = threshold,
    c_max = 25 it gives 24.999998, the value measured with disentanglement_lib, where the
    literal order c_max·t/threshold gives 25 exactly.
    """
    f32 = np.float32
    rate = f32(c_max) * (f32(1.0) / f32(iteration_threshold))
    return float(np.minimum(f32(c_max), f32(step) * rate))


def beta_vae_regulariser(kl: torch.Tensor, beta: float) -> torch.Tensor:
    """β-VAE: β·KL. kl: the scalar of ``gaussian_kl``."""
    return beta * kl


def annealed_vae_regulariser(kl: torch.Tensor, step: int, gamma: float, c_max: float,
                             iteration_threshold: int) -> torch.Tensor:
    """AnnealedVAE: γ·|KL − C_t| with C_t from ``annealed_capacity``. kl: scalar."""
    return gamma * (kl - annealed_capacity(step, c_max, iteration_threshold)).abs()


def covariance_of_means(mu: torch.Tensor) -> torch.Tensor:
    """Biased batch covariance of the encoder means, E[mu·muᵀ] − E[mu]·E[mu]ᵀ. mu: (B, d) → (d, d).

    Computed in that form, as disentanglement_lib does, rather than from centred values.
    """
    mean = mu.mean(dim=0)
    return mu.T @ mu / mu.shape[0] - torch.outer(mean, mean)


def dip_regulariser(cov: torch.Tensor, lambda_od: float, lambda_d: float) -> torch.Tensor:
    """λod·Σ_{i≠j} cov_ij² + λd·Σ_i (cov_ii − 1)²: how far cov is from the identity. cov: (d, d)."""
    diag = cov.diagonal()
    off_diag = cov - torch.diag_embed(diag)
    return lambda_od * off_diag.square().sum() + lambda_d * (diag - 1).square().sum()


def dip_vae_i_regulariser(kl: torch.Tensor, mu: torch.Tensor, lambda_od: float,
                          lambda_d_factor: float = 10.0) -> torch.Tensor:
    """DIP-VAE-I: KL + the DIP penalty on Cov(mu), λd = λd_factor·λod (10 in the study).

    kl: scalar; mu: (B, d).
    """
    return kl + dip_regulariser(covariance_of_means(mu), lambda_od, lambda_d_factor * lambda_od)


def dip_vae_ii_covariance(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Cov(mu) + diag(batch mean of exp(logvar)): the covariance of z under q. (B, d) → (d, d)."""
    return covariance_of_means(mu) + torch.diag_embed(logvar.exp().mean(dim=0))


def dip_vae_ii_regulariser(kl: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                           lambda_od: float, lambda_d_factor: float = 1.0) -> torch.Tensor:
    """DIP-VAE-II: KL + the DIP penalty on ``dip_vae_ii_covariance``, λd = λd_factor·λod.

    λd_factor is 1 in the study. kl: scalar; mu, logvar: (B, d).
    """
    return kl + dip_regulariser(dip_vae_ii_covariance(mu, logvar), lambda_od,
                                lambda_d_factor * lambda_od)


def gaussian_log_density(samples: torch.Tensor, mean: torch.Tensor,
                         logvar: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(samples; mean, exp(logvar)); the three broadcast together."""
    return -0.5 * ((samples - mean).square() * torch.exp(-logvar) + logvar + math.log(2 * math.pi))


def total_correlation(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Minibatch-weighted estimate of TC(q(z)) on a batch. z, mu, logvar: (B, d); scalar.

    mean_j [ logsumexp_i Σ_l log q(z_jl | x_i) − Σ_l logsumexp_i log q(z_jl | x_i) ], with the
    constant (d − 1)·log(B·N) left out as disentanglement_lib does, so the value can be
    negative; its gradient is the estimator's.
    """
    # (j, i, l): sample j's latent l under the posterior of image i.
    log_q = gaussian_log_density(z.unsqueeze(1), mu.unsqueeze(0), logvar.unsqueeze(0))
    log_q_product = torch.logsumexp(log_q, dim=1).sum(dim=1)
    log_q_joint = torch.logsumexp(log_q.sum(dim=2), dim=1)
    return (log_q_joint - log_q_product).mean()


def beta_tc_vae_regulariser(kl: torch.Tensor, z: torch.Tensor, mu: torch.Tensor,
                            logvar: torch.Tensor, beta: float) -> torch.Tensor:
    """β-TCVAE: KL + (β − 1)·TC. kl: scalar; z, mu, logvar: (B, d)."""
    return kl + (beta - 1.0) * total_correlation(z, mu, logvar)


def permute_dims(z: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """z with each latent dimension shuffled independently across the batch. (B, d) → (B, d).

    One ``randperm`` of B per dimension, drawn from ``generator`` (which may live on another
    device than z), so the shuffle follows the run's seed.
    """
    batch, latent_dim = z.shape
    columns = [z[torch.randperm(batch, generator=generator, device=generator.device)
                 .to(z.device), k] for k in range(latent_dim)]
    return torch.stack(columns, dim=1)


class FactorVAEDiscriminator(nn.Module):
    """FactorVAE's discriminator: 6 dense layers of 1000 with leaky ReLU (slope 0.2), then 2 logits.

    Input z: (B, d); output logits: (B, 2), column 0 "a sample of q(z)", column 1 "a sample of
    the product of its marginals". Parameters ``d1`` … ``d6``, ``logits`` are
    disentanglement_lib's ``discriminator/d1`` … ``discriminator/logits`` (``weight`` is the
    TensorFlow ``kernel`` transposed). Initialised as TensorFlow's dense layers are:
    Glorot-uniform weights, zero biases.
    """

    def __init__(self, latent_dim: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        widths = [latent_dim] + [DISCRIMINATOR_WIDTH] * DISCRIMINATOR_DEPTH
        for k in range(DISCRIMINATOR_DEPTH):
            self.add_module(f"d{k + 1}", nn.Linear(widths[k], widths[k + 1]))
        self.logits = nn.Linear(DISCRIMINATOR_WIDTH, 2)
        for layer in self.children():
            nn.init.xavier_uniform_(layer.weight, generator=generator)
            nn.init.zeros_(layer.bias)

    def layers(self) -> list[nn.Linear]:
        """The dense layers in order: ``d1`` … ``d6``, ``logits``."""
        return [getattr(self, f"d{k + 1}") for k in range(DISCRIMINATOR_DEPTH)] + [self.logits]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = z
        for k in range(DISCRIMINATOR_DEPTH):
            h = F.leaky_relu(getattr(self, f"d{k + 1}")(h), LEAKY_RELU_SLOPE)
        return self.logits(h)

    def tf_variable_names(self) -> dict[str, str]:
        """Our parameter name → disentanglement_lib's TensorFlow variable name."""
        tf_names = {"weight": "kernel", "bias": "bias"}
        return {name: f"discriminator/{name.split('.')[0]}/{tf_names[name.split('.')[1]]}"
                for name, _ in self.named_parameters()}


def discriminator_probs(logits: torch.Tensor) -> torch.Tensor:
    """Softmax of the logits clipped to [1e-6, 1 − 1e-6]. (B, 2) → (B, 2)."""
    return logits.softmax(dim=-1).clamp(PROB_CLIP, 1.0 - PROB_CLIP)


def factor_vae_tc(logits: torch.Tensor) -> torch.Tensor:
    """FactorVAE's TC estimate, mean over the batch of logit₀ − logit₁. logits: (B, 2); scalar."""
    return (logits[:, 0] - logits[:, 1]).mean()


def discriminator_loss(logits_z: torch.Tensor, logits_permuted: torch.Tensor) -> torch.Tensor:
    """−(½·mean log p₀(z) + ½·mean log p₁(permuted z)), probabilities clipped. (B, 2) each; scalar.

    Minimising it trains the discriminator to call z "joint" and permuted z "product".
    """
    return -(0.5 * discriminator_probs(logits_z)[:, 0].log().mean()
             + 0.5 * discriminator_probs(logits_permuted)[:, 1].log().mean())


def factor_vae_regulariser(kl: torch.Tensor, tc: torch.Tensor, gamma: float) -> torch.Tensor:
    """FactorVAE: KL + γ·TC, with tc from ``factor_vae_terms``. Scalars."""
    return kl + gamma * tc


@dataclass
class FactorVAETerms:
    """One FactorVAE step's two losses, each reaching only its own side's parameters."""

    #: mean(logit₀ − logit₁) on z: its gradient flows through z into the VAE, never into the
    #: discriminator's parameters.
    tc: torch.Tensor
    #: ``discriminator_loss`` on z and its permutation: its gradient reaches the
    #: discriminator's parameters only (z is detached).
    discriminator_loss: torch.Tensor


def _leaky_relu_backward(grad: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """``grad`` (N, W) back through the leaky ReLU whose output was ``output`` (N, W): the output is
    positive exactly where the input was (slope > 0), so this is autograd's rule."""
    return torch.where(output > 0, grad, grad * LEAKY_RELU_SLOPE)


class _SharedDiscriminatorPass(torch.autograd.Function):
    """The discriminator's one forward pass over [z; permuted z], serving both FactorVAE losses.

    disentanglement_lib runs the discriminator once on z and once on its permutation and takes
    each optimiser's gradient from those passes; a single PyTorch backward would mix the two
    losses' gradients in the shared pass. This function returns the logits twice, as two
    outputs: ``tc_logits`` (B, 2), the rows of z, and ``all_logits`` (2B, 2). Its backward
    keeps their gradients apart: the first goes back to z only (through the rows of z, no
    weight gradients), the second to the parameters only (nothing to z or its permutation).
    One forward of 2B rows instead of B + 2B; the backward does what autograd would do for
    the two separate passes.

    Inputs: z (B, d), permuted (B, d), then each layer's weight (out, in) and bias (out,),
    ``d1`` … ``d6``, ``logits``.
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor, permuted: torch.Tensor, *params: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        ctx.set_materialize_grads(False)
        weights, biases = params[0::2], params[1::2]
        # layer_inputs[k] feeds layer k; for k > 0 it is layer k − 1's leaky-ReLU output.
        layer_inputs = [torch.cat([z, permuted])]
        for weight, bias in zip(weights[:-1], biases[:-1], strict=True):
            layer_inputs.append(F.leaky_relu(F.linear(layer_inputs[-1], weight, bias),
                                             LEAKY_RELU_SLOPE))
        logits = F.linear(layer_inputs[-1], weights[-1], biases[-1])
        ctx.batch = z.shape[0]
        ctx.save_for_backward(*weights, *layer_inputs)
        # A backward runs outside autocast; under a bf16 run's the activations saved are
        # bfloat16 and the weights float32, so the backward repeats the forward's autocast
        # (what torch.amp.custom_bwd does, for whichever device type the run is on).
        device_type = z.device.type
        ctx.autocast = (device_type, torch.get_autocast_dtype(device_type)
                        if torch.is_autocast_enabled(device_type) else None)
        return logits[:ctx.batch].clone(), logits

    @staticmethod
    def backward(ctx, grad_tc_logits: torch.Tensor | None, grad_all_logits: torch.Tensor | None
                 ) -> tuple[torch.Tensor | None, ...]:
        device_type, dtype = ctx.autocast
        with (nullcontext() if dtype is None
              else torch.autocast(device_type=device_type, dtype=dtype)):
            return _SharedDiscriminatorPass._gradients(ctx, grad_tc_logits, grad_all_logits)

    @staticmethod
    def _gradients(ctx, grad_tc_logits: torch.Tensor | None,
                   grad_all_logits: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
        """The backward's gradients: (z's, None for the permutation, each parameter's)."""
        saved = ctx.saved_tensors
        depth = len(saved) // 2
        weights, layer_inputs = saved[:depth], saved[depth:]
        grad_z = None
        if grad_tc_logits is not None and ctx.needs_input_grad[0]:
            grad = grad_tc_logits
            for k in range(depth - 1, -1, -1):  # the rows of z; input gradients only
                grad = grad @ weights[k]
                if k > 0:
                    grad = _leaky_relu_backward(grad, layer_inputs[k][:ctx.batch])
            grad_z = grad
        param_grads: list[torch.Tensor | None] = [None] * (2 * depth)
        if grad_all_logits is not None and any(ctx.needs_input_grad[2:]):
            grad = grad_all_logits
            for k in range(depth - 1, -1, -1):  # every row; parameter gradients
                param_grads[2 * k] = grad.t() @ layer_inputs[k]
                param_grads[2 * k + 1] = grad.sum(dim=0)
                if k > 0:
                    grad = _leaky_relu_backward(grad @ weights[k], layer_inputs[k])
        return (grad_z, None, *param_grads)


def factor_vae_terms(discriminator: FactorVAEDiscriminator, z: torch.Tensor,
                     generator: torch.Generator) -> FactorVAETerms:
    """The VAE's TC term and the discriminator's loss for sampled latents z: (B, d).

    disentanglement_lib minimises both losses from the same forward pass, each optimiser over
    its own variables only. Here too: one pass of the discriminator over z and its permutation
    (:class:`_SharedDiscriminatorPass`), whose backward sends the TC term's gradient into z
    only and the discriminator loss's into the discriminator's parameters only. So
    ``(vae_loss + terms.discriminator_loss).backward()`` gives each side exactly the gradient
    of its own loss, and both optimisers can step after one backward pass. ``generator`` draws
    the permutation (``permute_dims``).
    """
    params = [tensor for layer in discriminator.layers() for tensor in (layer.weight, layer.bias)]
    tc_logits, logits = _SharedDiscriminatorPass.apply(
        z, permute_dims(z.detach(), generator), *params)
    # Logits from bfloat16 products (a bf16 run's autocast) go to the means and the softmax in
    # float32: its clip at 1 − 1e-6 is 1 in bfloat16. No copy in a float32 run.
    tc_logits, logits = full_precision(tc_logits), full_precision(logits)
    logits_z, logits_permuted = logits.split(z.shape[0])
    return FactorVAETerms(tc=factor_vae_tc(tc_logits),
                          discriminator_loss=discriminator_loss(logits_z, logits_permuted))
