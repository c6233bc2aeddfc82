"""Latent traversals: the grid of decoded images around the mean latent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.visualize.inputs import example_three_dots_image, load_model_from
from jlonevae_lib.visualize.jacobian_columns import compute_jacobian_columns
from jlonevae_lib.visualize.traversals import compute_traversal, plot_traversal


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
