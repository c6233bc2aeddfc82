"""Latent traversals: the grid of decoded images around the mean latent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.visualize.inputs import example_three_dots_image, load_model_from
from jlonevae_lib.visualize.jacobian_columns import compute_jacobian_columns
from jlonevae_lib.visualize.traversals import (
    Traversal,
    compute_traversal,
    plot_traversal,
    plot_traversals,
)


def test_traversal_decodes_mean_plus_multiples_of_sigma(tiny_run: Path) -> None:
    model = load_model_from(tiny_run)
    image = example_three_dots_image()[0]
    traversal = compute_traversal(model, image, num_steps=5, max_sigmas=2.0)
    assert traversal.images.shape == (3, 5, 1, 64, 64)
    np.testing.assert_allclose(traversal.offsets, [-2, -1, 0, 1, 2])
    with torch.no_grad():
        mu, logvar = model.encode(torch.as_tensor(image)[None])
        center = model.decode(mu)[0].numpy()
        k = int(traversal.latent_indices[0])
        z = mu.clone()
        z[0, k] += 2.0 * torch.exp(0.5 * logvar[0, k])
        last = model.decode(z)[0].numpy()
    np.testing.assert_allclose(traversal.sigma, torch.exp(0.5 * logvar[0]).numpy(), rtol=1e-6)
    # Offset 0 is the reconstruction in every row; the last column moves latent k by +2σ_k.
    for row in traversal.images:
        np.testing.assert_allclose(row[2], center, atol=1e-6)
    np.testing.assert_allclose(traversal.images[0, -1], last, atol=1e-6)
    # Rows follow the Jacobian columns' order.
    order = compute_jacobian_columns(model, image[None])[0].latent_indices
    np.testing.assert_array_equal(traversal.latent_indices, order)

    prior = compute_traversal(model, image, num_steps=3, sigma_source="prior")
    np.testing.assert_array_equal(prior.sigma, 1.0)
    fig = plot_traversal(prior, title="t")
    assert len(fig.axes) == 3 * 3
    assert fig.axes[0].get_title(loc="left") == "-3.0σ"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sigma_source": "aggregate"}, "sigma source"),
    ({"num_steps": 1}, "at least 2 steps"),
])
def test_traversal_refuses_bad_options(tiny_run: Path, kwargs: dict, message: str) -> None:
    model = load_model_from(tiny_run)
    with pytest.raises(JLoneVAEError, match=message):
        compute_traversal(model, example_three_dots_image()[0], **kwargs)


def _traversal(num_latents: int, num_steps: int) -> Traversal:
    return Traversal(image=np.zeros((1, 4, 4), np.float32),
                     mean_latent=np.zeros(num_latents, np.float32),
                     sigma=np.ones(num_latents, np.float32),
                     offsets=np.linspace(-1, 1, num_steps),
                     latent_indices=np.arange(num_latents)[::-1],
                     images=np.full((num_latents, num_steps, 1, 4, 4), 0.5, np.float32))


def test_traversals_of_several_models_sit_side_by_side() -> None:
    fig = plot_traversals([("two latents", _traversal(2, 3)), ("four", _traversal(4, 5))])
    first, second = fig.subfigs
    # Each grid has its model's rows (the shorter one's lower cells removed) and columns.
    assert len(first.axes) == 2 * 3 and len(second.axes) == 4 * 5
    assert first.axes[0].get_ylabel() == "z1\nσ=1" and second.axes[0].get_ylabel() == "z3\nσ=1"
    assert first.get_suptitle() == "two latents" and second.get_suptitle() == "four"
    # One grid: the figure itself, titled like plot_traversal's.
    one = plot_traversals([("t", _traversal(2, 3))])
    assert not one.subfigs and one.get_suptitle() == "t" and len(one.axes) == 6
    with pytest.raises(JLoneVAEError, match="no traversal"):
        plot_traversals([])
