"""Reconstruction error on fixed images: a VAE's, and that of a model that learned nothing.

A VAE is scored by the binary cross-entropy of decode(μ(x)) against x, summed over pixels and
averaged over images (nats per image), the quantity its training loss logs as ``NLL/train``
but on the same fixed images for every model (:func:`reconstruction_bce`).

A VAE whose decoder ignores its latents can do no better than predict one image for every
input, and the best such image under the per-pixel Bernoulli likelihood is the images' mean m.
Its BCE needs only m, because the cross-entropy is linear in the target x:

    mean_n Σ_p −x_np log m_p − (1 − x_np) log(1 − m_p) = Σ_p H(m_p),
    H(q) = −q log q − (1 − q) log(1 − q)   (nats; H(0) = H(1) = 0)

(:func:`mean_image_bce`). Even a perfect reconstruction r = x scores mean_n Σ_p H(x_np), not 0,
when pixels are grey (:func:`perfect_reconstruction_bce`): for nearly binary images such as
three-dots that floor is small, for whitened natural-image patches near 0.5 it is almost all of
the BCE. So a model is judged by the share of the mean image's *excess* over that floor it
removes; one that removes less than 5 % reconstructs nothing, and its scores describe no
representation (:func:`is_collapsed`). The images come from :func:`evaluation_images`;
:func:`reference_images` draws them from a dataset by name with both reference BCEs, and
:func:`run_reconstruction_bce` scores a run folder's final model on them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import entr

from jlonevae_lib.architecture.load_model import load_model
from jlonevae_lib.data.ground_truth import (
    GroundTruthData,
    TrainingData,
    get_named_ground_truth_data,
    to_nchw,
)
from jlonevae_lib.runs import layout
from jlonevae_lib.utils.errors import DataFileError

#: A model is collapsed when its BCE's excess over a perfect reconstruction's is at least this
#: fraction of the mean image's excess: it removes under 5 % of what predicting the mean image
#: leaves, where a model that learned anything removes a large share.
COLLAPSE_FRACTION = 0.95
#: Images per forward pass in :func:`reconstruction_bce`.
_BATCH = 256


def mean_image_bce(mean_image: np.ndarray) -> float:
    """BCE per image (nats, summed over pixels) of predicting ``mean_image`` for every image
    of data whose mean it is: Σ_p H(m_p). mean_image: any shape, values in [0, 1]."""
    mean = np.asarray(mean_image, dtype=np.float64)
    if mean.size == 0 or not np.all((mean >= 0.0) & (mean <= 1.0)):
        raise ValueError("a mean image needs at least one pixel, every value in [0, 1]")
    return float(np.sum(entr(mean) + entr(1.0 - mean)))


def perfect_reconstruction_bce(images: np.ndarray) -> float:
    """BCE per image (nats, summed over pixels) of reconstructing images (N, ...) in [0, 1]
    exactly: mean_n Σ_p H(x_np), the floor no reconstruction goes below."""
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    if flat.size == 0 or not np.all((flat >= 0.0) & (flat <= 1.0)):
        raise ValueError("images need at least one pixel, every value in [0, 1]")
    return float(np.sum(entr(flat) + entr(1.0 - flat)) / len(flat))


def reconstruction_bce(model: torch.nn.Module, images: np.ndarray) -> float:
    """BCE per image (nats, summed over pixels) of a VAE's reconstruction decode(μ(x)) of
    images (N, C, H, W) in [0, 1], from the decoder's logits as training computes it. The model
    needs ``encode`` (returning μ first) and ``decode_logits``."""
    device = next(model.parameters()).device
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(images), _BATCH):
            x = torch.as_tensor(images[start:start + _BATCH], dtype=torch.float32, device=device)
            logits = model.decode_logits(model.encode(x)[0])
            total += F.binary_cross_entropy_with_logits(logits, x, reduction="sum").item()
    return total / len(images)


def evaluation_images(data: TrainingData, num_images: int, seed: int) -> np.ndarray:
    """``num_images`` images float32 (N, C, H, W) in [0, 1] drawn with ``seed``: rendered from
    uniformly drawn factors when the dataset has them (images no training cache holds, for
    three-dots), else drawn as training draws them."""
    if num_images < 1:
        raise ValueError(f"need at least one image, got {num_images}")
    if isinstance(data, GroundTruthData):
        return to_nchw(data.sample_observations(num_images, np.random.RandomState(seed)))
    return data.sample_training_batch(num_images, np.random.default_rng(seed))


def is_collapsed(reconstruction: float, mean_image: float, perfect: float,
                 fraction: float = COLLAPSE_FRACTION) -> bool:
    """Whether a model reconstructs (almost) nothing: its BCE per image ``reconstruction``
    keeps at least ``fraction`` of the excess of the mean image's BCE (``mean_image``,
    :func:`mean_image_bce`) over a perfect reconstruction's (``perfect``,
    :func:`perfect_reconstruction_bce`), all three on the same images."""
    return reconstruction - perfect >= fraction * (mean_image - perfect)


def final_model(run_dir: Path) -> torch.nn.Module:
    """The saved model of a finished run folder (its latest saved model); a
    :class:`~jlonevae_lib.utils.errors.DataFileError` when it has none."""
    folder = layout.find_saved_model(run_dir)
    if folder is None:
        raise DataFileError(f"no saved model under {run_dir}")
    return load_model(folder)


def reference_images(dataset: str, num_images: int, seed: int
                     ) -> tuple[np.ndarray, dict[str, float]]:
    """The ``num_images`` evaluation images of the dataset named ``dataset`` drawn with
    ``seed`` (:func:`evaluation_images`) and their two reference points: ``mean_image``, the
    BCE per image of a model that reconstructs nothing (:func:`mean_image_bce` of their mean),
    and ``perfect``, that of an exact reconstruction (:func:`perfect_reconstruction_bce`)."""
    images = evaluation_images(get_named_ground_truth_data(dataset), num_images, seed)
    return images, {"mean_image": mean_image_bce(images.mean(axis=0, dtype=np.float64)),
                    "perfect": perfect_reconstruction_bce(images)}


def run_reconstruction_bce(run_dir: Path, images: np.ndarray) -> float:
    """The reconstruction BCE per image (:func:`reconstruction_bce`) of the final model of the
    run folder ``run_dir`` (:func:`final_model`; a
    :class:`~jlonevae_lib.utils.errors.DataFileError` when it has none) on ``images``."""
    return reconstruction_bce(final_model(Path(run_dir)), images)
