"""Golden values of the metric core (docs/metrics.md) and agreement with sklearn's definitions."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from jlonevae_lib.evaluate import metrics


def sklearn_mutual_info(codes_discrete: np.ndarray, factors: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about float labels
        return np.array([[mutual_info_score(f, c) for f in factors] for c in codes_discrete])


# ------------------------------------------------------------------ modularity golden cases
@pytest.mark.parametrize(("mutual_info", "expected"), [
    (np.diag(5.0 * np.ones(5)), 1.0),
    (np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), 2.0 / 3.0),
    (np.zeros((10, 10)), 0.0),
    (np.vstack([np.diag(5.0 * np.ones(5))] * 2), 1.0),
    (np.diag(5.0 * np.ones(5))[:2], 1.0),
    (np.hstack([np.diag(5.0 * np.ones(5))] * 2), 1.0 - 1.0 / 9.0),
    (np.array([[3.0, 4.0]]), 1.0 - 9.0 / 16.0),
])
def test_modularity_golden(mutual_info, expected):
    assert metrics.modularity_score(mutual_info) == pytest.approx(expected, abs=1e-15)


def test_modularity_counts_constant_factors_in_f():
    # A factor with zero MI everywhere still counts in F − 1.
    m = np.array([[1.0, 0.5, 0.0]])
    assert metrics.modularity_score(m) == pytest.approx(1.0 - 0.25 / 2.0)


# ------------------------------------------------------------------ discretiser
def test_histogram_discretize_golden():
    codes = np.array([[0.0, 0.5, 1.0, 0.2], [3.0, 3.0, 3.0, 3.0], [-1.0, 1.0, 0.0, 0.99]])
    labels = metrics.histogram_discretize(codes, 2)
    np.testing.assert_array_equal(labels[0], [1, 2, 2, 1])  # the maximum falls in the last bin
    assert len(np.unique(labels[1])) == 1  # a constant row gets one label
    np.testing.assert_array_equal(labels[2], [1, 2, 2, 2])
    assert labels.dtype == np.int64


def test_histogram_discretize_labels_in_range():
    codes = np.random.RandomState(0).randn(4, 500)
    labels = metrics.histogram_discretize(codes, 7)
    assert labels.min() == 1 and labels.max() == 7
    assert (labels == 7).any(axis=1).all()


def test_histogram_discretize_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        metrics.histogram_discretize(np.zeros(5), 3)
    with pytest.raises(ValueError, match="num_bins"):
        metrics.histogram_discretize(np.zeros((1, 5)), 0)


# ------------------------------------------------------------------ mutual information, entropy
def test_mutual_info_golden():
    factors = np.array([np.repeat(np.arange(3), 4), np.tile(np.arange(4), 3)])  # a full grid
    m = metrics.discrete_mutual_info(factors, factors)
    np.testing.assert_allclose(np.diag(m), [math.log(3), math.log(4)], rtol=1e-15)
    assert m[0, 1] == 0.0 and m[1, 0] == 0.0  # independent by design: exactly 0 as sklearn
    np.testing.assert_allclose(metrics.discrete_entropy(factors), [math.log(3), math.log(4)],
                               rtol=1e-15)


MI_CASES = ["random", "tied", "constant", "few_points", "large_labels"]


@pytest.mark.parametrize("case", MI_CASES)
def test_mutual_info_matches_sklearn(case):
    rs = np.random.RandomState(MI_CASES.index(case))
    codes = rs.randn(6, 2000)
    factors = rs.randint(0, 15, size=(4, 2000))
    if case == "tied":
        codes = np.round(codes * 2) / 2
        factors[1] = factors[0] // 3
    elif case == "constant":
        codes[2] = 0.25
        factors[3] = 7
    elif case == "few_points":
        codes, factors = codes[:, :5], factors[:, :5]
    elif case == "large_labels":
        factors = rs.randint(0, 10**9, size=(4, 2000))
    discrete = metrics.histogram_discretize(codes, 10)
    expected = sklearn_mutual_info(discrete, factors)
    np.testing.assert_allclose(metrics.discrete_mutual_info(discrete, factors), expected,
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(metrics.discrete_entropy(factors),
                               [mutual_info_score(f, f) for f in factors], rtol=0, atol=1e-12)


def test_mutual_info_of_float_and_unsorted_labels():
    rs = np.random.RandomState(3)
    codes = rs.randn(3, 300)  # continuous values: every value its own label
    factors = rs.choice([-5, 2, 40], size=(2, 300)).astype(np.float32)
    np.testing.assert_allclose(metrics.discrete_mutual_info(codes, factors),
                               sklearn_mutual_info(codes, factors), rtol=0, atol=1e-12)


def test_mutual_info_blocks_agree(monkeypatch):
    rs = np.random.RandomState(4)
    discrete = metrics.histogram_discretize(rs.randn(5, 800), 6)
    factors = rs.randint(0, 9, size=(3, 800))
    whole = metrics.discrete_mutual_info(discrete, factors)
    # Force one code per block and the np.unique counting path.
    monkeypatch.setattr(metrics, "_MAX_BLOCK_CELLS", 20)
    np.testing.assert_allclose(metrics.discrete_mutual_info(discrete, factors), whole,
                               rtol=0, atol=1e-14)


def test_mutual_info_shape_errors():
    with pytest.raises(ValueError, match="points"):
        metrics.discrete_mutual_info(np.zeros((2, 5), int), np.zeros((2, 6), int))


# ------------------------------------------------------------------ MIG
def _grid(sizes):
    return np.array(np.meshgrid(*[np.arange(n) for n in sizes], indexing="ij")).reshape(
        len(sizes), -1)


def test_mig_perfect_codes():
    factors = _grid([3, 4, 5])
    assert metrics.mig_score(factors.astype(float), factors, 5) == pytest.approx(1.0, abs=1e-15)


def test_mig_entangled_codes_score_zero():
    factors = _grid([4, 4])
    codes = np.vstack([factors, factors]).astype(float)  # every factor captured twice
    assert metrics.mig_score(codes, factors, 4) == pytest.approx(0.0, abs=1e-15)


def test_mig_skips_constant_factors():
    factors = _grid([3, 4])
    with_constant = np.vstack([factors, np.full(factors.shape[1], 2)])
    codes = np.vstack([factors, np.zeros(factors.shape[1])]).astype(float)
    assert metrics.mig_score(codes, with_constant, 5) == pytest.approx(1.0, abs=1e-15)
    m = np.array([[0.5, 0.0], [0.1, 0.0]])
    assert metrics.mig_from_mutual_info(m, np.array([1.0, 0.0])) == pytest.approx(0.4)
    assert math.isnan(metrics.mig_from_mutual_info(m, np.array([0.0, 0.0])))


def test_mig_needs_two_codes():
    with pytest.raises(ValueError, match="d >= 2"):
        metrics.mig_from_mutual_info(np.ones((1, 3)), np.ones(3))


# ------------------------------------------------------------------ explicitness, local
def test_explicitness_of_separable_codes_is_high():
    rs = np.random.RandomState(5)
    factors = rs.randint(0, 3, size=(2, 600))
    codes = np.vstack([factors + 0.01 * rs.randn(2, 600), rs.randn(600)])
    train, test = metrics.explicitness_score(codes[:, :400], factors[:, :400],
                                             codes[:, 400:], factors[:, 400:])
    assert train > 0.99 and test > 0.99


def test_explicitness_tolerates_a_constant_code():
    rs = np.random.RandomState(6)
    factors = rs.randint(0, 2, size=(1, 200))
    codes = np.vstack([factors + 0.1 * rs.randn(1, 200), np.ones(200)])
    train, test = metrics.explicitness_score(codes, factors, codes, factors)
    assert train == test and train > 0.99


def test_local_scores_per_cluster_and_mean():
    perfect = _grid([3, 4])
    entangled = np.vstack([perfect, perfect])
    clusters = [(perfect.astype(float), perfect), (entangled.astype(float), perfect)]
    mig = metrics.local_mig(clusters, 5)
    assert mig.per_cluster == pytest.approx([1.0, 0.0], abs=1e-15)
    assert mig.mean == pytest.approx(0.5)
    modularity = metrics.local_modularity(clusters, 5)
    assert modularity.per_cluster == pytest.approx([1.0, 1.0], abs=1e-15)
    assert isinstance(modularity.per_cluster[0], float)


def test_explicitness_with_a_class_missing_from_the_test_sample():
    rs = np.random.RandomState(7)
    factors = rs.randint(0, 4, size=(1, 300))
    codes = factors + 0.2 * rs.randn(1, 300)
    test_mask = factors[0] != 3  # class 3 never occurs in the test sample
    train, test = metrics.explicitness_score(codes, factors, codes[:, test_mask],
                                             factors[:, test_mask])
    assert 0.9 < train <= 1 and 0.9 < test <= 1
