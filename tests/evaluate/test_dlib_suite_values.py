"""disentanglement_lib's metric suite on representations whose scores are known: perfectly
disentangled, rotated, collapsed and duplicated codes; the shipped configs run unchanged; the
parallel fits give the sequential numbers (docs/metrics.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gin
import numpy as np
import pytest

from jlonevae_lib.evaluate import (
    configurables,
    dci,
    evaluation,
    intervention_scores,
    irs,
    metrics,
    sap,
    unsupervised,
)
from jlonevae_lib.evaluate.sampling import DrawCache
from jlonevae_lib.runs.metric_table import DLIB_METRICS, IRS_METRIC, METRICS
from jlonevae_lib.utils.errors import JLoneVAEError
from tests.evaluate import dlib_oracle
from tests.evaluate.dlib_suite_cases import REPRESENTATIONS, SIZES, seeded
from tests.evaluate.helpers import IdentityData

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning"),
]

DATA = IdentityData(SIZES)


def draw(case: str, num_points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Codes (d, N) and factors (F, N) of ``num_points`` uniform factors."""
    factors = DATA.sample_factors(num_points, np.random.RandomState(seed))
    codes = REPRESENTATIONS[case](DATA.sample_observations_from_factors(factors, None))
    return codes.T, factors.T


def continuous_sap(case: str) -> float:
    codes, factors = draw(case, 2000)
    return sap.sap_from_matrix(sap.score_matrix(codes, factors, codes, factors, True))


def test_sap_on_known_codes():
    identity, rotated, duplicated = (continuous_sap(case)
                                     for case in ("identity", "rotated", "duplicated"))
    assert identity > 0.98
    # Factors 0 and 1 are each spread over two codes; factor 0 has two identical best codes.
    assert rotated < identity - 0.4
    assert duplicated == pytest.approx(identity * 3 / 4, abs=0.01)
    assert continuous_sap("collapsed") == pytest.approx(identity, abs=1e-12)
    codes, factors = draw("identity", 50)
    with pytest.raises(ValueError, match="two codes"):
        sap.sap_from_matrix(np.ones((1, 4)))
    with pytest.raises(ValueError, match="two codes"):
        sap.sap_scores(codes[:1], factors, codes[:1], factors, True)


def test_dci_importance_on_known_matrices():
    assert dci.disentanglement(np.eye(4)) == pytest.approx(1.0, abs=1e-9)
    assert dci.completeness(np.eye(4)) == pytest.approx(1.0, abs=1e-9)
    # One code used for everything: not disentangled, but complete.
    one_code = np.vstack([np.ones(4), np.zeros((3, 4))])
    assert dci.disentanglement(one_code) == pytest.approx(0.0, abs=1e-9)
    assert dci.completeness(one_code) == pytest.approx(1.0, abs=1e-9)
    # A collapsed code (a zero row) carries no weight; a duplicated one halves completeness.
    assert dci.disentanglement(np.vstack([np.eye(4), np.zeros(4)])) == pytest.approx(1.0, abs=1e-9)
    duplicated = np.vstack([np.eye(4), np.eye(4)[:1]])
    duplicated[[0, 4], 0] = 0.5
    assert dci.completeness_per_factor(duplicated)[0] == pytest.approx(1 - math.log(2) /
                                                                       math.log(5), abs=1e-9)
    # No importance at all (every code constant): scores of 0, not NaN.
    assert dci.disentanglement(np.zeros((3, 4))) == pytest.approx(0.0, abs=1e-9)
    # One code or one factor: entropy over a single entry, taken as 0.
    assert dci.completeness(np.ones((1, 3))) == 1.0
    assert dci.disentanglement(np.ones((3, 1))) == 1.0


@pytest.mark.parametrize("case", ["identity", "rotated", "collapsed", "duplicated"])
def test_dci_on_known_codes(case):
    codes, factors = draw(case, 300)
    scores = seeded(lambda: dci.dci_scores(codes[:, :200], factors[:, :200], codes[:, 200:],
                                           factors[:, 200:]))
    assert all(math.isfinite(v) for v in scores.values())
    if case in ("identity", "collapsed"):
        assert scores["disentanglement"] > 0.99 and scores["completeness"] > 0.99
        assert scores["informativeness_test"] == 1.0
    elif case == "rotated":
        assert scores["disentanglement"] < 0.9
    else:
        assert scores["completeness"] < 0.9 < scores["disentanglement"]


def test_irs_on_known_codes():
    codes, factors = draw("identity", 1000)
    assert irs.irs_scores(factors, codes, 1.0)["IRS"] == pytest.approx(1.0, abs=1e-12)
    assert irs.irs_scores(factors, draw("rotated", 1000)[0], 1.0)["IRS"] < 0.9
    collapsed = irs.irs_scores(factors, draw("collapsed", 1000)[0], 1.0)
    assert collapsed["IRS"] == pytest.approx(1.0, abs=1e-12)
    assert collapsed["num_active_dims_count"] == 4
    # disentanglement_lib's num_active_dims: the sum of the active codes' values.
    assert collapsed["num_active_dims"] == pytest.approx(float(factors.sum()))
    none = irs.irs_scores(factors, np.zeros((3, 1000)), 0.99)
    assert none == {"IRS": 0.0, "num_active_dims": 0.0, "num_active_dims_count": 0}


def test_unsupervised_on_known_codes():
    codes, _ = draw("identity", 5000)
    discrete = metrics.histogram_discretize(codes, 20)
    independent = unsupervised.unsupervised_scores(codes, discrete)
    assert independent["gaussian_total_correlation"] < 0.01
    assert independent["gaussian_wasserstein_correlation_norm"] < 0.01
    assert independent["mutual_info_score"] < 0.01
    rotated_codes, _ = draw("rotated", 5000)
    rotated = unsupervised.unsupervised_scores(rotated_codes,
                                               metrics.histogram_discretize(rotated_codes, 20))
    # Codes 0 and 1 are (f0 ∓ f1)/√2 with Var f0 = 2, Var f1 = 1.25: correlation 0.75/3.25.
    rho = 0.75 / 3.25
    assert rotated["gaussian_total_correlation"] == pytest.approx(-0.5 * math.log(1 - rho ** 2),
                                                                  abs=0.01)
    duplicated_codes, _ = draw("duplicated", 5000)
    duplicated = unsupervised.unsupervised_scores(
        duplicated_codes + 1e-3 * np.random.RandomState(0).randn(*duplicated_codes.shape),
        metrics.histogram_discretize(duplicated_codes, 20))
    assert duplicated["gaussian_total_correlation"] > 1.0
    assert duplicated["mutual_info_score"] > independent["mutual_info_score"] + 0.05
    collapsed_codes, _ = draw("collapsed", 5000)
    collapsed = unsupervised.unsupervised_scores(
        collapsed_codes, metrics.histogram_discretize(collapsed_codes, 20))
    assert collapsed["gaussian_total_correlation"] == pytest.approx(
        independent["gaussian_total_correlation"], abs=1e-12)
    single = unsupervised.unsupervised_scores(codes[:1], discrete[:1])
    assert single["mutual_info_score"] == 0.0 and single["gaussian_total_correlation"] == 0.0


@pytest.mark.parametrize("case", ["identity", "collapsed", "duplicated"])
def test_intervention_scores_on_known_codes(case):
    representation = REPRESENTATIONS[case]
    with evaluation.gin_config([], ["prune_dims.threshold = 0.05"]):
        factor_vae = configurables.compute_factor_vae(
            DATA, representation, np.random.RandomState(0), batch_size=16, num_train=200,
            num_eval=100, num_variance_estimate=500)
    beta_vae = configurables.compute_beta_vae_sklearn(
        DATA, representation, np.random.RandomState(0), batch_size=16, num_train=200,
        num_eval=100)
    assert beta_vae["eval_accuracy"] == 1.0
    # The fixed factor's code has no variance in its batch; a duplicate ties with it, and
    # argmin takes the first, its own.
    assert factor_vae["train_accuracy"] == factor_vae["eval_accuracy"] == 1.0
    num_codes = representation(np.zeros((1, 1, 4, 1))).shape[1]
    assert factor_vae["num_active_dims"] == num_codes
    assert factor_vae["num_active_dims_count"] == num_codes - (case == "collapsed")


def test_factor_vae_with_every_code_pruned():
    with evaluation.gin_config([], ["prune_dims.threshold = 100.0"]):
        scores = configurables.compute_factor_vae(
            DATA, REPRESENTATIONS["identity"], np.random.RandomState(0), batch_size=4,
            num_train=5, num_eval=5, num_variance_estimate=50)
    assert scores == {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0,
                      "num_active_dims_count": 0}


def test_votes_and_accuracy():
    votes = intervention_scores.factor_vae_votes(np.array([0, 0, 1, 1, 1]),
                                                 np.array([0, 0, 0, 1, 1]), 2, 3)
    np.testing.assert_array_equal(votes, [[2, 0, 0], [1, 2, 0]])
    classifier = intervention_scores.majority_classifier(votes)
    np.testing.assert_array_equal(classifier, [0, 1, 0])
    assert intervention_scores.vote_accuracy(votes, classifier) == 4 / 5


def test_parallel_fits_give_the_sequential_numbers():
    """The same fits in worker processes: equal to float rounding (a worker's BLAS may take
    another code path than this process's, so no bitwise promise)."""
    codes, factors = draw("mixed", 400)
    train, test = (codes[:, :300], factors[:, :300]), (codes[:, 300:], factors[:, 300:])
    sequential = sap.score_matrix(*train, *test, False, n_jobs=1)
    np.testing.assert_allclose(sap.score_matrix(*train, *test, False, n_jobs=2), sequential,
                               rtol=1e-9, atol=1e-12)
    assert metrics.explicitness_score(*train, *test, n_jobs=2) == pytest.approx(
        metrics.explicitness_score(*train, *test, n_jobs=1), rel=1e-9, abs=1e-12)


# ------------------------------------------------------- the shipped configs, run unchanged

#: Sizes that keep each shipped config fast here (bound after it).
SMALL = {
    "mig": ["mig.num_train = 300"],
    "modularity_explicitness": ["modularity_explicitness.num_train = 200",
                                "modularity_explicitness.num_test = 100"],
    "dci": ["dci.num_train = 100", "dci.num_test = 50"],
    "sap_score": ["sap_score.num_train = 200", "sap_score.num_test = 100"],
    "unsupervised": ["unsupervised_metrics.num_train = 300"],
    "beta_vae_sklearn": ["beta_vae_sklearn.num_train = 50", "beta_vae_sklearn.num_eval = 20",
                         "beta_vae_sklearn.batch_size = 8"],
    "factor_vae_metric": ["factor_vae_score.num_train = 50", "factor_vae_score.num_eval = 20",
                          "factor_vae_score.num_variance_estimate = 100",
                          "factor_vae_score.batch_size = 8"],
    "downstream_task_logistic_regression": ["downstream_task.num_train = [10, 20]",
                                            "downstream_task.num_test = 20"],
    "downstream_task_boosted_trees": ["downstream_task.num_train = [10, 20]",
                                      "downstream_task.num_test = 20"],
    "irs": ["irs.num_train = 300"],
}


def test_the_suite_is_disentanglement_libs_nine_files():
    study = (Path(dlib_oracle.load().utils.__file__).parents[2] / "config"
             / "unsupervised_study_v1" / "metric_configs")
    assert {path.stem for path in study.glob("*.gin")} == set(DLIB_METRICS)
    for name in DLIB_METRICS:  # unchanged, licence header included
        assert (evaluation.METRICS_CONFIG_DIR / METRICS[name].gin_file).read_bytes() == (
            study / f"{name}.gin").read_bytes()
    assert set(SMALL) == {*DLIB_METRICS, IRS_METRIC.name}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_shipped_config_runs_unchanged(name):
    config = evaluation.METRICS_CONFIG_DIR / METRICS[name].gin_file
    dataset = evaluation.DATASET_CONFIG_DIR / "threeDots.gin"
    with evaluation.gin_config([config, dataset], SMALL[name]):
        assert gin.query_parameter("dataset.name") == "threeDots"  # "auto" replaced
        results = seeded(lambda: configurables.evaluate(
            lambda _: IdentityData((5, 3)), REPRESENTATIONS["mixed"], DrawCache()))
    json.dumps(results, allow_nan=False)  # plain numbers, none of them NaN
    assert all(isinstance(v, int | float) for v in results.values())


def test_a_one_code_representation_is_a_clear_error():
    def one_code(observations):
        return observations.reshape(len(observations), -1)[:, :1].astype(float)

    with evaluation.gin_config([evaluation.METRICS_CONFIG_DIR / "sap_score.gin"],
                               SMALL["sap_score"]):
        with pytest.raises(JLoneVAEError, match="at least two codes"):
            configurables.compute_sap(DATA, one_code, np.random.RandomState(0),
                                      num_train=50, num_test=20, n_jobs=1)


def test_continuous_sap_with_a_constant_factor():
    codes, factors = draw("mixed", 100)
    factors[2] = 1
    matrix = sap.score_matrix(codes, factors, codes, factors, True)
    assert np.isfinite(matrix).all() and (matrix[:, 2] == 0).all()


def test_default_n_jobs(monkeypatch):
    from jlonevae_lib.evaluate import predictors

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert predictors.default_n_jobs() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "many")
    assert predictors.default_n_jobs() >= 1
