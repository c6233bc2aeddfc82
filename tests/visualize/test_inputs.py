"""Model folders and input images for the model-based figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jlonevae_lib.data.mpi3d import Mpi3dMulti
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError
from jlonevae_lib.visualize.inputs import (
    example_mpi3d_multi_factors,
    example_mpi3d_multi_image,
    example_three_dots_factors,
    example_three_dots_image,
    load_images,
    load_model_from,
    resolve_model_folder,
    to_model_layout,
)
from tests.visualize.dataset_fixtures import example_sub_image


def test_resolve_model_folder_picks_the_final_checkpoint(tiny_run: Path) -> None:
    final = tiny_run / "representation" / "cache_batch_no10"
    assert resolve_model_folder(tiny_run) == final
    assert resolve_model_folder(tiny_run / "representation") == final
    assert resolve_model_folder(final) == final
    # Numeric, not lexical: no10 beats no5 (a string sort would pick no5).
    model = load_model_from(tiny_run)
    assert model.model_args["latent_dim"] == 3
    assert not model.training


def test_resolve_model_folder_errors_say_what_is_wrong(tmp_path: Path, tiny_run: Path) -> None:
    with pytest.raises(DataFileError, match="does not exist"):
        resolve_model_folder(tmp_path / "missing")
    with pytest.raises(DataFileError, match="no saved model"):
        resolve_model_folder(tmp_path)
    # A file of a saved model, a run still training, a folder of runs: each said as such.
    saved = tiny_run / "representation" / "cache_batch_no10"
    with pytest.raises(DataFileError, match=f"is a file; pass the saved-model folder that "
                                            f"holds it, {saved}, or its run folder"):
        resolve_model_folder(next(p for p in saved.iterdir() if p.is_file()))
    training = tmp_path / "experiment" / "seed1"
    (training / "checkpoints").mkdir(parents=True)
    (training / "config.json").write_text(json.dumps(
        {"dataset": "threeDots", "architecture": "defaultConv", "num_batches": 10, "seed": 1}))
    with pytest.raises(DataFileError, match="no saved model in run folder .* yet: a run saves "
                                            "its model in representation/ when its training "
                                            "ends"):
        resolve_model_folder(training)
    experiment = tiny_run.parent
    with pytest.raises(DataFileError, match=f"{experiment} holds \\d+ run folders?, not one "
                                            f"model: pass one of them, e.g. "):
        resolve_model_folder(experiment)


def test_example_image_is_the_papers_three_dots() -> None:
    # Paper positions 32/64, 16/64, 48/64 on the 64-value grid (centre = factor / 63).
    np.testing.assert_array_equal(example_three_dots_factors(), [[32, 16, 47, 32, 16, 47]])
    image = example_three_dots_image()
    assert image.shape == (1, 1, 64, 64) and image.dtype == np.float32
    assert image.max() == 1.0 and image.min() == 0.0
    # Dark at each dot centre (x is the column, y the row), white in a corner.
    for x, y in ((32, 16), (47, 32), (16, 47)):
        assert image[0, 0, y, x] == 0.0
    assert image[0, 0, 0, 0] == 1.0
    assert 0.05 < (image < 0.5).mean() < 0.15  # three dots of radius 0.08·64 ≈ 5 px



def test_mpi3d_multi_example_is_four_arms_at_distinct_fixed_poses(mpi3d_data_root: Path) -> None:
    factors = example_mpi3d_multi_factors()
    assert factors.shape == (1, 8) and factors.dtype == np.int64
    horizontal, vertical = factors[0, 0::2], factors[0, 1::2]
    for axis in (horizontal, vertical):
        assert len(set(axis.tolist())) == 4 and 0 < axis.min() and axis.max() < 39
    image = example_mpi3d_multi_image(Mpi3dMulti(mpi3d_data_root))
    assert image.shape == (1, 3, 64, 64) and image.dtype == np.float32
    # Sub-image k (the fixture writes example_sub_image(k) at the k-th pose), every other
    # pixel, at 0 top-left, 1 bottom-left, 2 top-right, 3 bottom-right.
    for k, (top, left) in enumerate([(0, 0), (32, 0), (0, 32), (32, 32)]):
        expected = example_sub_image(k)[::2, ::2].transpose(2, 0, 1) / np.float32(255)
        np.testing.assert_array_equal(image[0, :, top:top + 32, left:left + 32], expected)

@pytest.mark.parametrize("shape", [(16, 16), (16, 16, 1), (1, 16, 16), (1, 16, 16, 1),
                                   (1, 1, 16, 16)])
def test_to_model_layout_accepts_one_gray_image(shape: tuple[int, ...]) -> None:
    array = np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16).reshape(shape)
    out = to_model_layout(array, im_channels=1, im_side_len=16)
    assert out.shape == (1, 1, 16, 16)
    np.testing.assert_array_equal(out[0, 0], array.reshape(16, 16))


def test_to_model_layout_stacks_colour_and_uint8() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    out = to_model_layout(rgb, im_channels=3, im_side_len=8)
    assert out.shape == (4, 3, 8, 8)
    np.testing.assert_allclose(out, rgb.transpose(0, 3, 1, 2) / 255.0, rtol=1e-6)
    gray_stack = to_model_layout(np.zeros((5, 8, 8)), im_channels=1, im_side_len=8)
    assert gray_stack.shape == (5, 1, 8, 8)


@pytest.mark.parametrize(("array", "message"), [
    (np.zeros((32, 32)), "shape"),
    (np.full((16, 16), 2.0), r"\[0, 1\]"),
    (np.full((16, 16), np.nan), "NaN"),
])
def test_to_model_layout_refuses_bad_images(array: np.ndarray, message: str) -> None:
    with pytest.raises(JLoneVAEError, match=message):
        to_model_layout(array, im_channels=1, im_side_len=16)


def test_load_images_reads_npy_and_png(tmp_path: Path) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (16, 16), dtype=np.uint8)
    np.save(tmp_path / "im.npy", pixels)
    Image.fromarray(pixels).save(tmp_path / "im.png")
    from_npy = load_images(tmp_path / "im.npy", 1, 16)
    from_png = load_images(tmp_path / "im.png", 1, 16)
    np.testing.assert_array_equal(from_npy, from_png)
    assert from_png.shape == (1, 1, 16, 16)
    with pytest.raises(JLoneVAEError, match=".npy or .png"):
        (tmp_path / "im.txt").write_text("x")
        load_images(tmp_path / "im.txt", 1, 16)
    with pytest.raises(DataFileError, match="does not exist"):
        load_images(tmp_path / "missing.npy", 1, 16)
