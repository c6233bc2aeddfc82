"""Compact training batches (issue 25): what a GPU trainer copies, then expands on the device
(``trainer.expand_batch``, here on the CPU), is the batch the CPU trainer gets, bit for bit,
drawn with the same random numbers."""

import numpy as np
import pytest
import torch

from jlonevae_lib.data.ground_truth import CompactBatch
from jlonevae_lib.data.three_dots import ThreeDots, ThreeDotsCache
from jlonevae_lib.data.three_dots_render import LEVEL_STEP, levels_to_images
from jlonevae_lib.train.trainer import expand_batch


def expanded(compact: CompactBatch) -> np.ndarray:
    return expand_batch(torch.from_numpy(compact.images), compact.scale).numpy()


def _cache_in_memory(num_images: int = 40) -> ThreeDotsCache:
    data = ThreeDotsCache(num_images)
    data._levels = np.random.default_rng(0).integers(0, 101, size=(num_images, 64, 64, 1),
                                                     dtype=np.uint8)
    return data


def test_the_cache_sends_uint8_levels_drawn_as_its_float_batches():
    data = _cache_in_memory()
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    for _ in range(3):
        images = data.sample_training_batch(8, rng_a)
        compact = data.sample_training_batch_compact(8, rng_b)
        assert compact.images.dtype == np.uint8 and compact.images.shape == (8, 1, 64, 64)
        assert compact.images.nbytes * 4 == images.nbytes
        assert np.array_equal(expanded(compact), images)
    assert rng_a.bit_generator.state == rng_b.bit_generator.state  # the same draws


def test_every_level_expands_to_the_same_float_in_torch_as_in_numpy():
    """The device's product (uint8 → float32, times the float32 step) against the host's."""
    levels = np.arange(101, dtype=np.uint8)
    on_device = expand_batch(torch.from_numpy(levels), LEVEL_STEP)
    assert torch.equal(on_device, torch.from_numpy(levels_to_images(levels)))


def test_datasets_without_a_compact_form_send_their_float_batch():
    data = ThreeDots()
    compact = data.sample_training_batch_compact(4, np.random.default_rng(1))
    assert compact.scale is None and compact.images.dtype == np.float32
    assert np.array_equal(expanded(compact),
                          data.sample_training_batch(4, np.random.default_rng(1)))
    with pytest.raises(ValueError, match="float32"):
        CompactBatch(np.zeros((1, 1, 2, 2), dtype=np.uint8))
