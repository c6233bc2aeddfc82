"""The dataset interface (disentanglement_lib's sampling order), the registry and the data root."""

from pathlib import Path

import numpy as np
import pytest

from jlonevae_lib.data import ground_truth
from jlonevae_lib.data.ground_truth import (
    GroundTruthData,
    available_datasets,
    data_root,
    get_named_ground_truth_data,
    register_ground_truth_data,
)
from jlonevae_lib.utils.errors import JLoneVAEError


class IdentityData(GroundTruthData):
    """Factors (3, 5) drawn as images: a 1×2×3 image holding the factors, scaled to [0, 1]."""

    def __init__(self, scale: float = 10.0):
        self.scale = scale

    @property
    def num_factors(self):
        return 2

    @property
    def factors_num_values(self):
        return [3, 5]

    @property
    def observation_shape(self):
        return (1, 2, 3)

    def sample_observations_from_factors(self, factors, random_state):
        values = np.repeat(factors[:, None, :, None], 3, axis=3) / self.scale
        return values.astype(np.float32)


@pytest.fixture
def registry(monkeypatch):
    """A copy of the registry, restored after the test."""
    monkeypatch.setattr(ground_truth, "_REGISTRY", dict(ground_truth._REGISTRY))
    monkeypatch.setattr(ground_truth, "_EVALUATED_ON", dict(ground_truth._EVALUATED_ON))
    monkeypatch.setattr(ground_truth, "_WITHOUT_FACTORS", set(ground_truth._WITHOUT_FACTORS))


def test_a_dataset_names_the_dataset_its_runs_are_scored_on(registry):
    """The three-dots caches hold training images only: scored on fresh three-dots images;
    a registered dataset of the same kind says so at its registration."""
    assert ground_truth.evaluation_dataset_name("threeDotsCache") == "threeDots"
    assert ground_truth.evaluation_dataset_name("threeDotsCacheSmall") == "threeDots"
    assert ground_truth.evaluation_dataset_name("mpi3d_multi_real") == "mpi3dMulti"
    ground_truth.register_ground_truth_data("identityCache", evaluated_on="identity")(
        IdentityData)
    assert ground_truth.evaluation_dataset_name("identityCache") == "identity"
    # A refused registration (the name is taken) changes nothing.
    with pytest.raises(ValueError, match="already registered"):
        ground_truth.register_ground_truth_data("threeDotsCache", evaluated_on="identity")(
            IdentityData)
    assert ground_truth.evaluation_dataset_name("threeDotsCache") == "threeDots"


def test_sample_factors_draws_column_by_column_like_disentanglement_lib():
    data = get_named_ground_truth_data("threeDots")
    factors = data.sample_factors(50, np.random.RandomState(7))
    rs = np.random.RandomState(7)
    expected = np.zeros((50, 6), dtype=np.int64)
    for j in range(6):
        expected[:, j] = rs.randint(64, size=50)
    assert factors.dtype == np.int64 and np.array_equal(factors, expected)


def test_same_random_state_seed_same_samples_and_stream_position():
    data = IdentityData()
    rs1, rs2 = np.random.RandomState(3), np.random.RandomState(3)
    f1, x1 = data.sample(20, rs1)
    f2, x2 = data.sample(20, rs2)
    assert np.array_equal(f1, f2) and np.array_equal(x1, x2)
    assert rs1.randint(1000) == rs2.randint(1000)
    assert np.array_equal(data.sample_observations(20, np.random.RandomState(3)), x1)
    assert x1.shape == (20, 1, 2, 3) and x1.dtype == np.float32


def test_default_training_batch_is_nchw_and_seeded():
    data = IdentityData()
    assert data.image_shape == (3, 1, 2)
    batch = data.sample_training_batch(16, np.random.default_rng(0))
    assert batch.shape == (16, 3, 1, 2) and batch.dtype == np.float32 and batch.flags.c_contiguous
    assert np.array_equal(batch, data.sample_training_batch(16, np.random.default_rng(0)))
    assert not np.array_equal(batch, data.sample_training_batch(16, np.random.default_rng(1)))
    rng = np.random.default_rng(0)
    first, second = rng.integers(0, 3, size=16), rng.integers(0, 5, size=16)
    expected = (np.stack([first, second], axis=1) / 10.0).astype(np.float32)
    assert np.array_equal(batch[:, 0, 0], expected)


def test_registry_builds_by_name_with_keyword_arguments(registry):
    register_ground_truth_data("identity")(IdentityData)
    assert "identity" in available_datasets()
    assert get_named_ground_truth_data("identity", scale=2.0).scale == 2.0
    register_ground_truth_data("identity")(IdentityData)  # the same class again: accepted
    with pytest.raises(ValueError, match="already registered"):
        register_ground_truth_data("identity")(type("IdentityData", (IdentityData,), {}))


def test_builtin_names_are_registered():
    assert {"threeDots", "threeDotsCache", "threeDotsCacheSmall"} <= set(available_datasets())
    assert available_datasets() == sorted(available_datasets())


def test_unknown_dataset_name_lists_the_known_ones():
    with pytest.raises(JLoneVAEError, match="unknown dataset 'dsprites'") as info:
        get_named_ground_truth_data("dsprites")
    for name in ("threeDots", "threeDotsCache", "threeDotsCacheSmall"):
        assert name in str(info.value)


def test_data_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("DISENTANGLEMENT_LIB_DATA", raising=False)
    assert data_root() == Path("data")
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path))
    assert data_root() == tmp_path
