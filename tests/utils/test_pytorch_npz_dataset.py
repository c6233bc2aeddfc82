"""The original's PytorchNpzDataset, used as its linear-baseline and training scripts did."""

from __future__ import annotations

import glob
import pickle

import numpy as np
import pytest
import torch

from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError
from jlonevae_lib.utils.pytorch_npz_dataset import PytorchNpzDataset


@pytest.fixture
def patch_files(tmp_path):
    """data/naturalImages/train/ with two patch files as the original wrote them (float64,
    compressed, array ``images``); returns (data folder, the patches in glob order)."""
    folder = tmp_path / "data" / "naturalImages" / "train"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    first, second = rng.random((5, 1, 16, 16)), rng.random((3, 1, 16, 16))
    np.savez_compressed(folder / "data.npz", images=first)
    np.savez_compressed(folder / "more.npz", images=second)
    paths = sorted(glob.glob(str(tmp_path / "data" / "naturalImages" / "train" / "*.npz")))
    assert [p[-8:] for p in paths] == ["data.npz", "more.npz"]
    return paths, np.concatenate([first, second])


def test_the_original_scripts_pattern(patch_files):
    # dataset = PytorchNpzDataset(train_data_paths, useDoublePrecision); a shuffling DataLoader.
    paths, patches = patch_files
    dataset = PytorchNpzDataset(paths, False)
    assert isinstance(dataset, torch.utils.data.TensorDataset) and len(dataset) == 8
    item = dataset[6]
    assert isinstance(item, torch.Tensor) and item.dtype == torch.float32
    assert item.shape == (1, 16, 16)
    np.testing.assert_allclose(item.numpy(), patches[6], rtol=1e-7)
    loader = torch.utils.data.DataLoader(dataset, batch_size=8, shuffle=True)
    batch = next(iter(loader))
    assert batch.shape == (8, 1, 16, 16)
    # Shuffled, but the same patches: compare as sorted rows.
    np.testing.assert_allclose(np.sort(batch.numpy().reshape(8, -1), axis=0),
                               np.sort(patches.reshape(8, -1), axis=0), rtol=1e-7)


def test_double_precision_key_and_single_path(patch_files, tmp_path):
    paths, patches = patch_files
    dataset = PytorchNpzDataset(paths, useDoublePrecision=True)
    assert dataset[0].dtype == torch.float64
    np.testing.assert_array_equal(dataset.tensors[0].numpy(), patches)
    np.savez(tmp_path / "other.npz", pixels=np.arange(12, dtype=np.uint8).reshape(3, 4))
    other = PytorchNpzDataset(tmp_path / "other.npz", key="pixels")
    assert other[2].tolist() == [8.0, 9.0, 10.0, 11.0]


def test_bad_inputs_are_one_clear_error(patch_files, tmp_path):
    paths, _ = patch_files
    with pytest.raises(JLoneVAEError, match="no .npz files"):
        PytorchNpzDataset(glob.glob(str(tmp_path / "missing" / "*.npz")))
    with pytest.raises(DataFileError, match="lacks the array 'pixels'"):
        PytorchNpzDataset(paths, key="pixels")
    np.savez(tmp_path / "wide.npz", images=np.zeros((2, 1, 8, 8)))
    with pytest.raises(DataFileError, match="items of shape"):
        PytorchNpzDataset([paths[0], tmp_path / "wide.npz"])
    # A pickled object array is refused without being unpickled.
    marker = tmp_path / "unpickled"
    np.savez(tmp_path / "objects.npz", images=np.array([Marker(marker)], dtype=object))
    with pytest.raises(DataFileError, match="objects.npz"):
        PytorchNpzDataset([tmp_path / "objects.npz"])
    assert not marker.exists()


class Marker:
    """Unpickling this creates the file ``path``."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def test_marker_works_when_unpickled(tmp_path):
    # Guards the test above: the marker really would appear if the array were unpickled.
    pickle.loads(pickle.dumps(Marker(tmp_path / "made")))
    assert (tmp_path / "made").exists()
