"""Natural-image patches: rescaling, patch positions and values, seeding, files, dataset, CLI."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from jlonevae_lib.cli import natural_images as natural_images_cli
from jlonevae_lib.data import natural_images as ni
from jlonevae_lib.data.ground_truth import (
    GroundTruthData,
    TrainingData,
    available_datasets,
    get_named_ground_truth_data,
    lacks_ground_truth_factors,
)
from jlonevae_lib.utils.errors import DataFileError

REPO = Path(__file__).resolve().parents[2]
SMALL_COUNTS = {"train": 4, "test": 2}


def source_images(seed: int = 0) -> np.ndarray:
    """Synthetic whitened-looking images of the real shape, (512, 512, 10) float64."""
    return np.random.default_rng(seed).standard_normal(ni.SOURCE_SHAPE)


def write_source(root: Path, images: np.ndarray | None = None, **variables) -> Path:
    """A MAT v5 IMAGES.mat under ``root`` (``variables`` replace the default content)."""
    path = ni.source_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, variables or {"IMAGES": source_images() if images is None else images})
    return path


def write_source_v73(path: Path, images: np.ndarray) -> None:
    """A MAT v7.3 file as MATLAB writes it: a 512-byte header, then HDF5 with reversed axes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("IMAGES", data=images.T).attrs["MATLAB_class"] = np.bytes_("double")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 ."
    with open(path, "r+b") as f:
        f.write(header.ljust(116, b" ") + bytes(8) + b"\x00\x02" + b"IM")


@pytest.fixture
def root(tmp_path, monkeypatch):
    """An empty data root, also set as $DISENTANGLEMENT_LIB_DATA; emptied afterwards (MBs)."""
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path / "data"))
    yield tmp_path / "data"
    shutil.rmtree(tmp_path / "data", ignore_errors=True)


def expected_patches(images: np.ndarray, per_image: int, seed: int, split: str) -> np.ndarray:
    """Patches by plain slicing, positions drawn as documented (rows, then columns)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[ni.SPLITS.index(split)])
    rows = rng.integers(0, 497, size=(10, per_image))
    cols = rng.integers(0, 497, size=(10, per_image))
    scaled = ((images - images.min()) / (images.max() - images.min())).astype(np.float32)
    return np.stack([scaled[r:r + 16, c:c + 16, k][None]
                     for k in range(10) for r, c in zip(rows[k], cols[k], strict=True)])


def test_rescale_uses_one_min_and_max_over_all_images():
    images = np.stack([np.linspace(-2, 6, 12).reshape(3, 4), np.linspace(0, 1, 12).reshape(3, 4)],
                      axis=2)
    scaled = ni.rescale(images)
    assert scaled.dtype == np.float32 and scaled.min() == 0 and scaled.max() == 1
    assert np.allclose(scaled, (images + 2) / 8, atol=1e-7)
    assert scaled[..., 1].max() < 0.4  # the narrow image is not stretched on its own


def test_patch_corners_are_uniform_over_every_fitting_position_and_seeded():
    rows, cols = ni.patch_corners(10, 3000, (512, 512), np.random.default_rng(1))
    assert rows.shape == cols.shape == (10, 3000) and rows.dtype == np.int64
    for corners in (rows, cols):
        assert corners.min() == 0 and corners.max() == 512 - 16
    again = ni.patch_corners(10, 3000, (512, 512), np.random.default_rng(1))
    assert np.array_equal(rows, again[0]) and np.array_equal(cols, again[1])


def test_cut_patches_equal_direct_slicing():
    images = np.random.default_rng(2).random((40, 30, 3)).astype(np.float32)
    rows, cols = ni.patch_corners(3, 7, (40, 30), np.random.default_rng(3))
    patches = ni.cut_patches(images, rows, cols)
    assert patches.shape == (21, 1, 16, 16) and patches.flags.c_contiguous
    for k in range(3):
        for p in range(7):
            r, c = rows[k, p], cols[k, p]
            assert np.array_equal(patches[7 * k + p, 0], images[r:r + 16, c:c + 16, k])



def test_neighbouring_crops_equal_direct_slicing_with_x_the_first_axis():
    images = np.random.default_rng(5).random((40, 30, 3))
    crops = ni.neighbouring_crops(images, 2, [3, 4, 24], y=14)
    assert crops.shape == (3, 1, 16, 16) and crops.dtype == np.float32
    for i, x in enumerate([3, 4, 24]):
        assert np.array_equal(crops[i, 0], images[x:x + 16, 14:30, 2].astype(np.float32))
    # x + 1 moves the window one row down: crop 1's rows are crop 0's, shifted up by one.
    assert np.array_equal(crops[1, 0, :-1], crops[0, 0, 1:])
    assert ni.neighbouring_crops(images, 0, [0], y=0, side=8).shape == (1, 1, 8, 8)


@pytest.mark.parametrize(("image_index", "xs", "y"), [
    (3, [0], 0),        # no image 3
    (0, [-1, 0], 0),    # a negative x would wrap around
    (0, [24, 25], 0),   # 25 + 16 > 40 rows
    (0, [0], 15),       # 15 + 16 > 30 columns
    (0, [], 0),
])
def test_neighbouring_crops_refuse_crops_outside_the_images(image_index, xs, y):
    with pytest.raises(ValueError):
        ni.neighbouring_crops(np.zeros((40, 30, 3)), image_index, xs, y)


def test_figure_crops_are_image_0_x40_to_49_y100_of_the_globally_rescaled_source(root):
    images = source_images(6)
    images[..., 9] *= 3  # the extremes lie in image 9: image 0 is not rescaled on its own
    write_source(root, images)
    crops = ni.figure_crops(root).images
    scaled = (images - images.min()) / (images.max() - images.min())
    expected = np.stack([scaled[x:x + 16, 100:116, 0] for x in range(40, 50)])[:, None]
    assert crops.shape == (10, 1, 16, 16) and crops.dtype == np.float32
    np.testing.assert_allclose(crops, expected, rtol=0, atol=1e-6)
    assert 0.2 < crops.min() and crops.max() < 0.8


def test_figure_crops_refuse_a_bad_source_rather_than_use_the_fallback(root):
    write_source(root).write_bytes(b"<html>404</html>")
    with pytest.raises(DataFileError, match="IMAGES.mat is an HTML/XML page"):
        ni.figure_crops(root)

def test_sampled_patches_are_seeded_and_splits_independent():
    images = source_images()
    train = ni.sample_patches(images, 5, seed=0, split="train")
    assert np.array_equal(train, expected_patches(images, 5, 0, "train"))
    assert np.array_equal(train, ni.sample_patches(images, 5, seed=0, split="train"))
    assert not np.array_equal(train, ni.sample_patches(images, 5, seed=1, split="train"))
    test = ni.sample_patches(images, 2, seed=0, split="test")
    assert not np.array_equal(test, train[:20])
    assert np.array_equal(test, expected_patches(images, 2, 0, "test"))


def test_cli_writes_both_splits_in_the_reference_format(root, capsys):
    images = source_images()
    write_source(root, images)
    assert natural_images_cli.main(["--data-root", str(root), "--seed", "3",
                                    "--train-per-image", "4", "--test-per-image", "2"]) == 0
    for split, count in SMALL_COUNTS.items():
        path = root / "naturalImages" / split / "data.npz"
        with zipfile.ZipFile(path) as archive:  # uncompressed: loads without inflating
            assert [i.compress_type for i in archive.infolist()] == [zipfile.ZIP_STORED] * 2
        with np.load(path, allow_pickle=False) as archive:
            assert archive.files == ["images", "source"]
            patches = archive["images"]
            assert archive["source"].shape == () and str(archive["source"]) == "IMAGES.mat"
        assert patches.shape == (10 * count, 1, 16, 16) and patches.dtype == np.float32
        assert np.array_equal(patches, expected_patches(images, count, 3, split))
        assert np.array_equal(ni.read_patch_file(path)[0], patches)
    out = capsys.readouterr().out
    assert "40 patches" in out and "20 patches" in out and "source IMAGES.mat" in out
    assert not list(root.rglob("*.tmp*"))  # atomic writes leave no temporaries


def test_mat_v73_source_reads_like_v5(tmp_path):
    images = source_images(4)
    write_source_v73(tmp_path / "v73.mat", images)
    assert scipy.io.matlab.matfile_version(tmp_path / "v73.mat") == (2, 0)
    assert np.array_equal(ni.read_source_images(tmp_path / "v73.mat"), images)
    (tmp_path / "v73.mat").unlink()


def test_float32_source_is_accepted(root):
    images = source_images().astype(np.float32)
    write_source(root, images)
    assert np.array_equal(ni.load_source_images(root), images.astype(np.float64))


def test_dataset_is_registered_training_data_without_factors(root):
    write_source(root)
    ni.write_patch_files(root, patches_per_image=SMALL_COUNTS)
    assert "naturalImages" in available_datasets()
    assert lacks_ground_truth_factors("naturalImages")
    assert not lacks_ground_truth_factors("threeDots")
    data = get_named_ground_truth_data("naturalImages")  # from $DISENTANGLEMENT_LIB_DATA
    assert isinstance(data, TrainingData) and not isinstance(data, GroundTruthData)
    assert data.image_shape == (1, 16, 16)


def test_training_batches_are_drawn_with_replacement_from_the_train_patches(root):
    write_source(root)
    train = ni.write_patch_files(root, patches_per_image=SMALL_COUNTS)[0]["train"]
    data = ni.NaturalImagePatches(data_root=root)
    batch = data.sample_training_batch(128, np.random.default_rng(7))
    indices = np.random.default_rng(7).integers(0, 40, size=128)
    assert batch.shape == (128, 1, 16, 16) and batch.dtype == np.float32
    assert batch.flags.c_contiguous and np.array_equal(batch, train[indices])


def test_missing_patch_file_is_sampled_from_the_source(root, monkeypatch, capsys):
    monkeypatch.setitem(ni.DEFAULT_PATCHES_PER_IMAGE, "train", 3)
    images = source_images()
    write_source(root, images)
    data = ni.NaturalImagePatches(data_root=root)
    assert np.array_equal(data.patches, expected_patches(images, 3, ni.DEFAULT_SEED, "train"))
    assert np.array_equal(ni.read_patch_file(ni.patches_path("train", root))[0], data.patches)
    assert not ni.patches_path("test", root).exists()
    assert "Sampling the natural-image train patches" in capsys.readouterr().err


def test_sampling_script_keeps_the_reference_name_and_works_from_its_folder(tmp_path):
    script = REPO / "data" / "sampleNatualImagePatches.py"
    assert script.stat().st_mode & stat.S_IXUSR
    folder = tmp_path / "data"
    write_source(folder)
    shutil.copy(script, folder)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("DISENTANGLEMENT_LIB_DATA", None)
    result = subprocess.run(["./sampleNatualImagePatches.py", "--train-per-image", "2",
                             "--test-per-image", "1"], cwd=folder, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(ni.read_patch_file(folder / "naturalImages" / "train" / "data.npz")[0]) == 20
    assert len(ni.read_patch_file(folder / "naturalImages" / "test" / "data.npz")[0]) == 10
    shutil.rmtree(folder)


def test_toy_training_run_through_the_cli(root, tmp_path, monkeypatch):
    from jlonevae_lib.cli.train import main as train_main

    monkeypatch.setitem(ni.DEFAULT_PATCHES_PER_IMAGE, "train", 3)
    write_source(root)
    out = tmp_path / "out"
    assert train_main(["--dataset", "naturalImages", "--architecture", "tiny16", "--beta", "0.01",
                       "--gamma", "0.01", "--latent-dim", "3", "--batch-size", "8",
                       "--num-batches", "3", "--annealingBatches", "2", "--log-interval", "1",
                       "--device", "cpu", "--seed", "0", "--output-dir", str(out)]) == 0
    (run,) = (out / "trainedModels").glob("*/*")
    assert run.parent.name == "tiny16_lone_beta0_0100_ica0_0100_lat3_batch8_lr0_0010_anneal2"
    config = json.loads((run / "config.json").read_text())
    assert config["dataset"] == "naturalImages" and config["data_source"] == "IMAGES.mat"
    done = json.loads((run / "DONE").read_text())
    assert done["num_batches"] == 3
    assert all(np.isfinite(v) for v in done["final_scalars"].values())
    args = json.loads((run / "representation" / "cache_batch_no3" / "model_args.json").read_text())
    assert args["im_side_len"] == 16 and args["im_channels"] == 1


def test_module_is_imported_on_first_lookup_so_it_also_runs_cleanly_as_a_script():
    check = ("import sys; from jlonevae_lib.data.ground_truth import lacks_ground_truth_factors; "
             "assert 'jlonevae_lib.data.natural_images' not in sys.modules; "
             "assert lacks_ground_truth_factors('naturalImages'); "
             "assert 'jlonevae_lib.data.natural_images' in sys.modules; "
             "assert not lacks_ground_truth_factors('noSuchData')")
    imported = subprocess.run([sys.executable, "-W", "error", "-c", check], capture_output=True,
                              text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr
    # A module its package had imported would be run twice by ``python -m`` (runpy warns).
    script = subprocess.run([sys.executable, "-W", "error", "-m",
                             "jlonevae_lib.data.natural_images", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert script.returncode == 0 and script.stderr == "", script.stderr
