"""The natural-image measures: top-10 % L1 mass of columns, linear and VAE reconstruction
error."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jlonevae_lib.evaluate.natural_image_measures import (
    linear_reconstruction,
    mean_top_mass_fraction,
    reconstruction_error,
    top_mass_fraction,
)


def test_one_hot_column_is_fully_localised() -> None:
    column = np.zeros((1, 10))
    column[0, 3] = -2.5  # the sign does not matter: L1 mass
    assert top_mass_fraction(column) == pytest.approx([1.0])


def test_uniform_column_gives_the_fraction_even_when_it_is_not_a_whole_pixel_count() -> None:
    assert top_mass_fraction(np.ones((1, 10))) == pytest.approx([0.1])
    # 10 % of 256 pixels is 25.6: the 26th pixel counts with weight 0.6.
    assert top_mass_fraction(np.full((2, 1, 16, 16), 0.3)) == pytest.approx([0.1, 0.1])


def test_partial_pixel_and_ordering() -> None:
    # 20 pixels, 10 % = 2 pixels: the two largest |v| are 4 and 3 of a total of 10.
    column = np.array([[0.0, 3.0, -4.0, 1.0, 1.0, 1.0] + [0.0] * 14])
    assert top_mass_fraction(column) == pytest.approx([0.7])
    # 5 pixels, 10 % = 0.5 pixel: half of the largest, 4 of a total of 10.
    assert top_mass_fraction(np.array([[4.0, 3.0, 1.0, 1.0, 1.0]])) == pytest.approx([0.2])


def test_zero_column_is_nan_and_left_out_of_the_mean() -> None:
    columns = np.zeros((3, 10))
    columns[0, 0] = 1.0
    columns[1] = 1.0
    values = top_mass_fraction(columns)
    assert values[:2] == pytest.approx([1.0, 0.1]) and math.isnan(values[2])
    assert mean_top_mass_fraction(columns) == pytest.approx(0.55)
    assert mean_top_mass_fraction(columns, weights=np.array([3.0, 1.0, 5.0])) == pytest.approx(
        (3 * 1.0 + 1 * 0.1) / 4)
    assert math.isnan(mean_top_mass_fraction(np.zeros((2, 4))))


def test_bad_fraction_is_refused() -> None:
    with pytest.raises(ValueError, match="fraction"):
        top_mass_fraction(np.ones((1, 4)), fraction=0.0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_linear_reconstruction_matches_pca_and_ica() -> None:
    from sklearn.decomposition import PCA, FastICA

    rng = np.random.default_rng(0)
    train = rng.random((300, 16)) @ rng.random((16, 16)) / 16
    test = rng.random((50, 16)) @ rng.random((16, 16)) / 16
    pca = PCA(n_components=4, random_state=0).fit(train)
    ours = linear_reconstruction(pca.components_.T, train.mean(axis=0), test)
    np.testing.assert_allclose(ours, pca.inverse_transform(pca.transform(test)), atol=1e-10)
    ica = FastICA(n_components=4, whiten="arbitrary-variance", random_state=0,
                  max_iter=1000).fit(train)
    ours = linear_reconstruction(ica.mixing_, train.mean(axis=0), test)
    np.testing.assert_allclose(ours, ica.inverse_transform(ica.transform(test)), atol=1e-8)


def test_reconstruction_error_per_image() -> None:
    data = np.array([[[0.0, 1.0]], [[0.5, 0.5]]])  # (2, 1, 2)
    recon = np.array([[[0.0, 1.5]], [[0.5, 0.0]]])  # 1.5 is clipped to 1
    error = reconstruction_error(recon, data)
    assert error["mse"] == pytest.approx(0.25 / 2)
    # Image 1: x = 0.5 against x̂ = 0: the log of 0 is clamped at -100.
    expected_bce = (0.0 + (-0.5 * math.log(0.5) * 2 + 0.5 * 100 - 0.5 * math.log(1.0))) / 2
    assert error["bce"] == pytest.approx(expected_bce)
    with pytest.raises(ValueError, match="shape"):
        reconstruction_error(np.zeros((2, 3)), np.zeros((2, 2)))
