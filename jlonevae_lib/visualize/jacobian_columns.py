"""Jacobian columns of the decoder at an image's mean latent (the paper's Figure 2).

For an image x with posterior mean μ = encode(x)[0], column k is J_k = ∂ decode(μ) / ∂ z_k,
an image (C, H, W) showing how the picture changes when latent k moves. Columns are ordered by
activity Σ J_k² (descending), computed exactly by forward-mode autodiff.

Display: a column is shown as the gray image ½ + scale·J_k, clipped to [0, 1].

- ``scale = None`` ("max", the default) normalises by the largest |J| over the columns of a
  figure row: ½ + ½·J/max|J|, as in ``figures/cpu-probe-jacobians-8k.png``. Every row uses the
  full gray range, so shapes are visible at any stage of training; magnitudes are comparable
  within a row only.
- ``scale = 20/255`` (:data:`REFERENCE_SCALE`) is the reference's convention: it drew
  J·20 + 255/2 on a 0..255 range. Magnitudes are comparable across models and figures (the
  paper's Figure 2 uses it), but the small Jacobians of early or CPU-scale models look flat,
  and strong columns saturate.

Pure computation (:func:`compute_jacobian_columns`) is separate from plotting
(:func:`plot_jacobian_columns`), which returns a ``Figure`` and never shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from jlonevae_lib.architecture.jacobian import jacobian_columns_exact
from jlonevae_lib.architecture.vae import ConvVAE
from jlonevae_lib.visualize.figure_io import show_image

# Size of one image panel in the figure, in inches.
_PANEL_INCHES = 1.3


@dataclass(frozen=True)
class JacobianColumns:
    """The decoder Jacobian at one image's mean latent, columns ordered by activity.

    Attributes (d latents, image C×H×W):
        image: (C, H, W) the input.
        reconstruction: (C, H, W) decode(μ).
        mean_latent: (d,) μ.
        columns: (d, C, H, W) J_k for k = latent_indices[0], latent_indices[1], ...
        latent_indices: (d,) int, the latent index of each column.
        activity: (d,) Σ J_k² of each column (descending unless an order was imposed).
    """

    image: np.ndarray
    reconstruction: np.ndarray
    mean_latent: np.ndarray
    columns: np.ndarray
    latent_indices: np.ndarray
    activity: np.ndarray


def activity_order(activity: np.ndarray) -> np.ndarray:
    """Latent indices (d,) sorted by activity (d,) descending; ties keep index order."""
    return np.argsort(-np.asarray(activity), kind="stable")


def compute_jacobian_columns(model: ConvVAE, images: np.ndarray,
                             order: str | Sequence[int] = "each") -> list[JacobianColumns]:
    """Jacobian columns at the mean latent of each image.

    model: a ConvVAE (its parameters' device is used); images: (N, C, H, W) float in [0, 1].
    order: ``"each"`` sorts each image's columns by its own activity; ``"first"`` sorts every
    image's columns by the first image's activity (the natural-image figure orders once, by
    the first crop, so the rows line up); a sequence of the d latent indices imposes that order.
    Returns one :class:`JacobianColumns` per image.
    """
    device = next(model.parameters()).device
    x = torch.as_tensor(np.asarray(images, dtype=np.float32), device=device)
    with torch.no_grad():
        mu, _ = model.encode(x)
        recon = model.decode(mu)
        columns = jacobian_columns_exact(model.decode, mu)  # (d, N, C, H, W)
    columns_np = columns.transpose(0, 1).cpu().numpy()  # (N, d, C, H, W)
    activities = np.square(columns_np).sum(axis=(2, 3, 4))  # (N, d)
    if isinstance(order, str):
        if order not in ("each", "first"):
            raise ValueError(f"order must be 'each', 'first' or latent indices, got {order!r}")
        orders = [activity_order(a) for a in (activities if order == "each" else activities[:1])]
    else:
        orders = [np.asarray(order, dtype=np.int64)]
    results = []
    for i in range(x.shape[0]):
        indices = orders[i] if len(orders) > 1 else orders[0]
        results.append(JacobianColumns(
            image=np.asarray(images[i], dtype=np.float32),
            reconstruction=recon[i].cpu().numpy(),
            mean_latent=mu[i].cpu().numpy(),
            columns=columns_np[i][indices],
            latent_indices=indices,
            activity=activities[i][indices],
        ))
    return results


def columns_to_display(columns: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Gray-level images of Jacobian columns (n, C, H, W): ½ + scale·J clipped to [0, 1].

    ``scale=None`` uses ½/max|J| over all n columns (all-zero columns stay at ½).
    Returns (n, C, H, W) float in [0, 1].
    """
    columns = np.asarray(columns, dtype=np.float64)
    if scale is None:
        peak = float(np.abs(columns).max(initial=0.0))
        scale = 0.5 / peak if peak > 0 else 0.0
    return np.clip(0.5 + scale * columns, 0.0, 1.0)


def plot_jacobian_columns(rows: Sequence[tuple[str, JacobianColumns]],
                          scale: float | None = None,
                          max_columns: int | None = None) -> Figure:
    """One figure row per (label, result): input, reconstruction, then the columns.

    Column titles give the latent index and its share of the row's total activity. ``scale``
    as in :func:`columns_to_display` (None: normalised per row); ``max_columns`` keeps only
    the most active columns.
    """
    if not rows:
        raise ValueError("plot_jacobian_columns needs at least one row")
    num_columns = max(len(result.columns) for _, result in rows)
    if max_columns is not None:
        num_columns = min(num_columns, max_columns)
    fig = Figure(figsize=(_PANEL_INCHES * (num_columns + 2), _PANEL_INCHES * 1.15 * len(rows)),
                 layout="constrained")
    axes = fig.subplots(len(rows), num_columns + 2, squeeze=False)
    for r, (label, result) in enumerate(rows):
        show_image(axes[r, 0], result.image, f"{label}\ninput" if label else "input")
        show_image(axes[r, 1], result.reconstruction, "recon(μ)")
        shown = result.columns[:num_columns]
        total = float(result.activity.sum())
        for c, (gray, k, act) in enumerate(zip(columns_to_display(shown, scale),
                                               result.latent_indices, result.activity,
                                               strict=False)):
            share = 100 * act / total if total > 0 else 0.0
            show_image(axes[r, c + 2], gray, f"z{k} {share:.0f}%")
        for c in range(len(shown) + 2, num_columns + 2):
            axes[r, c].set_axis_off()
    return fig
