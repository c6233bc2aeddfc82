"""Checks that a written figure is a real picture, not an empty canvas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.image import imread

# A white canvas with a few lines of text has a pixel variance around 1e-3; a figure with
# images, violins or point clouds is well above it.
MIN_PIXEL_VARIANCE = 5e-3


def assert_real_png(path: Path, min_variance: float = MIN_PIXEL_VARIANCE) -> None:
    """``path`` is a PNG of a reasonable size whose pixels vary, with a PDF beside it."""
    assert path.is_file(), f"{path} was not written"
    pixels = imread(path)
    assert pixels.ndim == 3 and min(pixels.shape[:2]) > 100, pixels.shape
    variance = float(np.var(pixels[..., :3]))
    assert variance > min_variance, f"{path} looks empty (pixel variance {variance:.2g})"
    assert path.with_suffix(".pdf").stat().st_size > 1000
