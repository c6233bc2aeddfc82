"""Measures of the natural-image experiment: localisation of image-space columns, and
reconstruction error of the VAEs and of the linear baselines on the same held-out patches.

Localisation. A column is an image-sized vector v (a decoder Jacobian column ∂x/∂z_k, or a PCA
or ICA filter). Its *top-10 % mass* is the fraction of its L1 mass Σ|v_i| that lies in its
largest 10 % of pixels (by |v_i|). A one-hot column gives 1.0, a uniform one exactly 0.1; the
more a column's change is confined to few pixels, the closer to 1. When 10 % of the pixels is
not a whole number (25.6 of 256), the boundary pixel counts with the fractional part of its
mass, so that a uniform column gives exactly the fraction. An all-zero column has no mass:
its value is NaN, and the averages leave it out.

Reconstruction error, per image, summed over pixels and averaged over images, of a
reconstruction clipped to [0, 1]: MSE Σ(x̂ − x)² and BCE −Σ[x log x̂ + (1 − x) log(1 − x̂)]
(logs clamped at −100, as torch does), exactly
:func:`jlonevae_lib.evaluate.linear_baselines.reconstruction_losses`. A VAE's reconstruction is
decode(μ(x)); a linear model's is the projection of x − m onto its components' span, plus m,
the training mean (:func:`linear_reconstruction`), which is what PCA's and FastICA's
``inverse_transform(transform(x))`` computes.
"""

from __future__ import annotations

import math

import numpy as np

from jlonevae_lib.evaluate.linear_baselines import reconstruction_losses

#: The share of a column's pixels whose mass is measured.
TOP_FRACTION = 0.1


def top_mass_fraction(columns: np.ndarray, fraction: float = TOP_FRACTION) -> np.ndarray:
    """The fraction of each column's L1 mass in its largest ``fraction`` of pixels.

    columns: (n, ...) — n columns, each any shape (a (C, H, W) image, a flat (P,) vector);
    flattened to (n, P). fraction: in (0, 1]. Returns float64 (n,) in [fraction, 1]; NaN for an
    all-zero column. With q = fraction·P pixels counted, the largest ⌊q⌋ absolute values count
    fully and the next one with weight q − ⌊q⌋.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    flat = np.abs(np.asarray(columns, dtype=np.float64)).reshape(len(columns), -1)
    num_pixels = flat.shape[1]
    if num_pixels == 0:
        raise ValueError("columns have no pixels")
    counted = fraction * num_pixels
    whole = min(int(math.floor(counted + 1e-9)), num_pixels)
    partial = counted - whole if whole < num_pixels else 0.0
    ordered = -np.sort(-flat, axis=1)  # descending
    top = ordered[:, :whole].sum(axis=1)
    if partial > 1e-9:
        top = top + partial * ordered[:, whole]
    total = flat.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, top / total, np.nan)


def mean_top_mass_fraction(columns: np.ndarray, fraction: float = TOP_FRACTION,
                           weights: np.ndarray | None = None) -> float:
    """The mean of :func:`top_mass_fraction` over columns (n, ...), all-zero columns left out.

    weights: (n,) non-negative, e.g. each column's activity Σv²; None = plain mean. NaN when
    no column has mass.
    """
    values = top_mass_fraction(columns, fraction)
    keep = np.isfinite(values)
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        if weights.shape != values.shape:
            raise ValueError(f"weights have shape {weights.shape}, expected {values.shape}")
        keep &= weights > 0
        if not keep.any():
            return math.nan
        return float(np.average(values[keep], weights=weights[keep]))
    return float(values[keep].mean()) if keep.any() else math.nan


def linear_reconstruction(components: np.ndarray, mean: np.ndarray, data: np.ndarray
                          ) -> np.ndarray:
    """A linear model's reconstruction of data (N, D): m + P(x − m), float64 (N, D).

    components: (D, k), whose span the data are projected on (orthogonally); mean: (D,) the
    training mean m. For PCA (orthonormal components) and FastICA (mixing matrix, with the
    unmixing matrix its pseudo-inverse) this is ``inverse_transform(transform(x))``.
    """
    components = np.asarray(components, dtype=np.float64)
    centred = np.asarray(data, dtype=np.float64) - np.asarray(mean, dtype=np.float64)
    coefficients, *_ = np.linalg.lstsq(components, centred.T, rcond=None)  # (k, N)
    return mean + (components @ coefficients).T


def reconstruction_error(reconstruction: np.ndarray, data: np.ndarray) -> dict[str, float]:
    """{"mse", "bce"} per image of a reconstruction of data, both (N, ...) in [0, 1] (the
    reconstruction is clipped to it first); flattened to (N, D)."""
    flat = np.asarray(data, dtype=np.float64).reshape(len(data), -1)
    recon = np.asarray(reconstruction, dtype=np.float64).reshape(len(reconstruction), -1)
    if recon.shape != flat.shape:
        raise ValueError(f"reconstruction {recon.shape} and data {flat.shape} differ in shape")
    mse, bce = reconstruction_losses(recon, flat)
    return {"mse": mse, "bce": bce}
