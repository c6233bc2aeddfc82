"""Three-dots training caches: N rendered images that training batches are drawn from.

File format: ``<data_root>/threeDots/trainingCache<N>.npz``, an uncompressed ``.npz`` with

- ``factors``: int64 (N, 6), the factors of each image;
- ``imgs``: uint8 (N, 64, 64, 1), each pixel's grey level = its number of white canvas
  sub-pixels, 0..``scale``;
- ``scale``: int64 scalar, 100 (10×10 supersampling). Pixel value =
  ``three_dots_render.levels_to_images(level)`` = ``level · float32(1/scale)`` rounded to float32,
  exactly the reference's float32 image, at 1 byte per pixel instead of 4.

Generation: the factors are ``ThreeDots().sample_factors(N, RandomState(CACHE_SEED))`` with
``CACHE_SEED = 0`` (the reference's seed and draw order, so the same factors as its
``trainingCache<N>.npz``), rendered in chunks by :func:`render_three_dots_levels`, written
atomically. The images stay uint8 in memory (500,000 × 4 KiB ≈ 2.0 GB); only a sampled batch is
converted to float32. The CLI (:func:`prepare_training_cache`) streams each rendered chunk to
the file instead, so building a cache there needs one chunk's memory whatever its size.

Validation on every load: the archive must open and pass zip's CRC checks, hold the three arrays
with the expected shapes and dtypes, have N images, factors in range, levels ≤ scale, and a
spot check of ``SPOT_CHECK_IMAGES`` images must equal the renderer's output for their factors.
A cache at our own location must also hold exactly the seeded factors. A bad file at our own
location is rebuilt with a warning; a bad file the user named explicitly is refused with
:class:`DataFileError`.

Choice: an uncompressed ``.npz`` read into memory. Batches are as fast as from a memory map, the
zip CRC and the range checks validate every byte on load, and the file keeps the reference's
name and array names. h5py is far slower per random batch (every index decodes a whole chunk);
build, load and batch times are in benchmarks/README.md. The cost: each training process
holds its own 2 GB copy, where a memory map would share the page cache between parallel runs.
Compression (the reference used ``savez_compressed``) would save disk, not memory.
``benchmarks/bench_rendering.py`` re-measures building, writing and loading.
"""

from __future__ import annotations

if __name__ == "__main__":
    # ``python -m`` of this module: run its command line as the program, by name (the library
    # never imports jlonevae_lib.cli), before this copy defines anything (the command
    # imports the module as usual; this copy would run beside it).
    import runpy

    runpy.run_module("jlonevae_lib.cli.cache", run_name="__main__", alter_sys=True)

import sys
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jlonevae_lib.data.ground_truth import data_root
from jlonevae_lib.data.npz import read_npz_arrays
from jlonevae_lib.data.three_dots import ThreeDots
from jlonevae_lib.data.three_dots_render import (
    DEFAULT_GRANULARITY,
    DEFAULT_IMAGE_SIDE,
    NUM_FACTORS,
    SUPERSAMPLING,
    iter_three_dots_levels,
    render_three_dots_levels,
)
from jlonevae_lib.utils.atomic import atomic_path
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError

#: Seed of the RandomState that draws a cache's factors (the reference's).
CACHE_SEED = 0
#: Grey levels per pixel stored in the file: 10×10 sub-pixels.
LEVEL_SCALE = SUPERSAMPLING**2
#: Images re-rendered and compared on every load.
SPOT_CHECK_IMAGES = 16
#: Rough build speed (rendering and writing) for the progress message.
IMAGES_PER_SECOND = 50_000
#: Images per write when saving an in-memory cache.
WRITE_CHUNK_IMAGES = 4096
IMAGE_SHAPE = (DEFAULT_IMAGE_SIDE, DEFAULT_IMAGE_SIDE, 1)


@dataclass(frozen=True)
class TrainingCache:
    """factors int64 (N, 6) and imgs uint8 (N, 64, 64, 1) grey levels 0..100."""

    factors: np.ndarray
    imgs: np.ndarray


def default_cache_path(num_images: int, root: str | Path | None = None) -> Path:
    """``<root>/threeDots/trainingCache<N>.npz``; root defaults to :func:`data_root`."""
    folder = data_root(root) / "threeDots"
    return folder / f"trainingCache{num_images}.npz"


def cache_factors(num_images: int) -> np.ndarray:
    """The cache's factors, int64 (N, 6): the reference's seeded column-by-column draw."""
    if num_images < 1:
        raise JLoneVAEError(f"a training cache needs at least one image, got {num_images}")
    return ThreeDots().sample_factors(num_images, np.random.RandomState(CACHE_SEED))


def build_training_cache(num_images: int) -> TrainingCache:
    """Draw the seeded factors and render them (in chunks) into uint8 grey levels."""
    factors = cache_factors(num_images)
    return TrainingCache(factors, render_three_dots_levels(factors))


def _write_npy_member(archive: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
        np.lib.format.write_array(member, array, allow_pickle=False)


def _write_cache_file(path: str | Path, factors: np.ndarray, imgs_shape: tuple[int, ...],
                      level_chunks: Iterable[np.ndarray]) -> None:
    """Write a cache file atomically, streaming the images from ``level_chunks``.

    The layout is ``np.savez``'s (an uncompressed zip of .npy members), but the uint8 levels,
    of shape ``imgs_shape`` in total, arrive in consecutive chunks and go to disk as they come,
    without a copy: a build need not hold its 2 GB of images, nor a save copy them.
    """
    uint8 = np.dtype(np.uint8)
    header = {"descr": np.lib.format.dtype_to_descr(uint8), "fortran_order": False,
              "shape": imgs_shape}
    expected = int(np.prod(imgs_shape))
    with (atomic_path(path, suffix=".npz") as tmp,
          zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive):
        _write_npy_member(archive, "factors", factors)
        written = 0
        with archive.open("imgs.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, header)
            for levels in level_chunks:
                flat = np.ascontiguousarray(levels).reshape(-1)
                if flat.dtype != uint8:
                    raise TypeError(f"cache levels must be uint8, got {flat.dtype}")
                member.write(flat)
                written += flat.size
        if written != expected:  # checked before the rename: never a short file under the name
            raise ValueError(f"{written} image bytes for a cache of shape {imgs_shape}")
        _write_npy_member(archive, "scale", np.int64(LEVEL_SCALE))


def save_training_cache(path: str | Path, cache: TrainingCache) -> None:
    """Write ``cache`` to ``path`` (uncompressed .npz) atomically."""
    imgs = cache.imgs
    chunks = (imgs[start:start + WRITE_CHUNK_IMAGES]
              for start in range(0, len(imgs), WRITE_CHUNK_IMAGES))
    _write_cache_file(path, cache.factors, imgs.shape, chunks)


def write_training_cache(path: str | Path, num_images: int) -> None:
    """Render the seeded cache of ``num_images`` and write it to ``path``, chunk by chunk.

    The file is the one :func:`build_training_cache` + :func:`save_training_cache` write, but
    only a chunk of images is ever in memory, not the whole array.
    """
    factors = cache_factors(num_images)
    _write_cache_file(path, factors, (num_images, *IMAGE_SHAPE),
                      (levels for _, levels in iter_three_dots_levels(factors)))


def _check_arrays(arrays: dict[str, np.ndarray], num_images: int) -> TrainingCache:
    """Shapes, dtypes, ranges and a render spot check; DataFileError (problem only) if wrong."""
    factors, imgs, scale = arrays["factors"], arrays["imgs"], arrays["scale"]
    expected = {"factors": ((num_images, NUM_FACTORS), np.int64),
                "imgs": ((num_images, *IMAGE_SHAPE), np.uint8), "scale": ((), np.int64)}
    for name, (shape, dtype) in expected.items():
        array = arrays[name]
        if array.dtype != dtype or array.shape[1:] != shape[1:] or array.ndim != len(shape):
            raise DataFileError(f"has {name} of shape {array.shape} and dtype {array.dtype}, "
                                f"expected {shape} {np.dtype(dtype)}")
    if len(factors) != len(imgs) or len(imgs) != num_images:
        raise DataFileError(f"holds {len(imgs)} images and {len(factors)} factor rows, "
                            f"expected {num_images}")
    if int(scale) != LEVEL_SCALE:
        raise DataFileError(f"has scale {int(scale)}, expected {LEVEL_SCALE}")
    if factors.min() < 0 or factors.max() >= DEFAULT_GRANULARITY:
        raise DataFileError(f"has factor values outside 0..{DEFAULT_GRANULARITY - 1}")
    if imgs.max() > LEVEL_SCALE:
        raise DataFileError(f"has grey levels above {LEVEL_SCALE}")
    spot = np.random.default_rng(num_images).choice(
        num_images, size=min(SPOT_CHECK_IMAGES, num_images), replace=False)
    mismatched = spot[(render_three_dots_levels(factors[spot]) != imgs[spot]).any(axis=(1, 2, 3))]
    if mismatched.size:
        raise DataFileError(f"has images that differ from the renderer's for their factors "
                            f"(e.g. image {int(mismatched[0])})")
    return TrainingCache(factors, imgs)


def read_training_cache(path: str | Path, num_images: int) -> TrainingCache:
    """Read and validate a cache file of ``num_images`` images.

    Raises DataFileError with the problem (the caller adds the file name and the fix).
    """
    return _check_arrays(read_npz_arrays(path, ("factors", "imgs", "scale")), num_images)


def load_training_cache(num_images: int, root: str | Path | None = None,
                        path: str | Path | None = None) -> TrainingCache:
    """The validated cache of ``num_images`` images.

    With ``path``: that file, refused with DataFileError if invalid. Otherwise our file under
    ``root`` (default :func:`data_root`), built if missing and rebuilt (with a warning) if
    invalid or not generated from the seeded factors.
    """
    if path is not None:
        try:
            return read_training_cache(path, num_images)
        except DataFileError as err:
            raise DataFileError(
                f"training cache {path} {err}; pass a valid {num_images}-image cache file, or "
                f"omit the explicit path to use (and build if needed) "
                f"{default_cache_path(num_images, root)}") from None
    ours = default_cache_path(num_images, root)
    cache = _read_ours(ours, num_images)
    if cache is None:
        cache = build_training_cache(num_images)
        save_training_cache(ours, cache)
    return cache


def prepare_training_cache(num_images: int, root: str | Path | None = None) -> Path:
    """Our cache file of ``num_images`` images, validated if present, else built; its path.

    As :func:`load_training_cache` without a ``path``, but a build streams the images to disk
    (:func:`write_training_cache`) instead of returning them: for a process that only prepares
    the file (the CLI, a sweep's set-up step), building needs a chunk of memory, not 2 GB.
    Validating a file that exists still reads it whole (its 2 GB, for 500,000 images).
    """
    ours = default_cache_path(num_images, root)
    if _read_ours(ours, num_images) is None:
        write_training_cache(ours, num_images)
    return ours


def _read_ours(ours: Path, num_images: int) -> TrainingCache | None:
    """The cache at our own location if valid; None (announcing the build) if it must be built.

    An invalid file, or one not drawn from the seeded factors, is reported with a warning.
    """
    if ours.exists():
        try:
            cache = read_training_cache(ours, num_images)
            if not np.array_equal(cache.factors, cache_factors(num_images)):
                raise DataFileError(f"does not hold the factors of seed {CACHE_SEED}")
            return cache
        except DataFileError as err:
            warnings.warn(f"training cache {ours} {err}; rebuilding it", stacklevel=3)
    else:
        seconds = max(1, round(num_images / IMAGES_PER_SECOND))
        print(f"Building the three-dots training cache {ours} ({num_images} images, once; "
              f"about {seconds} s)", file=sys.stderr, flush=True)
    return None
