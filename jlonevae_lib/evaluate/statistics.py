"""Comparing methods over seeds: Welch's t-test, its confidence interval, Hedges' g, Holm's
correction for several tests, the rows of the t-test tables, the descriptive statistics of
the reports (mean ± s.d., median and range) and the spreads they quote (a difference of means
against its standard error, a pooled s.d., the root mean square of per-group s.d.s). Every
report imports its statistics from here.

One value is one trained model (a run's local score is the mean over its local clusters), so
the tests compare seeds. They are Welch's (unequal variances); the reference's notebooks printed
Student's, which agrees when the two spreads are similar. Used by the study reports
(:mod:`jlonevae_lib.reports`) and the comparison figures
(:mod:`jlonevae_lib.visualize.comparisons`).
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jlonevae_lib.runs.metric_table import describe


def _untestable(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether Welch's statistics cannot be formed: a group has fewer than two values, or
    every value of both groups repeats its group's first (no spread to measure the difference
    against: scipy would give t = ±inf and p = 0 for two different constants)."""
    return (len(a) < 2 or len(b) < 2
            or (all(v == a[0] for v in a) and all(v == b[0] for v in b)))


def welch_ttest(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """(t, two-sided p) of Welch's t-test of a vs b; (nan, nan) when either has < 2 values or
    both are constant (as :func:`welch_ci` and :func:`hedges_g`)."""
    if _untestable(a, b):
        return math.nan, math.nan
    import scipy.stats  # here, not at the top: slow to import, and most CLI calls never test

    with warnings.catch_warnings():
        # Nearly constant samples: scipy warns of lost precision; its answer stands.
        warnings.simplefilter("ignore", RuntimeWarning)
        result = scipy.stats.ttest_ind(a, b, equal_var=False)
    return float(result.statistic), float(result.pvalue)


def sample_sd(values: Sequence[float]) -> float:
    """The standard deviation with ddof 1; nan below two values."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def holm_adjust(pvalues: Sequence[float], *, count_untested: bool = False) -> list[float]:
    """Holm–Bonferroni step-down adjusted p-values, in the order given.

    ``pvalues``: the m raw p-values of one family of tests (NaN for a test that could not be
    made: it stays NaN, and is not counted in m unless ``count_untested``; counting it, as for
    a family fixed in advance, is Holm with that p taken as 1). With the finite ones sorted,
    p(1) ≤ p(2) ≤ …, the adjusted value of p(i) is max over j ≤ i of min(1, (m − j + 1)·p(j)):
    monotone in the raw order and capped at 1. A test is significant at level α after the
    correction when its adjusted p is ≤ α, which controls the chance of any false rejection in
    the family at α.
    """
    values = [float(p) for p in pvalues]
    finite = sorted((p, i) for i, p in enumerate(values) if not math.isnan(p))
    m = len(values) if count_untested else len(finite)
    adjusted = [math.nan] * len(values)
    running = 0.0
    for rank, (p, i) in enumerate(finite):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def welch_ci(a: Sequence[float], b: Sequence[float],
             confidence: float = 0.95) -> tuple[float, float]:
    """The ``confidence`` interval (low, high) of mean(a) − mean(b), Welch's.

    ``a``, ``b``: one value per model. The interval is the difference ± t·SE, with SE =
    sqrt(s_a²/n_a + s_b²/n_b) (s: s.d. with ddof 1) and t the (1 + confidence)/2 quantile of
    Student's t with the Welch–Satterthwaite degrees of freedom
    (s_a²/n_a + s_b²/n_b)² / ((s_a²/n_a)²/(n_a − 1) + (s_b²/n_b)²/(n_b − 1)): the interval
    that excludes 0 exactly when :func:`welch_ttest`'s p < 1 − confidence. Computed by scipy
    (``ttest_ind(a, b, equal_var=False).confidence_interval``). (nan, nan) when a group has
    fewer than two values or both are constant.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if _untestable(a, b):
        return math.nan, math.nan  # as welch_ttest: no test, no interval
    import scipy.stats  # slow to import: only when needed

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nearly constant samples
        interval = scipy.stats.ttest_ind(a, b, equal_var=False).confidence_interval(confidence)
    return float(interval.low), float(interval.high)


def hedges_g(a: Sequence[float], b: Sequence[float]) -> float:
    """Hedges' g of a vs b: the difference of means in units of the pooled s.d., corrected
    for small samples.

    g = J·(mean(a) − mean(b)) / s_p, with s_p² = ((n_a − 1)s_a² + (n_b − 1)s_b²) /
    (n_a + n_b − 2) (Cohen's d with the pooled s.d.) and J = 1 − 3 / (4(n_a + n_b) − 9).
    nan when a group has fewer than two values or both are constant.
    """
    n_a, n_b = len(a), len(b)
    if _untestable(a, b):
        return math.nan
    pooled = math.sqrt(((n_a - 1) * sample_sd(a) ** 2 + (n_b - 1) * sample_sd(b) ** 2)
                       / (n_a + n_b - 2))
    correction = 1 - 3 / (4 * (n_a + n_b) - 9)
    return correction * (float(np.mean(a)) - float(np.mean(b))) / pooled


def effect_size(a: Sequence[float], b: Sequence[float],
                confidence: float = 0.95) -> dict[str, float]:
    """The size of a vs b beside a t-test's p: ``difference`` mean(a) − mean(b), its Welch
    ``confidence`` interval ``ci_low``, ``ci_high`` (:func:`welch_ci`), ``confidence`` and
    ``hedges_g`` (:func:`hedges_g`)."""
    low, high = welch_ci(a, b, confidence)
    difference = float(np.mean(a)) - float(np.mean(b)) if len(a) and len(b) else math.nan
    return {"difference": difference, "ci_low": low, "ci_high": high,
            "confidence": confidence, "hedges_g": hedges_g(a, b)}


def ttest_row(score: str, locality: float | None, label_a: str, a: Sequence[float],
              label_b: str, b: Sequence[float]) -> dict[str, Any]:
    """One table row: both groups' n, mean, s.d., and Welch's t and p (a vs b).

    ``score`` is a score key of :mod:`jlonevae_lib.runs.metric_table` (shown by its label).
    """
    t, p = welch_ttest(a, b)
    return {
        "metric": describe(score, None), "locality": "global" if locality is None else locality,
        "group_a": label_a, "n_a": len(a), "mean_a": float(np.mean(a)), "sd_a": sample_sd(a),
        "group_b": label_b, "n_b": len(b), "mean_b": float(np.mean(b)), "sd_b": sample_sd(b),
        "t": t, "p": p,
    }


# Descriptive statistics.


def mean_sd(values: Sequence[float]) -> dict[str, float]:
    """``{"n", "mean", "sd"}`` of ``values``; sd with ddof 1 (nan below two values), mean nan
    when empty."""
    n = len(values)
    mean = math.fsum(values) / n if n else math.nan
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else math.nan
    return {"n": n, "mean": mean, "sd": sd}


def median_range(values: Sequence[float]) -> dict[str, float | int]:
    """Median, smallest and largest of ``values`` (any length; NaN when empty) and their
    count. Per-run times are wall clock, so a run whose process was suspended counts the
    pause; the median stays the typical figure where a mean ± s.d. would not."""
    if not values:
        return {"n": 0, "median": math.nan, "min": math.nan, "max": math.nan}
    return {"n": len(values), "median": statistics.median(values), "min": min(values),
            "max": max(values)}


def array_mean_sd(values: Sequence[float]) -> dict[str, float | int]:
    """``{"mean", "sd", "n"}`` computed by numpy (sd ddof 1, nan below two values): the
    natural-image report's, kept apart from :func:`mean_sd` (``math.fsum``) so that its numbers
    stay bit for bit what they were."""
    array = np.asarray(values, dtype=np.float64)
    return {"mean": float(array.mean()),
            "sd": float(array.std(ddof=1)) if len(array) > 1 else math.nan, "n": len(array)}


def finite_mean_sd(values: Sequence[float]) -> dict[str, float | int]:
    """:func:`array_mean_sd` of the finite values: a run none of whose columns is structured
    has no compactness, and n says how many runs have one."""
    finite = [value for value in values if math.isfinite(value)]
    return array_mean_sd(finite) if finite else {"mean": math.nan, "sd": math.nan, "n": 0}


# Spreads.


def difference_resolution(low: Mapping[str, float], high: Mapping[str, float],
                          standard_errors: float) -> dict[str, Any]:
    """How well two groups' means are told apart: ``low`` and ``high`` are ``{"n", "mean",
    "sd"}`` (:func:`mean_sd`); the difference low − high, its standard error
    sqrt(sd_low²/n_low + sd_high²/n_high) and whether |difference| > ``standard_errors`` of
    them (None when a standard error cannot be formed: a group with fewer than two values)."""
    difference = low["mean"] - high["mean"]
    variance = sum(stat["sd"] ** 2 / stat["n"] for stat in (low, high)
                   if stat["n"] > 1 and math.isfinite(stat["sd"]))
    complete = all(stat["n"] > 1 and math.isfinite(stat["sd"]) for stat in (low, high))
    standard_error = math.sqrt(variance) if complete else math.nan
    return {"difference": difference, "standard_error": standard_error,
            "resolved": (abs(difference) > standard_errors * standard_error) if complete
            else None}


def _finite_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def pooled_sd(stats: Sequence[Mapping[str, Any]]) -> float:
    """The s.d. pooled over groups given as ``{"n", "sd"}`` (:func:`mean_sd`, or as read back
    from JSON, where a missing s.d. is null): sqrt of Σ (n−1)·sd² / Σ (n−1) over the groups
    with two or more values and a finite s.d.; nan when there is none."""
    kept = [stat for stat in stats if stat.get("n", 0) > 1 and _finite_number(stat.get("sd"))]
    degrees = sum(stat["n"] - 1 for stat in kept)
    if not degrees:
        return math.nan
    return math.sqrt(math.fsum((stat["n"] - 1) * stat["sd"] ** 2 for stat in kept) / degrees)


def rms_sd(groups: Sequence[Sequence[float]]) -> dict[str, float | int]:
    """The root mean square of the s.d. (ddof 1) of each group with two or more values:
    ``sd``, and ``groups``, how many such groups there were (nan and 0 when none)."""
    spreads = [mean_sd(values)["sd"] for values in groups if len(values) > 1]
    rms = math.sqrt(math.fsum(sd ** 2 for sd in spreads) / len(spreads)) if spreads else math.nan
    return {"sd": rms, "groups": len(spreads)}
