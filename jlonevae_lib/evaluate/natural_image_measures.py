"""Measures of the natural-image experiment: localisation of image-space columns, and
reconstruction error of the VAEs and of the linear baselines on the same held-out patches.

Localisation. A column is an image-sized vector v (a decoder Jacobian column ∂x/∂z_k, or a PCA
or ICA filter). Its *top-10 % mass* is the fraction of its L1 mass Σ|v_i| that lies in its
largest 10 % of pixels (by |v_i|). A one-hot column gives 1.0, a uniform one exactly 0.1; the
more a column's change is confined to few pixels, the closer to 1. When 10 % of the pixels is
not a whole number (25.6 of 256), the boundary pixel counts with the fractional part of its
mass, so that a uniform column gives exactly the fraction. An all-zero column has no mass:
its value is NaN, and the averages leave it out.

Localisation that noise cannot fake (:func:`localise_columns`). The top-10 % mass scores a
column of white noise 0.26 and a column of sparse rounding noise (what forward differences give
on a decoder that ignores its latent: a few pixels at ±1 ulp/ε, the rest 0) up to 1.0, higher
than any learned filter; it looks at the values only, not at where they lie. It is kept,
unchanged, for the results already written; three per-column quantities, on columns
(K, C, H, W), make the measure that replaces it:

- *compactness* (:func:`energy_compactness`): the share of the column's energy Σv² inside a disc
  around its energy-weighted centroid, the disc covering 10 % of the patch (radius 2.85 pixels
  on 16×16), rescaled so that a column whose energy is spread evenly (uniform, white noise, a
  sinusoid) gives 0 and one with all its energy in the disc gives 1. Where the pixels lie is
  what it measures: scattered pixels are not compact, a bump is.
- *coherence* (:func:`neighbour_coherence`): the largest |autocorrelation| of the mean-removed
  column at the four neighbour lags (→, ↓, ↘, ↙). White noise has ≈ 0 at every lag; a smooth
  or oriented filter, even a fine one of whitened data, is correlated along some direction
  (≥ 0.64 for every 2-D sinusoid on 16×16).
- *signal*: the column's RMS per pixel against :func:`fd_noise_floor`, float32's machine
  epsilon × the output range / ε, the resolution of the penalty's forward difference. Below it
  the latent moves the image by less than the penalty's own Jacobian can resolve.

A column is *structured* when its compactness or its coherence exceeds what white Gaussian
noise of its shape reaches in 99.9 % of draws (:func:`white_noise_thresholds`, a seeded Monte
Carlo); its *localisation score* is its compactness when it is structured and has signal, NaN
("no structure" / "no signal") otherwise, and a set of columns is summarised by the mean score
over the columns that have one and by the share of columns in each state
(:func:`summarise_localisation`).

Reconstruction error, per image, summed over pixels and averaged over images, of a
reconstruction clipped to [0, 1]: MSE Σ(x̂ − x)² and BCE −Σ[x log x̂ + (1 − x) log(1 − x̂)]
(logs clamped at −100, as torch does), exactly
:func:`jlonevae_lib.evaluate.linear_baselines.reconstruction_losses`. A VAE's reconstruction is
decode(μ(x)); a linear model's is the projection of x − m onto its components' span, plus m,
the training mean (:func:`linear_reconstruction`), which is what PCA's and FastICA's
``inverse_transform(transform(x))`` computes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from jlonevae_lib.architecture.jacobian import FD_EPSILON, jacobian_columns_exact
from jlonevae_lib.data import natural_images
from jlonevae_lib.evaluate.linear_baselines import LinearBaseline, reconstruction_losses

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


#: The share of the patch's area that the compactness disc covers (the counterpart of
#: :data:`TOP_FRACTION`: 25.6 of 256 pixels, a radius of 2.85 pixels).
DISC_FRACTION = 0.1
#: A column is structured when a statistic exceeds this quantile of white noise's: white
#: noise passes one of the two tests in at most 2 of 1,000 draws.
NOISE_QUANTILE = 0.999
#: Draws and seed of the white-noise Monte Carlo behind :func:`white_noise_thresholds`.
NULL_DRAWS = 20_000
NULL_SEED = 0
#: The four neighbour lags (dy, dx) of :func:`neighbour_coherence`; the other four are their
#: mirror images and give the same autocorrelation.
NEIGHBOUR_LAGS = ((0, 1), (1, 0), (1, 1), (1, -1))


def _as_images(columns: np.ndarray) -> np.ndarray:
    """Columns (K, H, W) or (K, C, H, W) as float64 (K, C, H, W)."""
    array = np.asarray(columns, dtype=np.float64)
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4 or array.shape[-1] == 0 or array.shape[-2] == 0:
        raise ValueError(f"columns must be (K, H, W) or (K, C, H, W), got {array.shape}")
    return array


def energy_compactness(columns: np.ndarray, disc_fraction: float = DISC_FRACTION) -> np.ndarray:
    """How much of each column's energy lies near its energy-weighted centroid.

    columns: (K, H, W) or (K, C, H, W) (energy summed over channels). For energy e = Σ_c v²,
    centroid m = Σ e·x / Σ e, and the disc D of the pixels within radius √(disc_fraction·H·W/π)
    of m (clipped by the border), with E = Σ_D e / Σ e and A = |D| / (H·W) the share a column
    with the same energy on every pixel would have there: returns float64 (K,) (E − A)/(1 − A).
    1: all energy in the disc (one pixel, a small bump); 0: spread like a uniform column (white
    noise, a sinusoid, whatever its frequency); below 0: farther from the centroid than
    uniform (e.g. a gradient, whose energy is at two opposite borders). NaN for an all-zero
    column.
    """
    if not 0 < disc_fraction < 1:
        raise ValueError(f"disc_fraction must be in (0, 1), got {disc_fraction}")
    images = _as_images(columns)
    height, width = images.shape[-2:]
    energy = np.square(images).sum(axis=1)  # (K, H, W)
    total = energy.sum(axis=(1, 2))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = energy / total[:, None, None]
        centre_y = (share * ys).sum(axis=(1, 2))
        centre_x = (share * xs).sum(axis=(1, 2))
        distance2 = (ys - centre_y[:, None, None]) ** 2 + (xs - centre_x[:, None, None]) ** 2
        # a hair over r² so that a pixel exactly on the circle counts whatever the rounding
        inside = distance2 <= disc_fraction * height * width / math.pi + 1e-9
        in_disc = np.where(inside, share, 0.0).sum(axis=(1, 2))
        area = inside.sum(axis=(1, 2)) / (height * width)
        return np.where(total > 0, (in_disc - area) / (1 - area), np.nan)


def neighbour_coherence(columns: np.ndarray) -> np.ndarray:
    """The largest |autocorrelation| of each mean-removed column at the neighbour lags.

    columns: (K, H, W) or (K, C, H, W). With c = v − mean(v) (per column, over channels and
    pixels), r(l) = Σ_i c_i·c_{i+l} / Σ_i c_i² over the pixel pairs one lag l apart in the same
    channel (the usual autocorrelation estimator: its denominator is the whole column's, so a
    lag whose pairs miss the column's few large pixels gives ≈ 0), for l in
    :data:`NEIGHBOUR_LAGS`; returns float64 (K,) max_l |r(l)| in [0, 1]. White noise gives
    about 1/√(H·W) per lag (0.09 for 16×16); a constant sign along some direction (a bump, a
    gradient, a stripe) gives near 1, an alternating one (a checkerboard) too, since the
    absolute value is taken (at most the share of pixels that have that neighbour: 15/16 on
    16×16); every 2-D sinusoid on 16×16 gives at least 0.64. A single pixel gives ≈ 0: the
    measure says nothing about localisation, only whether neighbouring pixels move together.
    A non-zero constant column gives 1, an all-zero one NaN.
    """
    images = _as_images(columns)
    centred = images - images.mean(axis=(1, 2, 3), keepdims=True)
    power = np.square(centred).sum(axis=(1, 2, 3))
    height, width = images.shape[-2:]
    lags = []
    for dy, dx in NEIGHBOUR_LAGS:
        if dy >= height or abs(dx) >= width:
            continue
        first = centred[:, :, dy:, max(dx, 0):width + min(dx, 0)]
        second = centred[:, :, :height - dy, max(-dx, 0):width - max(dx, 0)]
        lags.append((first * second).sum(axis=(1, 2, 3)))
    if not lags:
        raise ValueError(f"columns of {height}×{width} pixels have no neighbouring pixels")
    # a non-zero constant column (a uniform change of brightness) moves every pixel together:
    # perfectly coherent, though its mean-removed part is zero (or rounding: hence relative)
    energy = np.square(images).sum(axis=(1, 2, 3))
    varies = power > 1e-20 * energy
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(varies, np.abs(np.stack(lags)).max(axis=0) / power,
                        np.where(energy > 0, 1.0, np.nan))


@functools.lru_cache(maxsize=16)
def white_noise_thresholds(height: int, width: int, channels: int = 1,
                           quantile: float = NOISE_QUANTILE, draws: int = NULL_DRAWS,
                           seed: int = NULL_SEED) -> tuple[float, float]:
    """(compactness, coherence) that white Gaussian noise of shape (channels, height, width)
    stays at or below in ``quantile`` of ``draws`` seeded draws.

    Computed, not tabulated, so that any patch size has its own; deterministic (seeded) and
    cached. 16×16, the defaults: about (0.12, 0.21).
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    rng = np.random.default_rng(seed)
    compactness, coherence = [], []
    for start in range(0, draws, 5_000):  # chunks: a few MB at a time
        noise = rng.standard_normal((min(5_000, draws - start), channels, height, width))
        compactness.append(energy_compactness(noise))
        coherence.append(neighbour_coherence(noise))
    return (float(np.quantile(np.concatenate(compactness), quantile)),
            float(np.quantile(np.concatenate(coherence), quantile)))


def fd_noise_floor(output_range: float = 1.0, epsilon: float = FD_EPSILON,
                   dtype: type[np.floating] = np.float32) -> float:
    """The RMS per pixel below which a Jacobian column is "no signal".

    The resolution of the penalty's forward difference (f(z + εe_k) − f(z)) / ε in ``dtype``
    on a decoder whose outputs span ``output_range`` (1 for a sigmoid): one machine epsilon of
    the output, divided by ε; 1.19e-4 for float32, ε = 1e-3. Measured on tiny16 decoders whose
    latent weights are scaled to 1e-7 … 1e-2 (tests/evaluate/test_natural_image_measures.py),
    the rounding noise of such forward differences stays below 0.4 of it, so a column above it
    is not that noise, and a column below it moves the image by less than the penalty can see.
    """
    if output_range <= 0 or epsilon <= 0:
        raise ValueError(f"output_range and epsilon must be > 0, got {output_range}, {epsilon}")
    return float(np.finfo(dtype).eps) * output_range / epsilon


@dataclass(frozen=True)
class ColumnLocalisation:
    """The per-column quantities of :func:`localise_columns`, each an array (K,)."""

    compactness: np.ndarray
    coherence: np.ndarray
    #: RMS per pixel of each column.
    rms: np.ndarray
    #: RMS at or above the noise floor (all True when no floor was given).
    has_signal: np.ndarray
    #: Compactness or coherence above white noise's :data:`NOISE_QUANTILE`.
    structured: np.ndarray

    @property
    def score(self) -> np.ndarray:
        """The localisation score (K,): the compactness of the columns with signal and
        structure, NaN for the others."""
        return np.where(self.has_signal & self.structured, self.compactness, np.nan)

    @property
    def state(self) -> np.ndarray:
        """(K,) strings: "no signal" (below the floor, or all zero), "no structure" (like white
        noise) or "structured"."""
        return np.where(~self.has_signal, "no signal",
                        np.where(self.structured, "structured", "no structure"))


def localise_columns(columns: np.ndarray, noise_floor: float | None = None,
                     quantile: float = NOISE_QUANTILE) -> ColumnLocalisation:
    """Compactness, coherence, signal and structure of columns (K, H, W) or (K, C, H, W).

    noise_floor: the RMS per pixel below which a column has no signal (a decoder's Jacobian
    columns: :func:`fd_noise_floor`); None for columns whose scale means nothing (PCA's and
    ICA's filters, hand-made columns): only all-zero columns then lack signal. quantile: of
    white noise's statistics, the structure test's threshold (:func:`white_noise_thresholds`).
    """
    images = _as_images(columns)
    compactness = energy_compactness(images)
    coherence = neighbour_coherence(images)
    rms = np.sqrt(np.square(images).mean(axis=(1, 2, 3)))
    has_signal = rms > 0 if noise_floor is None else rms >= noise_floor
    compact_limit, coherent_limit = white_noise_thresholds(
        images.shape[-2], images.shape[-1], images.shape[1], quantile)
    # NaN (an all-zero or constant column) compares False: not structured
    structured = (compactness > compact_limit) | (coherence > coherent_limit)
    return ColumnLocalisation(compactness, coherence, rms, has_signal, structured)


def summarise_localisation(localisation: ColumnLocalisation) -> dict[str, float]:
    """A set of columns in numbers: "compactness", the mean localisation score over the
    columns that have one (NaN when none has); "compactness_weighted", the same with each
    column weighted by its energy Σv² (weak columns count little); and the shares of the
    columns that are "structured", have "no_structure" or "no_signal" (they add up to 1)."""
    score = localisation.score
    kept = np.isfinite(score)
    state = localisation.state
    energy = np.square(localisation.rms)  # ∝ Σv²: every column has the same pixel count
    weighted = (float(np.average(score[kept], weights=energy[kept]))
                if kept.any() else math.nan)
    return {"compactness": float(score[kept].mean()) if kept.any() else math.nan,
            "compactness_weighted": weighted,
            "structured": float(np.mean(state == "structured")),
            "no_structure": float(np.mean(state == "no structure")),
            "no_signal": float(np.mean(state == "no signal"))}


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


# A VAE's measures on held-out patches (the natural-image report's).

_BATCH = 500  # patches per forward pass when scoring
#: The span of the decoder's outputs (a sigmoid: [0, 1]), which scales the noise floor below
#: which a Jacobian column is "no signal".
DECODER_OUTPUT_RANGE = 1.0


@dataclass(frozen=True)
class VAEMeasures:
    """Held-out errors and the localisation of one VAE's Jacobian columns."""

    mse: float
    bce: float
    #: Plain mean of the top-10 % mass over columns and patches.
    localisation: float
    #: The same, each column weighted by its activity Σ J_k² (inactive latents count little).
    localisation_weighted: float
    #: Mean activity Σ J_k² of a column (near 0: the decoder ignores its latents).
    mean_activity: float
    num_patches: int
    #: Mean compactness score of the columns with signal and structure (NaN: none has).
    compactness: float = math.nan
    #: The same, each column weighted by its activity Σ J_k².
    compactness_weighted: float = math.nan
    #: Shares of the columns that are structured, like white noise, below the noise floor.
    columns_structured: float = math.nan
    columns_no_structure: float = math.nan
    columns_no_signal: float = math.nan


def measure_vae(model: torch.nn.Module, test_patches: np.ndarray, num_localisation: int
                ) -> VAEMeasures:
    """Held-out errors of decode(μ) on test patches (N, 1, 16, 16), and the top-10 % mass and
    the compactness (:func:`localise_columns`, noise floor :func:`fd_noise_floor` of
    :data:`DECODER_OUTPUT_RANGE`) of the Jacobian columns at μ of the first
    ``num_localisation`` of them."""
    device = next(model.parameters()).device
    reconstructions = []
    with torch.no_grad():
        for start in range(0, len(test_patches), _BATCH):
            x = torch.as_tensor(test_patches[start:start + _BATCH], device=device)
            reconstructions.append(model.decode(model.encode(x)[0]).cpu().numpy())
        x = torch.as_tensor(test_patches[:num_localisation], device=device)
        columns = jacobian_columns_exact(model.decode, model.encode(x)[0])  # (d, N, C, H, W)
    errors = reconstruction_error(np.concatenate(reconstructions), test_patches)
    flat = columns.transpose(0, 1).reshape(-1, columns[0, 0].numel()).cpu().numpy()
    activity = np.square(flat).sum(axis=1)
    images = columns.transpose(0, 1).reshape(-1, *columns.shape[2:]).cpu().numpy()
    located = summarise_localisation(
        localise_columns(images, fd_noise_floor(DECODER_OUTPUT_RANGE)))
    return VAEMeasures(errors["mse"], errors["bce"], mean_top_mass_fraction(flat),
                       mean_top_mass_fraction(flat, weights=activity),
                       float(activity.mean()), len(x), located["compactness"],
                       located["compactness_weighted"], located["structured"],
                       located["no_structure"], located["no_signal"])


def filter_images(baseline: LinearBaseline) -> np.ndarray:
    """A linear model's filters as images (k, 1, 16, 16)."""
    side = natural_images.PATCH_SIDE
    return baseline.components.T.reshape(-1, 1, side, side)
