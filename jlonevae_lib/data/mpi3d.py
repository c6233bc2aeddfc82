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

The archive is converted once into a ``.npy`` beside it, and read memory-mapped
(:mod:`jlonevae_lib.data.mpi3d_conversion`). A training batch from the mapped file costs one
small disk read per image when the page cache is cold, and tiling mpi3dMulti images is cheap
next to a training step (benchmarks/README.md).
"""

from __future__ import annotations

if __name__ == "__main__":
    # ``python -m`` of this module: run its command line as the program, by name (the library
    # never imports jlonevae_lib.cli), before this copy defines anything (the command
    # imports the module as usual; this copy would run beside it).
    import runpy

    runpy.run_module("jlonevae_lib.cli.mpi3d", run_name="__main__", alter_sys=True)

import os

import numpy as np

from jlonevae_lib.data.ground_truth import (
    GroundTruthData,
    register_ground_truth_data,
)
from jlonevae_lib.data.ground_truth import data_root as default_data_root
from jlonevae_lib.data.mpi3d_conversion import (
    IMAGE_SHAPE,
    REAL_FACTOR_SIZES,
    REAL_LAYOUT,
    Mpi3dLayout,
    Mpi3dPaths,
    load_mpi3d_images,
)

#: Colour (blue), shape (cube), size (large), camera height (top), background (salmon) of every
#: MPI3D-multi sub-image; only the two axes vary.
MULTI_FIXED_FACTORS = (3, 1, 1, 0, 2)
NUM_SUB_IMAGES = 4
#: Sub-images keep every other pixel along each axis.
SUB_IMAGE_STRIDE = 2


def to_unit_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels (any shape) → float32 ``pixel / 255`` in [0, 1], same shape."""
    return np.divide(pixels, np.float32(255), dtype=np.float32)


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
