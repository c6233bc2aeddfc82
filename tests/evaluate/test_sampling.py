"""Global and local sampling (docs/metrics.md): bounds, fixed factors, reference stream, caching."""

from __future__ import annotations

import numpy as np
import pytest

from jlonevae_lib.evaluate import sampling
from jlonevae_lib.utils.errors import JLoneVAEError
from tests.evaluate.helpers import IdentityData, identity_representation, reference_local_factors

SIZES = [12, 4, 30, 10]


def test_local_radii():
    np.testing.assert_array_equal(sampling.local_radii(SIZES, 0.1, 10, ()), [1, 0, 3, 1])
    np.testing.assert_array_equal(sampling.local_radii(SIZES, 0.1, 10, (2,)), [1, 0, 0, 1])
    np.testing.assert_array_equal(sampling.local_radii(SIZES, 1.0, 11, ()), [12, 0, 30, 0])
    np.testing.assert_array_equal(sampling.local_radii([64], 0.3, 10, ()), [19])
    with pytest.raises(JLoneVAEError, match="outside"):
        sampling.local_radii(SIZES, 0.1, 10, (4,))
    with pytest.raises(JLoneVAEError, match="locality_proportion"):
        sampling.local_radii(SIZES, -0.1, 10, ())


def test_local_factors_stay_near_the_centroid():
    rs = np.random.RandomState(0)
    centroid = np.array([0, 2, 29, 5])
    radii = sampling.local_radii(SIZES, 0.1, 10, ())
    factors = sampling.sample_local_factors(500, SIZES, centroid, radii, rs)
    assert factors.shape == (500, 4) and factors.dtype == np.int64
    np.testing.assert_array_equal(factors.min(axis=0), [0, 2, 26, 4])  # clipped at 0
    np.testing.assert_array_equal(factors.max(axis=0), [1, 2, 29, 6])  # clipped at n − 1


@pytest.mark.parametrize(("locality", "denylist"), [(0.1, ()), (0.3, (0,)), (1.0, ())])
def test_local_codes_reproduce_the_reference_stream(locality, denylist):
    data = IdentityData(SIZES)
    radii = sampling.local_radii(SIZES, locality, 10, denylist)
    clusters = sampling.local_codes(data, identity_representation, 37, 3, radii,
                                    np.random.RandomState(7), encode_batch_size=10)
    expected = reference_local_factors(SIZES, 37, 3, locality, 10, denylist, seed=7)
    for cluster, factors in zip(clusters, expected, strict=True):
        np.testing.assert_array_equal(cluster.factors, factors.T)
        np.testing.assert_array_equal(cluster.codes, factors.T.astype(np.float32))


def test_global_factors_drawn_in_chunks_of_the_dataset():
    data = IdentityData(SIZES)
    factors = sampling.sample_global_factors(data, 40, np.random.RandomState(1), batch_size=16)
    rs = np.random.RandomState(1)
    expected = np.vstack([data.sample_factors(n, rs) for n in (16, 16, 8)])
    np.testing.assert_array_equal(factors, expected)
    cluster = sampling.global_codes(data, identity_representation, 40, np.random.RandomState(1))
    np.testing.assert_array_equal(cluster.factors, expected.T)


def test_encode_factors_checks_the_representation():
    data = IdentityData(SIZES)
    factors = np.zeros((3, 4), dtype=np.int64)
    rs = np.random.RandomState(0)
    with pytest.raises(JLoneVAEError, match="NaN"):
        sampling.encode_factors(data, lambda x: np.full((len(x), 2), np.nan), factors, rs)
    with pytest.raises(JLoneVAEError, match="shape"):
        sampling.encode_factors(data, lambda x: np.zeros(len(x)), factors, rs)


def test_draw_cache_replays_a_draw_and_its_random_state():
    data = IdentityData(SIZES)
    radii = sampling.local_radii(SIZES, 0.1, 10, ())
    calls = []

    def draw(rs):
        calls.append(1)
        return sampling.local_codes(data, identity_representation, 20, 2, radii, rs)

    cache = sampling.DrawCache()
    first_rs, second_rs, fresh_rs = (np.random.RandomState(3) for _ in range(3))
    first = cache.draw("local", first_rs, lambda: draw(first_rs))
    second = cache.draw("local", second_rs, lambda: draw(second_rs))
    assert second is first and len(calls) == 1 and cache.hits == 1
    draw(fresh_rs)
    assert second_rs.randint(10**9) == fresh_rs.randint(10**9)  # left where a draw leaves it
    other = cache.draw("local", np.random.RandomState(4), lambda: draw(np.random.RandomState(4)))
    assert other is not first and len(calls) == 3


def test_draw_cache_drops_oldest_beyond_budget():
    cache = sampling.DrawCache(max_bytes=1000)
    rs = np.random.RandomState(0)
    cache.draw("a", rs, lambda: np.zeros(100))  # 800 bytes
    cache.draw("b", rs, lambda: np.zeros(100))
    assert len(cache) == 1
