"""The reference's public Jacobian functions, kept under their names for the paper's notebooks.

Thin wrappers over :mod:`jlonevae_lib.architecture.jacobian`; new code should call that module.
Like the reference, every function here detaches the latent it is given, so gradients reach the
decoder's parameters only. Unlike it, every decoder call runs in IEEE float32 on a GPU, whatever
the process's TF32 settings (the precision policy of
:mod:`jlonevae_lib.architecture.jacobian`; docs/gpu.md): the reference's notebooks get
Jacobians, not TF32 rounding divided by ε. The penalties' backward runs later, in the caller's
hands; run it under :func:`jlonevae_lib.utils.precision.ieee_float32` for an exact gradient.
"""

from __future__ import annotations

import numpy as np
import torch

from jlonevae_lib.architecture.jacobian import (
    jacobian_columns_exact,
    jacobian_columns_fd,
    jacobian_penalty,
)
from jlonevae_lib.architecture.vae import ConvVAE
from jlonevae_lib.utils.errors import JLoneVAEError

Device = str | torch.device


def compute_generator_jacobian_optimized(model: ConvVAE, embedding: torch.Tensor,
                                         epsilon_scale: float = 0.001,
                                         device: Device = "cpu") -> torch.Tensor:
    """Forward-difference decoder Jacobian at ``embedding`` (B, d): a tensor (d, B, C, H, W).

    ``device`` is where ``model`` lives; the embedding is moved there.
    """
    z = embedding.detach().to(device)
    return jacobian_columns_fd(model.decode, z, epsilon=epsilon_scale)


def compute_generator_jacobian_image_optimized(model: ConvVAE, embedding: torch.Tensor,
                                               epsilon_scale: float = 0.001,
                                               device: Device = "cpu") -> torch.Tensor:
    """:func:`compute_generator_jacobian_optimized` summed over colour channels: a tensor
    (d, B, 1, H, W), as the reference's function of this name returned."""
    columns = compute_generator_jacobian_optimized(model, embedding, epsilon_scale, device)
    return columns.sum(dim=2, keepdim=True)


def compute_generator_jacobian_analytic(model: ConvVAE, embedding: torch.Tensor,
                                        im_channels: int = 3, im_side_len: int = 64,
                                        device: Device = "cpu",
                                        jac_batch_size: int = 128) -> np.ndarray:
    """Exact decoder Jacobian at ``embedding`` (B, d), usually B = 1: numpy (d, B, C, H, W).

    ``im_channels`` and ``im_side_len`` are the reference's way of stating the image shape;
    they must match the model's output (a clear error otherwise). ``jac_batch_size`` sized the
    reference's backward passes (output pixels per pass); here the Jacobian comes from d
    forward-mode products computed together, so it only has to be a positive integer.
    """
    if isinstance(jac_batch_size, bool) or not isinstance(jac_batch_size, int) \
            or jac_batch_size < 1:
        raise JLoneVAEError(f"jac_batch_size must be a positive integer, got {jac_batch_size!r}")
    z = embedding.detach().to(device)
    with torch.no_grad():
        columns = jacobian_columns_exact(model.decode, z)
    if tuple(columns.shape[2:]) != (im_channels, im_side_len, im_side_len):
        raise JLoneVAEError(
            f"the decoder produces images of shape {tuple(columns.shape[2:])}, not "
            f"({im_channels}, {im_side_len}, {im_side_len}); pass the model's im_channels and "
            "im_side_len")
    return columns.cpu().numpy()


def jacobian_loss_function(model: ConvVAE, mu: torch.Tensor, logvar: torch.Tensor | None,
                           device: Device) -> torch.Tensor:
    """The JL1 penalty Σ|J|/B of the forward-difference Jacobian at the latents ``mu`` (B, d).

    As in the reference, the penalty is evaluated at the point passed as ``mu`` (its trainer
    passed the SAMPLED latent z there, which is the paper's method), detached from the encoder;
    ``logvar`` is not used and is kept only for the reference's signature.
    """
    return jacobian_penalty(model.decode, mu.detach().to(device), penalty="jlone", method="fd")


def jacobian_l2_loss_function(model: ConvVAE, mu: torch.Tensor, logvar: torch.Tensor | None,
                              device: Device) -> torch.Tensor:
    """The L2 variant Σ J²/B of :func:`jacobian_loss_function` (the paper's appendix)."""
    return jacobian_penalty(model.decode, mu.detach().to(device), penalty="jltwo", method="fd")
