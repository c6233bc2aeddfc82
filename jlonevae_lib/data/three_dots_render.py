"""The three-dots rasteriser: three black dots on a white 64×64 image, exactly as the reference.

The reference draws each dot with ``cv2.circle(canvas, centre, radius, 0, thickness=-1,
shift=10)`` on a 640×640 float canvas of ones and shrinks it with ``cv2.resize(...,
INTER_AREA)``. A pixel's value is therefore ``k · float32(0.01)`` (rounded to float32), where
``k`` is the number of its 10×10 canvas sub-pixels left white (OpenCV's INTER_AREA multiplies the
block sum by the single-precision reciprocal of the area; this differs from ``k / 100`` by at most
one float32 ulp for some ``k``).

OpenCV does not rasterise a true circle: ``circle`` with ``shift > 0`` turns it into a 72-gon
(vertices every 5° from a 7-digit sine table, rounded to 1/65536 px) and fills it with
``FillConvexPoly``, which draws the polygon's outline with 8-connected fixed-point lines
(clipped to the canvas) and fills one span per canvas row between two edges stepped with integer
slopes. Every canvas row a dot touches is then one contiguous span of columns (the outline
only ever extends the filled span; the tests confirm it against OpenCV for every dot position).

Here that rasterisation is reproduced in integer numpy arithmetic, vectorised over all
``granularity²`` possible dot positions at once, into a table (built once per parameter set):
for each position, its span per canvas row and its per-pixel coverage counts in a P×P patch
of the image (P = 12 by default). An image is then white minus
its three dots' patches, plus the sub-pixels shared by two dots, minus those shared by all three
(inclusion–exclusion on the spans, computed only where patches overlap). The result equals the
OpenCV reference bit for bit (see ``tests/data/test_three_dots.py``) and is many times faster
than drawing one image at a time with OpenCV, since a whole chunk of images is rendered at once
(``benchmarks/bench_rendering.py``; figures in benchmarks/README.md).

Factors are ``(x0, y0, x1, y1, x2, y2)``; x is the column, y the row, (0, 0) the top-left
corner; a dot's centre is ``factor / (granularity − 1)`` of the image side. The datasets that
use it are in :mod:`jlonevae_lib.data.three_dots`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

#: Number of dots, and of factors (x, y per dot).
NUM_DOTS = 3
NUM_FACTORS = 2 * NUM_DOTS
DEFAULT_GRANULARITY = 64
DEFAULT_IMAGE_SIDE = 64
#: Dot radius as a fraction of the image side.
DEFAULT_RADIUS = 0.08
#: Canvas sub-pixels per image pixel along each axis (the reference's 10× supersampling).
SUPERSAMPLING = 10
#: Number of images rendered per vectorised step; bounds the temporaries to a few tens of MB.
DEFAULT_CHUNK_SIZE = 2048

_CENTRE_SHIFT = 10  # cv2.circle(shift=10): centre and radius in 1/1024 canvas pixels
_XY_SHIFT = 16  # OpenCV's internal fixed point: 1/65536 canvas pixels
_XY_ONE = 1 << _XY_SHIFT
_XY_HALF = _XY_ONE >> 1
_MAX_GRANULARITY = 128  # all granularity² positions are tabulated: bounds its size and build time

#: Value of one grey level: OpenCV's INTER_AREA scales a block sum by this float32 reciprocal.
LEVEL_STEP = np.float32(1.0 / SUPERSAMPLING**2)


def levels_to_images(levels: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Grey levels (uint8 0..100, any shape) → float32 pixel values in [0, 1], same shape.

    ``level · LEVEL_STEP`` in float32 is the correctly rounded exact product, the same value
    OpenCV computes in double and the reference stores as float32; level 100 gives exactly 1.
    """
    return np.multiply(levels, LEVEL_STEP, dtype=np.float32, out=out)


# --------------------------------------------------------------------------- integer helpers
def _trunc_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """C integer division (rounds toward zero) of int64 arrays; ``den`` must be non-zero."""
    quotient = np.abs(num) // np.abs(den)
    return np.where((num < 0) != (den < 0), -quotient, quotient)


def _opencv_sin(degrees: np.ndarray) -> np.ndarray:
    """OpenCV's ``SinTable``: sin of whole degrees rounded to 7 decimals, as float32 → float64."""
    return np.round(np.sin(np.deg2rad(degrees)), 7).astype(np.float32).astype(np.float64)


def _fixed_point_centres(granularity: int, image_side: int) -> np.ndarray:
    """Canvas centre coordinate in 1/1024 px for each factor value, as the reference floors it."""
    positions = np.arange(granularity) / (granularity - 1)
    return np.floor(image_side * positions * SUPERSAMPLING * 2**_CENTRE_SHIFT).astype(np.int64)


def _fixed_point_radius(image_side: int, radius: float) -> int:
    return int(image_side * radius * SUPERSAMPLING * 2**_CENTRE_SHIFT)


# --------------------------------------------------------------------------- OpenCV geometry
def _circle_polygons(cx: np.ndarray, cy: np.ndarray, radius_fixed: int
                     ) -> tuple[np.ndarray, np.ndarray, int]:
    """cv2's polygon for ``circle(shift=10)``: vertices (D, V) in 1/65536 px, and its step in °.

    cx, cy: (D,) centres in 1/1024 px. Mirrors ``EllipseEx`` + ``ellipse2Poly``.
    """
    r = radius_fixed << (_XY_SHIFT - _CENTRE_SHIFT)
    size_px = (r + _XY_HALF) >> _XY_SHIFT
    step = 90 if size_px < 3 else 30 if size_px < 10 else 18 if size_px < 15 else 5
    angles = np.arange(0, 360 + step, step)
    off_x = r * _opencv_sin(450 - angles)
    off_y = r * _opencv_sin(angles)

    def to_fixed(v: np.ndarray) -> np.ndarray:
        whole = np.rint(v / _XY_ONE) * _XY_ONE
        return (whole + np.rint(v - whole)).astype(np.int64)

    vx = to_fixed((cx << (_XY_SHIFT - _CENTRE_SHIFT)).astype(np.float64)[:, None] + off_x)
    vy = to_fixed((cy << (_XY_SHIFT - _CENTRE_SHIFT)).astype(np.float64)[:, None] + off_y)
    return vx, vy, step


def _fill_spans(vx: np.ndarray, vy: np.ndarray, step: int, rows: np.ndarray, width: int,
                height: int) -> tuple[np.ndarray, np.ndarray]:
    """``FillConvexPoly``'s scanline spans: (first, last) column per row, (D, K) int64.

    rows: (D, K) absolute canvas rows. An empty row has first > last. The polygon's top vertex
    is at 270°, its bottom at 90°; edge[0] walks the vertex list forwards (right side), edge[1]
    backwards (left). On a side, the edge active in row y runs from the last vertex whose
    rounded row is ≤ y to the next one, starts at that vertex's x in the row it is activated in
    and moves by its rounded integer slope per row. The last row is never filled (OpenCV's loop
    ends as it runs out of edges there), rows above the canvas are skipped.
    """
    num_vertices = vx.shape[1]
    top, bottom = 270 // step, 90 // step
    vrow = (vy + _XY_HALF) >> _XY_SHIFT
    first_row, last_row = vrow[:, top], vrow.max(axis=1)
    side_x = []
    for chain in (list(range(top, num_vertices)) + list(range(bottom + 1)),
                  list(range(top, bottom - 1, -1))):
        cx, crow = vx[:, chain], vrow[:, chain]
        span = np.maximum(crow[:, 1:] - crow[:, :-1], 1)
        slope = _trunc_div(2 * (cx[:, 1:] - cx[:, :-1]) + span, 2 * span)
        active = (crow[:, None, :] <= rows[:, :, None]).sum(axis=2) - 1
        active = np.clip(active, 0, len(chain) - 2)
        start_x = np.take_along_axis(cx, active, axis=1)
        start_row = np.take_along_axis(crow, active, axis=1)
        side_x.append(start_x + (rows - start_row) * np.take_along_axis(slope, active, axis=1))
    first = (np.minimum(*side_x) + _XY_HALF) >> _XY_SHIFT
    last = (np.maximum(*side_x) + _XY_HALF) >> _XY_SHIFT
    filled = ((rows >= first_row[:, None]) & (rows < last_row[:, None]) & (rows >= 0)
              & (rows < height) & (last >= 0) & (first < width))
    first = np.where(filled, np.maximum(first, 0), width)
    last = np.where(filled, np.minimum(last, width - 1), -1)
    return first, last


def _clip_lines(x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray, width: int,
                height: int) -> tuple[np.ndarray, ...]:
    """OpenCV's ``clipLine`` on int64 arrays of segments; returns (inside, x1, y1, x2, y2)."""
    right, bottom = width - 1, height - 1

    def code(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (x < 0) + (x > right) * 2 + (y < 0) * 4 + (y > bottom) * 8

    def nonzero(d: np.ndarray) -> np.ndarray:
        return np.where(d == 0, 1, d)

    c1, c2 = code(x1, y1), code(x2, y2)
    clip = ((c1 & c2) == 0) & ((c1 | c2) != 0)
    m = clip & ((c1 & 12) != 0)
    a = np.where(c1 < 8, 0, bottom)
    x1 = np.where(m, x1 + _trunc_div((a - y1) * (x2 - x1), nonzero(y2 - y1)), x1)
    y1 = np.where(m, a, y1)
    c1 = np.where(m, code(x1, 0), c1)
    m = clip & ((c2 & 12) != 0)
    a = np.where(c2 < 8, 0, bottom)
    x2 = np.where(m, x2 + _trunc_div((a - y2) * (x2 - x1), nonzero(y2 - y1)), x2)
    y2 = np.where(m, a, y2)
    c2 = np.where(m, code(x2, 0), c2)
    clip &= ((c1 & c2) == 0) & ((c1 | c2) != 0)
    m = clip & (c1 != 0)
    a = np.where(c1 == 1, 0, right)
    y1 = np.where(m, y1 + _trunc_div((a - x1) * (y2 - y1), nonzero(x2 - x1)), y1)
    x1 = np.where(m, a, x1)
    c1 = np.where(m, 0, c1)
    m = clip & (c2 != 0)
    a = np.where(c2 == 1, 0, right)
    y2 = np.where(m, y2 + _trunc_div((a - x2) * (y2 - y1), nonzero(x2 - x1)), y2)
    x2 = np.where(m, a, x2)
    c2 = np.where(m, 0, c2)
    return (c1 | c2) == 0, x1, y1, x2, y2


def _outline_pixels(vx: np.ndarray, vy: np.ndarray, width: int, height: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels of ``FillConvexPoly``'s outline (``Line2`` per edge): (x, y, valid), (D, M) each."""
    x1, y1 = np.roll(vx, 1, axis=1), np.roll(vy, 1, axis=1)
    inside, x1, y1, x2, y2 = _clip_lines(x1, y1, vx, vy, width << _XY_SHIFT,
                                         height << _XY_SHIFT)
    x_major = np.abs(x2 - x1) > np.abs(y2 - y1)
    swap = np.where(x_major, x2 < x1, y2 < y1)
    x1, x2 = np.where(swap, x2, x1), np.where(swap, x1, x2)
    y1, y2 = np.where(swap, y2, y1), np.where(swap, y1, y2)
    major1, major2 = np.where(x_major, x1, y1), np.where(x_major, x2, y2)
    minor1, minor2 = np.where(x_major, y1, x1), np.where(x_major, y2, x2)
    slope = _trunc_div((minor2 - minor1) * _XY_ONE, (major2 - major1) | 1)
    count = (major2 - major1) >> _XY_SHIFT
    t = np.arange(int(count.max()) + 1)
    major = ((major1 + _XY_HALF) >> _XY_SHIFT)[..., None] + t
    minor = ((minor1 + _XY_HALF)[..., None] + t * slope[..., None]) >> _XY_SHIFT
    on_line = inside[..., None] & (t <= count[..., None])
    xm = x_major[..., None]
    xs = np.concatenate([np.where(xm, major, minor), ((x2 + _XY_HALF) >> _XY_SHIFT)[..., None]],
                        axis=2)
    ys = np.concatenate([np.where(xm, minor, major), ((y2 + _XY_HALF) >> _XY_SHIFT)[..., None]],
                        axis=2)
    valid = np.concatenate([on_line, inside[..., None]], axis=2)
    valid &= (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    num = vx.shape[0]
    return xs.reshape(num, -1), ys.reshape(num, -1), valid.reshape(num, -1)


def _dot_spans(cx: np.ndarray, cy: np.ndarray, radius_fixed: int, canvas_side: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every canvas pixel cv2.circle(shift=10, filled) paints, as one span per row.

    cx, cy: (D,) centres in 1/1024 px. Returns (top, first, last): rows ``top + k`` for
    k < K hold columns ``first[:, k] ..= last[:, k]`` (empty where first > last), (D, K) int64.
    """
    vx, vy, step = _circle_polygons(cx, cy, radius_fixed)
    line_x, line_y, line_ok = _outline_pixels(vx, vy, canvas_side, canvas_side)
    top = ((vy.min(axis=1) + _XY_HALF) >> _XY_SHIFT) - 1
    height = int((((vy.max(axis=1) + _XY_HALF) >> _XY_SHIFT) - top).max()) + 2
    rows = top[:, None] + np.arange(height)
    first, last = _fill_spans(vx, vy, step, rows, canvas_side, canvas_side)
    rel = np.where(line_ok, line_y - top[:, None], 0)
    if rel.min() < 0 or rel.max() >= height:
        raise AssertionError("outline pixel outside the rows of its polygon")
    flat = (np.arange(len(cx))[:, None] * height + rel)[line_ok]
    np.minimum.at(first.reshape(-1), flat, line_x[line_ok])
    np.maximum.at(last.reshape(-1), flat, line_x[line_ok])
    return top, first, last


# --------------------------------------------------------------------------- dot table
@dataclass(frozen=True)
class DotTable:
    """Rasterised dots for every position (fx, fy), indexed by ``fx * granularity + fy``.

    Each dot lives in a ``patch × patch`` block of image pixels at (``row0``, ``col0``), fully
    inside the image. ``first``/``last`` (S, 2·B, B = patch·10) are its canvas column spans for
    the canvas rows ``10·row0 + k`` (rows k ≥ B are empty padding, so windows may overrun);
    ``coverage`` (S, patch, patch) uint8 counts its painted sub-pixels per image pixel.
    """

    patch: int
    row0: np.ndarray
    col0: np.ndarray
    first: np.ndarray
    last: np.ndarray
    coverage: np.ndarray


def _coverage(first: np.ndarray, last: np.ndarray, col0: np.ndarray, patch: int) -> np.ndarray:
    """Painted sub-pixels per image pixel: spans (D, patch·10) → counts (D, patch, patch).

    The spans' rows start at an image-row boundary; columns are counted in blocks
    ``10·(col0 + c) ..< 10·(col0 + c + 1)`` for c < patch.
    """
    block = (SUPERSAMPLING * (col0[:, None] + np.arange(patch))).astype(first.dtype)[:, None, :]
    painted = (np.minimum(last[:, :, None], block + SUPERSAMPLING - 1)
               - np.maximum(first[:, :, None], block) + 1)
    painted = np.maximum(painted, 0)
    return painted.reshape(len(first), patch, SUPERSAMPLING, patch).sum(axis=2)


def dot_table(granularity: int = DEFAULT_GRANULARITY, image_side: int = DEFAULT_IMAGE_SIDE,
              radius: float = DEFAULT_RADIUS) -> DotTable:
    """The rasterised dot for every one of granularity² positions (built once per argument set)."""
    return _build_dot_table(int(granularity), int(image_side), float(radius))


def check_granularity(granularity: int) -> None:
    """ValueError unless 2 <= granularity <= the largest tabulated one."""
    if not 2 <= granularity <= _MAX_GRANULARITY:
        raise ValueError(f"granularity must be in 2..{_MAX_GRANULARITY}, got {granularity}")


@functools.lru_cache(maxsize=4)
def _build_dot_table(granularity: int, image_side: int, radius: float) -> DotTable:
    check_granularity(granularity)
    radius_fixed = _fixed_point_radius(image_side, radius)
    if radius_fixed < 1:
        raise ValueError(f"radius {radius} is below cv2's 1/1024 canvas-pixel resolution")
    canvas = image_side * SUPERSAMPLING
    centres = _fixed_point_centres(granularity, image_side)
    cx, cy = np.repeat(centres, granularity), np.tile(centres, granularity)
    top, first, last = _dot_spans(cx, cy, radius_fixed, canvas)
    painted = first <= last
    rows = top[:, None] + np.arange(first.shape[1])
    row_lo = np.where(painted, rows, canvas).min(axis=1) // SUPERSAMPLING
    row_hi = np.where(painted, rows, -1).max(axis=1) // SUPERSAMPLING
    col_lo = np.where(painted, first, canvas).min(axis=1) // SUPERSAMPLING
    col_hi = np.where(painted, last, -1).max(axis=1) // SUPERSAMPLING
    patch = int(max((row_hi - row_lo).max(), (col_hi - col_lo).max())) + 1
    if patch > image_side:
        raise ValueError(f"a dot of radius {radius} does not fit a {image_side}-pixel image")
    row0 = np.clip(row_lo, 0, image_side - patch)
    col0 = np.clip(col_lo, 0, image_side - patch)
    block_rows = patch * SUPERSAMPLING
    # Re-index each dot's spans to start at its patch's first canvas row, with empty padding.
    k = SUPERSAMPLING * row0[:, None] - top[:, None] + np.arange(2 * block_rows)
    inside = (k >= 0) & (k < first.shape[1])
    k = np.clip(k, 0, first.shape[1] - 1)
    first = np.where(inside, np.take_along_axis(first, k, axis=1), canvas).astype(np.int32)
    last = np.where(inside, np.take_along_axis(last, k, axis=1), -1).astype(np.int32)
    coverage = _coverage(first[:, :block_rows], last[:, :block_rows], col0, patch)
    table = DotTable(patch, row0.astype(np.intp), col0.astype(np.intp), first, last,
                     coverage.astype(np.uint8))
    for array in (table.row0, table.col0, table.first, table.last, table.coverage):
        array.flags.writeable = False
    return table


def _shared_coverage(table: DotTable, dots: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Sub-pixels painted by every one of ``dots`` (each (m,) table indices, patches overlapping).

    Returns (kept, row0, col0, counts): the k ≤ m positions whose dots share sub-pixels at all,
    and for them counts (k, patch, patch) uint8 placed at image pixel (row0, col0) (k,).
    """
    row0 = np.max([table.row0[d] for d in dots], axis=0)
    col0 = np.max([table.col0[d] for d in dots], axis=0)
    k = np.arange(table.patch * SUPERSAMPLING)
    rows = [SUPERSAMPLING * (row0 - table.row0[d])[:, None] + k for d in dots]
    first = np.max([table.first[d[:, None], r] for d, r in zip(dots, rows, strict=True)], axis=0)
    last = np.min([table.last[d[:, None], r] for d, r in zip(dots, rows, strict=True)], axis=0)
    kept = np.flatnonzero((first <= last).any(axis=1))
    counts = _coverage(first[kept], last[kept], col0[kept], table.patch)
    return kept, row0[kept], col0[kept], counts.astype(np.uint8)


def _patches_overlap(table: DotTable, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether the patches of dots ``a`` and ``b`` (m,) share an image pixel: (m,) bool."""
    return ((np.abs(table.row0[a] - table.row0[b]) < table.patch)
            & (np.abs(table.col0[a] - table.col0[b]) < table.patch))


def _render_levels_into(levels: np.ndarray, dots: np.ndarray, table: DotTable) -> None:
    """Write grey levels of images with dots (n, 3) (table indices) into ``levels`` (n, H, W).

    Inclusion–exclusion on the painted sub-pixels: start white (100), subtract every dot's
    patch, add back the sub-pixels shared by each pair of dots and subtract those shared by all
    three (only where patches overlap). uint8 arithmetic wraps around in between, but the
    final levels lie in 0..100, so they are exact.
    """
    patch = table.patch
    levels[...] = SUPERSAMPLING**2
    windows = np.lib.stride_tricks.sliding_window_view(levels, (patch, patch), axis=(1, 2),
                                                       writeable=True)
    images = np.arange(len(dots))
    for d in dots.T:
        windows[images, table.row0[d], table.col0[d]] -= table.coverage[d]
    pairs = [(i, j) for i in range(NUM_DOTS) for j in range(i + 1, NUM_DOTS)]
    pair_overlaps = [_patches_overlap(table, dots[:, i], dots[:, j]) for i, j in pairs]
    corrections = [(True, pair, mask) for pair, mask in zip(pairs, pair_overlaps, strict=True)]
    corrections.append((False, tuple(range(NUM_DOTS)), np.logical_and.reduce(pair_overlaps)))
    for add_back, members, mask in corrections:
        if mask.any():
            chosen = images[mask]
            kept, row0, col0, shared = _shared_coverage(table, [dots[mask, i] for i in members])
            if add_back:
                windows[chosen[kept], row0, col0] += shared
            else:
                windows[chosen[kept], row0, col0] -= shared


def _validate_factors(factors: np.ndarray, granularity: int) -> np.ndarray:
    factors = np.asarray(factors)
    if factors.ndim != 2 or factors.shape[1] != NUM_FACTORS:
        raise ValueError(f"factors must have shape (N, {NUM_FACTORS}), got {factors.shape}")
    if not np.issubdtype(factors.dtype, np.integer):
        raise ValueError(f"factors must be integers, got dtype {factors.dtype}")
    if factors.size and (factors.min() < 0 or factors.max() >= granularity):
        raise ValueError(f"factor values must lie in 0..{granularity - 1}")
    return factors.astype(np.intp)


def iter_three_dots_levels(factors: np.ndarray, granularity: int = DEFAULT_GRANULARITY,
                           image_side: int = DEFAULT_IMAGE_SIDE, radius: float = DEFAULT_RADIUS,
                           chunk_size: int = DEFAULT_CHUNK_SIZE
                           ) -> Iterator[tuple[slice, np.ndarray]]:
    """Grey levels of three-dots images, chunk by chunk: (rows of ``factors``, uint8 (n, H, W)).

    The levels of :func:`render_three_dots_levels`, for writers that stream them to disk
    without holding every image. The yielded array is a buffer reused for the next chunk.
    """
    factors = _validate_factors(factors, granularity)
    table = dot_table(granularity, image_side, radius)
    dots = factors[:, 0::2] * granularity + factors[:, 1::2]
    buffer = np.empty((min(chunk_size, len(factors)), image_side, image_side), dtype=np.uint8)
    for start in range(0, len(factors), chunk_size):
        chunk = slice(start, min(start + chunk_size, len(factors)))
        levels = buffer[:chunk.stop - start]
        _render_levels_into(levels, dots[chunk], table)
        yield chunk, levels


def render_three_dots_levels(factors: np.ndarray, granularity: int = DEFAULT_GRANULARITY,
                             image_side: int = DEFAULT_IMAGE_SIDE, radius: float = DEFAULT_RADIUS,
                             chunk_size: int = DEFAULT_CHUNK_SIZE) -> np.ndarray:
    """Grey levels of three-dots images: factors (N, 6) ints → uint8 (N, H, W, 1) in 0..100.

    A level is the number of a pixel's 10×10 canvas sub-pixels left white;
    :func:`levels_to_images` turns levels into the float32 pixel values.
    """
    levels = np.empty((len(factors), image_side, image_side, 1), dtype=np.uint8)
    for chunk, chunk_levels in iter_three_dots_levels(factors, granularity, image_side, radius,
                                                      chunk_size):
        levels[chunk, ..., 0] = chunk_levels
    return levels


def render_three_dots(factors: np.ndarray, granularity: int = DEFAULT_GRANULARITY,
                      image_side: int = DEFAULT_IMAGE_SIDE, radius: float = DEFAULT_RADIUS,
                      chunk_size: int = DEFAULT_CHUNK_SIZE) -> np.ndarray:
    """Render three-dots images: factors (N, 6) ints in 0..g−1 → float32 (N, H, W, 1) in [0, 1].

    Equal, bit for bit, to the reference's per-image OpenCV drawing (white 1.0 background, black
    dots of ``radius`` × side centred at factor/(g−1)); vectorised over the batch in chunks of
    ``chunk_size`` images. Every value is ``level · LEVEL_STEP`` for a level in 0..100, so it lies
    in [0, 1] exactly (no rounding below 0 or above 1).
    """
    images = np.empty((len(factors), image_side, image_side, 1), dtype=np.float32)
    for chunk, chunk_levels in iter_three_dots_levels(factors, granularity, image_side, radius,
                                                      chunk_size):
        levels_to_images(chunk_levels, out=images[chunk, ..., 0])
    return images
