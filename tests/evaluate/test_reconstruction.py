"""Reconstruction error on fixed images: a VAE's, the mean image's, and the collapse test."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jlonevae_lib.architecture.vae import build_conv_vae
from jlonevae_lib.data.ground_truth import TrainingData
from jlonevae_lib.data.three_dots import ThreeDots
from jlonevae_lib.evaluate.reconstruction import (
    evaluation_images,
    is_collapsed,
    mean_image_bce,
    perfect_reconstruction_bce,
    reconstruction_bce,
)


def direct_bce(images: np.ndarray, prediction: np.ndarray) -> float:
    """BCE per image summed over pixels, written out (0·log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(images > 0, images * np.log(prediction), 0.0) + np.where(
            images < 1, (1 - images) * np.log(1 - prediction), 0.0)
    return float(-terms.reshape(len(images), -1).sum(axis=1).mean())


def test_equals_the_bce_of_predicting_the_mean_for_every_image() -> None:
    rng = np.random.default_rng(3)
    images = rng.random((7, 1, 4, 5))
    images[:, 0, 0, 0] = 0.0  # a pixel black in every image: contributes nothing
    images[:, 0, 1, 1] = 1.0
    mean = images.mean(axis=0)
    assert mean_image_bce(mean) == pytest.approx(direct_bce(images, mean), rel=1e-12)
    # Binary images, half the pixels on half the time: log 2 nats for each of those pixels.
    binary = np.zeros((2, 2, 3))
    binary[0, 0] = 1.0
    assert mean_image_bce(binary.mean(axis=0)) == pytest.approx(3 * np.log(2))


def test_no_other_constant_prediction_does_better() -> None:
    images = np.random.default_rng(4).random((50, 3, 3))
    mean = images.mean(axis=0)
    best = mean_image_bce(mean)
    for shift in (-0.05, 0.05):
        assert direct_bce(images, np.clip(mean + shift, 1e-3, 1 - 1e-3)) > best


@pytest.mark.parametrize("bad", [np.array([]), np.array([0.5, 1.2]), np.array([-0.1])])
def test_refuses_values_outside_zero_one(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        mean_image_bce(bad)


class _Coins(TrainingData):
    """2×2 images whose pixels are 1 with probability 0.1, 0.2, 0.3, 0.4 (no factors)."""

    image_shape = (1, 2, 2)

    def sample_training_batch(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        p = np.array([0.1, 0.2, 0.3, 0.4]).reshape(1, 1, 2, 2)
        return (rng.random((batch_size, 1, 2, 2)) < p).astype(np.float32)


def test_evaluation_images_are_seeded() -> None:
    dots = evaluation_images(ThreeDots(), 5, seed=3)
    assert dots.shape == (5, 1, 64, 64) and dots.dtype == np.float32
    assert 0.0 <= dots.min() and dots.max() <= 1.0
    assert np.array_equal(dots, evaluation_images(ThreeDots(), 5, seed=3))
    assert not np.array_equal(dots, evaluation_images(ThreeDots(), 5, seed=4))
    coins = evaluation_images(_Coins(), 20_000, seed=5)
    assert coins.shape == (20_000, 1, 2, 2)
    np.testing.assert_allclose(coins.mean(axis=0).ravel(), [0.1, 0.2, 0.3, 0.4], atol=0.015)
    with pytest.raises(ValueError, match="at least one image"):
        evaluation_images(_Coins(), 0, seed=0)


def test_reconstruction_bce_of_a_vae() -> None:
    torch.manual_seed(0)
    model = build_conv_vae("tiny16", im_channels=1, latent_dim=3).eval()
    images = np.random.default_rng(1).random((300, 1, 16, 16)).astype(np.float32)
    with torch.no_grad():
        x = torch.from_numpy(images)
        recon = model.decode(model.encode(x)[0]).double().numpy()
    # Batched (256 + 44) and in float32 logits: equal to the direct sum within rounding.
    assert reconstruction_bce(model, images) == pytest.approx(direct_bce(images, recon),
                                                              rel=1e-5)


def test_a_decoder_that_ignores_its_latents_scores_the_mean_image() -> None:
    torch.manual_seed(0)
    model = build_conv_vae("tiny16", im_channels=1, latent_dim=3).eval()
    images = np.random.default_rng(2).random((64, 1, 16, 16)).astype(np.float32)
    mean = images.mean(axis=0).astype(np.float64)
    logit = torch.from_numpy(np.log(mean / (1 - mean))).float()
    model.decode_logits = lambda z: logit.expand(len(z), *logit.shape)  # collapsed decoder
    assert reconstruction_bce(model, images) == pytest.approx(mean_image_bce(mean), rel=1e-5)


def test_a_perfect_reconstruction_scores_the_pixels_entropy() -> None:
    images = np.random.default_rng(5).random((6, 1, 3, 3))
    images[0] = 0.0  # a black image: no entropy
    assert perfect_reconstruction_bce(images) == pytest.approx(direct_bce(images, images))
    assert perfect_reconstruction_bce(np.zeros((2, 4))) == 0.0
    assert perfect_reconstruction_bce(np.full((1, 3), 0.5)) == pytest.approx(3 * np.log(2))
    # Never above the mean image's BCE on the same images.
    assert perfect_reconstruction_bce(images) < mean_image_bce(images.mean(axis=0))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        perfect_reconstruction_bce(np.array([[1.5]]))


def test_collapse_is_judged_on_the_excess_over_a_perfect_reconstruction() -> None:
    # Nearly binary images (three-dots): the floor is small.
    assert is_collapsed(875.4, mean_image=874.2, perfect=20.0)
    assert not is_collapsed(344.0, mean_image=874.2, perfect=20.0)
    # Grey patches: the floor is most of the BCE. Removing 34 % of the excess is learning
    # something; removing 0.5 % is not, though both BCEs are within 0.2 % of the mean image's.
    assert not is_collapsed(177.08, mean_image=177.38, perfect=176.5)
    assert is_collapsed(177.376, mean_image=177.38, perfect=176.5)
    assert is_collapsed(176.9, mean_image=177.38, perfect=176.5, fraction=0.4)
