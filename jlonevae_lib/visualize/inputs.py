"""What the model-based figures start from: a saved model folder and an input image.

Images are numpy float32 arrays (N, C, H, W) in [0, 1], the layout the model takes. A figure
needs only a model and an image, so MPI3D-multi or natural-image patches work the same way as
three-dots; the fixed example images of the paper's figures are defined here (the
natural-image crops in :func:`jlonevae_lib.data.natural_images.paper_crops`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import torch

from jlonevae_lib.architecture.load_model import load_model
from jlonevae_lib.architecture.save_model import MODEL_TYPE_FILE
from jlonevae_lib.architecture.vae import ConvVAE
from jlonevae_lib.data.ground_truth import GroundTruthData
from jlonevae_lib.data.three_dots import render_three_dots
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError

_CHECKPOINT_RE = re.compile(r"^cache_batch_no(\d+)$")

#: The paper's three-dots example image (SPEC §9): dot centres (x, y) as fractions of the side.
EXAMPLE_DOT_POSITIONS: tuple[tuple[float, float], ...] = (
    (32 / 64, 16 / 64), (48 / 64, 32 / 64), (16 / 64, 48 / 64))
THREE_DOTS_GRANULARITY = 64

#: The MPI3D-multi example image: (horizontal, vertical) axis values (0..39) of the arm in
#: sub-images 0 (top-left), 1 (bottom-left), 2 (top-right), 3 (bottom-right). Fixed, where the
#: reference drew them at random: four different poses (no two arms share a value on either
#: axis), kept away from the ends of the range so every arm can move both ways on both axes.
MPI3D_MULTI_EXAMPLE_AXES: tuple[tuple[int, int], ...] = ((10, 25), (17, 11), (24, 32), (31, 18))

# Pixel values a little outside [0, 1] are rounding noise from whoever wrote the array.
_RANGE_TOLERANCE = 1e-3


def resolve_model_folder(path: str | os.PathLike) -> Path:
    """The saved-model folder (SPEC §6) that ``path`` designates.

    ``path`` may be the model folder itself (it holds ``model_type.txt``), a run folder
    (``<run>/representation/cache_batch_no<N>/``) or its ``representation/`` folder; in the
    last two cases the checkpoint with the highest N (the final model) is chosen.
    """
    path = Path(path)
    if not path.is_dir():
        raise DataFileError(f"{path} does not exist or is not a folder; pass a run folder or a "
                            "saved-model folder")
    if (path / MODEL_TYPE_FILE).is_file():
        return path
    for folder in (path / "representation", path):
        checkpoints = [(int(m.group(1)), child) for child in folder.glob("cache_batch_no*")
                       if (m := _CHECKPOINT_RE.match(child.name)) and child.is_dir()]
        if checkpoints:
            return max(checkpoints)[1]
    raise DataFileError(f"no saved model in {path}: expected {MODEL_TYPE_FILE} there, or "
                        "representation/cache_batch_no<N>/ folders (is the run finished?)")


def load_model_from(path: str | os.PathLike, device: str | torch.device = "cpu") -> ConvVAE:
    """Load the model :func:`resolve_model_folder` finds under ``path`` (eval mode)."""
    return load_model(resolve_model_folder(path), device=device)


def example_three_dots_factors() -> np.ndarray:
    """The factors (1, 6) int64 (x0, y0, x1, y1, x2, y2) closest to the paper's example image.

    A dot's centre is factor / (g - 1) (g = 64 values per factor, SPEC §7.1), so the paper's
    positions p = 16/64, 32/64, 48/64 are not on the grid; each becomes round(p·63) half up
    (16, 32, 47), i.e. centres 16/63, 32/63, 47/63: less than half a pixel from the paper's.
    """
    positions = np.asarray(EXAMPLE_DOT_POSITIONS, dtype=np.float64).reshape(1, -1)
    return np.floor(positions * (THREE_DOTS_GRANULARITY - 1) + 0.5).astype(np.int64)


def example_three_dots_image() -> np.ndarray:
    """The SPEC §9 example image as (1, 1, 64, 64) float32 in [0, 1] (see the factors above)."""
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


def _read_image_file(path: Path) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            # allow_pickle=False: an image file must never run code when read.
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise DataFileError(f"{path} is not a readable .npy array ({err})") from None
    if suffix == ".png":
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as img:
                mode = "L" if img.mode in ("1", "L", "I;16", "I", "F", "LA") else "RGB"
                return np.asarray(img.convert(mode))
        except (OSError, UnidentifiedImageError) as err:
            raise DataFileError(f"{path} is not a readable PNG ({err})") from None
    raise JLoneVAEError(f"image file {path} must be .npy or .png")


def to_model_layout(array: np.ndarray, im_channels: int, im_side_len: int,
                    source: str = "the image") -> np.ndarray:
    """Bring an image array into the model's layout: (N, C, H, W) float32 in [0, 1].

    Accepted inputs: (H, W) (one channel), (H, W, C) or (C, H, W), and stacks of those with a
    leading N. uint8 arrays are divided by 255; float arrays must already lie in [0, 1].
    The size must match the model (no silent resizing).
    """
    array = np.asarray(array)
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    elif np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float32)
    else:
        raise JLoneVAEError(f"{source} has dtype {array.dtype}; expected numbers")
    side, channels = im_side_len, im_channels
    stack = array[None] if array.ndim in (2, 3) else array
    if stack.ndim == 3 and channels == 1 and stack.shape[1:] == (side, side):
        layout = stack[:, None]  # one gray (H, W) image
    elif stack.ndim == 4 and stack.shape[1:] == (channels, side, side):
        layout = stack
    elif stack.ndim == 4 and stack.shape[1:] == (side, side, channels):
        layout = stack.transpose(0, 3, 1, 2)
    elif stack.ndim == 4 and channels == 1 and stack.shape[0] == 1 \
            and stack.shape[2:] == (side, side):
        layout = stack.transpose(1, 0, 2, 3)  # a stack of gray (H, W) images
    else:
        raise JLoneVAEError(
            f"{source} has shape {array.shape}, but the model takes {channels}-channel "
            f"{side}×{side} images: give (H, W[, C]), (C, H, W) or a stack (N, ...) of those")
    array = layout
    if not np.isfinite(array).all():
        raise JLoneVAEError(f"{source} contains NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if low < -_RANGE_TOLERANCE or high > 1 + _RANGE_TOLERANCE:
        raise JLoneVAEError(f"{source} has values in [{low:.3g}, {high:.3g}]; pixel values "
                            "must be in [0, 1] (or uint8 0..255)")
    return np.ascontiguousarray(np.clip(array, 0.0, 1.0))


def load_images(path: str | os.PathLike, im_channels: int, im_side_len: int) -> np.ndarray:
    """Read a ``.npy`` array or a ``.png`` file as (N, C, H, W) float32 in [0, 1]."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"image file {path} does not exist")
    return to_model_layout(_read_image_file(path), im_channels, im_side_len, source=str(path))
