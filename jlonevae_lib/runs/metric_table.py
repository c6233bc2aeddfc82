"""Each metric declared once: name, gin file, score, locality, result keys and label.

A *metric* is one gin config in ``jlonevae_lib/config/metrics_configs/`` and one results folder
``<run>/metrics/<name>/``: ``local_mig_0_1`` is local MIG at locality 0.1. A *score* is one
number the results reader takes from a metric's ``evaluation.json``: local MIG, MIG, DCI
disentanglement ... A metric reports one score or several (``dci``: disentanglement,
completeness, informativeness); ``modularity_explicitness`` also reports explicitness, which no
figure shows. Each score names the gin configurable that computes it (and, for the downstream
task, the predictor) and the result keys it is read from.

The metric groups: ``paper`` (the paper's 12), ``small`` (the small example's four),
``evalseeds`` (local MIG and modularity at extra evaluation seeds), ``dlib``
(disentanglement_lib's nine study configs, shipped unchanged) and ``dlib_local`` (the local
versions of DCI, SAP, IRS, the unsupervised scores and the downstream task at the paper's
localities).

Summaries key their values by :func:`metric_name`: the metric's name for the four original
scores (a value found under ``local_mig_1_0`` is reported as ``local_mig_1_0``), the score's
key for the others (``dci_completeness``, ``local_sap_0_1``). A result file is classified by its
content (the locality binding, the evaluation function), not by its folder: a main job's
``small_local_mig`` at locality 0.1 reports the same score as ``local_mig_0_1``;
:func:`file_scores` says which scores a file can hold.

The scores form a registry: the package's own (:data:`BUILTIN_SCORES`), then those a plug-in
registers with :func:`register_score` (docs/plugins.md), in registration order. Every reader
sees them through functions that import the ``jlonevae.metrics`` plug-ins first
(:func:`scores`, :func:`global_scores`, :func:`all_local_scores`, :func:`score_labels`,
:func:`summary_result_keys`, and :func:`file_scores`, :func:`parse_metric_name` and
:func:`describe` with them), so a plug-in's score is read, named, labelled and listed as a
built-in one is, after them.

To add a metric to the package: write its gin file, add a :class:`MetricSpec` to
:data:`METRICS` (and a :class:`Score` to :data:`BUILTIN_SCORES` if it reports a new score, with
its configurable in :mod:`jlonevae_lib.evaluate.configurables`). A plug-in's metric is its own
gin file, named by its path (``--metrics my_code_spread.gin``), and needs no
:class:`MetricSpec`: its results are found by their content, so registering its
:class:`Score` is enough.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.plugins import METRICS as METRIC_PLUGINS
from jlonevae_lib.utils.plugins import load_plugins
from jlonevae_lib.utils.seeds import MAX_SEED

#: Scores, by key.
LOCAL_MIG = "local_mig"
LOCAL_MODULARITY = "local_modularity"
MIG = "mig"
MODULARITY = "modularity"
#: disentanglement_lib's other scores (one per number a figure or a summary would show).
BETA_VAE = "beta_vae_score"
FACTOR_VAE = "factor_vae_score"
DCI_DISENTANGLEMENT = "dci_disentanglement"
DCI_COMPLETENESS = "dci_completeness"
DCI_INFORMATIVENESS = "dci_informativeness"
SAP = "sap"
IRS = "irs"
GAUSSIAN_TOTAL_CORRELATION = "gaussian_total_correlation"
GAUSSIAN_WASSERSTEIN_NORM = "gaussian_wasserstein_correlation_norm"
CODE_MUTUAL_INFO = "mutual_info_score"
DOWNSTREAM_LOGISTIC = "downstream_logistic_regression"
DOWNSTREAM_BOOSTED = "downstream_boosted_trees"
#: Their local versions.
LOCAL_DCI_DISENTANGLEMENT = "local_dci_disentanglement"
LOCAL_DCI_COMPLETENESS = "local_dci_completeness"
LOCAL_DCI_INFORMATIVENESS = "local_dci_informativeness"
LOCAL_SAP = "local_sap"
LOCAL_IRS = "local_irs"
LOCAL_GAUSSIAN_TOTAL_CORRELATION = "local_gaussian_total_correlation"
LOCAL_GAUSSIAN_WASSERSTEIN_NORM = "local_gaussian_wasserstein_correlation_norm"
LOCAL_CODE_MUTUAL_INFO = "local_mutual_info_score"
LOCAL_DOWNSTREAM_LOGISTIC = "local_downstream_logistic_regression"
LOCAL_DOWNSTREAM_BOOSTED = "local_downstream_boosted_trees"

#: Result keys (after ``evaluation_results.`` in ``evaluation.json``).
DISCRETE_MIG = "discrete_mig"
MODULARITY_SCORE = "modularity_score"
EXPLICITNESS_TRAIN = "explicitness_score_train"
EXPLICITNESS_TEST = "explicitness_score_test"
LOCAL_MIG_SAMPLES = "local_discrete_migs_samples"
LOCAL_MODULARITY_SAMPLES = "local_modularity_scores_samples"
ELAPSED_TIME = "elapsed_time"
#: Older local results' names of the mean over clusters (read, never written).
LOCAL_MIG_MEAN = "local_discrete_mig"
LOCAL_MODULARITY_MEAN = "local_modularity_score"

#: A study summary's value keys besides the scores' (which are keyed by metric name): the
#: reconstruction BCE per image of training's last batches, the same on fixed evaluation images
#: (the same images for every run), the training time. No score may take them.
RECON_BCE = "recon_bce"
HELDOUT_BCE = "heldout_bce"
TRAIN_MINUTES = "train_minutes"
RUN_VALUE_KEYS = (RECON_BCE, HELDOUT_BCE, TRAIN_MINUTES)

#: The training size whose mean test accuracy is the downstream task's score (the largest of
#: disentanglement_lib's study configs).
DOWNSTREAM_SCORE_SIZE = 10000


def local_samples_key(result_key: str) -> str:
    """The per-cluster list of a local metric's result key: ``SAP_score`` ->
    ``local_SAP_score_samples`` (the mean over clusters stays under ``SAP_score``)."""
    return f"local_{result_key}_samples"


#: The gin binding that makes a result local, the one naming its dataset, its evaluation
#: function and the downstream task's predictor (with ``evaluation_config.`` in
#: ``evaluation.json``).
LOCALITY_BINDING = "local_sample_factors.locality_proportion"
DATASET_BINDING = "dataset.name"
EVALUATION_FN_BINDING = "evaluation.evaluation_fn"
PREDICTOR_BINDING = "predictor.predictor_fn"

#: Localities are compared after rounding: "0.1" in one file and 0.1000000001 in another.
LOCALITY_DIGITS = 4


@dataclass(frozen=True)
class Score:
    """What the results reader takes from a result file.

    Attributes:
        key: its name in summaries and tables: :data:`LOCAL_MIG`, :data:`MIG`, ``dci_completeness``
            ... (a local score's values are named ``<key>_<locality>``, see
            :func:`metric_name`).
        label: display name, e.g. ``local MIG``.
        configurable: the name of the gin configurable that computes it (``local_mig`` for
            ``@local_mig``): a file whose ``evaluation.evaluation_fn`` names it holds this score.
        local: True when computed in local clusters (its file has a locality binding).
        samples_keys: result keys of the per-cluster scores, most specific first.
        scalar_keys: result keys of one score, most specific first.
        predictor: the ``predictor.predictor_fn`` it needs (``logistic_regression_cv``), or
            None.
    """

    key: str
    label: str
    configurable: str
    local: bool
    samples_keys: tuple[str, ...] = ()
    scalar_keys: tuple[str, ...] = ()
    predictor: str | None = None

    def __post_init__(self) -> None:
        # Lists written by hand become tuples: a Score is plain data, compared by value.
        for name in ("samples_keys", "scalar_keys"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))


def _global(key: str, label: str, configurable: str, result_key: str,
            predictor: str | None = None) -> Score:
    return Score(key, label, configurable, False, (), (result_key,), predictor)


def _local_of(score: Score) -> Score:
    """The local version of one of disentanglement_lib's scores: ``local_<configurable>``, the
    mean under the global result key and the clusters' values beside it."""
    (result_key,) = score.scalar_keys
    if score.predictor is not None:  # one training size per cluster: no size prefix
        result_key = result_key.split(":", 1)[1]
    return Score(f"local_{score.key}", f"local {score.label}", f"local_{score.configurable}",
                 True, (local_samples_key(result_key),), (result_key,), score.predictor)


_DOWNSTREAM_KEY = f"{DOWNSTREAM_SCORE_SIZE}:mean_test_accuracy"
#: disentanglement_lib's scores besides MIG and modularity, in the order tables show them.
_DLIB_SCORES = (
    _global(BETA_VAE, "β-VAE score", "beta_vae_sklearn", "eval_accuracy"),
    _global(FACTOR_VAE, "FactorVAE score", "factor_vae_score", "eval_accuracy"),
    _global(DCI_DISENTANGLEMENT, "DCI disentanglement", "dci", "disentanglement"),
    _global(DCI_COMPLETENESS, "DCI completeness", "dci", "completeness"),
    _global(DCI_INFORMATIVENESS, "DCI informativeness", "dci", "informativeness_test"),
    _global(SAP, "SAP", "sap_score", "SAP_score"),
    _global(IRS, "IRS", "irs", "IRS"),
    _global(GAUSSIAN_TOTAL_CORRELATION, "Gaussian total correlation", "unsupervised_metrics",
            "gaussian_total_correlation"),
    _global(GAUSSIAN_WASSERSTEIN_NORM, "Gaussian Wasserstein correlation",
            "unsupervised_metrics", "gaussian_wasserstein_correlation_norm"),
    _global(CODE_MUTUAL_INFO, "code mutual information", "unsupervised_metrics",
            "mutual_info_score"),
    _global(DOWNSTREAM_LOGISTIC, "downstream accuracy (logistic regression)", "downstream_task",
            _DOWNSTREAM_KEY, "logistic_regression_cv"),
    _global(DOWNSTREAM_BOOSTED, "downstream accuracy (boosted trees)", "downstream_task",
            _DOWNSTREAM_KEY, "gradient_boosting_classifier"),
)
#: The scores with a local version (the β-VAE and FactorVAE scores intervene on factors
#: across the whole space and have none).
_LOCAL_DLIB_SCORES = tuple(_local_of(score) for score in _DLIB_SCORES
                           if score.key not in (BETA_VAE, FACTOR_VAE))

#: The package's own scores, by key, in the order tables show them (a plug-in's come after
#: them: :func:`scores`).
BUILTIN_SCORES: Mapping[str, Score] = MappingProxyType({score.key: score for score in (
    Score(LOCAL_MIG, "local MIG", "local_mig", True, (LOCAL_MIG_SAMPLES,),
          (LOCAL_MIG_MEAN, DISCRETE_MIG)),
    Score(LOCAL_MODULARITY, "local modularity", "local_modularity", True,
          (LOCAL_MODULARITY_SAMPLES,), (LOCAL_MODULARITY_MEAN, MODULARITY_SCORE)),
    *_LOCAL_DLIB_SCORES,
    Score(MIG, "MIG", "mig", False, (), (DISCRETE_MIG,)),
    Score(MODULARITY, "modularity", "modularity_explicitness", False, (), (MODULARITY_SCORE,)),
    *_DLIB_SCORES,
)})
#: The paper's local scores: the ones the study summaries and figures list at every locality
#: (a summary's ``localities`` has an entry for each).
LOCAL_SCORES = (LOCAL_MIG, LOCAL_MODULARITY)

#: Every score, by key: the built-in ones, then the registered ones in registration order.
_REGISTRY: dict[str, Score] = dict(BUILTIN_SCORES)


def scores() -> Mapping[str, Score]:
    """Every score, by key, in the order tables show them: the package's own, then the
    plug-ins' (imported first: the ``jlonevae.metrics`` group, docs/plugins.md). A read-only
    view of the registry."""
    load_plugins(METRIC_PLUGINS)
    return MappingProxyType(_REGISTRY)


def global_scores() -> tuple[str, ...]:
    """Every global score: the paper's two, disentanglement_lib's others, then the plug-ins'."""
    return tuple(key for key, score in scores().items() if not score.local)


def all_local_scores() -> tuple[str, ...]:
    """Every local score: the paper's two (:data:`LOCAL_SCORES`), the local versions of
    disentanglement_lib's, then the plug-ins'."""
    return tuple(key for key, score in scores().items() if score.local)


def score_labels() -> dict[str, str]:
    """Display names of the scores, by key."""
    return {key: score.label for key, score in scores().items()}


def summary_result_keys() -> tuple[str, ...]:
    """Result keys shown by ``jlonevae-evaluate``'s summary table, in this order: each score's
    main key (once), explicitness after modularity."""
    return tuple(dict.fromkeys(
        key for score in scores().values()
        for key in (*score.scalar_keys[-1:],
                    *((EXPLICITNESS_TEST,) if score.key == MODULARITY else ()))))


#: What a score's key, configurable and result keys are made of.
_NAME_RE = re.compile(r"[A-Za-z0-9_]+")
#: A key ending so reads as a locality (``<score>_<locality>``) or an evaluation seed
#: (``<metric>_evalseed<k>``) in a summary's value names.
_DIGITS_END_RE = re.compile(r"_\d+$")


def _check_score(score: Score) -> None:
    """A one-line :class:`JLoneVAEError` for a score the table could not read or name."""
    where = f"score {score.key!r}"
    if not isinstance(score.key, str) or not _NAME_RE.fullmatch(score.key):
        raise JLoneVAEError(f"a score's key is letters, digits and underscores, got "
                            f"{score.key!r}")
    if _DIGITS_END_RE.search(score.key) or EVALUATION_SEED_SUFFIX in score.key:
        raise JLoneVAEError(f"{where}: a key may not end in _<digits> or hold "
                            f"{EVALUATION_SEED_SUFFIX!r}: summaries would read it as a score at "
                            f"a locality (<score>_<locality>) or at an evaluation seed "
                            f"(<metric>{EVALUATION_SEED_SUFFIX}<k>); choose another key")
    if score.key in RUN_VALUE_KEYS:
        raise JLoneVAEError(f"{where}: summaries keep a run's {score.key} under that key; "
                            "choose another key")
    if score.key in _NAMED_GLOBAL:
        raise JLoneVAEError(f"{where}: summaries name the score {_NAMED_GLOBAL[score.key]!r} "
                            f"so (its metric's name); choose another key")
    if not isinstance(score.label, str) or not score.label.strip():
        raise JLoneVAEError(f"{where} has no label (its display name in figures and tables)")
    if not isinstance(score.configurable, str) or not _NAME_RE.fullmatch(score.configurable):
        raise JLoneVAEError(f"{where}: configurable is the gin configurable's name, without "
                            f"'@' or a module (my_metric for @my_metric), got "
                            f"{score.configurable!r}")
    for name in ("samples_keys", "scalar_keys"):
        keys = getattr(score, name)
        if not isinstance(keys, tuple) or not all(isinstance(k, str) and k for k in keys):
            raise JLoneVAEError(f"{where}: {name} is a tuple of result keys, got {keys!r}")
    if score.local and not (score.samples_keys or score.scalar_keys):
        raise JLoneVAEError(f"{where} is local but names no result key to read: give its "
                            "samples_keys (the clusters' values) or its scalar_keys")
    if not score.local and not score.scalar_keys:
        raise JLoneVAEError(f"{where} is global but names no scalar_keys to read it from")
    if not score.local and score.samples_keys:
        raise JLoneVAEError(f"{where} is global: the results reader reads its scalar_keys "
                            f"only, not samples_keys {score.samples_keys!r}")
    if score.predictor is not None and not (isinstance(score.predictor, str)
                                            and _NAME_RE.fullmatch(score.predictor)):
        raise JLoneVAEError(f"{where}: predictor is the gin configurable's name, without '@' "
                            f"or a module, or None; got {score.predictor!r}")


def register_score(score: Score) -> Score:
    """Add ``score`` to the table (a plug-in's, docs/plugins.md); returns it.

    Its key must be free: the package's own and another plug-in's are refused with a one-line
    :class:`JLoneVAEError`, unless ``score`` equals the one registered (the same module
    imported again, a notebook cell run twice). A key the summaries could not tell from a
    local name or an evaluation seed's, and a score without a result key to read, are refused
    the same way.
    """
    if not isinstance(score, Score):
        raise JLoneVAEError(f"register_score takes a Score, got {type(score).__name__}")
    taken = _REGISTRY.get(score.key) if isinstance(score.key, str) else None
    if taken is not None:
        if taken == score:
            return score
        owner = "a score of the package" if score.key in BUILTIN_SCORES else "another score"
        raise JLoneVAEError(f"score key {score.key!r} is already registered ({owner}: "
                            f"{taken.label}); choose another key")
    _check_score(score)
    _REGISTRY[score.key] = score
    return score


@dataclass(frozen=True)
class MetricSpec:
    """One shipped metric: ``metrics_configs/<name>.gin``, results in ``metrics/<name>/``.

    Attributes:
        name: the metric's name, e.g. ``local_mig_0_1``.
        score: the key of the :class:`Score` it reports (its first, for a metric with several).
        locality: its locality proportion; None for a global metric.
        other_scores: the keys of the other scores it reports (``dci``: completeness and
            informativeness besides disentanglement).
    """

    name: str
    score: str
    locality: float | None = None
    other_scores: tuple[str, ...] = ()

    @property
    def gin_file(self) -> str:
        """The file name of its config in ``jlonevae_lib/config/metrics_configs/``."""
        return f"{self.name}.gin"

    @property
    def scores(self) -> tuple[str, ...]:
        """Every score it reports, its main one first."""
        return (self.score, *self.other_scores)

    @property
    def local(self) -> bool:
        return scores()[self.score].local

    @property
    def label(self) -> str:
        """``local MIG @0.1``, ``MIG``."""
        return describe(self.score, self.locality)


def locality_token(locality: float) -> str:
    """0.1 -> ``0_1``, 1.0 -> ``1_0``, 0.05 -> ``0_05``: a locality as metric names write it."""
    text = f"{round(locality, LOCALITY_DIGITS):g}"
    return (text if "." in text else f"{text}.0").replace(".", "_")


def describe(score: str, locality: float | None) -> str:
    """A score's display name with its locality: ``local MIG @0.1``, ``MIG``."""
    label = scores()[score].label
    return label if locality is None else f"{label} @{locality:g}"


def _local(score: str, locality: float) -> MetricSpec:
    return MetricSpec(f"{score}_{locality_token(locality)}", score, locality)


#: The paper's localities.
PAPER_LOCALITIES = (0.1, 0.2, 0.3, 0.6, 1.0)
#: The paper's global metrics: MIG and modularity.
GLOBAL_METRICS = (MetricSpec("mig", MIG), MetricSpec("modularity_explicitness", MODULARITY))

#: disentanglement_lib's nine metric configs (``config/unsupervised_study_v1/metric_configs``,
#: shipped unchanged under their own names), ordered so that the metrics sharing a draw (the
#: same 10,000 training and 5,000 test points of seed 0) are evaluated together.
DLIB_STUDY_METRICS = (
    *GLOBAL_METRICS,
    MetricSpec("dci", DCI_DISENTANGLEMENT, None, (DCI_COMPLETENESS, DCI_INFORMATIVENESS)),
    MetricSpec("sap_score", SAP),
    MetricSpec("unsupervised", GAUSSIAN_TOTAL_CORRELATION, None,
               (GAUSSIAN_WASSERSTEIN_NORM, CODE_MUTUAL_INFO)),
    MetricSpec("beta_vae_sklearn", BETA_VAE),
    MetricSpec("factor_vae_metric", FACTOR_VAE),
    MetricSpec("downstream_task_logistic_regression", DOWNSTREAM_LOGISTIC),
    MetricSpec("downstream_task_boosted_trees", DOWNSTREAM_BOOSTED),
)
#: disentanglement_lib's IRS (not among its study's configs): the settings of its sample
#: config (``config/sample/irs``).
IRS_METRIC = MetricSpec("irs", IRS)

#: The local versions: metric name prefix -> (main score, other scores).
_LOCAL_DLIB_METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "local_dci": (LOCAL_DCI_DISENTANGLEMENT, (LOCAL_DCI_COMPLETENESS,
                                              LOCAL_DCI_INFORMATIVENESS)),
    "local_sap_score": (LOCAL_SAP, ()),
    "local_irs": (LOCAL_IRS, ()),
    "local_unsupervised": (LOCAL_GAUSSIAN_TOTAL_CORRELATION,
                           (LOCAL_GAUSSIAN_WASSERSTEIN_NORM, LOCAL_CODE_MUTUAL_INFO)),
    "local_downstream_task_logistic_regression": (LOCAL_DOWNSTREAM_LOGISTIC, ()),
    "local_downstream_task_boosted_trees": (LOCAL_DOWNSTREAM_BOOSTED, ()),
}
#: The local versions at the paper's localities, locality by locality (so that those sharing
#: a draw are evaluated together).
DLIB_LOCAL_METRICS = tuple(
    MetricSpec(f"{prefix}_{locality_token(locality)}", score, locality, others)
    for locality in PAPER_LOCALITIES for prefix, (score, others) in _LOCAL_DLIB_METRICS.items())

#: Every shipped metric. The paper's 12 come first, ordered so that metrics sharing a draw
#: (the same locality) are evaluated together.
METRICS: dict[str, MetricSpec] = {spec.name: spec for spec in (
    *GLOBAL_METRICS,
    *(_local(score, locality) for locality in PAPER_LOCALITIES
      for score in (LOCAL_MIG, LOCAL_MODULARITY)),
    # The reference's smallEvaluation.py: a few clusters of fewer points, at locality 0.1.
    MetricSpec("small_local_mig", LOCAL_MIG, 0.1),
    MetricSpec("small_local_modularity", LOCAL_MODULARITY, 0.1),
    *DLIB_STUDY_METRICS,
    IRS_METRIC,
    *DLIB_LOCAL_METRICS,
)}
#: The paper's 12 metrics.
PAPER_METRICS = (*(spec.name for spec in GLOBAL_METRICS),
                 *(_local(score, locality).name for locality in PAPER_LOCALITIES
                   for score in (LOCAL_MIG, LOCAL_MODULARITY)))
#: The small example's metrics (the reference's smallEvaluation.py).
SMALL_METRICS = ("mig", "small_local_mig", "modularity_explicitness", "small_local_modularity")
#: disentanglement_lib's study suite, and the local versions.
DLIB_METRICS = tuple(spec.name for spec in DLIB_STUDY_METRICS)
DLIB_LOCAL_METRIC_NAMES = tuple(spec.name for spec in DLIB_LOCAL_METRICS)

# A metric evaluated again with another evaluation seed is its own metric, named
# ``<metric>_evalseed<k>`` (results in ``metrics/<metric>_evalseed<k>/``): the metric's config
# with ``evaluation.random_seed = k``. One seed's draw of local clusters carries noise as large
# as the spread between training seeds, so a study can average a few. The results readers
# (:func:`jlonevae_lib.runs.layout.evaluation_files`) leave these repeats out, so they never
# count as a second result of the same score; a study summary reads them on purpose.
EVALUATION_SEED_SUFFIX = "_evalseed"
# One spelling per seed (no leading zeros), so a seed cannot name two result folders.
_EVALUATION_SEED_RE = re.compile(rf"^(.+){EVALUATION_SEED_SUFFIX}(0|[1-9]\d*)$")
#: The extra evaluation seeds of the multi-seed local scores (seed 0 is the shipped configs').
EXTRA_EVALUATION_SEEDS = (1, 2)


def evaluation_seed_name(metric: str, seed: int) -> str:
    """``local_mig_0_1``, 1 -> ``local_mig_0_1_evalseed1``: ``metric`` at evaluation seed
    ``seed``."""
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"an evaluation seed is from 0 to {MAX_SEED}, got {seed}")
    return f"{metric}{EVALUATION_SEED_SUFFIX}{int(seed)}"


def parse_evaluation_seed_name(name: str) -> tuple[str, int] | None:
    """(metric, seed) of a name :func:`evaluation_seed_name` gives, None for any other (a seed
    written with leading zeros, or beyond NumPy's 32 bits, among them)."""
    match = _EVALUATION_SEED_RE.match(name)
    if match is None or int(match[2]) > MAX_SEED:
        return None
    return match[1], int(match[2])


#: Local MIG and local modularity at locality 0.1 at the extra evaluation seeds, the seeds in
#: the order that lets the two scores of one seed share their draw.
EVALUATION_SEED_METRICS = tuple(evaluation_seed_name(f"{score}_0_1", seed)
                                for seed in EXTRA_EVALUATION_SEEDS
                                for score in (LOCAL_MIG, LOCAL_MODULARITY))
#: Metric groups the evaluation CLI accepts.
METRIC_GROUPS = {"paper": PAPER_METRICS, "small": SMALL_METRICS,
                 "evalseeds": EVALUATION_SEED_METRICS, "dlib": DLIB_METRICS,
                 "dlib_local": DLIB_LOCAL_METRIC_NAMES}

#: The four original scores are named after their metric; every other score by its key.
_GLOBAL_NAMES = {spec.score: spec.name for spec in GLOBAL_METRICS}
_NAMED_GLOBAL = {name: score for score, name in _GLOBAL_NAMES.items()}


def _local_name_re() -> re.Pattern[str]:
    """``<local score>_<locality>``, for every local score registered."""
    return _local_name_pattern(all_local_scores())


@functools.lru_cache(maxsize=4)
def _local_name_pattern(keys: tuple[str, ...]) -> re.Pattern[str]:
    # The longest key first, so that local_dci_disentanglement_0_1 is not read as a shorter
    # key's (a key never ends in _<digits>: register_score).
    alternatives = "|".join(map(re.escape, sorted(keys, key=len, reverse=True)))
    return re.compile(rf"^({alternatives})_(\d+(?:_\d+)?)$")


def metric_name(score: str, locality: float | None) -> str:
    """The name under which summaries report ``score`` at ``locality``: the metric's name for
    the original four (``local_mig_1_0``, ``mig``, ``modularity_explicitness``), the score's
    key otherwise (``dci_completeness``, ``local_sap_0_1``). Localities outside the table get
    the same form."""
    if locality is None:
        return _GLOBAL_NAMES.get(score, score)
    return _local(score, locality).name


def parse_metric_name(name: str) -> tuple[str, float | None] | None:
    """(score, locality) of a name :func:`metric_name` gives, None for any other name."""
    if name in _NAMED_GLOBAL:
        return _NAMED_GLOBAL[name], None
    table = scores()
    if name in table and not table[name].local and name not in _GLOBAL_NAMES:
        return name, None
    match = _local_name_re().match(name)
    return (match[1], float(match[2].replace("_", "."))) if match else None


def _binding(data: Mapping[str, Any], binding: str) -> str | None:
    """A gin binding's value in a flat ``evaluation.json`` (``@dci`` -> ``dci``; a selector
    with a module, ``@some.module.dci``, -> ``dci``), or None."""
    value = data.get(f"evaluation_config.{binding}")
    if not isinstance(value, str):
        return None
    return value.strip().strip("'\"").lstrip("@").rsplit(".", 1)[-1]


def file_scores(data: Mapping[str, Any], local: bool) -> tuple[str, ...]:
    """The scores a flat ``evaluation.json`` (``data``) can hold, local ones or global ones.

    A file naming its evaluation function (every file written by us or by disentanglement_lib)
    holds the scores of that configurable (and of its predictor, for the downstream task): a
    FactorVAE file's ``eval_accuracy`` is not a β-VAE score. A file that names none (older
    files) is read as before, by its result keys, among the original four scores.
    """
    function = _binding(data, EVALUATION_FN_BINDING)
    if function is None:
        return (LOCAL_MIG, LOCAL_MODULARITY) if local else (MIG, MODULARITY)
    predictor = _binding(data, PREDICTOR_BINDING)
    return tuple(key for key, score in scores().items()
                 if score.local == local and score.configurable == function
                 and (score.predictor is None or score.predictor == predictor))
