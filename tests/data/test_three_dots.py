"""The vectorised three-dots renderer against the reference's per-image OpenCV drawing."""

import numpy as np
import pytest

from jlonevae_lib.data import get_named_ground_truth_data
from jlonevae_lib.data.three_dots import ThreeDots
from jlonevae_lib.data.three_dots_render import (
    LEVEL_STEP,
    dot_table,
    levels_to_images,
    render_three_dots,
    render_three_dots_levels,
)

cv2 = pytest.importorskip("cv2")


def opencv_reference(factors, granularity=64, image_side=64, radius=0.08):
    """The reference implementation (seed's threeDots.py), one image at a time."""
    images = np.zeros((len(factors), image_side, image_side, 1), dtype=np.float32)
    up_radius = int(image_side * radius * 10 * 2**10)
    for i, row in enumerate(factors):
        canvas = np.ones((image_side * 10, image_side * 10, 1))
        for centre in row.reshape(3, 2) / (granularity - 1):
            up_centre = np.floor(image_side * centre * 10 * 2**10).astype(int)
            cv2.circle(canvas, tuple(int(c) for c in up_centre), up_radius, color=0,
                       thickness=-1, shift=10)
        images[i, :, :, 0] = cv2.resize(canvas, (image_side, image_side),
                                        interpolation=cv2.INTER_AREA)
    return images


def assert_matches_reference(factors, **kwargs):
    ours = render_three_dots(factors, **kwargs)
    reference = opencv_reference(factors, **kwargs)
    diff = np.abs(ours.astype(np.float64) - reference).reshape(len(factors), -1)
    # docs/formats.md's tolerance per image, then the stronger fact: equal bit for bit.
    assert diff.mean(axis=1).max() <= 0.005 and diff.max() <= 0.1, diff.max()
    mismatched = np.flatnonzero(diff.max(axis=1) > 0)
    assert mismatched.size == 0, (
        f"{mismatched.size} of {len(factors)} images differ, max |Δ| {diff.max():.4f}, "
        f"first factors {factors[mismatched[0]]}")


def test_random_factors_equal_opencv_bit_for_bit():
    assert_matches_reference(np.random.RandomState(0).randint(64, size=(500, 6)))


def test_every_dot_position_equals_opencv():
    # 64² positions, three per image: every entry of the dot table is checked once.
    positions = np.random.RandomState(1).permutation(64 * 64)
    positions = np.concatenate([positions, positions[:2]]).reshape(-1, 3)
    factors = np.stack([positions // 64, positions % 64], axis=2).reshape(-1, 6)
    assert_matches_reference(factors)


def test_overlapping_dots_equal_opencv():
    rs = np.random.RandomState(2)
    base = rs.randint(64, size=(400, 2))
    offsets = rs.randint(-4, 5, size=(400, 4))
    factors = np.clip(np.concatenate([base, base + offsets[:, :2], base + offsets[:, 2:]], axis=1),
                      0, 63)
    factors[:20] = np.tile(base[:20], 3)  # three dots on top of each other
    assert_matches_reference(factors)


def test_dots_at_the_borders_equal_opencv():
    edge_values = np.array([0, 1, 2, 5, 58, 61, 62, 63])
    factors = np.random.RandomState(3).choice(edge_values, size=(400, 6))
    factors[:4] = [[0, 0, 63, 63, 0, 63], [63, 0, 0, 63, 63, 63], [0, 0, 0, 0, 0, 0],
                   [63, 63, 63, 63, 63, 63]]
    assert_matches_reference(factors)


def test_other_granularity_and_side_equal_opencv():
    factors = np.random.RandomState(4).randint(100, size=(150, 6))
    assert_matches_reference(factors, granularity=100, image_side=32, radius=0.15)


@pytest.mark.parametrize("radius", [0.02, 0.01, 0.003])  # cv2's 18°, 30° and 90° polygons
def test_small_radii_equal_opencv(radius):
    factors = np.random.RandomState(5).randint(20, size=(100, 6))
    assert_matches_reference(factors, granularity=20, radius=radius)


def test_level_values_are_opencv_inter_area_block_means():
    # A 10×10 block with k white sub-pixels shrinks to the value of level k.
    canvas = np.zeros((10, 1010))
    for k in range(101):
        block = np.zeros(100)
        block[:k] = 1
        canvas[:, 10 * k:10 * k + 10] = block.reshape(10, 10)
    means = cv2.resize(canvas, (101, 1), interpolation=cv2.INTER_AREA)[0].astype(np.float32)
    assert np.array_equal(levels_to_images(np.arange(101, dtype=np.uint8)), means)
    assert LEVEL_STEP == np.float32(0.01)


def test_shapes_dtypes_and_range():
    factors = np.random.RandomState(5).randint(64, size=(37, 6))
    images = render_three_dots(factors, chunk_size=8)
    assert images.shape == (37, 64, 64, 1) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    levels = render_three_dots_levels(factors, chunk_size=5)
    assert levels.shape == (37, 64, 64, 1) and levels.dtype == np.uint8 and levels.max() <= 100
    assert np.array_equal(levels_to_images(levels), images)
    assert np.array_equal(render_three_dots(factors), images)  # chunking changes nothing
    assert render_three_dots(np.zeros((0, 6), dtype=np.int64)).shape == (0, 64, 64, 1)


def test_white_background_and_black_dot_centres():
    image = render_three_dots(np.array([[0, 0, 31, 31, 63, 0]]))[0, :, :, 0]
    assert image[0, 0] == 0.0 and image[31, 31] == 0.0 and image[0, 63] == 0.0
    assert image[63, 0] == 1.0 and image[63, 63] == 1.0  # untouched corners stay exactly white
    # x is the column, y the row: the dot at (x=63, y=0) darkens the top-right corner.
    assert image[0, 60] < 1.0 and image[60, 0] == 1.0


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 5), dtype=np.int64), "shape"),
    (np.zeros((2, 6)), "integers"),
    (np.full((2, 6), 64), "0..63"),
    (np.full((2, 6), -1), "0..63"),
])
def test_invalid_factors_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        render_three_dots(bad)


def test_dot_table_is_cached_and_read_only():
    table = dot_table()
    assert dot_table(64, 64, 0.08) is table
    assert table.patch == 12 and table.coverage.shape == (64 * 64, 12, 12)
    with pytest.raises(ValueError):
        table.coverage[0, 0, 0] = 1


def test_dataset_interface():
    data = get_named_ground_truth_data("threeDots")
    assert isinstance(data, ThreeDots)
    assert data.num_factors == 6 and data.factors_num_values == [64] * 6
    assert data.observation_shape == (64, 64, 1) and data.image_shape == (1, 64, 64)
    factors, observations = data.sample(10, np.random.RandomState(0))
    assert factors.dtype == np.int64 and factors.shape == (10, 6)
    assert np.array_equal(observations, render_three_dots(factors))
    assert np.array_equal(data.sample_observations(10, np.random.RandomState(0)), observations)


def test_procedural_training_batches():
    data = ThreeDots()
    batch = data.sample_training_batch(8, np.random.default_rng(1))
    assert batch.shape == (8, 1, 64, 64) and batch.dtype == np.float32
    assert batch.flags.c_contiguous and 0.0 <= batch.min() and batch.max() <= 1.0
    again = data.sample_training_batch(8, np.random.default_rng(1))
    other = data.sample_training_batch(8, np.random.default_rng(2))
    assert np.array_equal(batch, again) and not np.array_equal(batch, other)
    rng = np.random.default_rng(1)
    factors = np.stack([rng.integers(0, 64, size=8) for _ in range(6)], axis=1)
    assert np.array_equal(batch[:, 0], render_three_dots(factors)[..., 0])


@pytest.mark.parametrize("granularity", [1, 129])
def test_unsupported_granularity_is_refused_early(granularity):
    with pytest.raises(ValueError, match="granularity"):
        ThreeDots(granularity)
