"""Saving figures: PNG and PDF side by side, the same bytes for the same figure."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure

from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.visualize.figure_io import save_figure
from tests.visualize.figure_checks import assert_real_png


def _figure() -> Figure:
    # A plain Figure, as the library draws them: no pyplot state, no GUI backend.
    fig = Figure(figsize=(2, 2))
    ax = fig.subplots()
    ax.plot([0, 1, 2], [1, 0, 2])
    ax.set_title("a line")
    return fig


def test_png_and_pdf_and_the_same_bytes_when_drawn_again(tmp_path: Path) -> None:
    first = save_figure(_figure(), tmp_path / "a" / "line.png")
    second = save_figure(_figure(), tmp_path / "b" / "line.png")
    assert [p.name for p in first] == ["line.png", "line.pdf"]
    assert_real_png(first[0])
    assert first[1].read_bytes().startswith(b"%PDF")
    assert b"CreationDate" not in first[1].read_bytes()
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_the_output_must_be_a_png(tmp_path: Path) -> None:
    with pytest.raises(JLoneVAEError, match="must end in .png"):
        save_figure(_figure(), tmp_path / "line.jpg")
