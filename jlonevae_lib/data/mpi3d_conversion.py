"""The MPI3D archive on disk: its layout, and its one-time conversion to a memory-mapped ``.npy``.

Source: ``<data root>/mpi3d_real/mpi3d_real.npz`` (``data/download_mpi3d_real.sh`` fetches it),
array ``images``, uint8 (1,036,800, 64, 64, 3), one image per combination of 7 factors in
row-major order (:class:`Mpi3dLayout`). The datasets that read it are in
:mod:`jlonevae_lib.data.mpi3d`.

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
fraction of their memory. Figures (measured on synthetic archives): benchmarks/README.md.
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

from jlonevae_lib.data.ground_truth import data_root as default_data_root
from jlonevae_lib.utils.atomic import WriteError, atomic_path, remove_temporaries
from jlonevae_lib.utils.errors import DataFileError
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
