"""Latent traversals: decode μ + t·σ_k·e_k for a range of t, one row per latent k.

μ is the image's posterior mean. σ_k is, by choice:

- ``"posterior"`` (default): the image's posterior standard deviation exp(logvar_k / 2), the
  scale on which the encoder itself is uncertain; inactive latents (σ_k ≈ 1, ignored by the
  decoder) show as constant rows.
- ``"prior"``: 1, the prior's standard deviation; the usual "±3" traversal of β-VAE papers.

Rows are ordered like the Jacobian columns (by Σ J_k² at μ, descending), so the two figures of
one model can be read side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure, SubFigure

from jlonevae_lib.architecture.vae import ConvVAE
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.visualize.conventions import SIGMA_SOURCES
from jlonevae_lib.visualize.figure_io import show_image
from jlonevae_lib.visualize.jacobian_columns import compute_jacobian_columns

_PANEL_INCHES = 0.9


@dataclass(frozen=True)
class Traversal:
    """Decoded latent traversals around one image's mean latent.

    Attributes (d latents, K steps, image C×H×W):
        image: (C, H, W) the input.
        mean_latent: (d,) μ.
        sigma: (d,) the step unit σ_k of each latent (in latent index order).
        offsets: (K,) the multiples t of σ, ascending.
        latent_indices: (d,) int, the latent of each row (most active first).
        images: (d, K, C, H, W) decode(μ + t·σ_k·e_k), rows in ``latent_indices`` order.
    """

    image: np.ndarray
    mean_latent: np.ndarray
    sigma: np.ndarray
    offsets: np.ndarray
    latent_indices: np.ndarray
    images: np.ndarray


def compute_traversal(model: ConvVAE, image: np.ndarray, num_steps: int = 7,
                      max_sigmas: float = 3.0, sigma_source: str = "posterior") -> Traversal:
    """Traverse every latent of ``model`` around the mean latent of ``image`` (C, H, W).

    Offsets are ``num_steps`` values evenly spaced in [-max_sigmas, max_sigmas].
    """
    if sigma_source not in SIGMA_SOURCES:
        raise JLoneVAEError(f"unknown sigma source '{sigma_source}'; choose one of "
                            f"{', '.join(SIGMA_SOURCES)}")
    if num_steps < 2 or not max_sigmas > 0:
        raise JLoneVAEError("a traversal needs at least 2 steps and a positive range, got "
                            f"{num_steps} steps over ±{max_sigmas}")
    jacobian = compute_jacobian_columns(model, np.asarray(image)[None])[0]
    device = next(model.parameters()).device
    offsets = np.linspace(-max_sigmas, max_sigmas, num_steps)
    with torch.no_grad():
        x = torch.as_tensor(np.asarray(image, dtype=np.float32)[None], device=device)
        mu, logvar = model.encode(x)
        mu, logvar = mu[0], logvar[0]
        latent_dim = mu.shape[0]
        sigma = torch.exp(0.5 * logvar) if sigma_source == "posterior" else torch.ones_like(mu)
        steps = torch.as_tensor(offsets, dtype=mu.dtype, device=device)
        # (d, K, d): row k, step j is μ + t_j·σ_k·e_k.
        eye = torch.eye(latent_dim, dtype=mu.dtype, device=device)
        latents = mu + steps[None, :, None] * (sigma[:, None] * eye)[:, None, :]
        decoded = model.decode(latents.reshape(-1, latent_dim))
    decoded_np = decoded.cpu().numpy().reshape(latent_dim, num_steps, *decoded.shape[1:])
    order = jacobian.latent_indices
    return Traversal(image=np.asarray(image, dtype=np.float32), mean_latent=mu.cpu().numpy(),
                     sigma=sigma.cpu().numpy(), offsets=offsets, latent_indices=order,
                     images=decoded_np[order])


def plot_traversal(traversal: Traversal, title: str = "") -> Figure:
    """A grid: one row per latent (most active first), one column per offset t·σ."""
    return plot_traversals([(title, traversal)])


def plot_traversals(panels: Sequence[tuple[str, Traversal]]) -> Figure:
    """One grid per (title, traversal), side by side: the models of a comparison, each with its
    own latents (a model's grid has a row per latent, most active first, and a column per
    offset t·σ). A single panel's title is the figure's."""
    if not panels:
        raise JLoneVAEError("no traversal to plot")
    widths = [traversal.images.shape[1] + 1 for _, traversal in panels]
    num_rows = max(traversal.images.shape[0] for _, traversal in panels)
    fig = Figure(figsize=(_PANEL_INCHES * sum(widths), _PANEL_INCHES * num_rows + 0.4),
                 layout="constrained")
    subfigures = [fig] if len(panels) == 1 else fig.subfigures(1, len(panels),
                                                                 width_ratios=widths)
    for subfigure, (title, traversal) in zip(subfigures, panels, strict=True):
        _draw_grid(subfigure, traversal, num_rows, title)
    return fig


def _draw_grid(fig: Figure | SubFigure, traversal: Traversal, num_rows: int,
               title: str) -> None:
    """``traversal``'s grid in the top rows of a ``num_rows``-row layout (a model with fewer
    latents than its neighbours leaves the rest blank, so every row keeps one height)."""
    rows, num_steps = traversal.images.shape[:2]
    axes = fig.subplots(num_rows, num_steps, squeeze=False)
    for r, k in enumerate(traversal.latent_indices):
        for c, t in enumerate(traversal.offsets):
            show_image(axes[r, c], traversal.images[r, c], f"{t:+.1f}σ" if r == 0 else "")
        axes[r, 0].set_ylabel(f"z{k}\nσ={traversal.sigma[k]:.2g}", fontsize=7)
    for ax in axes[rows:].flat:
        ax.remove()
    if title:
        fig.suptitle(title, fontsize=8)
