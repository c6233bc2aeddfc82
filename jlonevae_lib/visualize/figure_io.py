"""Writing figures and tables: PNG + PDF next to each other, CSV + Markdown, all atomic.

Figures are built with the object-oriented API (``matplotlib.figure.Figure``), never with
``pyplot``: no global figure state, no GUI backend, and a figure returned to a notebook is
displayed by IPython's inline formatter like any other.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from jlonevae_lib.utils.atomic import atomic_path, atomic_write_text
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.tables import format_markdown_table

#: Resolution of the PNGs: enough for a 64×64 image shown a few centimetres wide on paper.
PNG_DPI = 150


def save_figure(fig: Figure, png_path: str | os.PathLike, pdf: bool = True) -> list[Path]:
    """Write ``fig`` to ``png_path`` and, when ``pdf``, to the same name with ``.pdf``.

    Returns the paths written, PNG first. The PNG path must end in ``.png``, so the PDF's
    name is never a surprise.
    """
    png_path = Path(png_path)
    if png_path.suffix.lower() != ".png":
        raise JLoneVAEError(f"figure output {png_path} must end in .png (a .pdf is written "
                            "beside it)")
    paths = [png_path] + ([png_path.with_suffix(".pdf")] if pdf else [])
    for path in paths:
        fmt = path.suffix[1:].lower()
        # No creation date in a PDF: the same figure gives the same bytes, so a redrawn but
        # unchanged figure shows no change in git.
        metadata = {"CreationDate": None} if fmt == "pdf" else None
        with atomic_path(path, suffix=path.suffix) as tmp:
            fig.savefig(tmp, format=fmt, dpi=PNG_DPI, bbox_inches="tight", metadata=metadata)
    return paths


def show_image(ax: Axes, image_chw: np.ndarray, title: str = "", fontsize: float = 7) -> None:
    """Draw an image (C, H, W) in [0, 1] on ``ax``: gray for C = 1, RGB for C = 3; no ticks."""
    if image_chw.shape[0] == 1:
        ax.imshow(image_chw[0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(np.transpose(image_chw, (1, 2, 0)), vmin=0.0, vmax=1.0,
                  interpolation="nearest")
    if title:
        ax.set_title(title, fontsize=fontsize, loc="left")
    ax.set_xticks([])
    ax.set_yticks([])


def save_table(rows: Sequence[Mapping[str, Any]], csv_path: str | os.PathLike) -> list[Path]:
    """Write ``rows`` to ``csv_path`` (full precision) and a Markdown copy beside it (``.md``).

    Returns the two paths written.
    """
    csv_path = Path(csv_path)
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    md_path = csv_path.with_suffix(".md")
    atomic_write_text(csv_path, buffer.getvalue())
    atomic_write_text(md_path, format_markdown_table(rows))
    return [csv_path, md_path]
