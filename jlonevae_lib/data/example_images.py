"""The fixed example images of the paper's figures, as the model takes them.

Images are numpy float32 arrays (N, C, H, W) in [0, 1]. The three-dots image is rendered from
fixed factors; the MPI3D-multi image is read from the MPI3D data through its dataset. (The
natural-image crops are :func:`jlonevae_lib.data.natural_images.figure_crops`.)
"""

from __future__ import annotations

import numpy as np

from jlonevae_lib.data.ground_truth import GroundTruthData
from jlonevae_lib.data.three_dots_render import render_three_dots

#: The paper's three-dots example image (docs/method.md): dot centres (x, y), fractions of the side.
EXAMPLE_DOT_POSITIONS: tuple[tuple[float, float], ...] = (
    (32 / 64, 16 / 64), (48 / 64, 32 / 64), (16 / 64, 48 / 64))
THREE_DOTS_GRANULARITY = 64

#: The MPI3D-multi example image: (horizontal, vertical) axis values (0..39) of the arm in
#: sub-images 0 (top-left), 1 (bottom-left), 2 (top-right), 3 (bottom-right). Fixed, where the
#: reference drew them at random: four different poses (no two arms share a value on either
#: axis), kept away from the ends of the range so every arm can move both ways on both axes.
MPI3D_MULTI_EXAMPLE_AXES: tuple[tuple[int, int], ...] = ((10, 25), (17, 11), (24, 32), (31, 18))


def example_three_dots_factors() -> np.ndarray:
    """The factors (1, 6) int64 (x0, y0, x1, y1, x2, y2) closest to the paper's example image.

    A dot's centre is factor / (g - 1) (g = 64 values per factor), so the paper's
    positions p = 16/64, 32/64, 48/64 are not on the grid; each becomes round(p·63) half up
    (16, 32, 47), i.e. centres 16/63, 32/63, 47/63: less than half a pixel from the paper's.
    """
    positions = np.asarray(EXAMPLE_DOT_POSITIONS, dtype=np.float64).reshape(1, -1)
    return np.floor(positions * (THREE_DOTS_GRANULARITY - 1) + 0.5).astype(np.int64)


def example_three_dots_image() -> np.ndarray:
    """The paper's example image as (1, 1, 64, 64) float32 in [0, 1] (see the factors above)."""
    image = render_three_dots(example_three_dots_factors(), granularity=THREE_DOTS_GRANULARITY)
    return np.ascontiguousarray(np.asarray(image, dtype=np.float32).transpose(0, 3, 1, 2))


def example_mpi3d_multi_factors() -> np.ndarray:
    """The factors (1, 8) int64 (h0, v0, h1, v1, h2, v2, h3, v3) of the MPI3D-multi example."""
    return np.asarray(MPI3D_MULTI_EXAMPLE_AXES, dtype=np.int64).reshape(1, -1)


def example_mpi3d_multi_image(dataset: GroundTruthData) -> np.ndarray:
    """The MPI3D-multi example image as (1, 3, 64, 64) float32 in [0, 1].

    dataset: ``mpi3dMulti`` (:class:`~jlonevae_lib.data.mpi3d.Mpi3dMulti`), which reads the
    four sub-images of :data:`MPI3D_MULTI_EXAMPLE_AXES` from the MPI3D data on first use.
    """
    # The RandomState is unused: an MPI3D-multi image is a deterministic function of its factors.
    image = dataset.sample_observations_from_factors(example_mpi3d_multi_factors(),
                                                     np.random.RandomState(0))
    return np.ascontiguousarray(np.asarray(image, dtype=np.float32).transpose(0, 3, 1, 2))
