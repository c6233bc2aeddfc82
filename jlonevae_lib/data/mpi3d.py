"""MPI3D-real and MPI3D-multi (docs/formats.md, MPI3D), read from a memory-mapped ``.npy``.

Source: ``<data root>/mpi3d_real/mpi3d_real.npz`` (``data/download_mpi3d_real.sh`` fetches it),
array ``images``, uint8 (1,036,800, 64, 64, 3), one image per combination of 7 factors in
row-major order: object colour 6, object shape 6, object size 2, camera height 3, background
colour 3, horizontal axis 40, vertical axis 40.

Datasets (registered names):

- ``mpi3d_real``: the 7 factors, images float32 in [0, 1] (evaluation config
  ``config/dataset_configs/mpi3d_real.gin`` holds colour, shape and background fixed locally);
- ``mpi3dMulti``: 8 factors (h0, v0, h1, v1, h2, v2, h3, v3), 40 values each. An image tiles
  4 sub-images: sub-image k is the mpi3d_real image with colour 3, shape 1, size 1, height 0,
  background 2 and axes (h_k, v_k), every other pixel kept (32×32); 0 top-left, 1 bottom-left,
  2 top-right, 3 bottom-right (the reference's ``MPI3DMulti`` layout). Its 1,600 sub-images are
  a contiguous run of the source (the fixed factors come first in the row-major order): one
  19.7 MB read on first use, then 4.9 MB of uint8 in memory and pure numpy indexing.

Both open nothing when constructed: they only check that the data exists (a ``stat``, so a
trainer refuses a missing data set before it writes a run folder), and map the file on the first
batch.

Storage: the archive (12.7 GB) must never be read into RAM (24 GB machine, training beside it).
On first use it is converted once into ``mpi3d_real/mpi3d_real_images.npy`` beside it: the
archive's ``images.npy`` member copied byte for byte (it is a complete ``.npy`` file) in chunks
of ``CONVERT_CHUNK_BYTES`` into a temporary file that is fsync'ed and renamed into place, under
a lock (a second process waits, then uses the result; a killed conversion's temporary file is
deleted by the next one). The copy validates the archive completely: zip structure, the
member's ``.npy`` header (dtype uint8, C order, shape), its size, and zip's CRC-32 over every
byte (checked by ``zipfile`` at the member's end). The ``.npy`` is then opened with
``np.load(mmap_mode="r", allow_pickle=False)`` after checking its header and its exact size, so
a truncated or foreign file is never used; our own bad ``.npy`` is rebuilt from the archive with
a warning, while a bad archive is refused with :class:`DataFileError` (delete, re-download).

Why convert rather than map the archive's member in place (possible only if it is stored
uncompressed): the conversion works whatever the archive's compression, checks the CRC exactly
once, and leaves a plain ``.npy``; mapping in place would save 12.7 GB of disk but could only
check the CRC by re-reading 12.7 GB at every start (or trust an unchecked file), and needs a
zip64 local-header parser. The archive may be deleted after conversion (the ``.npy`` alone is
used; a bad ``.npy`` then asks for a new download).

Costs: the conversion runs once (zlib-bound for a deflated archive, much faster for a stored
one); small chunks (:data:`CONVERT_CHUNK_BYTES`) convert as fast as large ones with a
fraction of their memory. A training batch from the mapped file costs one small disk read per
image when the page cache is cold, and tiling mpi3dMulti images is cheap next to a training
step. Figures (measured on synthetic archives): benchmarks/README.md.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from jlonevae_lib.data.ground_truth import (
    GroundTruthData,
    register_ground_truth_data,
)
from jlonevae_lib.data.ground_truth import data_root as default_data_root
from jlonevae_lib.utils.atomic import WriteError, atomic_path, remove_temporaries
from jlonevae_lib.utils.cli import ArgumentParser
from jlonevae_lib.utils.errors import DataFileError, cli_errors
from jlonevae_lib.utils.lock import FolderLock, LockedError

#: Values per factor: object colour, shape, size, camera height, background colour,
#: horizontal axis, vertical axis.
REAL_FACTOR_SIZES = (6, 6, 2, 3, 3, 40, 40)
#: (H, W, C) of one mpi3d_real image.
IMAGE_SHAPE = (64, 64, 3)
ARRAY_NAME = "images"
FOLDER_NAME = "mpi3d_real"
SOURCE_NAME = "mpi3d_real.npz"
CONVERTED_NAME = "mpi3d_real_images.npy"
DOWNLOAD_HINT = "cd data; ./download_mpi3d_real.sh"
#: Colour (blue), shape (cube), size (large), camera height (top), background (salmon) of every
#: MPI3D-multi sub-image; only the two axes vary.
MULTI_FIXED_FACTORS = (3, 1, 1, 0, 2)
NUM_SUB_IMAGES = 4
#: Sub-images keep every other pixel along each axis.
SUB_IMAGE_STRIDE = 2
#: Bytes copied per step of the conversion: bounds its memory, large enough for full speed.
CONVERT_CHUNK_BYTES = 4 * 2**20
#: Rough conversion speed for the start message (benchmarks/README.md).
CONVERT_BYTES_PER_SECOND = 150e6
#: Seconds between two tries at the conversion lock while another process converts.
LOCK_POLL_SECONDS = 1.0
#: Longest wait for another process's conversion (which takes minutes) before giving up: a lock
#: left by a process on another host cannot be told from a live one, so never wait forever.
LOCK_WAIT_SECONDS = 3600.0

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Mpi3dLayout:
    """The factor sizes of an archive; image i has the factors ``unravel_index(i, sizes)``.

    The real layout is the default; tests pass smaller sizes to write small archives.
    """

    factor_sizes: tuple[int, ...] = REAL_FACTOR_SIZES

    def __post_init__(self) -> None:
        sizes = self.factor_sizes
        if len(sizes) != len(REAL_FACTOR_SIZES) or min(sizes) < 1:
            raise ValueError(f"expected {len(REAL_FACTOR_SIZES)} positive factor sizes, "
                             f"got {sizes}")

    @property
    def num_images(self) -> int:
        return math.prod(self.factor_sizes)

    @property
    def array_shape(self) -> tuple[int, int, int, int]:
        """(N, 64, 64, 3) of the ``images`` array."""
        return (self.num_images, *IMAGE_SHAPE)

    @property
    def nbytes(self) -> int:
        return math.prod(self.array_shape)

    def image_indices(self, factors: np.ndarray) -> np.ndarray:
        """factors (N, 7) ints → int64 (N,) image indices; ValueError if any is out of range."""
        return np.ravel_multi_index(tuple(np.asarray(factors).T), self.factor_sizes)


#: The real archive's layout.
REAL_LAYOUT = Mpi3dLayout()


@dataclass(frozen=True)
class Mpi3dPaths:
    """The files under a data root: the downloaded archive and our converted ``.npy``."""

    root: Path

    @property
    def folder(self) -> Path:
        return self.root / FOLDER_NAME

    @property
    def source(self) -> Path:
        return self.folder / SOURCE_NAME

    @property
    def images(self) -> Path:
        return self.folder / CONVERTED_NAME

    def missing_error(self) -> DataFileError:
        return DataFileError(
            f"MPI3D data not found: neither {self.source} nor {self.images} exists; download it "
            f"(12.7 GB) with `{DOWNLOAD_HINT}`, or set DISENTANGLEMENT_LIB_DATA to the folder "
            f"that holds {FOLDER_NAME}/")

    def check_present(self) -> None:
        """DataFileError unless the archive or the converted file exists (only ``stat`` calls)."""
        if not (self.images.is_file() or self.source.is_file()):
            raise self.missing_error()


def to_unit_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels (any shape) → float32 ``pixel / 255`` in [0, 1], same shape."""
    return np.divide(pixels, np.float32(255), dtype=np.float32)


# --------------------------------------------------------------------------- .npy headers
def _read_npy_header(f: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) of the ``.npy`` header at ``f``'s position.

    Leaves ``f`` at the first data byte. The header is parsed as a literal, never unpickled.
    """
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(f)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(f)
    except (ValueError, EOFError) as err:
        raise DataFileError(f"has no valid .npy header ({err})") from None
    raise DataFileError(f"has .npy format version {version[0]}.{version[1]}, expected 1.0 or 2.0")


def _check_header(shape: tuple[int, ...], fortran_order: bool, dtype: np.dtype,
                  layout: Mpi3dLayout, what: str = "an array") -> None:
    """DataFileError (the problem only) unless the header is uint8, C order, the layout's shape."""
    if dtype.hasobject:
        raise DataFileError(f"holds {what} of Python objects (a pickle, never loaded), "
                            f"expected uint8 images")
    if dtype != np.uint8 or tuple(shape) != layout.array_shape:
        raise DataFileError(f"holds {what} of dtype {dtype} and shape {tuple(shape)}, expected "
                            f"uint8 {layout.array_shape}")
    if fortran_order:
        raise DataFileError(f"holds {what} in Fortran order, expected C order")


def _open_images(path: Path, layout: Mpi3dLayout) -> np.ndarray:
    """Our converted file, memory-mapped read-only: uint8 (N, 64, 64, 3).

    Checks the header and that the size is exactly header + data, so a truncated, padded or
    foreign file is refused (DataFileError with the problem only). Bytes flipped inside the
    data cannot be seen without reading 12.7 GB; the atomic rename keeps half-written files out.
    """
    try:
        with open(path, "rb") as f:
            shape, fortran_order, dtype = _read_npy_header(f)
            data_offset = f.tell()
        size = path.stat().st_size
    except OSError as err:
        raise DataFileError(f"cannot be read ({err.strerror or err})") from None
    _check_header(shape, fortran_order, dtype, layout)
    expected = data_offset + layout.nbytes
    if size != expected:
        raise DataFileError(f"has {size} bytes, expected {expected} (truncated or corrupt)")
    return np.load(path, mmap_mode="r", allow_pickle=False)


# --------------------------------------------------------------------------- conversion
def _archive_member(archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    member = f"{ARRAY_NAME}.npy"
    try:
        return archive.getinfo(member)
    except KeyError:
        arrays = sorted(name.removesuffix(".npy") for name in archive.namelist())
        raise DataFileError(f"has no array {ARRAY_NAME!r} (it holds: "
                            f"{', '.join(arrays) or 'nothing'})") from None


def _check_free_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise WriteError(f"converting the MPI3D archive needs {needed / 1e9:.1f} GB free in "
                         f"{folder}, only {free / 1e9:.1f} GB are; free some space and run again")


def convert_archive(source: str | os.PathLike, target: str | os.PathLike,
                    layout: Mpi3dLayout = REAL_LAYOUT,
                    chunk_bytes: int | None = None,
                    progress: Progress | None = None) -> None:
    """Copy the archive's ``images.npy`` member to ``target`` (an ``.npy``), validated, atomically.

    Streams ``chunk_bytes`` (default :data:`CONVERT_CHUNK_BYTES`) at a time;
    ``progress(copied, total)`` is called once the archive has passed its checks (copied = 0)
    and after each chunk.
    Raises DataFileError naming ``source`` and what to do if the archive is missing, not a zip,
    truncated, fails its CRC or holds the wrong array; ``target`` is then left untouched.
    """
    source, target = Path(source), Path(target)
    chunk_bytes = chunk_bytes or CONVERT_CHUNK_BYTES
    if not source.is_file():
        raise DataFileError(f"MPI3D archive {source} does not exist; download it with "
                            f"`{DOWNLOAD_HINT}`")
    try:
        with zipfile.ZipFile(source) as archive:
            info = _archive_member(archive)
            with archive.open(info) as member:
                shape, fortran_order, dtype = _read_npy_header(member)
                header_bytes = member.tell()
            _check_header(shape, fortran_order, dtype, layout, f"an {ARRAY_NAME!r} array")
            total = header_bytes + layout.nbytes
            if info.file_size != total:
                raise DataFileError(f"has an {ARRAY_NAME!r} member of {info.file_size} bytes, "
                                    f"expected {total} (truncated or corrupt)")
            target.parent.mkdir(parents=True, exist_ok=True)
            _check_free_space(target.parent, total)
            with archive.open(info) as member, atomic_path(target) as tmp, \
                    open(tmp, "wb") as out:
                copied = 0
                if progress is not None:
                    progress(copied, total)
                # zipfile checks the CRC-32 of the whole member when the last chunk is read, and
                # raises EOFError if the member's data ends early.
                while chunk := member.read(chunk_bytes):
                    out.write(chunk)
                    copied += len(chunk)
                    if progress is not None:
                        progress(copied, total)
    except DataFileError as err:
        raise DataFileError(f"MPI3D archive {source} {err}; delete it and download it again "
                            f"with `{DOWNLOAD_HINT}`") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as err:
        raise DataFileError(
            f"MPI3D archive {source} is truncated or corrupt ({err or type(err).__name__}); "
            f"delete it and download it again with `{DOWNLOAD_HINT}`") from None


@contextmanager
def _conversion_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock, waiting (up to :data:`LOCK_WAIT_SECONDS`) while another live
    process converts; LockedError, saying which lock to delete, if it is still held then."""
    lock = FolderLock(folder, "MPI3D conversion")
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    announced = False
    while True:
        try:
            lock.acquire()
            break
        except LockedError as err:
            if time.monotonic() >= deadline:
                raise LockedError(f"gave up after {LOCK_WAIT_SECONDS:.0f} s: {err}") from None
            if not announced:
                print(f"waiting: {err}", file=sys.stderr, flush=True)
                announced = True
            time.sleep(LOCK_POLL_SECONDS)
    try:
        yield
    finally:
        lock.release()


def _print_progress(source: Path, target: Path) -> Progress:
    """A progress callback for stderr: a line when the copy starts, one per tenth of it."""
    printed = -1  # the last tenth reported

    def report(copied: int, total: int) -> None:
        nonlocal printed
        tenth = 10 * copied // total
        if tenth <= printed:
            return
        if printed < 0:
            minutes = max(1, round(total / CONVERT_BYTES_PER_SECOND / 60))
            print(f"Converting {source} to {target} ({total / 1e9:.1f} GB, once; about "
                  f"{minutes} min)", file=sys.stderr, flush=True)
        else:
            print(f"  converted {copied / 1e9:.1f} of {total / 1e9:.1f} GB", file=sys.stderr,
                  flush=True)
        printed = tenth

    return report


def load_mpi3d_images(root: str | os.PathLike | None = None,
                      layout: Mpi3dLayout = REAL_LAYOUT,
                      progress: Progress | None = None) -> np.ndarray:
    """All images, uint8 (N, 64, 64, 3), memory-mapped read-only from our converted ``.npy``.

    Converts the archive first if the ``.npy`` is missing, and again (with a warning) if it is
    invalid. ``root`` defaults to :func:`~jlonevae_lib.data.ground_truth.data_root`;
    ``progress`` (see :func:`convert_archive`) defaults to lines on stderr.
    """
    paths = Mpi3dPaths(default_data_root(root))
    problem = None
    if paths.images.exists():
        try:
            return _open_images(paths.images, layout)
        except DataFileError as err:
            problem = err
    if not paths.source.is_file():
        if problem is None:
            raise paths.missing_error()
        raise DataFileError(
            f"{paths.images} {problem}, and the archive {paths.source} to rebuild it from is "
            f"missing; download and convert it again with `{DOWNLOAD_HINT}`")
    with _conversion_lock(paths.folder):
        if paths.images.exists():  # another process may have converted it while we waited
            try:
                return _open_images(paths.images, layout)
            except DataFileError as err:
                problem = err
        if problem is not None:
            warnings.warn(f"{paths.images} {problem}; rebuilding it from {paths.source}",
                          stacklevel=2)
            paths.images.unlink(missing_ok=True)  # bad anyway; frees its space for the copy
        remove_temporaries(paths.images)  # a killed conversion's: no live writer under the lock
        convert_archive(paths.source, paths.images, layout, progress=progress
                        or _print_progress(paths.source, paths.images))
    return _open_images(paths.images, layout)  # a byte copy of the member checked above


# --------------------------------------------------------------------------- MPI3D-multi
def multi_sub_images(images: np.ndarray, layout: Mpi3dLayout = REAL_LAYOUT) -> np.ndarray:
    """The MPI3D-multi sub-images: uint8 (n_h, n_v, 32, 32, 3), entry [h, v] for axes (h, v).

    images: (N, 64, 64, 3), the whole archive (a memory map: only the run read here is paged
    in). The fixed factors come first in the row-major order, so the n_h·n_v images with them
    are one contiguous run.
    """
    num_h, num_v = layout.factor_sizes[-2:]
    first = int(layout.image_indices(np.array([[*MULTI_FIXED_FACTORS, 0, 0]]))[0])
    run = images[first:first + num_h * num_v, ::SUB_IMAGE_STRIDE, ::SUB_IMAGE_STRIDE, :]
    return np.ascontiguousarray(run).reshape(num_h, num_v, *run.shape[1:])


def tile_multi_images(sub_images: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Tile 4 sub-images per row of factors: float32 (N, 2s, 2s, C) in [0, 1].

    sub_images: uint8 (n_h, n_v, s, s, C); factors: ints (N, 8) = (h0, v0, h1, v1, h2, v2, h3,
    v3). Sub-image k sits in row k % 2 and column k // 2 of the 2×2 grid: 0 top-left,
    1 bottom-left, 2 top-right, 3 bottom-right. ValueError if a factor is out of range.
    """
    num_h, num_v, side, _, channels = sub_images.shape
    factors = np.asarray(factors)
    if factors.ndim != 2 or factors.shape[1] != 2 * NUM_SUB_IMAGES:
        raise ValueError(f"expected factors of shape (N, {2 * NUM_SUB_IMAGES}), "
                         f"got {factors.shape}")
    horizontal, vertical = factors[:, 0::2], factors[:, 1::2]
    if (factors.min(initial=0) < 0 or horizontal.max(initial=0) >= num_h
            or vertical.max(initial=0) >= num_v):
        raise ValueError(f"MPI3D-multi factors must be in 0..{num_h - 1} (horizontal) and "
                         f"0..{num_v - 1} (vertical)")
    tiles = sub_images[horizontal, vertical]  # (N, 4, s, s, C), k = 2·column + row
    grid = tiles.reshape(len(factors), 2, 2, side, side, channels).transpose(0, 2, 3, 1, 4, 5)
    return to_unit_float(grid.reshape(len(factors), 2 * side, 2 * side, channels))


# --------------------------------------------------------------------------- datasets
class _Mpi3dData(GroundTruthData):
    """Shared set-up: the layout, the files, and a cheap presence check."""

    def __init__(self, data_root: str | os.PathLike | None = None,
                 factor_sizes: tuple[int, ...] = REAL_FACTOR_SIZES) -> None:
        self.layout = Mpi3dLayout(tuple(factor_sizes))
        self.paths = Mpi3dPaths(default_data_root(data_root))
        self.paths.check_present()

    def _load_images(self) -> np.ndarray:
        return load_mpi3d_images(self.paths.root, self.layout)


@register_ground_truth_data("mpi3d_real")
class Mpi3dReal(_Mpi3dData):
    """mpi3d_real: 7 factors, images float32 (64, 64, 3) read from the memory-mapped file."""

    def __init__(self, data_root: str | os.PathLike | None = None,
                 factor_sizes: tuple[int, ...] = REAL_FACTOR_SIZES) -> None:
        super().__init__(data_root, factor_sizes)
        self._images: np.ndarray | None = None

    @property
    def images(self) -> np.ndarray:
        """uint8 (N, 64, 64, 3) memory map, opened (and converted if needed) on first use."""
        if self._images is None:
            self._images = self._load_images()
        return self._images

    @property
    def num_factors(self) -> int:
        return len(self.layout.factor_sizes)

    @property
    def factors_num_values(self) -> list[int]:
        return list(self.layout.factor_sizes)

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        return IMAGE_SHAPE

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        """factors (N, 7) → float32 (N, 64, 64, 3); deterministic, ``random_state`` is unused."""
        return to_unit_float(self.images[self.layout.image_indices(factors)])


@register_ground_truth_data("mpi3dMulti")
class Mpi3dMulti(_Mpi3dData):
    """MPI3D-multi: 8 axis factors, four 32×32 sub-images tiled into float32 (64, 64, 3)."""

    def __init__(self, data_root: str | os.PathLike | None = None,
                 factor_sizes: tuple[int, ...] = REAL_FACTOR_SIZES) -> None:
        super().__init__(data_root, factor_sizes)
        fixed_sizes = self.layout.factor_sizes[:len(MULTI_FIXED_FACTORS)]
        if any(value >= size for value, size in zip(MULTI_FIXED_FACTORS, fixed_sizes,
                                                    strict=True)):
            raise ValueError(f"factor sizes {self.layout.factor_sizes} do not contain the fixed "
                             f"sub-image factors {MULTI_FIXED_FACTORS}")
        self._sub_images: np.ndarray | None = None

    @property
    def sub_images(self) -> np.ndarray:
        """uint8 (n_h, n_v, 32, 32, 3), read on first use; the memory map is not kept."""
        if self._sub_images is None:
            self._sub_images = multi_sub_images(self._load_images(), self.layout)
        return self._sub_images

    @property
    def num_factors(self) -> int:
        return 2 * NUM_SUB_IMAGES

    @property
    def factors_num_values(self) -> list[int]:
        return list(self.layout.factor_sizes[-2:]) * NUM_SUB_IMAGES

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        side = 2 * (IMAGE_SHAPE[0] // SUB_IMAGE_STRIDE)
        return (side, side, IMAGE_SHAPE[2])

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        """factors (N, 8) → float32 (N, 64, 64, 3); deterministic, ``random_state`` is unused."""
        return tile_multi_images(self.sub_images, factors)


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m jlonevae_lib.data.mpi3d [--data-root DIR]``: convert once, or validate."""
    parser = ArgumentParser(
        prog="python -m jlonevae_lib.data.mpi3d",
        description=f"Convert <data root>/{FOLDER_NAME}/{SOURCE_NAME} once into "
                    f"{CONVERTED_NAME} beside it (for memory-mapped reading), or check the "
                    f"converted file if it exists.")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="data folder (default: $DISENTANGLEMENT_LIB_DATA, else ./data)")
    args = parser.parse_args(argv)
    root = default_data_root(args.data_root)
    images = load_mpi3d_images(root)
    print(f"{Mpi3dPaths(root).images}: {len(images)} images of {images.shape[1:]}, valid; "
          f"the datasets mpi3d_real and mpi3dMulti read it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
