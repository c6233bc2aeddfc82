"""The seven-arm study's comparisons, on :mod:`jlonevae_lib.evaluate.statistics`: what
summary.json's ``ttests``, ``architecture``, ``paper_ordering`` and ``noise`` hold.

- :func:`ttests_against`: Welch t-tests of JL1-VAE against each other arm on local MIG and
  local modularity at every locality, the global MIG and modularity, and the multi-seed means
  (exploratory: the extra evaluation seeds were added while the study ran); each with the
  difference of the means, its 95% Welch confidence interval, Hedges' g and the Holm-adjusted p
  over the other arms (one family per value and protocol, :func:`add_holm`); only a
  Holm-adjusted p ≤ :data:`ALPHA` is called significant;
- :func:`architecture_tests`: disentanglement_lib's β-VAE against our ConvVAE β-VAE (the
  architecture's effect);
- :func:`paper_ordering`: the measured ordering of the methods by mean local MIG at 0.1 against
  the paper's;
- :func:`evaluation_seed_spread` and :func:`pooled_training_seed_sd`: how much one evaluation
  seed and one training seed move a model's score.

Pure functions of :class:`~jlonevae_lib.reports.records.RunRecord` lists or of the summary's
arm entries; the arithmetic is :mod:`jlonevae_lib.evaluate.statistics`'.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from jlonevae_lib.evaluate.statistics import (
    effect_size,
    holm_adjust,
    pooled_sd,
    rms_sd,
    ttest_row,
)
from jlonevae_lib.reports.records import (
    FINISHED,
    SEED_MEAN_SUFFIX,
    RunRecord,
    localities_of,
    seed_mean_key,
    value_keys,
)
from jlonevae_lib.runs.metric_table import (
    LOCAL_MIG,
    LOCAL_SCORES,
    global_scores,
    metric_name,
    parse_evaluation_seed_name,
    parse_metric_name,
)
from jlonevae_lib.sweep.seven_arms import (
    ARM_LABELS,
    ARMS,
    BETA_ARM,
    JL1_ARM,
    PAPER_LOCAL_MIG_0_1,
    PAPER_NAMES,
)

#: A difference between two arms' means is resolved when it exceeds this many standard errors.
RESOLVED_STANDARD_ERRORS = 2.0
#: The level a test's Holm-adjusted p must reach to be called significant.
ALPHA = 0.05
#: The confidence of the intervals of the differences.
CONFIDENCE = 0.95
#: The paper's comparator: the β-VAE of its seven-method figure, disentanglement_lib's.
PAPER_COMPARATOR = "beta_vae"
#: How the t-tests are read (summary.json's ``tests``).
TESTS = {"alpha": ALPHA, "confidence": CONFIDENCE,
         "holm_family": "the reference arm's tests against each other arm on one value (one "
                        "score, locality and protocol)",
         "exploratory": "the tests on the mean of evaluation seeds: the extra evaluation seeds "
                        "were added while the study ran"}


def arm_order(runs: Sequence[RunRecord]) -> list[str]:
    """The arms present, in the study's order (unknown ones last, by name)."""
    present = {run.arm for run in runs}
    return [arm for arm in ARMS if arm in present] + sorted(present - set(ARMS))


def comparison_keys(keys: Sequence[str]) -> list[str]:
    """The keys the t-tests compare, of ``keys``: each local score at every locality, the
    global scores, then the means over evaluation seeds."""
    chosen = [metric_name(score, x) for score in LOCAL_SCORES for x in localities_of(keys, score)]
    chosen += [metric_name(score, None) for score in global_scores()]
    chosen += [seed_mean_key(metric_name(score, x)) for score in LOCAL_SCORES
               for x in localities_of(keys, score)]
    return [key for key in chosen if key in keys]


def _score_of(key: str) -> tuple[str, float | None]:
    base = key.removesuffix(SEED_MEAN_SUFFIX)
    parsed = parse_metric_name(base)
    if parsed is None:
        raise ValueError(f"{key} is not a score key")
    return parsed


def comparison_row(finished: Sequence[RunRecord], key: str, arm_a: str, arm_b: str
                   ) -> dict[str, Any] | None:
    """Arm ``arm_a`` (a) against ``arm_b`` (b) on ``key``, one value per finished run: the row
    of :func:`jlonevae_lib.evaluate.statistics.ttest_row` plus ``key``, ``arm_b``, the
    difference of the means with its Welch confidence interval and Hedges' g
    (:func:`~jlonevae_lib.evaluate.statistics.effect_size`, at :data:`CONFIDENCE`) and
    ``exploratory`` (a test on the mean of evaluation seeds, added while the study ran);
    None when an arm has no values."""
    a = [r.values[key] for r in finished if r.arm == arm_a and key in r.values]
    b = [r.values[key] for r in finished if r.arm == arm_b and key in r.values]
    if not a or not b:
        return None
    score, locality = _score_of(key)
    return {"key": key, "arm_b": arm_b,
            **ttest_row(score, locality, ARM_LABELS.get(arm_a, arm_a), a,
                        ARM_LABELS.get(arm_b, arm_b), b),
            **effect_size(a, b, CONFIDENCE),
            "exploratory": key.endswith(SEED_MEAN_SUFFIX)}


def add_holm(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows with ``p_holm``, the Holm-adjusted p over the family of the rows that test the
    same ``key`` (one value, one protocol: the reference against each other arm), and
    ``holm_family``, the number of tests in that family with a p-value."""
    out = [dict(row) for row in rows]
    for key in dict.fromkeys(row["key"] for row in out):
        family = [row for row in out if row["key"] == key]
        adjusted = holm_adjust([math.nan if row["p"] is None else row["p"] for row in family])
        size = sum(not math.isnan(p) for p in adjusted)
        for row, p in zip(family, adjusted, strict=True):
            row["p_holm"], row["holm_family"] = p, size
    return out


def ttests_against(runs: Sequence[RunRecord], reference: str = JL1_ARM
                   ) -> tuple[list[dict[str, Any]], list[str]]:
    """Welch t-tests of the ``reference`` arm (a) against each other arm (b) on every key of
    :func:`comparison_keys`, finished runs only. Rows of :func:`comparison_row`, with the
    Holm-adjusted p over the other arms per key (:func:`add_holm`); (rows, notes)."""
    notes: list[str] = []
    finished = [run for run in runs if run.status == FINISHED]
    if not any(run.arm == reference for run in finished):
        return [], [f"no finished {ARM_LABELS.get(reference, reference)} run: no t-tests"]
    keys = comparison_keys(value_keys(finished))
    label_a = ARM_LABELS.get(reference, reference)
    rows = []
    for arm in arm_order(finished):
        if arm == reference:
            continue
        label_b = ARM_LABELS.get(arm, arm)
        for key in keys:
            row = comparison_row(finished, key, reference, arm)
            if row is None:
                has_a = any(r.arm == reference and key in r.values for r in finished)
                notes.append(f"no t-test of {key} for {label_b}: "
                             f"{label_b if has_a else label_a} has no values")
                continue
            rows.append(row)
    return add_holm(rows), notes


def architecture_tests(runs: Sequence[RunRecord]) -> list[dict[str, Any]]:
    """disentanglement_lib's β-VAE (``dlibConv``) against our ConvVAE β-VAE (γ = 0) on local
    MIG at 0.1, evaluation seed 0 and the mean of evaluation seeds: the same loss on two
    architectures, so the difference is the architecture's (and the ramp's). Rows of
    :func:`comparison_row` (single tests, no correction); empty when an arm is missing."""
    finished = [run for run in runs if run.status == FINISHED]
    key = metric_name(LOCAL_MIG, 0.1)
    rows = [comparison_row(finished, name, PAPER_COMPARATOR, BETA_ARM)
            for name in (key, seed_mean_key(key))]
    return [row for row in rows if row is not None]


def evaluation_seed_spread(runs: Sequence[RunRecord], key: str) -> dict[str, float | int]:
    """How much one evaluation seed moves a model's ``key`` (a local score): per finished run
    with values at two or more evaluation seeds (``key`` and ``key``'s repeats), the s.d.
    (ddof 1) across them; returns their root mean square ``sd`` and the number of ``models``
    (nan and 0 when none; :func:`~jlonevae_lib.evaluate.statistics.rms_sd`)."""
    spread = rms_sd([[value for name, value in run.values.items()
                      if name == key or (parse_evaluation_seed_name(name) or ("",))[0] == key]
                     for run in runs if run.status == FINISHED])
    return {"sd": spread["sd"], "models": spread["groups"]}


def pooled_training_seed_sd(arms: Sequence[Mapping[str, Any]], key: str) -> float:
    """The s.d. of ``key`` between the models of one arm (trained with different seeds),
    pooled over the arms (sqrt of Σ (n−1)·sd² / Σ (n−1),
    :func:`~jlonevae_lib.evaluate.statistics.pooled_sd`); nan when no arm has two values.
    Each model's value carries its evaluation seed's noise too, so this is training-seed and
    evaluation-seed spread together (less of the latter on a mean over evaluation seeds)."""
    return pooled_sd([arm["statistics"].get(key) or {} for arm in arms])


def paper_ordering(means: Mapping[str, float]) -> dict[str, Any]:
    """The arms' measured order by mean local MIG at 0.1 against the paper's.

    ``means``: arm -> measured mean; arms without a paper value (our ConvVAE β-VAE) or without
    a finite mean are left out. Returns the paper's and the measured order (paper names), the
    values, whether the orders match, how many of the pairs agree, and each pair that does
    not ("DIP-VAE-I above JL1-VAE"; as arms in ``reversed_arms``: [lower in the paper, higher]).
    """
    arms = [arm for arm in PAPER_LOCAL_MIG_0_1
            if arm in means and means[arm] is not None and math.isfinite(means[arm])]
    paper = sorted(arms, key=lambda arm: -PAPER_LOCAL_MIG_0_1[arm])
    measured = sorted(arms, key=lambda arm: -means[arm])
    flipped_arms = [(low, high) for i, high in enumerate(paper) for low in paper[i + 1:]
                    if means[low] > means[high]]
    flipped = [f"{PAPER_NAMES[low]} above {PAPER_NAMES[high]}" for low, high in flipped_arms]
    pairs = len(arms) * (len(arms) - 1) // 2
    return {"paper_order": [PAPER_NAMES[arm] for arm in paper],
            "measured_order": [PAPER_NAMES[arm] for arm in measured],
            "paper_values": {PAPER_NAMES[arm]: PAPER_LOCAL_MIG_0_1[arm] for arm in paper},
            "measured_values": {PAPER_NAMES[arm]: means[arm] for arm in measured},
            "methods": len(arms), "matches": len(arms) > 1 and paper == measured,
            "pairs": pairs, "pairs_in_paper_order": pairs - len(flipped),
            "pairs_reversed": flipped,
            "reversed_arms": [list(pair) for pair in flipped_arms],
            "first": PAPER_NAMES[measured[0]] if measured else None}

