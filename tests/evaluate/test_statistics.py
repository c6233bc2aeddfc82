"""Welch's t-test and the t-test table rows shared by study summaries and figures."""

from __future__ import annotations

import math

import pytest
import scipy.stats

from jlonevae_lib.evaluate.statistics import sample_sd, ttest_row, welch_ttest
from jlonevae_lib.runs.metric_table import LOCAL_MIG, MODULARITY


def test_welch_ttest_matches_scipy_and_refuses_tiny_samples() -> None:
    a, b = [0.12, 0.14, 0.11, 0.13], [0.06, 0.05, 0.08]
    t, p = welch_ttest(a, b)
    expected = scipy.stats.ttest_ind(a, b, equal_var=False)
    assert (t, p) == pytest.approx((expected.statistic, expected.pvalue))
    assert all(math.isnan(v) for v in welch_ttest([0.1], b))
    assert all(math.isnan(v) for v in welch_ttest([0.1, 0.1], [0.1, 0.1]))


def test_sample_sd_uses_ddof_one() -> None:
    assert sample_sd([1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert math.isnan(sample_sd([1.0]))


def test_ttest_row_labels_the_score_and_locality() -> None:
    row = ttest_row(LOCAL_MIG, 0.1, "A", [0.3, 0.4, 0.5], "B", [0.1, 0.2])
    assert (row["metric"], row["locality"], row["n_a"], row["n_b"]) == ("local MIG", 0.1, 3, 2)
    assert (row["mean_a"], row["sd_a"]) == pytest.approx((0.4, 0.1))
    assert row["t"] == pytest.approx(welch_ttest([0.3, 0.4, 0.5], [0.1, 0.2])[0])
    assert ttest_row(MODULARITY, None, "A", [1.0], "B", [2.0])["locality"] == "global"
