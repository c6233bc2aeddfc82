"""The study reports' shared reading of scores: records.py's pure helpers."""

from __future__ import annotations

import pytest

from jlonevae_lib.reports.records import evaluation_seed_mean
from jlonevae_lib.runs.layout import kept_metric_name


def test_the_seed_mean_averages_the_run_own_seed_and_the_extra_ones():
    values = {"local_mig_0_1": 0.1, "local_mig_0_1_evalseed1": 0.2,
              "local_mig_0_1_evalseed2": 0.6, "local_mig_0_2": 9.0}
    assert evaluation_seed_mean(values, "local_mig_0_1", [1, 2]) == pytest.approx(0.3, abs=1e-15)
    assert evaluation_seed_mean(values, "local_mig_0_1", [1]) == pytest.approx(0.15, abs=1e-15)
    assert evaluation_seed_mean(values, "local_mig_0_1", []) == 0.1


def test_a_missing_seed_gives_no_mean():
    values = {"local_mig_0_1": 0.1, "local_mig_0_1_evalseed2": 0.6}
    assert evaluation_seed_mean(values, "local_mig_0_1", [1, 2]) is None
    assert evaluation_seed_mean({}, "local_mig_0_1", []) is None


def test_the_keys_can_be_placed_at_a_kept_model():
    def at(key: str) -> str:
        return kept_metric_name(key, 8000)

    values = {at("local_mig_0_1"): 0.25, at("local_mig_0_1_evalseed1"): 0.75,
              "local_mig_0_1": 5.0, "local_mig_0_1_evalseed1": 5.0}
    assert evaluation_seed_mean(values, "local_mig_0_1", [1], key_of=at) == 0.5
