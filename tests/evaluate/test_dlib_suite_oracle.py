"""disentanglement_lib's other metrics against its own functions (docs/metrics.md).

Each of our metric functions and disentanglement_lib 1.5's (imported from ``.venv`` with a
stand-in ``gin.tf``, :mod:`tests.evaluate.dlib_oracle`) runs on the same ground-truth data, the
same representation and a ``RandomState`` of the same seed, with NumPy's global random state
(which scikit-learn's boosted trees and SVMs draw from) seeded alike; the result dicts must be
equal to float rounding, every key of disentanglement_lib's included. Then the pure
computations are compared on arrays made here, and the cases disentanglement_lib cannot score
are checked to fail there and to give our documented value.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from jlonevae_lib.evaluate import (
    configurables,
    dci,
    downstream,
    irs,
    predictors,
    sap,
    unsupervised,
)
from tests.evaluate import dlib_oracle
from tests.evaluate.dlib_suite_cases import REPRESENTATIONS, SIZES, bound, seeded
from tests.evaluate.helpers import IdentityData

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
    pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning"),
]

TOL = 1e-12


@pytest.fixture(scope="module")
def dlib():
    return dlib_oracle.load()


def assert_same(ours: dict, theirs: dict, extra: set[str] = frozenset()) -> None:
    """Every key of disentanglement_lib's result equal to float rounding; ours may add
    ``extra`` keys."""
    assert set(ours) == set(theirs) | set(extra)
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(float(value), rel=TOL, abs=TOL), key


def both(ours_fn, dlib_fn, seed: int, sizes=SIZES, **kwargs) -> tuple[dict, dict]:
    data = IdentityData(sizes)
    representation = kwargs.pop("representation")
    parallel = {"n_jobs": 1} if "n_jobs" in inspect.signature(ours_fn).parameters else {}
    ours = seeded(lambda: ours_fn(data, representation, np.random.RandomState(seed), **kwargs,
                                  **parallel))
    theirs = seeded(lambda: dlib_fn(data, representation, np.random.RandomState(seed), None,
                                    **kwargs))
    return ours, theirs


@pytest.mark.parametrize("case", ["mixed", "rotated", "collapsed", "duplicated"])
def test_beta_vae_sklearn(dlib, case):
    ours, theirs = both(configurables.compute_beta_vae_sklearn,
                        dlib.beta_vae.compute_beta_vae_sklearn, 1,
                        representation=REPRESENTATIONS[case], batch_size=8, num_train=150,
                        num_eval=60)
    assert_same(ours, theirs)


@pytest.mark.parametrize(("case", "threshold"), [("mixed", 0.05), ("rotated", 0.05),
                                                 ("collapsed", 0.05), ("duplicated", 0.0)])
def test_factor_vae_score(dlib, case, threshold):
    with bound(f"prune_dims.threshold = {threshold}"):
        ours, theirs = both(configurables.compute_factor_vae,
                            dlib.factor_vae.compute_factor_vae, 2,
                            representation=REPRESENTATIONS[case], batch_size=10, num_train=200,
                            num_eval=80, num_variance_estimate=300)
    assert_same(ours, theirs, {"num_active_dims_count"})
    # disentanglement_lib's num_active_dims is the length of its mask: every code.
    assert theirs["num_active_dims"] == len(REPRESENTATIONS[case](np.zeros((1, 1, 4, 1)))[0])
    assert ours["num_active_dims_count"] == theirs["num_active_dims"] - (case == "collapsed")


@pytest.mark.parametrize("case", ["mixed", "collapsed"])
def test_dci(dlib, case):
    ours, theirs = both(configurables.compute_dci, dlib.dci.compute_dci, 3,
                        representation=REPRESENTATIONS[case], num_train=100, num_test=50)
    assert_same(ours, theirs)


@pytest.mark.parametrize("continuous", [False, True])
@pytest.mark.parametrize("case", ["mixed", "rotated", "collapsed", "duplicated"])
def test_sap_score(dlib, case, continuous):
    ours, theirs = both(configurables.compute_sap, dlib.sap_score.compute_sap, 4,
                        representation=REPRESENTATIONS[case], num_train=200, num_test=100,
                        continuous_factors=continuous)
    assert_same(ours, theirs)


@pytest.mark.parametrize("diff_quantile", [0.99, 1.0])
@pytest.mark.parametrize("case", ["mixed", "rotated", "collapsed", "duplicated"])
def test_irs(dlib, case, diff_quantile):
    with bound("discretizer.discretizer_fn = @histogram_discretizer",
               "discretizer.num_bins = 4"):
        ours, theirs = both(configurables.compute_irs, dlib.irs.compute_irs, 5,
                            representation=REPRESENTATIONS[case], num_train=300, batch_size=16,
                            diff_quantile=diff_quantile)
    assert_same(ours, theirs, {"num_active_dims_count"})
    num_codes = REPRESENTATIONS[case](np.zeros((1, 1, 4, 1))).shape[1]
    assert ours["num_active_dims_count"] == num_codes - (case == "collapsed")


@pytest.mark.parametrize("case", ["mixed", "rotated", "duplicated"])
def test_unsupervised_metrics(dlib, case):
    with bound("discretizer.discretizer_fn = @histogram_discretizer",
               "discretizer.num_bins = 20"):
        ours, theirs = both(configurables.unsupervised_metrics,
                            dlib.unsupervised_metrics.unsupervised_metrics, 6,
                            representation=REPRESENTATIONS[case], num_train=400)
    assert_same(ours, theirs)


@pytest.mark.parametrize("predictor", ["gradient_boosting_classifier", "logistic_regression_cv"])
def test_downstream_task(dlib, predictor):
    # 10 training points: classes are missing from the training set and from its folds (the
    # "inhomogeneous shape" failure of disentanglement_lib's scikit-learn < 1.6; scikit-learn
    # >= 1.6, ours and the one its functions run on here, fits them).
    with bound(f"predictor.predictor_fn = @{predictor}"):
        ours, theirs = both(configurables.compute_downstream_task,
                            dlib.downstream_task.compute_downstream_task, 7, sizes=(5, 3),
                            representation=REPRESENTATIONS["mixed"], num_train=[10, 30],
                            num_test=20)
    assert_same(ours, theirs)
    assert all(math.isfinite(value) for value in ours.values())


# ------------------------------------------------------------------ pure computations on arrays


def arrays(seed: int, num_codes: int = 5, num_points: int = 120):
    rs = np.random.RandomState(seed)
    factors = np.vstack([rs.randint(0, n, num_points) for n in SIZES])
    codes = rs.randn(num_codes, 4) @ factors + 0.3 * rs.randn(num_codes, num_points)
    return codes, factors


def test_dci_importance_functions(dlib):
    rs = np.random.RandomState(8)
    for importance in (rs.rand(6, 4), np.eye(4), np.zeros((3, 4)), np.vstack([np.eye(3),
                                                                              np.zeros(3)])):
        assert dci.disentanglement(importance) == pytest.approx(
            dlib.dci.disentanglement(importance), abs=TOL)
        assert dci.completeness(importance) == pytest.approx(
            dlib.dci.completeness(importance), abs=TOL)
        np.testing.assert_allclose(dci.completeness_per_factor(importance),
                                   dlib.dci.completeness_per_factor(importance), atol=TOL)


def test_dci_scores_on_arrays(dlib):
    codes, factors = arrays(9)
    train, test = (codes[:, :80], factors[:, :80]), (codes[:, 80:], factors[:, 80:])
    ours = seeded(lambda: dci.dci_scores(*train, *test))
    assert_same(ours, seeded(lambda: dlib.dci._compute_dci(*train, *test)))


def test_sap_and_irs_and_unsupervised_on_arrays(dlib):
    codes, factors = arrays(10)
    for continuous in (False, True):
        assert sap.score_matrix(codes, factors, codes, factors, continuous) == pytest.approx(
            dlib.sap_score.compute_score_matrix(codes, factors, codes, factors, continuous),
            abs=TOL)
    matrix, deviations = irs.irs_matrix(factors, codes, 0.9)
    expected = dlib.irs.scalable_disentanglement_score(factors.T, codes.T, 0.9)
    np.testing.assert_allclose(matrix, expected["IRS_matrix"], atol=TOL)
    assert irs.irs_from_matrix(matrix, deviations) == pytest.approx(expected["avg_score"],
                                                                   abs=TOL)
    cov = np.cov(codes)
    assert unsupervised.gaussian_total_correlation(cov) == pytest.approx(
        dlib.unsupervised_metrics.gaussian_total_correlation(cov), abs=TOL)
    assert unsupervised.gaussian_wasserstein_correlation(cov) == pytest.approx(
        dlib.unsupervised_metrics.gaussian_wasserstein_correlation(cov), abs=TOL)


def test_downstream_accuracies_on_arrays(dlib):
    codes, factors = arrays(11, num_points=90)
    train, test = (codes[:, :60], factors[:, :60]), (codes[:, 60:], factors[:, 60:])
    ours = seeded(lambda: downstream.downstream_accuracies(
        *train, *test, predictors.gradient_boosting_classifier))
    theirs = seeded(lambda: dlib.downstream_task._compute_loss(
        train[0].T, train[1], test[0].T, test[1], predictors.gradient_boosting_classifier))
    assert ours == (list(theirs[0]), list(theirs[1]))


# ------------------------------------------------- what disentanglement_lib cannot score


@pytest.mark.parametrize("value", [0.25, 0.7])
def test_unsupervised_with_a_constant_code(dlib, value):
    codes, _ = arrays(12)
    codes[2] = value
    discrete = dlib.utils._histogram_discretize(codes, 20)
    total_correlation = dlib.unsupervised_metrics.gaussian_total_correlation(np.cov(codes))
    if value == 0.25:  # variance exactly 0: log 0 - log 0
        assert math.isnan(total_correlation)
    else:  # 0.7 is not a binary fraction: a variance of ~1e-32, and a number from it
        assert np.cov(codes)[2, 2] > 0
    ours = unsupervised.unsupervised_scores(codes, discrete)
    varying = np.delete(codes, 2, axis=0)
    alone = unsupervised.unsupervised_scores(varying, np.delete(discrete, 2, axis=0))
    assert ours["gaussian_total_correlation"] == pytest.approx(
        alone["gaussian_total_correlation"], abs=TOL)
    assert ours["gaussian_wasserstein_correlation"] == pytest.approx(
        alone["gaussian_wasserstein_correlation"], abs=1e-9)
    assert all(math.isfinite(v) for v in ours.values())
    constant = unsupervised.unsupervised_scores(np.ones((3, 50)), np.ones((3, 50), dtype=int))
    assert constant == {"gaussian_total_correlation": 0.0, "gaussian_wasserstein_correlation": 0.0,
                        "gaussian_wasserstein_correlation_norm": 0.0, "mutual_info_score": 0.0}


def test_a_training_set_with_one_class(dlib):
    codes, factors = arrays(13, num_points=40)
    factors[1] = 2  # held fixed
    with pytest.raises(ValueError):
        dlib.downstream_task._compute_loss(codes.T, factors, codes.T, factors,
                                           predictors.gradient_boosting_classifier)
    train, test = downstream.downstream_accuracies(codes, factors, codes, factors,
                                                   predictors.gradient_boosting_classifier)
    assert train[1] == test[1] == 1.0  # the constant classifier predicts the one class
    importance, _, _ = dci.importance_gbt(codes, factors, codes, factors)
    assert (importance[:, 1] == 0).all()
    score = sap.score_matrix(codes, factors, codes, factors, False)
    assert (score[:, 1] == 1.0).all()


def test_sap_with_one_code_is_a_clear_error(dlib):
    codes, factors = arrays(14, num_codes=1)
    with pytest.raises(IndexError):
        dlib.sap_score._compute_sap(codes, factors, codes, factors, True)
    with pytest.raises(ValueError, match="at least two codes"):
        sap.sap_scores(codes, factors, codes, factors, True)
