"""gin configurables under the names the reference's .gin files use (docs/metrics.md).

``evaluation``, ``dataset``, ``mig``, ``modularity_explicitness``, ``local_mig``,
``local_modularity``, ``local_sample_factors``, ``discretizer`` and ``histogram_discretizer``
take the reference's parameters, so its metric and dataset configs parse unchanged; so do
disentanglement_lib's other metrics (``beta_vae_sklearn``, ``factor_vae_score`` with
``prune_dims``, ``dci``, ``sap_score``, ``irs``, ``unsupervised_metrics``, ``downstream_task``
with ``predictor`` / ``logistic_regression_cv`` / ``gradient_boosting_classifier``) and their
local versions (``local_dci``, ``local_sap_score``, ``local_irs``,
``local_unsupervised_metrics``, ``local_downstream_task``). The metric functions keep
disentanglement_lib's names and signature ``(ground_truth_data, representation_function,
random_state, artifact_dir=None, ...)`` and return its result dicts (their names and result
keys are declared in :mod:`jlonevae_lib.runs.metric_table`); each draws its samples here, in
disentanglement_lib's order, and hands the arrays to a pure computation (:mod:`.metrics`,
:mod:`.dci`, :mod:`.sap`, :mod:`.irs`, :mod:`.unsupervised`, :mod:`.downstream`,
:mod:`.intervention_scores`).

Names are registered without a module prefix, so a bare selector such as ``discretizer`` matches
exactly ours even in a process that also registers disentanglement_lib's configurables (under
their own module). gin's registry lives as long as the process: registering is idempotent (a
re-import of this module, e.g. ``importlib.reload``, replaces our entries instead of failing),
and the caller clears bindings between evaluations (see ``evaluation.gin_config``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar

import gin
import numpy as np

from jlonevae_lib.data import GroundTruthData
from jlonevae_lib.evaluate import (
    dci,
    downstream,
    intervention_scores,
    irs,
    metrics,
    predictors,
    sampling,
    sap,
    unsupervised,
)
from jlonevae_lib.evaluate.sampling import Cluster, DrawCache, RepresentationFunction
from jlonevae_lib.runs.metric_table import (
    BUILTIN_SCORES,
    DISCRETE_MIG,
    ELAPSED_TIME,
    EXPLICITNESS_TEST,
    EXPLICITNESS_TRAIN,
    LOCAL_MIG,
    LOCAL_MIG_SAMPLES,
    LOCAL_MODULARITY,
    LOCAL_MODULARITY_SAMPLES,
    MIG,
    MODULARITY,
    MODULARITY_SCORE,
)
from jlonevae_lib.utils.errors import JLoneVAEError

F = TypeVar("F", bound=Callable[..., Any])

#: Arguments that evaluation code passes in and gin must neither set nor record.
_METRIC_DENYLIST = ("ground_truth_data", "representation_function", "random_state",
                    "artifact_dir", "draw_cache")


def _configurable(name: str, denylist: Sequence[str] = ()) -> Callable[[F], F]:
    """``gin.configurable(name)`` with a bare selector (no module prefix)."""

    def register(fn: F) -> F:
        # gin prefixes the selector with fn.__module__ unless that is None; it reads the
        # attribute only while registering, so it is put back afterwards. Interactive mode lets
        # a re-import replace the entry this module made before.
        module = fn.__module__
        fn.__module__ = None  # type: ignore[assignment]
        with gin.config.interactive_mode():
            wrapper = gin.configurable(name, denylist=list(denylist))(fn)
        fn.__module__ = wrapper.__module__ = module
        return wrapper

    return register


class LocalSampling(NamedTuple):
    """How a local cluster is drawn around its centroid (see :func:`sampling.local_radii`)."""

    locality_proportion: float
    continuity_cutoff: int
    denylist_factors: tuple[int, ...]

    def radii(self, factors_num_values: Sequence[int]) -> np.ndarray:
        """Sampling radius per factor (F,)."""
        return sampling.local_radii(factors_num_values, self.locality_proportion,
                                    self.continuity_cutoff, self.denylist_factors)


@_configurable("local_sample_factors")
def local_sample_factors(locality_proportion: float = gin.REQUIRED,
                         continuity_cutoff: int = gin.REQUIRED,
                         denylist_factors: Sequence[int] = gin.REQUIRED) -> LocalSampling:
    """The local-sampling settings of the reference's ``local_sample_factors``."""
    return LocalSampling(float(locality_proportion), int(continuity_cutoff),
                         tuple(int(j) for j in denylist_factors))


@_configurable("histogram_discretizer", denylist=("target",))
def histogram_discretizer(target: np.ndarray, num_bins: int = gin.REQUIRED) -> np.ndarray:
    """codes (d, N) -> labels (d, N): :func:`metrics.histogram_discretize`."""
    return metrics.histogram_discretize(target, num_bins)


@_configurable("discretizer", denylist=("target",))
def make_discretizer(target: np.ndarray, num_bins: int = gin.REQUIRED,
                     discretizer_fn: Callable[..., np.ndarray] = gin.REQUIRED) -> np.ndarray:
    """codes (d, N) -> labels (d, N) with the configured discretiser."""
    return discretizer_fn(target, num_bins)


def _draw_global(draw_cache: DrawCache | None, data: GroundTruthData,
                 representation_function: RepresentationFunction, num_points: int,
                 random_state: np.random.RandomState, batch_size: int) -> Cluster:
    def make() -> Cluster:
        return sampling.global_codes(data, representation_function, num_points, random_state,
                                     batch_size)

    if draw_cache is None:
        return make()
    key = ("global", id(data), id(representation_function), num_points, batch_size)
    return draw_cache.draw(key, random_state, make)


def _draw_local(draw_cache: DrawCache | None, data: GroundTruthData,
                representation_function: RepresentationFunction, num_points: int,
                num_clusters: int, random_state: np.random.RandomState,
                batch_size: int) -> list[Cluster]:
    radii = local_sample_factors().radii(data.factors_num_values)

    def make() -> list[Cluster]:
        return sampling.local_codes(data, representation_function, num_points, num_clusters,
                                    radii, random_state, batch_size)

    if draw_cache is None:
        return make()
    key = ("local", id(data), id(representation_function), num_points, num_clusters,
           tuple(radii.tolist()), batch_size)
    return draw_cache.draw(key, random_state, make)


def _mutual_info(cluster: Cluster) -> np.ndarray:
    return metrics.discrete_mutual_info(make_discretizer(cluster.codes), cluster.factors)


def _mig(cluster: Cluster) -> float:
    return metrics.mig_from_mutual_info(_mutual_info(cluster),
                                        metrics.discrete_entropy(cluster.factors))


@_configurable(BUILTIN_SCORES[MIG].configurable, denylist=_METRIC_DENYLIST)
def compute_mig(ground_truth_data: GroundTruthData,
                representation_function: RepresentationFunction,
                random_state: np.random.RandomState, artifact_dir: str | None = None,
                num_train: int = gin.REQUIRED, batch_size: int = 16,
                draw_cache: DrawCache | None = None) -> dict[str, Any]:
    """Global MIG on ``num_train`` points: ``{"discrete_mig"}``."""
    del artifact_dir
    cluster = _draw_global(draw_cache, ground_truth_data, representation_function, num_train,
                           random_state, batch_size)
    return {DISCRETE_MIG: _mig(cluster)}


@_configurable(BUILTIN_SCORES[MODULARITY].configurable, denylist=(*_METRIC_DENYLIST, "n_jobs"))
def compute_modularity_explicitness(ground_truth_data: GroundTruthData,
                                    representation_function: RepresentationFunction,
                                    random_state: np.random.RandomState,
                                    artifact_dir: str | None = None,
                                    num_train: int = gin.REQUIRED, num_test: int = gin.REQUIRED,
                                    batch_size: int = 16,
                                    draw_cache: DrawCache | None = None,
                                    n_jobs: int | None = None) -> dict[str, Any]:
    """Modularity on ``num_train`` points, explicitness trained there and tested on the next
    ``num_test``: ``{"modularity_score", "explicitness_score_train", "explicitness_score_test"}``;
    the per-factor classifiers fit on ``n_jobs`` processes.
    """
    del artifact_dir
    train = _draw_global(draw_cache, ground_truth_data, representation_function, num_train,
                         random_state, batch_size)
    test = _draw_global(draw_cache, ground_truth_data, representation_function, num_test,
                        random_state, batch_size)
    explicitness_train, explicitness_test = metrics.explicitness_score(
        train.codes, train.factors, test.codes, test.factors, n_jobs)
    return {MODULARITY_SCORE: metrics.modularity_score(_mutual_info(train)),
            EXPLICITNESS_TRAIN: explicitness_train,
            EXPLICITNESS_TEST: explicitness_test}


@_configurable(BUILTIN_SCORES[LOCAL_MIG].configurable, denylist=_METRIC_DENYLIST)
def compute_local_mig(ground_truth_data: GroundTruthData,
                      representation_function: RepresentationFunction,
                      random_state: np.random.RandomState, artifact_dir: str | None = None,
                      num_train: int = gin.REQUIRED, num_local_clusters: int = gin.REQUIRED,
                      batch_size: int = 16,
                      draw_cache: DrawCache | None = None) -> dict[str, Any]:
    """MIG in each of ``num_local_clusters`` local clusters of ``num_train`` points:
    ``{"discrete_mig": mean, "local_discrete_migs_samples": per-cluster list}``."""
    del artifact_dir
    clusters = _draw_local(draw_cache, ground_truth_data, representation_function, num_train,
                           num_local_clusters, random_state, batch_size)
    scores = metrics.LocalScores.from_scores(_mig(cluster) for cluster in clusters)
    return {DISCRETE_MIG: scores.mean, LOCAL_MIG_SAMPLES: scores.per_cluster}


@_configurable(BUILTIN_SCORES[LOCAL_MODULARITY].configurable, denylist=_METRIC_DENYLIST)
def compute_local_modularity(ground_truth_data: GroundTruthData,
                             representation_function: RepresentationFunction,
                             random_state: np.random.RandomState,
                             artifact_dir: str | None = None,
                             num_train: int = gin.REQUIRED,
                             num_local_clusters: int = gin.REQUIRED, batch_size: int = 16,
                             draw_cache: DrawCache | None = None) -> dict[str, Any]:
    """Modularity in each local cluster: ``{"modularity_score": mean,
    "local_modularity_scores_samples": per-cluster list}``."""
    del artifact_dir
    clusters = _draw_local(draw_cache, ground_truth_data, representation_function, num_train,
                           num_local_clusters, random_state, batch_size)
    scores = metrics.LocalScores.from_scores(
        metrics.modularity_score(_mutual_info(cluster)) for cluster in clusters)
    return {MODULARITY_SCORE: scores.mean, LOCAL_MODULARITY_SAMPLES: scores.per_cluster}


# ---------------------------------------------------------------- disentanglement_lib's others

#: Metrics that fit classifiers in parallel also take ``n_jobs`` (not a gin parameter).
_PARALLEL_DENYLIST = (*_METRIC_DENYLIST, "n_jobs")


def _plain(results: dict[str, Any]) -> dict[str, Any]:
    """Results with NumPy scalars made Python numbers (for JSON)."""
    return {key: value.item() if isinstance(value, np.generic) else value
            for key, value in results.items()}


def _need_two_codes(metric: str, codes: np.ndarray) -> None:
    """A one-line error for a score that compares the best code with the second best."""
    if codes.shape[0] < 2:
        raise JLoneVAEError(f"{metric} needs at least two codes (it compares the best code "
                            f"with the second best); the representation has {codes.shape[0]}")


@_configurable("prune_dims", denylist=("variances",))
def prune_dims(variances: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """FactorVAE's active codes (d,) bool: :func:`intervention_scores.prune_dims`."""
    return intervention_scores.prune_dims(variances, threshold)


@_configurable("logistic_regression_cv")
def logistic_regression_cv() -> Any:
    """A fresh :func:`predictors.logistic_regression_cv`."""
    return predictors.logistic_regression_cv()


@_configurable("gradient_boosting_classifier")
def gradient_boosting_classifier() -> Any:
    """A fresh :func:`predictors.gradient_boosting_classifier`."""
    return predictors.gradient_boosting_classifier()


@_configurable("predictor")
def make_predictor_fn(predictor_fn: predictors.PredictorFactory = gin.REQUIRED
                      ) -> predictors.PredictorFactory:
    """The configured predictor factory (``predictor.predictor_fn``)."""
    return predictor_fn


def _beta_vae_sample(data: GroundTruthData, representation_function: RepresentationFunction,
                     batch_size: int, num_points: int, random_state: np.random.RandomState
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(features (S, d), labels (S,)) of ``num_points`` β-VAE samples."""
    pairs = sampling.sample_pair_batches(data, batch_size, num_points, random_state)
    codes_a = sampling.encode_batches(data, representation_function, pairs.factors_a,
                                      random_state)
    codes_b = sampling.encode_batches(data, representation_function, pairs.factors_b,
                                      random_state)
    return intervention_scores.beta_vae_features(codes_a, codes_b), pairs.labels


@_configurable("beta_vae_sklearn", denylist=_METRIC_DENYLIST)
def compute_beta_vae_sklearn(ground_truth_data: GroundTruthData,
                             representation_function: RepresentationFunction,
                             random_state: np.random.RandomState,
                             artifact_dir: str | None = None, batch_size: int = gin.REQUIRED,
                             num_train: int = gin.REQUIRED, num_eval: int = gin.REQUIRED,
                             draw_cache: DrawCache | None = None) -> dict[str, Any]:
    """β-VAE score: ``{"train_accuracy", "eval_accuracy"}`` (the evaluation samples are drawn
    after the classifier is fitted, as in disentanglement_lib)."""
    del artifact_dir, draw_cache
    features, labels = _beta_vae_sample(ground_truth_data, representation_function, batch_size,
                                        num_train, random_state)
    model = intervention_scores.fit_beta_vae_classifier(features, labels, random_state)
    train_accuracy = intervention_scores.beta_vae_accuracy(model, features, labels)
    features, labels = _beta_vae_sample(ground_truth_data, representation_function, batch_size,
                                        num_eval, random_state)
    return {"train_accuracy": train_accuracy,
            "eval_accuracy": intervention_scores.beta_vae_accuracy(model, features, labels)}


def _factor_vae_votes(data: GroundTruthData, representation_function: RepresentationFunction,
                      batch_size: int, num_points: int, random_state: np.random.RandomState,
                      global_variances: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Votes (F, d) of ``num_points`` FactorVAE samples."""
    labels, factors = sampling.sample_fixed_factor_batches(data, batch_size, num_points,
                                                           random_state)
    codes = sampling.encode_batches(data, representation_function, factors, random_state)
    argmins = intervention_scores.factor_vae_argmins(codes, global_variances, active)
    return intervention_scores.factor_vae_votes(labels, argmins, data.num_factors,
                                                global_variances.shape[0])


@_configurable("factor_vae_score", denylist=_METRIC_DENYLIST)
def compute_factor_vae(ground_truth_data: GroundTruthData,
                       representation_function: RepresentationFunction,
                       random_state: np.random.RandomState, artifact_dir: str | None = None,
                       batch_size: int = gin.REQUIRED, num_train: int = gin.REQUIRED,
                       num_eval: int = gin.REQUIRED, num_variance_estimate: int = gin.REQUIRED,
                       draw_cache: DrawCache | None = None) -> dict[str, Any]:
    """FactorVAE score: ``{"train_accuracy", "eval_accuracy", "num_active_dims",
    "num_active_dims_count"}`` (see :mod:`.intervention_scores` for the last two)."""
    del artifact_dir, draw_cache
    factors = ground_truth_data.sample_factors(num_variance_estimate, random_state)
    codes = sampling.encode_factors(ground_truth_data, representation_function, factors,
                                    random_state)
    global_variances = np.var(codes.T, axis=0, ddof=1)
    active = prune_dims(global_variances)
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0,
                "num_active_dims_count": 0}
    train_votes = _factor_vae_votes(ground_truth_data, representation_function, batch_size,
                                    num_train, random_state, global_variances, active)
    classifier = intervention_scores.majority_classifier(train_votes)
    eval_votes = _factor_vae_votes(ground_truth_data, representation_function, batch_size,
                                   num_eval, random_state, global_variances, active)
    return {"train_accuracy": intervention_scores.vote_accuracy(train_votes, classifier),
            "eval_accuracy": intervention_scores.vote_accuracy(eval_votes, classifier),
            "num_active_dims": int(len(active)),
            "num_active_dims_count": int(np.count_nonzero(active))}


def _train_test(draw_cache: DrawCache | None, data: GroundTruthData,
                representation_function: RepresentationFunction, num_train: int,
                num_test: int, random_state: np.random.RandomState, batch_size: int
                ) -> tuple[Cluster, Cluster]:
    train = _draw_global(draw_cache, data, representation_function, num_train, random_state,
                         batch_size)
    test = _draw_global(draw_cache, data, representation_function, num_test, random_state,
                        batch_size)
    return train, test


@_configurable("dci", denylist=_PARALLEL_DENYLIST)
def compute_dci(ground_truth_data: GroundTruthData,
                representation_function: RepresentationFunction,
                random_state: np.random.RandomState, artifact_dir: str | None = None,
                num_train: int = gin.REQUIRED, num_test: int = gin.REQUIRED,
                batch_size: int = 16, draw_cache: DrawCache | None = None,
                n_jobs: int | None = None) -> dict[str, Any]:
    """DCI: ``{"informativeness_train", "informativeness_test", "disentanglement",
    "completeness"}``; the per-factor boosted trees fit on ``n_jobs`` processes."""
    del artifact_dir
    train, test = _train_test(draw_cache, ground_truth_data, representation_function,
                              num_train, num_test, random_state, batch_size)
    return dci.dci_scores(train.codes, train.factors, test.codes, test.factors, n_jobs)


@_configurable("sap_score", denylist=_PARALLEL_DENYLIST)
def compute_sap(ground_truth_data: GroundTruthData,
                representation_function: RepresentationFunction,
                random_state: np.random.RandomState, artifact_dir: str | None = None,
                num_train: int = gin.REQUIRED, num_test: int = gin.REQUIRED,
                batch_size: int = 16, continuous_factors: bool = gin.REQUIRED,
                draw_cache: DrawCache | None = None,
                n_jobs: int | None = None) -> dict[str, Any]:
    """SAP: ``{"SAP_score"}``."""
    del artifact_dir
    train, test = _train_test(draw_cache, ground_truth_data, representation_function,
                              num_train, num_test, random_state, batch_size)
    _need_two_codes("SAP", train.codes)
    return sap.sap_scores(train.codes, train.factors, test.codes, test.factors,
                          bool(continuous_factors), n_jobs)


@_configurable("irs", denylist=_METRIC_DENYLIST)
def compute_irs(ground_truth_data: GroundTruthData,
                representation_function: RepresentationFunction,
                random_state: np.random.RandomState, artifact_dir: str | None = None,
                diff_quantile: float = 0.99, num_train: int = gin.REQUIRED,
                batch_size: int = gin.REQUIRED,
                draw_cache: DrawCache | None = None) -> dict[str, Any]:
    """IRS on ``num_train`` points, factors discretised with the configured discretiser:
    ``{"IRS", "num_active_dims", "num_active_dims_count"}``."""
    del artifact_dir
    cluster = _draw_global(draw_cache, ground_truth_data, representation_function, num_train,
                           random_state, batch_size)
    return irs.irs_scores(make_discretizer(cluster.factors), cluster.codes, diff_quantile)


@_configurable("unsupervised_metrics", denylist=_METRIC_DENYLIST)
def unsupervised_metrics(ground_truth_data: GroundTruthData,
                         representation_function: RepresentationFunction,
                         random_state: np.random.RandomState, artifact_dir: str | None = None,
                         num_train: int = gin.REQUIRED, batch_size: int = 16,
                         draw_cache: DrawCache | None = None) -> dict[str, Any]:
    """Unsupervised scores of the codes: ``{"gaussian_total_correlation",
    "gaussian_wasserstein_correlation", "gaussian_wasserstein_correlation_norm",
    "mutual_info_score"}``."""
    del artifact_dir
    cluster = _draw_global(draw_cache, ground_truth_data, representation_function, num_train,
                           random_state, batch_size)
    return unsupervised.unsupervised_scores(cluster.codes, make_discretizer(cluster.codes))


@_configurable("downstream_task", denylist=_PARALLEL_DENYLIST)
def compute_downstream_task(ground_truth_data: GroundTruthData,
                            representation_function: RepresentationFunction,
                            random_state: np.random.RandomState,
                            artifact_dir: str | None = None,
                            num_train: Sequence[int] = gin.REQUIRED,
                            num_test: int = gin.REQUIRED, batch_size: int = 16,
                            draw_cache: DrawCache | None = None,
                            n_jobs: int | None = None) -> dict[str, Any]:
    """Downstream task: per training size in ``num_train``, a training and a test draw, one
    configured predictor per factor; keys ``"<size>:mean_test_accuracy"`` etc."""
    del artifact_dir
    scores: dict[str, Any] = {}
    for train_size in num_train:
        train, test = _train_test(draw_cache, ground_truth_data, representation_function,
                                  int(train_size), num_test, random_state, batch_size)
        train_accuracy, test_accuracy = downstream.downstream_accuracies(
            train.codes, train.factors, test.codes, test.factors, make_predictor_fn(), n_jobs)
        scores.update(downstream.size_scores(train_size, train_accuracy, test_accuracy))
    return scores


# ------------------------------------------------------------------------------ local versions


def _split(cluster: Cluster, train_percentage: float) -> tuple[Cluster, Cluster]:
    """The first ceil(N · p) points of a cluster for training, the rest for testing (as
    disentanglement_lib's ``split_train_test``)."""
    num_points = cluster.codes.shape[1]
    num_train = int(np.ceil(num_points * train_percentage))
    if not 0 < num_train < num_points:
        raise JLoneVAEError(f"train_percentage {train_percentage} leaves no training or no test "
                            f"point of a cluster of {num_points}")
    return (Cluster(cluster.codes[:, :num_train], cluster.factors[:, :num_train]),
            Cluster(cluster.codes[:, num_train:], cluster.factors[:, num_train:]))


def _varying(cluster: Cluster, index: int) -> np.ndarray:
    """Which factors take more than one value in a local cluster (F,) bool; a cluster where
    none does is an error (the locality settings hold every factor fixed)."""
    factors = cluster.factors
    varying = np.any(factors != factors[:, :1], axis=1)
    if not varying.any():
        raise JLoneVAEError(f"no factor varies in local cluster {index}: the locality settings "
                            "(locality_proportion, continuity_cutoff, denylist_factors) hold "
                            "every factor fixed")
    return varying


def _varying_clusters(draw_cache: DrawCache | None, data: GroundTruthData,
                      representation_function: RepresentationFunction, num_points: int,
                      num_clusters: int, random_state: np.random.RandomState,
                      batch_size: int) -> Iterator[Cluster]:
    """The local clusters of :func:`_draw_local`, each with only the factors that vary in it
    (codes (D, N), factors (F', N)): a factor held fixed has nothing to predict or explain."""
    for index, cluster in enumerate(_draw_local(draw_cache, data, representation_function,
                                                num_points, num_clusters, random_state,
                                                batch_size)):
        yield Cluster(cluster.codes, cluster.factors[_varying(cluster, index)])


@_configurable("local_dci", denylist=_PARALLEL_DENYLIST)
def compute_local_dci(ground_truth_data: GroundTruthData,
                      representation_function: RepresentationFunction,
                      random_state: np.random.RandomState, artifact_dir: str | None = None,
                      num_train: int = gin.REQUIRED, num_local_clusters: int = gin.REQUIRED,
                      train_percentage: float = gin.REQUIRED, batch_size: int = 16,
                      draw_cache: DrawCache | None = None,
                      n_jobs: int | None = None) -> dict[str, Any]:
    """DCI in each local cluster of ``num_train`` points (split ``train_percentage`` / rest),
    on the factors that vary in it: each DCI key's mean over clusters and its
    ``local_<key>_samples``."""
    del artifact_dir
    per_cluster = []
    for cluster in _varying_clusters(draw_cache, ground_truth_data, representation_function,
                                     num_train, num_local_clusters, random_state, batch_size):
        train, test = _split(cluster, train_percentage)
        per_cluster.append(dci.dci_scores(train.codes, train.factors, test.codes, test.factors,
                                          n_jobs))
    return metrics.local_results(per_cluster)


@_configurable("local_sap_score", denylist=_PARALLEL_DENYLIST)
def compute_local_sap(ground_truth_data: GroundTruthData,
                      representation_function: RepresentationFunction,
                      random_state: np.random.RandomState, artifact_dir: str | None = None,
                      num_train: int = gin.REQUIRED, num_local_clusters: int = gin.REQUIRED,
                      train_percentage: float = gin.REQUIRED, batch_size: int = 16,
                      continuous_factors: bool = gin.REQUIRED,
                      draw_cache: DrawCache | None = None,
                      n_jobs: int | None = None) -> dict[str, Any]:
    """SAP in each local cluster (split as :func:`compute_local_dci`), on the factors that vary
    in it: ``SAP_score`` (mean) and ``local_SAP_score_samples``."""
    del artifact_dir
    per_cluster = []
    for cluster in _varying_clusters(draw_cache, ground_truth_data, representation_function,
                                     num_train, num_local_clusters, random_state, batch_size):
        train, test = _split(cluster, train_percentage)
        _need_two_codes("SAP", train.codes)
        per_cluster.append(sap.sap_scores(train.codes, train.factors, test.codes,
                                          test.factors, bool(continuous_factors),
                                          n_jobs))
    return metrics.local_results(per_cluster)


@_configurable("local_irs", denylist=_METRIC_DENYLIST)
def compute_local_irs(ground_truth_data: GroundTruthData,
                      representation_function: RepresentationFunction,
                      random_state: np.random.RandomState, artifact_dir: str | None = None,
                      diff_quantile: float = 0.99, num_train: int = gin.REQUIRED,
                      num_local_clusters: int = gin.REQUIRED, batch_size: int = 16,
                      draw_cache: DrawCache | None = None) -> dict[str, Any]:
    """IRS in each local cluster, on the factors that vary in it (discretised with the
    configured discretiser): each IRS key's mean and ``local_<key>_samples``."""
    del artifact_dir
    return metrics.local_results(
        irs.irs_scores(make_discretizer(cluster.factors), cluster.codes, diff_quantile)
        for cluster in _varying_clusters(draw_cache, ground_truth_data, representation_function,
                                         num_train, num_local_clusters, random_state,
                                         batch_size))


@_configurable("local_unsupervised_metrics", denylist=_METRIC_DENYLIST)
def compute_local_unsupervised_metrics(ground_truth_data: GroundTruthData,
                                       representation_function: RepresentationFunction,
                                       random_state: np.random.RandomState,
                                       artifact_dir: str | None = None,
                                       num_train: int = gin.REQUIRED,
                                       num_local_clusters: int = gin.REQUIRED,
                                       batch_size: int = 16,
                                       draw_cache: DrawCache | None = None) -> dict[str, Any]:
    """The unsupervised scores of each local cluster's codes: each key's mean and
    ``local_<key>_samples``."""
    del artifact_dir
    clusters = _draw_local(draw_cache, ground_truth_data, representation_function,
                               num_train, num_local_clusters, random_state, batch_size)
    return metrics.local_results(
        unsupervised.unsupervised_scores(cluster.codes, make_discretizer(cluster.codes))
        for cluster in clusters)


@_configurable("local_downstream_task", denylist=_PARALLEL_DENYLIST)
def compute_local_downstream_task(ground_truth_data: GroundTruthData,
                                  representation_function: RepresentationFunction,
                                  random_state: np.random.RandomState,
                                  artifact_dir: str | None = None,
                                  num_train: int = gin.REQUIRED,
                                  num_local_clusters: int = gin.REQUIRED,
                                  train_percentage: float = gin.REQUIRED, batch_size: int = 16,
                                  draw_cache: DrawCache | None = None,
                                  n_jobs: int | None = None) -> dict[str, Any]:
    """The downstream task in each local cluster (split as :func:`compute_local_dci`), one
    configured predictor per factor that varies in it: ``mean_train_accuracy``,
    ``mean_test_accuracy``, ``min_train_accuracy``, ``min_test_accuracy`` (means over clusters)
    and their ``local_<key>_samples``."""
    del artifact_dir
    per_cluster = []
    for cluster in _varying_clusters(draw_cache, ground_truth_data, representation_function,
                                     num_train, num_local_clusters, random_state, batch_size):
        train, test = _split(cluster, train_percentage)
        train_accuracy, test_accuracy = downstream.downstream_accuracies(
            train.codes, train.factors, test.codes, test.factors, make_predictor_fn(), n_jobs)
        per_cluster.append(downstream.summary_scores(train_accuracy, test_accuracy))
    return metrics.local_results(per_cluster)


@_configurable("dataset")
def dataset_name(name: str = gin.REQUIRED) -> str:
    """The name of the ground-truth dataset to evaluate on (``dataset.name``)."""
    return name


@_configurable("evaluation",
               denylist=("load_dataset", "representation_function", "draw_cache"))
def evaluate(load_dataset: Callable[[str], GroundTruthData],
             representation_function: RepresentationFunction,
             draw_cache: DrawCache | None = None,
             evaluation_fn: Callable[..., dict[str, Any]] = gin.REQUIRED,
             random_seed: int = gin.REQUIRED, name: str = "") -> dict[str, Any]:
    """Run the configured metric on the configured dataset from ``RandomState(random_seed)``.

    ``name`` only labels the result (it is recorded in the operative config). Returns the
    metric's result dict plus ``elapsed_time`` in seconds.
    """
    del name
    start = time.perf_counter()
    data = load_dataset(dataset_name())
    results = evaluation_fn(data, representation_function,
                            random_state=np.random.RandomState(random_seed),
                            draw_cache=draw_cache)
    results = _plain(results)
    results[ELAPSED_TIME] = time.perf_counter() - start
    return results
