"""gin configurables under the names the reference's .gin files use (docs/metrics.md).

``evaluation``, ``dataset``, ``mig``, ``modularity_explicitness``, ``local_mig``,
``local_modularity``, ``local_sample_factors``, ``discretizer`` and ``histogram_discretizer``
take the reference's parameters, so its metric and dataset configs parse unchanged. The metric
functions keep disentanglement_lib's signature ``(ground_truth_data, representation_function,
random_state, artifact_dir=None, ...)`` and return its result dicts (their names and result
keys are declared in :mod:`jlonevae_lib.runs.metric_table`).

Names are registered without a module prefix, so a bare selector such as ``discretizer`` matches
exactly ours even in a process that also registers disentanglement_lib's configurables (under
their own module). gin's registry lives as long as the process: registering is idempotent (a
re-import of this module, e.g. ``importlib.reload``, replaces our entries instead of failing),
and the caller clears bindings between evaluations (see ``evaluation.gin_config``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

import gin
import numpy as np

from jlonevae_lib.data import GroundTruthData
from jlonevae_lib.evaluate import metrics, sampling
from jlonevae_lib.evaluate.sampling import Cluster, DrawCache, RepresentationFunction
from jlonevae_lib.runs.metric_table import (
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
    SCORES,
)

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


@_configurable(SCORES[MIG].configurable, denylist=_METRIC_DENYLIST)
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


@_configurable(SCORES[MODULARITY].configurable, denylist=_METRIC_DENYLIST)
def compute_modularity_explicitness(ground_truth_data: GroundTruthData,
                                    representation_function: RepresentationFunction,
                                    random_state: np.random.RandomState,
                                    artifact_dir: str | None = None,
                                    num_train: int = gin.REQUIRED, num_test: int = gin.REQUIRED,
                                    batch_size: int = 16,
                                    draw_cache: DrawCache | None = None) -> dict[str, Any]:
    """Modularity on ``num_train`` points, explicitness trained there and tested on the next
    ``num_test``: ``{"modularity_score", "explicitness_score_train", "explicitness_score_test"}``.
    """
    del artifact_dir
    train = _draw_global(draw_cache, ground_truth_data, representation_function, num_train,
                         random_state, batch_size)
    test = _draw_global(draw_cache, ground_truth_data, representation_function, num_test,
                        random_state, batch_size)
    explicitness_train, explicitness_test = metrics.explicitness_score(
        train.codes, train.factors, test.codes, test.factors)
    return {MODULARITY_SCORE: metrics.modularity_score(_mutual_info(train)),
            EXPLICITNESS_TRAIN: explicitness_train,
            EXPLICITNESS_TEST: explicitness_test}


@_configurable(SCORES[LOCAL_MIG].configurable, denylist=_METRIC_DENYLIST)
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


@_configurable(SCORES[LOCAL_MODULARITY].configurable, denylist=_METRIC_DENYLIST)
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
    results[ELAPSED_TIME] = time.perf_counter() - start
    return results
