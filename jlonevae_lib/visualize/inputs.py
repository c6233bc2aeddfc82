"""What the model-based figures start from: a saved model folder and an input image.

Images are numpy float32 arrays (N, C, H, W) in [0, 1], the layout the model takes. A figure
needs only a model and an image, so MPI3D-multi or natural-image patches work the same way as
three-dots. The fixed example images of the paper's figures live in
:mod:`jlonevae_lib.data.example_images` (the natural-image crops in
:func:`jlonevae_lib.data.natural_images.figure_crops`); their names are kept here, where the
notebooks import them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from jlonevae_lib.architecture.load_model import load_model
from jlonevae_lib.architecture.save_model import MODEL_TYPE_FILE
from jlonevae_lib.architecture.vae import ConvVAE
from jlonevae_lib.data.example_images import (
    EXAMPLE_DOT_POSITIONS,
    MPI3D_MULTI_EXAMPLE_AXES,
    THREE_DOTS_GRANULARITY,
    example_mpi3d_multi_factors,
    example_mpi3d_multi_image,
    example_three_dots_factors,
    example_three_dots_image,
)
from jlonevae_lib.runs.layout import (
    REPRESENTATION_DIR,
    SAVED_MODEL_NAME,
    find_saved_model,
    is_run_folder,
    runs_below,
)
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError

__all__ = ["EXAMPLE_DOT_POSITIONS", "MPI3D_MULTI_EXAMPLE_AXES", "THREE_DOTS_GRANULARITY",
           "example_mpi3d_multi_factors", "example_mpi3d_multi_image",
           "example_three_dots_factors", "example_three_dots_image", "load_images",
           "load_model_from", "resolve_model_folder", "to_model_layout"]

# Pixel values a little outside [0, 1] are rounding noise from whoever wrote the array.
_RANGE_TOLERANCE = 1e-3


def resolve_model_folder(path: str | os.PathLike) -> Path:
    """The saved-model folder (docs/formats.md) that ``path`` designates.

    ``path`` may be the model folder itself (it holds ``model_type.txt``), a run folder
    (``<run>/representation/cache_batch_no<N>/``) or its ``representation/`` folder; in the
    last two cases the checkpoint with the highest N (the final model) is chosen.
    """
    path = Path(path)
    if path.is_file():
        raise DataFileError(f"{path} is a file; pass the saved-model folder that holds it, "
                            f"{path.parent}, or its run folder")
    if not path.is_dir():
        raise DataFileError(f"{path} does not exist; pass a run folder or a saved-model folder")
    if (path / MODEL_TYPE_FILE).is_file():
        return path
    found = find_saved_model(path)
    if found is not None:
        return found
    if is_run_folder(path):
        raise DataFileError(f"no saved model in run folder {path} yet: a run saves its model "
                            f"in {REPRESENTATION_DIR}/ when its training ends (is it finished?)")
    runs = runs_below(path)
    if runs:
        raise DataFileError(f"{path} holds {len(runs)} run folder{'s' * (len(runs) > 1)}, "
                            f"not one model: pass one of them, e.g. {runs[0]}")
    raise DataFileError(f"no saved model in {path}: expected {MODEL_TYPE_FILE} there, or "
                        f"{REPRESENTATION_DIR}/{SAVED_MODEL_NAME}/ folders")


def load_model_from(path: str | os.PathLike, device: str | torch.device = "cpu") -> ConvVAE:
    """Load the model :func:`resolve_model_folder` finds under ``path`` (eval mode)."""
    return load_model(resolve_model_folder(path), device=device)


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
