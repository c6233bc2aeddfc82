"""Representation sources: saved-model folders and TorchScript files, NHWC in, means out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jlonevae_lib.architecture.export import export_torchscript
from jlonevae_lib.architecture.save_model import save_conv_vae
from jlonevae_lib.architecture.vae import build_conv_vae
from jlonevae_lib.evaluate import representation
from jlonevae_lib.utils.errors import JLoneVAEError

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")

@pytest.fixture(scope="module")
def colour_run(tmp_path_factory):
    """A run with a 3-channel tiny16 model saved twice and exported."""
    torch.manual_seed(0)
    model = build_conv_vae("tiny16", im_channels=3, latent_dim=4).eval()
    run = tmp_path_factory.mktemp("run")
    save_conv_vae(model, run / "representation" / "cache_batch_no9")
    save_conv_vae(model, run / "representation" / "cache_batch_no10")
    export_torchscript(model, run)
    return run, model


def test_find_representation(colour_run, tmp_path):
    run, _ = colour_run
    folder = run / "representation"
    assert representation.find_representation(run) == folder / "cache_batch_no10"
    assert representation.find_representation(run, "torchscript") == folder / "pytorch_model.pt"
    with pytest.raises(JLoneVAEError, match="no model to evaluate"):
        representation.find_representation(tmp_path)
    with pytest.raises(JLoneVAEError, match="unknown representation kind"):
        representation.find_representation(run, "tfhub")


@pytest.mark.parametrize("kind", ["saved_model", "torchscript"])
def test_nhwc_observations_give_the_mean(colour_run, kind):
    run, model = colour_run
    represent = representation.load_representation(
        representation.find_representation(run, kind), "cpu", batch_size=4)
    observations = np.random.RandomState(0).rand(10, 16, 16, 3).astype(np.float32)
    codes = represent(observations)
    with torch.no_grad():
        expected = model.encode(torch.from_numpy(observations).permute(0, 3, 1, 2))[0].numpy()
    assert codes.shape == (10, 4) and codes.dtype == np.float32
    np.testing.assert_allclose(codes, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", ["saved_model", "torchscript"])
def test_an_image_gets_the_same_code_however_many_come_with_it(colour_run, kind, monkeypatch):
    """Partial batches are padded to the fixed batch size, so the forward calls that encode the
    first k images have the same shapes and rows whether k or all N images are passed: the
    codes are equal bit for bit on any CPU, not only to the tolerance of the math libraries."""
    run, _ = colour_run
    represent = representation.load_representation(
        representation.find_representation(run, kind), "cpu", batch_size=4)
    shapes = []
    module = represent.module
    monkeypatch.setattr(represent, "module", lambda batch: shapes.append(batch.shape) or
                        module(batch))
    observations = np.random.RandomState(1).rand(10, 16, 16, 3).astype(np.float32)
    codes = represent(observations)
    assert [shape[0] for shape in shapes] == [4, 4, 4]
    for k in (1, 3, 4, 5, 9):
        np.testing.assert_array_equal(represent(observations[:k]), codes[:k])
    assert {shape[0] for shape in shapes} == {4}
    # Shifting images to other rows of a call is a different computation: libraries promise
    # agreement only to float32 rounding (a few ulps of codes of order 1).
    np.testing.assert_allclose(represent(observations[3:]), codes[3:], rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="at least one image"):
        represent(observations[:0])


def test_observations_must_be_nhwc(colour_run):
    run, _ = colour_run
    represent = representation.load_representation(run / "representation" / "cache_batch_no9",
                                                   "cpu")
    with pytest.raises(ValueError, match="N, H, W, C"):
        represent(np.zeros((16, 16, 3), dtype=np.float32))
