"""Each metric declared once: name, gin file, score, locality, result keys and label.

A *metric* is one gin config in ``jlonevae_lib/config/metrics_configs/`` and one results folder
``<run>/metrics/<name>/``: ``local_mig_0_1`` is local MIG at locality 0.1. A *score* is what
the results reader takes from a metric's ``evaluation.json``: local MIG, local modularity, MIG
or modularity (``modularity_explicitness`` also reports explicitness, which no figure shows).
Each score names the gin configurable that computes it and the result keys it is read from.

Summaries key their values by metric name (:func:`metric_name`), so a value found under
``local_mig_1_0`` is reported as ``local_mig_1_0``. A result file is classified by its content
(the locality binding), not by its folder: a main job's ``small_local_mig`` at locality 0.1
reports the same score as ``local_mig_0_1``.

To add a metric: write its gin file, add a :class:`MetricSpec` to :data:`METRICS` (and a
:class:`Score` if it reports a new score, with its configurable in
:mod:`jlonevae_lib.evaluate.configurables`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Scores, by key.
LOCAL_MIG = "local_mig"
LOCAL_MODULARITY = "local_modularity"
MIG = "mig"
MODULARITY = "modularity"

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

#: The gin binding that makes a result local, and the one naming its dataset (with
#: ``evaluation_config.`` in ``evaluation.json``).
LOCALITY_BINDING = "local_sample_factors.locality_proportion"
DATASET_BINDING = "dataset.name"

#: Localities are compared after rounding: "0.1" in one file and 0.1000000001 in another.
LOCALITY_DIGITS = 4


@dataclass(frozen=True)
class Score:
    """What the results reader takes from a result file.

    Attributes:
        key: :data:`LOCAL_MIG`, :data:`LOCAL_MODULARITY`, :data:`MIG` or :data:`MODULARITY`.
        label: display name, e.g. ``local MIG``.
        configurable: the gin configurable that computes it (``@local_mig``).
        local: True when computed in local clusters (its file has a locality binding).
        samples_keys: result keys of the per-cluster scores, most specific first.
        scalar_keys: result keys of one score, most specific first.
    """

    key: str
    label: str
    configurable: str
    local: bool
    samples_keys: tuple[str, ...] = ()
    scalar_keys: tuple[str, ...] = ()


#: Every score, in the order tables show them.
SCORES: dict[str, Score] = {score.key: score for score in (
    Score(LOCAL_MIG, "local MIG", "local_mig", True, (LOCAL_MIG_SAMPLES,),
          (LOCAL_MIG_MEAN, DISCRETE_MIG)),
    Score(LOCAL_MODULARITY, "local modularity", "local_modularity", True,
          (LOCAL_MODULARITY_SAMPLES,), (LOCAL_MODULARITY_MEAN, MODULARITY_SCORE)),
    Score(MIG, "MIG", "mig", False, (), (DISCRETE_MIG,)),
    Score(MODULARITY, "modularity", "modularity_explicitness", False, (), (MODULARITY_SCORE,)),
)}
LOCAL_SCORES = tuple(key for key, score in SCORES.items() if score.local)
GLOBAL_SCORES = tuple(key for key, score in SCORES.items() if not score.local)
#: Display names of the scores.
SCORE_LABELS = {key: score.label for key, score in SCORES.items()}
#: Result keys shown by ``jlonevae-evaluate``'s summary table, in this order.
SUMMARY_RESULT_KEYS = (DISCRETE_MIG, MODULARITY_SCORE, EXPLICITNESS_TEST)


@dataclass(frozen=True)
class MetricSpec:
    """One shipped metric: ``metrics_configs/<name>.gin``, results in ``metrics/<name>/``.

    Attributes:
        name: the metric's name, e.g. ``local_mig_0_1``.
        score: the key of the :class:`Score` it reports.
        locality: its locality proportion; None for a global metric.
    """

    name: str
    score: str
    locality: float | None = None

    @property
    def gin_file(self) -> str:
        """The file name of its config in ``jlonevae_lib/config/metrics_configs/``."""
        return f"{self.name}.gin"

    @property
    def local(self) -> bool:
        return SCORES[self.score].local

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
    label = SCORE_LABELS[score]
    return label if locality is None else f"{label} @{locality:g}"


def _local(score: str, locality: float) -> MetricSpec:
    return MetricSpec(f"{score}_{locality_token(locality)}", score, locality)


#: The paper's localities.
PAPER_LOCALITIES = (0.1, 0.2, 0.3, 0.6, 1.0)
#: The global metrics: one per global score.
GLOBAL_METRICS = (MetricSpec("mig", MIG), MetricSpec("modularity_explicitness", MODULARITY))

#: Every shipped metric. The paper's 12 come first, ordered so that metrics sharing a draw
#: (the same locality) are evaluated together.
METRICS: dict[str, MetricSpec] = {spec.name: spec for spec in (
    *GLOBAL_METRICS,
    *(_local(score, locality) for locality in PAPER_LOCALITIES for score in LOCAL_SCORES),
    # The reference's smallEvaluation.py: a few clusters of fewer points, at locality 0.1.
    MetricSpec("small_local_mig", LOCAL_MIG, 0.1),
    MetricSpec("small_local_modularity", LOCAL_MODULARITY, 0.1),
)}
#: The paper's 12 metrics.
PAPER_METRICS = tuple(name for name in METRICS if not name.startswith("small_"))
#: The small example's metrics (the reference's smallEvaluation.py).
SMALL_METRICS = ("mig", "small_local_mig", "modularity_explicitness", "small_local_modularity")

# A metric evaluated again with another evaluation seed is its own metric, named
# ``<metric>_evalseed<k>`` (results in ``metrics/<metric>_evalseed<k>/``): the metric's config
# with ``evaluation.random_seed = k``. One seed's draw of local clusters carries noise as large
# as the spread between training seeds, so a study can average a few. The results readers
# (:func:`jlonevae_lib.runs.layout.evaluation_files`) leave these repeats out, so they never
# count as a second result of the same score; a study summary reads them on purpose.
EVALUATION_SEED_SUFFIX = "_evalseed"
_EVALUATION_SEED_RE = re.compile(rf"^(.+){EVALUATION_SEED_SUFFIX}(\d+)$")
#: The extra evaluation seeds of the multi-seed local scores (seed 0 is the shipped configs').
EXTRA_EVALUATION_SEEDS = (1, 2)


def evaluation_seed_name(metric: str, seed: int) -> str:
    """``local_mig_0_1``, 1 -> ``local_mig_0_1_evalseed1``: ``metric`` at evaluation seed
    ``seed``."""
    if seed < 0:
        raise ValueError(f"an evaluation seed is >= 0, got {seed}")
    return f"{metric}{EVALUATION_SEED_SUFFIX}{int(seed)}"


def parse_evaluation_seed_name(name: str) -> tuple[str, int] | None:
    """(metric, seed) of a name :func:`evaluation_seed_name` gives, None for any other."""
    match = _EVALUATION_SEED_RE.match(name)
    return (match[1], int(match[2])) if match else None


#: Local MIG and local modularity at locality 0.1 at the extra evaluation seeds, the seeds in
#: the order that lets the two scores of one seed share their draw.
EVALUATION_SEED_METRICS = tuple(evaluation_seed_name(f"{score}_0_1", seed)
                                for seed in EXTRA_EVALUATION_SEEDS for score in LOCAL_SCORES)
#: Metric groups the evaluation CLI accepts.
METRIC_GROUPS = {"paper": PAPER_METRICS, "small": SMALL_METRICS,
                 "evalseeds": EVALUATION_SEED_METRICS}

_GLOBAL_NAMES = {spec.score: spec.name for spec in GLOBAL_METRICS}
_LOCAL_NAME_RE = re.compile(rf"^({'|'.join(LOCAL_SCORES)})_(\d+(?:_\d+)?)$")


def metric_name(score: str, locality: float | None) -> str:
    """The name of the metric that reports ``score`` at ``locality``: ``local_mig_1_0``,
    ``mig``, ``modularity_explicitness``. Localities outside the table get the same form."""
    if locality is None:
        return _GLOBAL_NAMES[score]
    return _local(score, locality).name


def parse_metric_name(name: str) -> tuple[str, float | None] | None:
    """(score, locality) of a name :func:`metric_name` gives, None for any other name."""
    for score, global_name in _GLOBAL_NAMES.items():
        if name == global_name:
            return score, None
    match = _LOCAL_NAME_RE.match(name)
    return (match[1], float(match[2].replace("_", "."))) if match else None
