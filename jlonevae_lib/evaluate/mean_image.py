"""The reconstruction error of a model that has learned nothing: the data's mean image.

A VAE whose decoder ignores its latents can do no better than predict the same image for every
input, and the best such image under the per-pixel Bernoulli likelihood is the mean image m.
Its binary cross-entropy per image, summed over pixels, needs only m, because the cross-entropy
is linear in the target x:

    mean_n Σ_p −x_np log m_p − (1 − x_np) log(1 − m_p) = Σ_p H(m_p),
    H(q) = −q log q − (1 − q) log(1 − q)   (nats; H(0) = H(1) = 0).

A run whose reconstruction BCE ends near this value has collapsed: its scores describe a model
that reconstructs nothing (see :func:`is_collapsed`). The math is in :func:`mean_image_bce`,
the sampling in :func:`estimate_mean_image`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import entr

from jlonevae_lib.data.ground_truth import TrainingData

#: A run is collapsed when its reconstruction BCE per image is at least this fraction of the
#: mean image's: the training loss is one batch's, so a margin keeps batch noise from hiding a
#: collapse, and a model that reconstructs anything at all sits far below it.
COLLAPSE_FRACTION = 0.95


def mean_image_bce(mean_image: np.ndarray) -> float:
    """BCE per image (nats, summed over pixels) of predicting ``mean_image`` for every image
    of data whose mean it is: Σ_p H(m_p). mean_image: any shape, values in [0, 1]."""
    mean = np.asarray(mean_image, dtype=np.float64)
    if mean.size == 0 or not np.all((mean >= 0.0) & (mean <= 1.0)):
        raise ValueError("a mean image needs at least one pixel, every value in [0, 1]")
    return float(np.sum(entr(mean) + entr(1.0 - mean)))


def estimate_mean_image(data: TrainingData, num_images: int, seed: int,
                        batch_size: int = 500) -> np.ndarray:
    """The mean of ``num_images`` training images drawn as training draws them (float64
    (C, H, W)), in batches of ``batch_size`` from ``np.random.default_rng(seed)``."""
    if num_images < 1 or batch_size < 1:
        raise ValueError(f"need num_images ≥ 1 and batch_size ≥ 1, got {num_images}, "
                         f"{batch_size}")
    rng = np.random.default_rng(seed)
    total = np.zeros(data.image_shape, dtype=np.float64)
    drawn = 0
    while drawn < num_images:
        batch = data.sample_training_batch(min(batch_size, num_images - drawn), rng)
        total += batch.sum(axis=0, dtype=np.float64)
        drawn += len(batch)
    return total / drawn


def is_collapsed(reconstruction_bce: float, reference_bce: float,
                 fraction: float = COLLAPSE_FRACTION) -> bool:
    """Whether a run's reconstruction BCE per image is at least ``fraction`` of the mean
    image's (``reference_bce``, :func:`mean_image_bce`): it reconstructs (almost) nothing."""
    return reconstruction_bce >= fraction * reference_bce
