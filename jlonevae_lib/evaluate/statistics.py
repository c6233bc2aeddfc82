"""Comparing methods over seeds: Welch's t-test and the rows of the t-test tables.

One value is one trained model (a run's local score is the mean over its local clusters), so
the tests compare seeds. They are Welch's (unequal variances); the reference's notebooks printed
Student's, which agrees when the two spreads are similar. Used by the study summaries
(:mod:`jlonevae_lib.sweep.study_summary`) and the comparison figures
(:mod:`jlonevae_lib.visualize.comparisons`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from jlonevae_lib.runs.metric_table import SCORE_LABELS


def welch_ttest(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """(t, two-sided p) of Welch's t-test of a vs b; (nan, nan) when either has < 2 values."""
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    import scipy.stats  # here, not at the top: slow to import, and most CLI calls never test

    with warnings.catch_warnings():
        # Two constant samples give a zero variance: scipy warns and returns nan, which is
        # the honest answer here.
        warnings.simplefilter("ignore", RuntimeWarning)
        result = scipy.stats.ttest_ind(a, b, equal_var=False)
    return float(result.statistic), float(result.pvalue)


def sample_sd(values: Sequence[float]) -> float:
    """The standard deviation with ddof 1; nan below two values."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def ttest_row(score: str, locality: float | None, label_a: str, a: Sequence[float],
              label_b: str, b: Sequence[float]) -> dict[str, Any]:
    """One table row: both groups' n, mean, s.d., and Welch's t and p (a vs b).

    ``score`` is a score key of :mod:`jlonevae_lib.runs.metric_table` (shown by its label).
    """
    t, p = welch_ttest(a, b)
    return {
        "metric": SCORE_LABELS[score], "locality": "global" if locality is None else locality,
        "group_a": label_a, "n_a": len(a), "mean_a": float(np.mean(a)), "sd_a": sample_sd(a),
        "group_b": label_b, "n_b": len(b), "mean_b": float(np.mean(b)), "sd_b": sample_sd(b),
        "t": t, "p": p,
    }
