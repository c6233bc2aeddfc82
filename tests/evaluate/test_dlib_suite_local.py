"""Local versions of DCI, SAP, IRS, the unsupervised scores and the downstream task: the paper's
local sampling, each cluster scored by the global metric's own computation, averaged over
clusters as local MIG is (docs/metrics.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jlonevae_lib.evaluate import (
    configurables,
    dci,
    downstream,
    evaluation,
    irs,
    metrics,
    predictors,
    sampling,
    sap,
    unsupervised,
)
from jlonevae_lib.runs.metric_table import DLIB_LOCAL_METRICS, local_samples_key
from jlonevae_lib.utils.errors import JLoneVAEError
from tests.evaluate.dlib_suite_cases import REPRESENTATIONS, seeded
from tests.evaluate.helpers import IdentityData

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning"),
]

#: Factor 1 (4 values) is below the continuity cut-off: held fixed in every cluster.
SIZES = (12, 4, 15, 10)
LOCALITY = 0.3
NUM_POINTS, NUM_CLUSTERS, TRAIN = 150, 2, 0.8
REPRESENTATION = REPRESENTATIONS["mixed"]
SAMPLING = [f"local_sample_factors.locality_proportion = {LOCALITY}",
            "local_sample_factors.continuity_cutoff = 10",
            "local_sample_factors.denylist_factors = []",
            "discretizer.discretizer_fn = @histogram_discretizer", "discretizer.num_bins = 5",
            "predictor.predictor_fn = @gradient_boosting_classifier"]


def clusters() -> list[sampling.Cluster]:
    radii = sampling.local_radii(SIZES, LOCALITY, 10, ())
    return sampling.local_codes(IdentityData(SIZES), REPRESENTATION, NUM_POINTS, NUM_CLUSTERS,
                                radii, np.random.RandomState(3))


def split(cluster: sampling.Cluster):
    """(train codes, train factors, test codes, test factors) on the varying factors."""
    varying = np.any(cluster.factors != cluster.factors[:, :1], axis=1)
    assert not varying[1] and varying.sum() == 3
    cut = math.ceil(NUM_POINTS * TRAIN)
    return (cluster.codes[:, :cut], cluster.factors[varying, :cut], cluster.codes[:, cut:],
            cluster.factors[varying, cut:])


def expected_local(per_cluster: list[dict]) -> dict:
    result = {}
    for key in per_cluster[0]:
        values = [scores[key] for scores in per_cluster]
        result[key] = float(np.mean(values))
        result[local_samples_key(key)] = values
    return result


def run(fn, **kwargs) -> dict:
    with evaluation.gin_config([], SAMPLING):
        return seeded(lambda: fn(IdentityData(SIZES), REPRESENTATION, np.random.RandomState(3),
                                 num_train=NUM_POINTS, num_local_clusters=NUM_CLUSTERS,
                                 **kwargs))


def assert_close(ours: dict, expected: dict) -> None:
    assert set(ours) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(ours[key], value, rtol=0, atol=1e-12, err_msg=key)


def test_local_dci_is_dci_per_cluster():
    ours = run(configurables.compute_local_dci, train_percentage=TRAIN, n_jobs=1)
    expected = seeded(lambda: [dci.dci_scores(*split(c)) for c in clusters()])
    assert_close(ours, expected_local(expected))


@pytest.mark.parametrize("continuous", [False, True])
def test_local_sap_is_sap_per_cluster(continuous):
    ours = run(configurables.compute_local_sap, train_percentage=TRAIN,
               continuous_factors=continuous, n_jobs=1)
    expected = [sap.sap_scores(*split(c), continuous) for c in clusters()]
    assert_close(ours, expected_local(expected))


def test_local_irs_and_unsupervised_are_theirs_per_cluster():
    ours_irs = run(configurables.compute_local_irs, diff_quantile=0.99)
    expected_irs = []
    for cluster in clusters():
        varying = np.any(cluster.factors != cluster.factors[:, :1], axis=1)
        factors = metrics.histogram_discretize(cluster.factors[varying], 5)
        expected_irs.append(irs.irs_scores(factors, cluster.codes, 0.99))
    assert_close(ours_irs, expected_local(expected_irs))
    ours_unsupervised = run(configurables.compute_local_unsupervised_metrics)
    expected_unsupervised = [
        unsupervised.unsupervised_scores(c.codes, metrics.histogram_discretize(c.codes, 5))
        for c in clusters()]
    assert_close(ours_unsupervised, expected_local(expected_unsupervised))


def test_local_downstream_is_downstream_per_cluster():
    ours = run(configurables.compute_local_downstream_task, train_percentage=TRAIN, n_jobs=1)
    expected = seeded(lambda: [downstream.summary_scores(*downstream.downstream_accuracies(
        *split(c), predictors.gradient_boosting_classifier)) for c in clusters()])
    assert_close(ours, expected_local(expected))
    assert set(ours) == {"mean_train_accuracy", "mean_test_accuracy", "min_train_accuracy",
                         "min_test_accuracy", *(local_samples_key(k) for k in (
                             "mean_train_accuracy", "mean_test_accuracy",
                             "min_train_accuracy", "min_test_accuracy"))}


def test_every_factor_fixed_is_a_clear_error():
    with evaluation.gin_config([], [*SAMPLING[1:], "local_sample_factors.locality_proportion "
                                                   "= 0.0"]):
        with pytest.raises(JLoneVAEError, match="no factor varies in local cluster 0"):
            configurables.compute_local_irs(IdentityData(SIZES), REPRESENTATION,
                                            np.random.RandomState(0), num_train=20,
                                            num_local_clusters=1)
    with pytest.raises(JLoneVAEError, match="train_percentage"):
        run(configurables.compute_local_dci, train_percentage=1.0, n_jobs=1)


def test_local_results_layout():
    assert metrics.local_results([{"a": 1.0, "b": 2}, {"a": 3.0, "b": 4}]) == {
        "a": 2.0, "local_a_samples": [1.0, 3.0], "b": 3.0, "local_b_samples": [2.0, 4.0]}
    with pytest.raises(ValueError):
        metrics.local_results([])


@pytest.mark.parametrize("spec", [spec for spec in DLIB_LOCAL_METRICS if spec.locality == 0.1],
                         ids=lambda spec: spec.name)
def test_shipped_local_configs_run(spec):
    config = evaluation.METRICS_CONFIG_DIR / spec.gin_file
    prefix = {"local_dci": "local_dci", "local_sap_score": "local_sap_score",
              "local_irs": "local_irs", "local_unsupervised": "local_unsupervised_metrics"
              }.get(spec.name[:-4], "local_downstream_task")
    with evaluation.gin_config([config, evaluation.DATASET_CONFIG_DIR / "threeDots.gin"],
                               [f"{prefix}.num_train = 100", f"{prefix}.num_local_clusters = 2"]):
        results = seeded(lambda: configurables.evaluate(
            lambda _: IdentityData(SIZES), REPRESENTATION, sampling.DrawCache()))
    assert all(math.isfinite(v) for v in results.values() if isinstance(v, float))
    assert all(len(v) == 2 for v in results.values() if isinstance(v, list))
