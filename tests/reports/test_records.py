"""The study reports' shared reading of scores: records.py's pure helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jlonevae_lib.reports.records import evaluation_seed_mean, run_scores
from jlonevae_lib.runs.layout import kept_metric_name
from jlonevae_lib.runs.results import RunInfo
from tests.visualize.result_fixtures import evaluation_json, write_evaluation


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


def test_a_score_in_two_metrics_folders_comes_from_the_one_with_more_clusters(
        tmp_path: Path) -> None:
    """As the figures choose (runs.results.preferred_result), whatever the folders' order."""
    rng = np.random.default_rng(0)
    small = evaluation_json(0.1, "local_mig", 0.9, rng)
    small["evaluation_results.local_discrete_migs_samples"] = [0.9]
    write_evaluation(tmp_path, "a_small_local_mig", small)  # sorts first
    full = evaluation_json(0.1, "local_mig", 0.2, rng)
    full["evaluation_config.evaluation.random_seed"] = 0
    write_evaluation(tmp_path, "local_mig_0_1", full)
    notes: list[str] = []
    info = RunInfo(run_dir=tmp_path, group="g", method="jlone", label="JL1-VAE")
    values, _, own_seeds = run_scores(tmp_path, info, notes)
    assert values["local_mig_0_1"] == pytest.approx(np.mean(
        full["evaluation_results.local_discrete_migs_samples"]))
    assert own_seeds == {"local_mig_0_1": {0}}
    assert not any("duplicate" in note for note in notes)  # the larger config: no choice
