"""Welch's t-test, its confidence interval, Hedges' g, Holm's correction, the t-test table
rows shared by study summaries and figures, and the spreads the reports quote."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from jlonevae_lib.evaluate.statistics import (
    difference_resolution,
    effect_size,
    hedges_g,
    holm_adjust,
    pooled_sd,
    rms_sd,
    sample_sd,
    ttest_row,
    welch_ci,
    welch_ttest,
)
from jlonevae_lib.runs.metric_table import LOCAL_MIG, MODULARITY


def test_welch_ttest_matches_scipy_and_refuses_tiny_samples() -> None:
    a, b = [0.12, 0.14, 0.11, 0.13], [0.06, 0.05, 0.08]
    t, p = welch_ttest(a, b)
    expected = scipy.stats.ttest_ind(a, b, equal_var=False)
    assert (t, p) == pytest.approx((expected.statistic, expected.pvalue))
    assert all(math.isnan(v) for v in welch_ttest([0.1], b))
    assert all(math.isnan(v) for v in welch_ttest([0.1, 0.1], [0.1, 0.1]))


def test_two_different_constant_groups_are_not_tested() -> None:
    # scipy says t = -inf, p = 0; with no spread there is no test, and the interval and g
    # agree with the p-value about that.
    a, b = [0.1, 0.1, 0.1], [0.2, 0.2, 0.2]
    assert all(math.isnan(v) for v in welch_ttest(a, b))
    assert all(math.isnan(v) for v in welch_ci(a, b))
    assert math.isnan(hedges_g(a, b))
    # One constant group is testable: the other's spread measures the difference.
    t, p = welch_ttest(a, [0.2, 0.25, 0.3])
    assert t < 0 and 0 < p < 1
    assert not math.isnan(hedges_g(a, [0.2, 0.25, 0.3]))


def test_sample_sd_uses_ddof_one() -> None:
    assert sample_sd([1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert math.isnan(sample_sd([1.0]))


def test_ttest_row_labels_the_score_and_locality() -> None:
    row = ttest_row(LOCAL_MIG, 0.1, "A", [0.3, 0.4, 0.5], "B", [0.1, 0.2])
    assert (row["metric"], row["locality"], row["n_a"], row["n_b"]) == ("local MIG", 0.1, 3, 2)
    assert (row["mean_a"], row["sd_a"]) == pytest.approx((0.4, 0.1))
    assert row["t"] == pytest.approx(welch_ttest([0.3, 0.4, 0.5], [0.1, 0.2])[0])
    assert ttest_row(MODULARITY, None, "A", [1.0], "B", [2.0])["locality"] == "global"


def _holm_as_statsmodels(pvalues: list[float]) -> list[float]:
    """statsmodels' ``multipletests(method="holm")`` written out: sort, multiply the i-th
    smallest (from 0) by m − i, running maximum, clip at 1, back to the input order."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    corrected = np.minimum(1, np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p)))))
    out = np.empty_like(corrected)
    out[order] = corrected
    return out.tolist()


def test_holm_adjust_golden_values() -> None:
    # m = 4: 0.005·4 = 0.02; 0.01·3 = 0.03; 0.03·2 = 0.06; 0.04·1 = 0.04 -> 0.06 (monotone).
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # The seven-arm study's seed-0 family (local MIG at 0.1, rounded raw p): only the last
    # survives at 0.05, though four are below it raw.
    raw = [0.021, 0.27, 0.010, 0.022, 0.051, 0.068, 0.00025]
    adjusted = holm_adjust(raw)
    assert adjusted == pytest.approx([0.105, 0.27, 0.06, 0.105, 0.153, 0.153, 0.00175])
    assert [p <= 0.05 for p in adjusted] == [False] * 6 + [True]
    rng = np.random.default_rng(0)
    for size in (1, 2, 5, 12):
        pvalues = rng.uniform(0, 0.3, size).tolist()
        assert holm_adjust(pvalues) == pytest.approx(_holm_as_statsmodels(pvalues))


def test_holm_adjust_edge_cases() -> None:
    assert holm_adjust([]) == []
    assert holm_adjust([0.03]) == [0.03]  # one test: no correction
    assert holm_adjust([0.5, 0.6, 0.7]) == [1.0, 1.0, 1.0]  # capped at 1
    assert holm_adjust([0.02, 0.02]) == [0.04, 0.04]  # ties
    # NaN (a test not made) stays NaN and is not counted: m = 2 here.
    adjusted = holm_adjust([0.01, math.nan, 0.04])
    assert adjusted[0] == pytest.approx(0.02) and adjusted[2] == pytest.approx(0.04)
    assert math.isnan(adjusted[1])
    # Counted (a family fixed in advance): as if that p were 1, m = 3.
    adjusted = holm_adjust([0.01, math.nan, 0.04], count_untested=True)
    assert adjusted[0] == pytest.approx(0.03) and adjusted[2] == pytest.approx(0.08)
    assert math.isnan(adjusted[1])
    assert holm_adjust([0.01, math.nan], count_untested=True)[0] == pytest.approx(0.02)
    # Never below the raw p, and the order of the raw p-values is kept.
    raw = [0.001, 0.2, 0.03, 0.03, 0.5, 0.0101]
    adjusted = holm_adjust(raw)
    assert all(a >= r for a, r in zip(adjusted, raw, strict=True))
    ranked = sorted(range(len(raw)), key=raw.__getitem__)
    assert all(adjusted[i] <= adjusted[j] for i, j in zip(ranked[:-1], ranked[1:], strict=True))


def test_welch_ci_matches_scipy_and_the_t_test() -> None:
    a, b = [0.12, 0.14, 0.11, 0.13], [0.06, 0.05, 0.08]
    expected = scipy.stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert welch_ci(a, b) == pytest.approx((expected.low, expected.high))
    wide = scipy.stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.99)
    assert welch_ci(a, b, 0.99) == pytest.approx((wide.low, wide.high))
    # Written out: difference ± t(0.975, Welch–Satterthwaite df) · SE.
    va, vb = np.var(a, ddof=1) / 4, np.var(b, ddof=1) / 3
    df = (va + vb) ** 2 / (va ** 2 / 3 + vb ** 2 / 2)
    half = scipy.stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert welch_ci(a, b) == pytest.approx((0.125 - 0.19 / 3 - half, 0.125 - 0.19 / 3 + half))
    # The interval excludes 0 exactly when p < 0.05.
    c, d = [0.07, 0.05, 0.09, 0.06], [0.05, 0.06, 0.04, 0.05]
    low, high = welch_ci(c, d)
    assert (low > 0) == (welch_ttest(c, d)[1] < 0.05)


def test_welch_ci_edge_cases() -> None:
    assert all(math.isnan(v) for v in welch_ci([0.1], [0.1, 0.2]))
    assert all(math.isnan(v) for v in welch_ci([0.1, 0.1], [0.2, 0.2]))  # both constant
    low, high = welch_ci([0.1, 0.1], [0.2, 0.3])  # one constant: the other's spread
    assert low < -0.15 < high
    with pytest.raises(ValueError):
        welch_ci([0.1, 0.2], [0.3, 0.4], confidence=1.0)


def test_hedges_g_golden_value() -> None:
    a, b = [0.12, 0.14, 0.11, 0.13], [0.06, 0.05, 0.08]
    # s_a² = 5e-4 / 3, s_b² = 4.6667e-4 / 2; pooled s² = (3 s_a² + 2 s_b²) / 5 = 1.93333e-4;
    # d = (0.125 − 0.063333) / 0.0139044 = 4.43502; J = 1 − 3 / (4·7 − 9) = 16/19.
    pooled = math.sqrt((5e-4 + 14e-4 / 3) / 5)
    assert hedges_g(a, b) == pytest.approx(16 / 19 * (0.125 - 0.19 / 3) / pooled)
    assert hedges_g(a, b) == pytest.approx(3.734767, rel=1e-6)
    assert hedges_g(b, a) == pytest.approx(-hedges_g(a, b))
    assert math.isnan(hedges_g([0.1], b)) and math.isnan(hedges_g([0.1, 0.1], [0.2, 0.2]))


def test_effect_size_gathers_the_three() -> None:
    a, b = [0.3, 0.4, 0.5], [0.1, 0.2]
    size = effect_size(a, b)
    assert size["difference"] == pytest.approx(0.25)
    assert (size["ci_low"], size["ci_high"]) == pytest.approx(welch_ci(a, b))
    assert size["hedges_g"] == pytest.approx(hedges_g(a, b)) and size["confidence"] == 0.95


def test_difference_resolution() -> None:
    low, high = {"n": 5, "mean": 0.06, "sd": 0.01}, {"n": 4, "mean": 0.05, "sd": 0.02}
    row = difference_resolution(low, high, 2.0)
    se = math.sqrt(0.01 ** 2 / 5 + 0.02 ** 2 / 4)
    assert row["difference"] == pytest.approx(0.01) and row["standard_error"] == pytest.approx(se)
    assert row["resolved"] is False  # 0.01 < 2 · 0.0110
    assert difference_resolution(low, {**high, "sd": 0.001}, 2.0)["resolved"] is True
    assert difference_resolution(low, high, 0.5)["resolved"] is True
    one = difference_resolution(low, {"n": 1, "mean": 0.0, "sd": math.nan}, 2.0)
    assert one["resolved"] is None and math.isnan(one["standard_error"])


def test_pooled_sd_and_the_rms_of_group_sds() -> None:
    groups = [{"n": 3, "sd": 0.1}, {"n": 5, "sd": 0.2}, {"n": 1, "sd": math.nan},
              {"n": 2, "sd": None}, {}]  # one value, a null s.d. (JSON), nothing: left out
    assert pooled_sd(groups) == pytest.approx(math.sqrt((2 * 0.01 + 4 * 0.04) / 6))
    assert math.isnan(pooled_sd(groups[2:]))
    spread = rms_sd([[0.1, 0.2, 0.3], [0.1, 0.1], [0.5]])  # sds 0.1 and 0; one value: none
    assert spread["groups"] == 2 and spread["sd"] == pytest.approx(math.sqrt(0.01 / 2))
    assert rms_sd([[0.5]]) == {"sd": pytest.approx(math.nan, nan_ok=True), "groups": 0}
