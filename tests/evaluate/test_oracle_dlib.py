"""Our metrics against disentanglement_lib 1.5's own functions on the same inputs (docs/metrics.md).

MI, entropies, MIG and modularity agree to 1e-12, the histogram labels exactly, explicitness to
the classifier's precision. Local metrics are compared cluster by cluster through the same
functions; where a cluster holds a factor fixed, disentanglement_lib's MIG divides by its zero
entropy (NaN), and ours equals its MIG over the varying factors (the paper's intent).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import gin
import numpy as np
import pytest

from jlonevae_lib.evaluate import configurables, metrics, sampling
from tests.evaluate import dlib_oracle
from tests.evaluate.helpers import IdentityData, mixing_representation

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    # disentanglement_lib divides 0 by 0 for codes without information (then sets them to 0).
    pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning"),
]

SIZES = [12, 4, 30, 10]
TOL = 1e-12


@pytest.fixture(scope="module")
def dlib():
    return dlib_oracle.load()


@contextlib.contextmanager
def both_bound(num_bins: int, *extra: str) -> Iterator[None]:
    """Histogram discretiser with ``num_bins`` for ours and disentanglement_lib's (dlib.*)."""
    with dlib_oracle.histogram_bins(num_bins):
        gin.parse_config([f"discretizer.num_bins = {num_bins}",
                          "discretizer.discretizer_fn = @histogram_discretizer", *extra])
        yield


def codes_case(case: str, rs: np.random.RandomState, factors: np.ndarray) -> np.ndarray:
    n = factors.shape[1]
    codes = rs.randn(6, n)
    if case == "constant":
        codes[1] = 0.3
        codes[4] = -2.0
    elif case == "tied":
        codes = np.round(codes)
        codes[2] = rs.randint(0, 3, n)
    elif case == "structured":
        codes[0] = factors[0]
        codes[1] = np.exp(factors[2] / 10.0)
        codes[2] = factors[0] + 0.1 * factors[3]
        codes[3] = codes[0]  # a duplicated code: a MIG gap of 0 for factor 0
    elif case == "outlier":
        codes[0, 0] = 1e6
        codes[5] = factors[1] + 0.01 * codes[5]
    elif case == "float32":
        codes = (codes + factors[:1]).astype(np.float32)
    return codes


CASES = ["random", "constant", "tied", "structured", "outlier", "float32"]


@pytest.mark.parametrize("num_bins", [5, 20])
@pytest.mark.parametrize("case", CASES)
def test_core_functions_match(dlib, case, num_bins):
    rs = np.random.RandomState(CASES.index(case))
    factors = np.vstack([rs.randint(0, n, 3000) for n in SIZES])
    codes = codes_case(case, rs, factors)

    ours_discrete = metrics.histogram_discretize(codes, num_bins)
    dlib_discrete = dlib.utils._histogram_discretize(codes, num_bins)
    np.testing.assert_array_equal(ours_discrete, dlib_discrete)

    ours_mi = metrics.discrete_mutual_info(ours_discrete, factors)
    dlib_mi = dlib.utils.discrete_mutual_info(dlib_discrete, factors)
    np.testing.assert_allclose(ours_mi, dlib_mi, rtol=0, atol=TOL)
    np.testing.assert_allclose(metrics.discrete_entropy(factors),
                               dlib.utils.discrete_entropy(factors), rtol=0, atol=TOL)
    assert metrics.modularity_score(ours_mi) == pytest.approx(
        dlib.modularity_explicitness.modularity(dlib_mi), rel=0, abs=TOL)
    with both_bound(num_bins):
        expected_mig = dlib.mig._compute_mig(codes, factors)["discrete_mig"]
    assert metrics.mig_score(codes, factors, num_bins) == pytest.approx(expected_mig, abs=TOL)


def test_constant_code_and_factor_rows(dlib):
    rs = np.random.RandomState(11)
    factors = np.vstack([rs.randint(0, 5, 400), np.full(400, 3), rs.randint(0, 2, 400)])
    codes = np.vstack([np.full(400, 1.5), factors[0] + 0.1 * rs.randn(400), rs.randn(400)])
    discrete = dlib.utils._histogram_discretize(codes, 5)
    ours = metrics.discrete_mutual_info(metrics.histogram_discretize(codes, 5), factors)
    np.testing.assert_allclose(ours, dlib.utils.discrete_mutual_info(discrete, factors),
                               rtol=0, atol=TOL)
    assert (ours[0] == 0).all() and (ours[:, 1] == 0).all()
    assert metrics.modularity_score(ours) == pytest.approx(
        dlib.modularity_explicitness.modularity(dlib.utils.discrete_mutual_info(discrete,
                                                                                factors)),
        abs=TOL)


def test_explicitness_matches(dlib):
    rs = np.random.RandomState(12)
    factors = np.vstack([rs.randint(0, n, 900) for n in (3, 5)])
    codes = np.vstack([factors[0] + 0.5 * rs.randn(900), np.sin(factors[1]) + 0.3 * rs.randn(900),
                       rs.randn(900)])
    train, test = (codes[:, :600], factors[:, :600]), (codes[:, 600:], factors[:, 600:])
    ours = metrics.explicitness_score(*train, *test)
    train_norm, mean, std = dlib.utils.normalize_data(train[0])
    test_norm, _, _ = dlib.utils.normalize_data(test[0], mean, std)
    expected = np.array([dlib.modularity_explicitness.explicitness_per_factor(
        train_norm, train[1][j], test_norm, test[1][j]) for j in range(2)])
    np.testing.assert_allclose(ours, expected.mean(axis=0), rtol=0, atol=1e-9)


def test_global_mig_with_sampling_matches(dlib):
    data, represent = IdentityData(SIZES), mixing_representation(1)
    with both_bound(20):
        expected = dlib.mig.compute_mig(data, represent, np.random.RandomState(5), None, 1500)
        ours = configurables.compute_mig(data, represent, np.random.RandomState(5),
                                         num_train=1500)
    assert ours["discrete_mig"] == pytest.approx(expected["discrete_mig"], abs=TOL)


def test_modularity_explicitness_with_sampling_matches(dlib):
    data, represent = IdentityData(SIZES), mixing_representation(2)
    with both_bound(20):
        expected = dlib.modularity_explicitness.compute_modularity_explicitness(
            data, represent, np.random.RandomState(6), None, 1200, 600)
        ours = configurables.compute_modularity_explicitness(
            data, represent, np.random.RandomState(6), num_train=1200, num_test=600)
    assert ours["modularity_score"] == pytest.approx(expected["modularity_score"], abs=TOL)
    for key in ("explicitness_score_train", "explicitness_score_test"):
        assert ours[key] == pytest.approx(expected[key], abs=1e-9)


def local_representation(observations: np.ndarray) -> np.ndarray:
    """Mixed codes plus one code of the factor that local clusters hold fixed (constant)."""
    mixed = mixing_representation(3, num_codes=4)(observations)
    fixed = observations.reshape(len(observations), -1)[:, 1:2]
    return np.hstack([mixed, fixed, np.round(mixed[:, :1])])


@pytest.mark.parametrize(("locality", "denylist"), [(0.1, ()), (0.3, (0,)), (1.0, ())])
def test_local_metrics_match_per_cluster(dlib, locality, denylist):
    data = IdentityData(SIZES)
    extra = (f"local_sample_factors.locality_proportion = {locality}",
             "local_sample_factors.continuity_cutoff = 10",
             f"local_sample_factors.denylist_factors = {list(denylist)}")
    with both_bound(5, *extra):
        local_mig = configurables.compute_local_mig(
            data, local_representation, np.random.RandomState(8), num_train=800,
            num_local_clusters=4)
        local_modularity = configurables.compute_local_modularity(
            data, local_representation, np.random.RandomState(8), num_train=800,
            num_local_clusters=4)
        clusters = sampling.local_codes(
            data, local_representation, 800, 4,
            sampling.local_radii(SIZES, locality, 10, denylist), np.random.RandomState(8))
        expected_mig, expected_modularity = [], []
        for codes, factors in clusters:
            entropy = dlib.utils.discrete_entropy(factors)
            assert (entropy == 0).any()  # factor 1 (4 values < cutoff) is fixed in a cluster
            with np.errstate(divide="ignore", invalid="ignore"):
                assert math.isnan(dlib.mig._compute_mig(codes, factors)["discrete_mig"])
            expected_mig.append(dlib.mig._compute_mig(codes, factors[entropy > 0])
                                ["discrete_mig"])
            mi = dlib.utils.discrete_mutual_info(dlib.utils.make_discretizer(codes), factors)
            expected_modularity.append(dlib.modularity_explicitness.modularity(mi))
    np.testing.assert_allclose(local_mig["local_discrete_migs_samples"], expected_mig,
                               rtol=0, atol=TOL)
    assert local_mig["discrete_mig"] == pytest.approx(np.mean(expected_mig), abs=TOL)
    np.testing.assert_allclose(local_modularity["local_modularity_scores_samples"],
                               expected_modularity, rtol=0, atol=TOL)
    assert local_modularity["modularity_score"] == pytest.approx(np.mean(expected_modularity),
                                                                 abs=TOL)
