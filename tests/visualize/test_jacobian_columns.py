"""Jacobian columns: exact values on a linear decoder, ordering, display scaling, the figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.image import AxesImage
from torch import nn

from jlonevae_lib.architecture.jacobian import jacobian_columns_fd
from jlonevae_lib.visualize.conventions import REFERENCE_SCALE
from jlonevae_lib.visualize.inputs import example_three_dots_image, load_model_from
from jlonevae_lib.visualize.jacobian_columns import (
    columns_to_display,
    compute_jacobian_columns,
    plot_jacobian_columns,
)


class LinearVAE(nn.Module):
    """encode(x) = (mean pixel per channel repeated, 0); decode(z) = A z as a (1, 2, 2) image:
    column k of the Jacobian is exactly A[:, k]."""

    def __init__(self, columns: np.ndarray) -> None:
        super().__init__()
        self.A = nn.Parameter(torch.as_tensor(columns, dtype=torch.float32))  # (4, d)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu = x.mean(dim=(1, 2, 3))[:, None].repeat(1, self.A.shape[1])
        return mu, torch.zeros_like(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.A.T).reshape(-1, 1, 2, 2)


def test_columns_are_exact_and_ordered_by_activity() -> None:
    # Column norms² 1, 16, 4: order must be latent 1, 2, 0.
    a = np.array([[1.0, 4.0, 0.0], [0.0, 0.0, 2.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    images = np.full((2, 1, 2, 2), 0.5, dtype=np.float32)
    results = compute_jacobian_columns(LinearVAE(a), images)
    assert len(results) == 2
    result = results[0]
    np.testing.assert_array_equal(result.latent_indices, [1, 2, 0])
    np.testing.assert_allclose(result.activity, [16.0, 4.0, 1.0])
    for column, k in zip(result.columns, result.latent_indices, strict=True):
        np.testing.assert_allclose(column.reshape(4), a[:, k])
    np.testing.assert_allclose(result.mean_latent, [0.5, 0.5, 0.5])
    np.testing.assert_allclose(result.reconstruction.reshape(4), a @ [0.5, 0.5, 0.5])
    # An imposed order is kept even when it is not the activity order.
    imposed = compute_jacobian_columns(LinearVAE(a), images, order=[0, 1, 2])[0]
    np.testing.assert_array_equal(imposed.latent_indices, [0, 1, 2])
    np.testing.assert_allclose(imposed.activity, [1.0, 16.0, 4.0])
    with pytest.raises(ValueError, match="order"):
        compute_jacobian_columns(LinearVAE(a), images, order="best")


class QuadraticVAE(nn.Module):
    """encode(x) = (the first two pixels, 0); decode(z) = z² as a (1, 2, 2) image: column k is
    2 z_k e_k, so the activity order depends on the image."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))  # the code under test reads the device

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu = x.reshape(len(x), -1)[:, :2].clone()
        return mu, torch.zeros_like(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([z.square(), torch.zeros_like(z)], dim=1).reshape(-1, 1, 2, 2)


def test_order_first_sorts_every_image_by_the_first_images_activity() -> None:
    images = np.array([[[[0.9, 0.1], [0, 0]]], [[[0.1, 0.9], [0, 0]]]], dtype=np.float32)
    each = compute_jacobian_columns(QuadraticVAE(), images, order="each")
    assert [r.latent_indices.tolist() for r in each] == [[0, 1], [1, 0]]
    first = compute_jacobian_columns(QuadraticVAE(), images, order="first")
    assert [r.latent_indices.tolist() for r in first] == [[0, 1], [0, 1]]
    np.testing.assert_allclose(first[1].activity, [4 * 0.1**2, 4 * 0.9**2], rtol=1e-5)


def test_columns_of_a_conv_vae_match_finite_differences(tiny_run: Path) -> None:
    model = load_model_from(tiny_run)
    image = example_three_dots_image()
    result = compute_jacobian_columns(model, image)[0]
    assert result.columns.shape == (3, 1, 64, 64)
    assert np.all(np.diff(result.activity) <= 0)
    with torch.no_grad():  # float64 so that the difference quotient has no rounding noise
        mu = torch.as_tensor(result.mean_latent, dtype=torch.float64)[None]
        fd = jacobian_columns_fd(model.double().decode, mu, epsilon=1e-4)[:, 0]
    fd = fd.numpy()[result.latent_indices]
    scale = np.abs(result.columns).max()
    assert np.abs(fd - result.columns).max() < 1e-2 * scale


def test_display_scaling_conventions() -> None:
    columns = np.array([[[[0.0, 2.0], [-4.0, 100.0]]]])  # (1, 1, 2, 2)
    reference = columns_to_display(columns, REFERENCE_SCALE)  # ½ + J·20/255, clipped
    np.testing.assert_allclose(reference[0, 0], [[0.5, 0.5 + 2 * REFERENCE_SCALE],
                                                 [0.5 - 4 * REFERENCE_SCALE, 1.0]])
    normalised = columns_to_display(columns)  # default: ½ + ½·J / max|J|
    np.testing.assert_allclose(normalised[0, 0], [[0.5, 0.51], [0.48, 1.0]])
    np.testing.assert_array_equal(columns_to_display(np.zeros((2, 1, 2, 2)), None), 0.5)


@pytest.mark.parametrize("scale", [REFERENCE_SCALE, None])
def test_figure_has_input_reconstruction_and_every_column(tiny_run: Path,
                                                          scale: float | None) -> None:
    model = load_model_from(tiny_run)
    images = np.concatenate([example_three_dots_image()] * 2)
    rows = [(f"row {i}", r) for i, r in enumerate(compute_jacobian_columns(model, images))]
    fig = plot_jacobian_columns(rows, scale=scale)
    assert len(fig.axes) == 2 * (3 + 2)
    shown = [artist for ax in fig.axes for artist in ax.get_children()
             if isinstance(artist, AxesImage)]
    assert len(shown) == 2 * (3 + 2)
    assert fig.axes[0].get_title(loc="left") == "row 0\ninput"
    assert fig.axes[2].get_title(loc="left").startswith(f"z{rows[0][1].latent_indices[0]} ")
    fewer = plot_jacobian_columns(rows[:1], scale=scale, max_columns=1)
    assert len(fewer.axes) == 1 + 2
