"""MPI3D-real and MPI3D-multi: factor layout, tiling, conversion, laziness, scripts.

Real-shape tests use a sparse ``.npy`` (12.7 GB apparent, a few MB on disk) holding known images
at chosen indices; conversion tests use small archives of a reduced layout.
"""

from __future__ import annotations

import mmap
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import jlonevae_lib.data.mpi3d  # noqa: F401  (registers mpi3d_real and mpi3dMulti)
from jlonevae_lib.data import get_named_ground_truth_data, mpi3d_conversion
from jlonevae_lib.data.mpi3d import Mpi3dMulti, Mpi3dReal, to_unit_float
from jlonevae_lib.data.mpi3d_conversion import REAL_FACTOR_SIZES, Mpi3dLayout, load_mpi3d_images
from jlonevae_lib.evaluate.sampling import local_radii
from jlonevae_lib.utils.errors import DataFileError
from jlonevae_lib.utils.lock import FolderLock, LockedError

REPO = Path(__file__).resolve().parents[2]
#: Strides of the real layout, written out by hand (colour, shape, size, height, background,
#: horizontal, vertical).
REAL_STRIDES = np.array([172800, 28800, 14400, 4800, 1600, 40, 1])
REAL_SHAPE = (1_036_800, 64, 64, 3)
#: A small layout that still holds the multi sub-images' fixed factors (3, 1, 1, 0, 2).
SMALL = (4, 2, 2, 1, 3, 3, 2)
MULTI_FIXED = np.array([3, 1, 1, 0, 2])


# --------------------------------------------------------------------------- helpers
def source_path(root: Path) -> Path:
    return root / "mpi3d_real" / "mpi3d_real.npz"


def converted_path(root: Path) -> Path:
    return root / "mpi3d_real" / "mpi3d_real_images.npy"


def small_images(sizes=SMALL) -> np.ndarray:
    """uint8 (N, 64, 64, 3), every image distinct: pixel = (i + 3y + 5x + 7c) mod 256."""
    i, y, x, c = np.ogrid[:int(np.prod(sizes)), :64, :64, :3]
    return ((i + 3 * y + 5 * x + 7 * c) % 256).astype(np.uint8)


def write_archive(root: Path, compressed: bool = False, **arrays) -> Path:
    """A real .npz at the source location; ``images`` defaults to :func:`small_images`."""
    path = source_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = arrays or {"images": small_images()}
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


def sparse_real_file(root: Path, images: dict[int, np.ndarray]) -> Path:
    """A real-shape converted .npy, zero (unallocated) except ``images`` {index: (64, 64, 3)}."""
    path = converted_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=REAL_SHAPE)
    for index, image in images.items():
        array[index] = image
    array.flush()
    del array
    if path.stat().st_blocks * 512 > 100e6:
        path.unlink()
        pytest.skip("this file system does not keep files sparse")
    return path


def random_image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)


def multi_index(h: int, v: int) -> int:
    """Index of the multi sub-image (colour 3, shape 1, size 1, height 0, background 2, h, v)."""
    return int(MULTI_FIXED @ REAL_STRIDES[:5]) + 40 * h + v


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path))
    return tmp_path


# --------------------------------------------------------------------------- factor layout
def test_real_layout_is_row_major_over_the_seven_factors():
    layout = Mpi3dLayout()
    assert layout.factor_sizes == REAL_FACTOR_SIZES == (6, 6, 2, 3, 3, 40, 40)
    assert layout.array_shape == REAL_SHAPE
    factors = np.random.default_rng(0).integers(0, REAL_FACTOR_SIZES, size=(500, 7))
    assert np.array_equal(layout.image_indices(factors), factors @ REAL_STRIDES)
    corners = np.array([[0] * 7, [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 1, 0],
                        [1, 0, 0, 0, 0, 0, 0], [5, 5, 1, 2, 2, 39, 39]])
    assert layout.image_indices(corners).tolist() == [0, 1, 40, 172800, 1036799]
    with pytest.raises(ValueError):
        layout.image_indices(np.array([[0, 0, 2, 0, 0, 0, 0]]))  # size has 2 values


def test_real_dataset_reads_the_image_of_each_factor_row(root):
    factors = np.array([[0, 0, 0, 0, 0, 0, 0], [5, 5, 1, 2, 2, 39, 39], [2, 4, 1, 0, 1, 17, 3],
                        [3, 1, 1, 0, 2, 21, 8]])
    known = {int(f @ REAL_STRIDES): random_image(k) for k, f in enumerate(factors)}
    sparse_real_file(root, known)
    data = get_named_ground_truth_data("mpi3d_real")
    assert isinstance(data, Mpi3dReal)
    assert data.num_factors == 7 and data.factors_num_values == [6, 6, 2, 3, 3, 40, 40]
    assert data.observation_shape == (64, 64, 3) and data.image_shape == (3, 64, 64)
    images = data.sample_observations_from_factors(factors, np.random.RandomState(0))
    assert images.shape == (4, 64, 64, 3) and images.dtype == np.float32
    for k, f in enumerate(factors):
        assert np.array_equal(images[k], known[int(f @ REAL_STRIDES)] / np.float32(255))
    blank = data.sample_observations_from_factors(np.array([[1, 0, 0, 0, 0, 0, 0]]), None)
    assert not blank.any()  # an image nobody wrote: the file's zeros, not a neighbour's


def test_evaluation_denylist_keeps_colour_shape_background_fixed():
    gin = (REPO / "jlonevae_lib/config/dataset_configs/mpi3d_real.gin").read_text()
    assert 'dataset.name = "mpi3d_real"' in gin and "denylist_factors = (0, 1, 4)" in gin
    # Size and height have < 10 values (continuity cut-off): only the two axes vary locally.
    radii = local_radii(list(REAL_FACTOR_SIZES), 0.1, 10, (0, 1, 4))
    assert radii.tolist() == [0, 0, 0, 0, 0, 4, 4]


# --------------------------------------------------------------------------- MPI3D-multi
def test_multi_tiles_four_downsampled_sub_images_exactly(root):
    axes = [(0, 0), (39, 39), (12, 30), (12, 31)]  # (h_k, v_k) of sub-images 0..3
    subs = {multi_index(h, v): random_image(10 + k) for k, (h, v) in enumerate(axes)}
    # The same axes with another colour: must never be used.
    decoys = {multi_index(h, v) - REAL_STRIDES[0]: random_image(20 + k)
              for k, (h, v) in enumerate(axes)}
    sparse_real_file(root, {**subs, **decoys})
    data = get_named_ground_truth_data("mpi3dMulti")
    assert isinstance(data, Mpi3dMulti)
    assert data.num_factors == 8 and data.factors_num_values == [40] * 8
    assert data.observation_shape == (64, 64, 3) and data.image_shape == (3, 64, 64)
    factors = np.array([[h for hv in axes for h in hv], [0] * 8])
    images = data.sample_observations_from_factors(factors, np.random.RandomState(0))
    assert images.shape == (2, 64, 64, 3) and images.dtype == np.float32

    def sub(k: int) -> np.ndarray:
        return subs[multi_index(*axes[k])][::2, ::2] / np.float32(255)

    image = images[0]
    assert np.array_equal(image[:32, :32], sub(0))  # top-left
    assert np.array_equal(image[32:, :32], sub(1))  # bottom-left
    assert np.array_equal(image[:32, 32:], sub(2))  # top-right
    assert np.array_equal(image[32:, 32:], sub(3))  # bottom-right
    # All four sub-images at (0, 0): the first one's pixels, tiled.
    assert np.array_equal(images[1], np.tile(sub(0), (2, 2, 1)))


def test_multi_refuses_factors_out_of_range(root):
    sparse_real_file(root, {})
    data = Mpi3dMulti()
    with pytest.raises(ValueError, match="0..39"):
        data.sample_observations_from_factors(np.array([[0, 0, 0, 40, 0, 0, 0, 0]]), None)
    with pytest.raises(ValueError, match=r"\(N, 8\)"):
        data.sample_observations_from_factors(np.zeros((2, 7), dtype=int), None)


def test_multi_reads_its_sub_images_once_and_holds_no_map(root):
    sparse_real_file(root, {multi_index(1, 2): random_image(0)})
    data = Mpi3dMulti()
    first = data.sample_observations(3, np.random.RandomState(0))
    converted_path(root).unlink()  # everything it needs is in memory now
    again = data.sample_observations(3, np.random.RandomState(0))
    assert np.array_equal(first, again)
    assert data.sub_images.shape == (40, 40, 32, 32, 3) and data.sub_images.dtype == np.uint8
    # A plain array, not a view of the 12.7 GB map (unlinking above proves nothing on Linux).
    chain, array = [], data.sub_images
    while array is not None:
        chain.append(array)
        array = getattr(array, "base", None)
    assert not any(isinstance(link, (np.memmap, mmap.mmap)) for link in chain)
    assert not any(isinstance(value, np.memmap) for value in vars(data).values())


def test_batches_are_deterministic_nchw_float32_in_unit_range(root):
    write_archive(root)
    for name in ("mpi3d_real", "mpi3dMulti"):
        a = get_named_ground_truth_data(name, factor_sizes=SMALL)
        b = get_named_ground_truth_data(name, factor_sizes=SMALL)
        batch = a.sample_training_batch(16, np.random.default_rng(3))
        assert batch.shape == (16, 3, 64, 64) and batch.dtype == np.float32
        assert batch.flags.c_contiguous and 0 <= batch.min() and batch.max() <= 1
        assert np.array_equal(batch, b.sample_training_batch(16, np.random.default_rng(3)))
        assert not np.array_equal(batch, a.sample_training_batch(16, np.random.default_rng(4)))
        factors, images = a.sample(8, np.random.RandomState(1))
        assert np.array_equal(images, b.sample_observations_from_factors(factors, None))


def test_pixels_are_byte_over_255_in_float32():
    levels = np.arange(256, dtype=np.uint8)
    values = to_unit_float(levels)
    assert values.dtype == np.float32
    assert np.array_equal(values, (levels / 255.0).astype(np.float32))  # the reference's / 255.
    assert values[0] == 0 and values[255] == 1


# --------------------------------------------------------------------------- conversion
@pytest.mark.parametrize("compressed", [False, True], ids=["stored", "deflated"])
def test_conversion_copies_the_source_array_exactly(root, compressed, capsys):
    source = write_archive(root, compressed=compressed)
    images = load_mpi3d_images(root, Mpi3dLayout(SMALL))
    assert np.array_equal(images, small_images())
    assert isinstance(images, np.memmap) and not images.flags.writeable
    with zipfile.ZipFile(source) as archive:
        assert converted_path(root).read_bytes() == archive.read("images.npy")
    assert "Converting" in capsys.readouterr().err
    # Nothing else is left in the folder: no temporary file, no lock.
    assert sorted(p.name for p in source.parent.iterdir()) == [
        "mpi3d_real.npz", "mpi3d_real_images.npy"]


def test_conversion_streams_in_chunks_and_reports_progress(tmp_path):
    source = write_archive(tmp_path)
    target = tmp_path / "out.npy"
    calls = []
    mpi3d_conversion.convert_archive(source, target, Mpi3dLayout(SMALL),
                                     chunk_bytes=1 << 18,
                                            progress=lambda done, total: calls.append(done))
    total = target.stat().st_size
    assert calls == [0, *range(1 << 18, total, 1 << 18), total]  # checked, then chunk by chunk
    assert np.array_equal(np.load(target), small_images())


def test_dataset_construction_is_cheap_and_converts_on_first_use(root):
    write_archive(root)
    data = Mpi3dReal(factor_sizes=SMALL)
    assert not converted_path(root).exists()
    data.sample_observations(2, np.random.RandomState(0))
    assert converted_path(root).is_file()
    mtime = converted_path(root).stat().st_mtime_ns
    Mpi3dMulti(factor_sizes=SMALL).sample_observations(2, np.random.RandomState(0))
    assert converted_path(root).stat().st_mtime_ns == mtime  # valid: reused, not converted again


def test_converted_file_alone_suffices(root):
    write_archive(root)
    expected = np.array(load_mpi3d_images(root, Mpi3dLayout(SMALL)))
    source_path(root).unlink()  # the README allows deleting the 12.7 GB archive
    data = Mpi3dReal(factor_sizes=SMALL)
    factors = data.sample_factors(5, np.random.RandomState(0))
    observed = data.sample_observations_from_factors(factors, None)
    assert np.array_equal(observed, to_unit_float(expected[Mpi3dLayout(SMALL)
                                                           .image_indices(factors)]))


def test_a_second_process_waits_for_the_conversion_lock(root, monkeypatch):
    write_archive(root)
    monkeypatch.setattr(mpi3d_conversion, "LOCK_POLL_SECONDS", 0.02)
    lock = FolderLock(source_path(root).parent, "MPI3D conversion")  # a converter at work
    lock.acquire()
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault(
        "images", load_mpi3d_images(root, Mpi3dLayout(SMALL))))
    worker.start()
    time.sleep(0.2)
    assert worker.is_alive() and not converted_path(root).exists()
    lock.release()
    worker.join(timeout=10)
    assert np.array_equal(result["images"], small_images())


def test_a_lock_held_too_long_is_reported_not_waited_on_forever(root, monkeypatch):
    write_archive(root)
    monkeypatch.setattr(mpi3d_conversion, "LOCK_POLL_SECONDS", 0.02)
    monkeypatch.setattr(mpi3d_conversion, "LOCK_WAIT_SECONDS", 0.2)
    lock = FolderLock(source_path(root).parent, "MPI3D conversion")  # e.g. another host's
    lock.acquire()
    try:
        with pytest.raises(LockedError, match=r"gave up after 0 s: .*delete .*\.lock"):
            load_mpi3d_images(root, Mpi3dLayout(SMALL))
    finally:
        lock.release()
    assert not converted_path(root).exists()


def test_missing_data_is_reported_at_construction(root):
    for name in ("mpi3d_real", "mpi3dMulti"):
        with pytest.raises(DataFileError) as err:
            get_named_ground_truth_data(name)
        message = str(err.value)
        assert str(source_path(root)) in message and "download_mpi3d_real.sh" in message
        assert "\n" not in message
    assert not (root / "mpi3d_real").exists()


# --------------------------------------------------------------------------- scripts
def test_download_script_with_data_present_only_validates(tmp_path):
    sparse_real_file(tmp_path, {})
    done = subprocess.run(["bash", str(REPO / "data" / "download_mpi3d_real.sh")],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DISENTANGLEMENT_LIB_DATA": str(tmp_path),
                               "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    assert done.returncode == 0, done.stderr
    assert "already holds the data" in done.stdout
    assert f"{converted_path(tmp_path)}: 1036800 images of (64, 64, 3), valid" in done.stdout


@pytest.mark.slow
def test_sweep_script_trains_every_run_on_mpi3d_multi(tmp_path):
    """The toy end-to-end run: the sweep script's loop, through jlonevae-train, on CPU."""
    sparse_real_file(tmp_path / "data", {multi_index(h, h): random_image(h) for h in range(40)})
    env = {**os.environ, "DISENTANGLEMENT_LIB_DATA": str(tmp_path / "data"), "SEEDS": "3",
           "NUM_BATCHES": "2", "ANNEALING": "1",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", str(REPO / "experimentScripts/train_jlonevae/train_mpi3d_multi.bash"),
         "--batch-size", "4", "--jacobian-batch", "2", "--device", "cpu",
         "--output-dir", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    runs = sorted(p.relative_to(tmp_path / "out" / "trainedModels").as_posix()
                  for p in (tmp_path / "out" / "trainedModels").glob("*/*"))
    assert runs == [  # both γ of the loop (the reference's script stopped after the first)
        "defaultConv_lone_beta0_0100_ica0_0000_lat10_batch4_lr0_0001_anneal1/seed3",
        "defaultConv_lone_beta0_0100_ica0_0100_lat10_batch4_lr0_0001_anneal1/seed3"], runs
    for run in (tmp_path / "out" / "trainedModels").glob("*/*"):
        assert (run / "DONE").is_file()
        args = (run / "representation" / "cache_batch_no2" / "model_args.json").read_text()
        assert '"im_channels": 3' in args
