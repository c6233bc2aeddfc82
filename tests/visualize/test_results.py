"""Result discovery: layouts, method names, values, and notes on missing or odd files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from jlonevae_lib.evaluate.evaluation import gin_dict, write_results
from jlonevae_lib.visualize.results import (
    GAMMA0,
    JL1,
    JL2,
    LOCAL_MIG,
    LOCAL_MODULARITY,
    MIG,
    MODULARITY,
    RunInfo,
    discover_results,
    evaluation_records,
    find_model_runs,
    method_from_experiment_name,
)
from tests.visualize.result_fixtures import (
    BETA_EXPERIMENT,
    JL1_EXPERIMENT,
    LOCALITIES,
    evaluation_json,
    write_evaluation,
)


def test_method_from_experiment_name() -> None:
    assert method_from_experiment_name(JL1_EXPERIMENT) == (
        JL1, 0.1, "defaultConv_beta4_0000_lat3_batch64_lr0_0010_anneal700")
    method, gamma, settings = method_from_experiment_name(BETA_EXPERIMENT)
    assert (method, gamma) == (GAMMA0, 0.0)
    assert settings == method_from_experiment_name(JL1_EXPERIMENT)[2]
    assert method_from_experiment_name(
        "tiny16_jltwo_beta0_0100_ica0_0100_lat10_batch128_lr0_0010")[:2] == (JL2, 0.01)
    assert method_from_experiment_name("some_other_folder") is None


def test_evaluation_records_from_hand_made_json(tmp_path: Path) -> None:
    run = RunInfo(run_dir=tmp_path, group="g", method=JL1, label="JL1")
    local = {"evaluation_config.local_sample_factors.locality_proportion": "0.3",
             "evaluation_config.dataset.name": "'threeDots'",
             "evaluation_results.local_discrete_migs_samples": [0.1, 0.2, 0.3],
             "evaluation_results.local_discrete_mig": 99.0}
    (record,) = evaluation_records(local, run, tmp_path)
    # The per-cluster samples win over a scalar, and give the run's value as their mean.
    assert (record.metric, record.locality, record.dataset) == (LOCAL_MIG, 0.3, "threeDots")
    assert record.value == pytest.approx(0.2) and record.samples == (0.1, 0.2, 0.3)
    modularity = {"evaluation_config.local_sample_factors.locality_proportion": 1.0,
                  "evaluation_results.local_modularity_score": 0.7}
    (record,) = evaluation_records(modularity, run, tmp_path)
    assert (record.metric, record.locality, record.value) == (LOCAL_MODULARITY, 1.0, 0.7)
    global_file = {"evaluation_results.discrete_mig": 0.02,
                   "evaluation_results.modularity_score": 0.9}
    found = evaluation_records(global_file, run, tmp_path)
    assert {(r.metric, r.locality, r.value) for r in found} == {
        (MIG, None, 0.02), (MODULARITY, None, 0.9)}
    assert evaluation_records({"evaluation_results.elapsed_time": 3}, run, tmp_path) == []


def test_discovery_groups_runs_by_experiment_and_method(results_tree: Path) -> None:
    results = discover_results(results_tree / "trainedModels",
                               results_tree / "trainedStandardModels")
    assert results.notes == []
    labels = results.labels()
    assert labels == {
        JL1_EXPERIMENT: "JL1-VAE (γ=0.1)",
        BETA_EXPERIMENT: "β-VAE (γ=0)",
        "defaultConv_lone_beta4_0000_ica0_2000_lat3_batch64_lr0_0010_anneal700":
            "JL1-VAE (γ=0.2)",
        "defaultConv_jltwo_beta4_0000_ica0_1000_lat3_batch64_lr0_0010_anneal700":
            "JL2-VAE (γ=0.1)",
        # One from train_config.model.name, one from the model number 400 = FactorVAE hp 2.
        "baseline:beta_vae": "β-VAE (dlib)",
        "baseline:factor_vae": "FactorVAE",
    }
    assert results.localities(LOCAL_MIG) == list(LOCALITIES)
    values = results.values_by_group(LOCAL_MIG, 0.1)
    assert len(values[JL1_EXPERIMENT]) == 3 and len(values["baseline:factor_vae"]) == 2
    assert np.mean(values[JL1_EXPERIMENT]) > np.mean(values[BETA_EXPERIMENT])
    (record,) = results.select(LOCAL_MIG, 0.1, [JL1_EXPERIMENT])[:1]
    assert record.value == pytest.approx(np.mean(record.samples))
    assert len(results.select(MIG)) == 3 + 3 + 2 + 2 + 4
    assert "β-VAE (dlib): 2 run(s)" in results.report()


def test_discovery_filters_by_pattern_and_dataset(results_tree: Path) -> None:
    models = results_tree / "trainedModels"
    only = discover_results(models, include=["*_ica0_1000_*"])
    assert {run.group for run in only.runs()} == {
        JL1_EXPERIMENT, "defaultConv_jltwo_beta4_0000_ica0_1000_lat3_batch64_lr0_0010_anneal700"}
    assert discover_results(models, dataset="mpi3d_multi").records == []
    assert discover_results(models, dataset="threeDots").records


def test_discovery_reads_only_the_runs_given(results_tree: Path) -> None:
    models, baselines = results_tree / "trainedModels", results_tree / "trainedStandardModels"
    everything = discover_results(models, baselines)
    jl1_runs = sorted({r.run.run_dir for r in everything.records
                       if r.run.group == JL1_EXPERIMENT})
    one_baseline = next(r.run.run_dir for r in everything.records
                        if r.run.group == "baseline:factor_vae")
    # A relative spelling of a folder names the same run.
    chosen = [*jl1_runs[:2], Path(os.path.relpath(one_baseline))]
    only = discover_results(models, baselines, runs=chosen)
    assert {r.run.run_dir.resolve() for r in only.records} == {
        run.resolve() for run in (*jl1_runs[:2], one_baseline)}
    assert len(only.values_by_group(LOCAL_MIG, 0.1)[JL1_EXPERIMENT]) == 2
    assert only.notes == []
    assert discover_results(models, runs=[]).records == []


def test_discovery_reports_missing_partial_and_broken_results(results_tree: Path,
                                                               tmp_path: Path) -> None:
    models = tmp_path / "trainedModels"
    shutil.copytree(results_tree / "trainedModels" / JL1_EXPERIMENT, models / JL1_EXPERIMENT)
    seed2 = models / JL1_EXPERIMENT / "seed2" / "metrics"
    shutil.rmtree(seed2 / "local_mig_0_3")  # partial: one locality missing
    (seed2 / "local_mig_0_6" / "results" / "aggregate" / "evaluation.json").write_text("{trunc")
    write_evaluation(models / JL1_EXPERIMENT / "seed3", "custom", {"evaluation_results.x": 1})
    # The same metric twice (a small config beside the full one): the one with more clusters wins.
    rng = np.random.default_rng(0)
    small = evaluation_json(0.1, "local_mig", 0.5, rng)
    small["evaluation_results.local_discrete_migs_samples"] = [0.5]
    write_evaluation(models / JL1_EXPERIMENT / "seed1", "small_local_mig_0_1", small)
    # A run with a model and no metrics.
    (models / BETA_EXPERIMENT / "seed1" / "representation").mkdir(parents=True)

    results = discover_results(models, tmp_path / "missingBaselines")
    notes = "\n".join(results.notes)
    assert "missingBaselines does not exist" in notes
    assert "seed2 has no local MIG at locality 0.3, 0.6" in notes
    assert "not readable JSON" in notes
    assert "custom" in notes and "has no local MIG" in notes
    assert "duplicate" not in notes  # the small config's beside the full one: no choice to note
    seed1 = [r for r in results.select(LOCAL_MIG, 0.1) if r.run.run_dir.name == "seed1"]
    assert len(seed1) == 1 and "seed1/metrics/local_mig_0_1/" in str(seed1[0].source)
    assert f"not evaluated: {models / BETA_EXPERIMENT / 'seed1'}" in notes
    assert len(results.select(LOCAL_MIG, 0.1)) == 3
    assert all(len(r.samples) == 4 for r in results.select(LOCAL_MIG, 0.1))


def test_runs_scored_from_different_metric_configs_are_noted(results_tree: Path,
                                                              tmp_path: Path) -> None:
    """A score a run has in two metrics folders comes from the one with more clusters; runs
    whose score still comes from different folders (configs that sample differently) are
    noted, naming the folders and how many runs each gave."""
    models = tmp_path / "trainedModels"
    shutil.copytree(results_tree / "trainedModels" / JL1_EXPERIMENT, models / JL1_EXPERIMENT)
    rng = np.random.default_rng(0)
    beta = models / BETA_EXPERIMENT / "seed1"  # another arm: only the small config
    write_evaluation(beta, "small_local_mig", evaluation_json(0.1, "local_mig", 0.2, rng))
    results = discover_results(models)
    used = {r.run.run_dir: r.source.parts[-4] for r in results.select(LOCAL_MIG, 0.1)}
    assert used[beta] == "small_local_mig"
    assert {used[run] for run in used if run != beta} == {"local_mig_0_1"}
    notes = "\n".join(results.notes)
    assert ("mixed configs: local MIG @0.1 comes from different metrics folders "
            "(local_mig_0_1 (3 runs), small_local_mig (1 run))") in notes
    assert "mixed configs: local MIG @0.3" not in notes  # one folder for every run there


def test_find_model_runs(results_tree: Path) -> None:
    models = results_tree / "trainedModels"
    assert [run.group for run in find_model_runs(models)] == [BETA_EXPERIMENT, JL1_EXPERIMENT]
    (run,) = find_model_runs(models, method=JL1, gamma=0.1)
    assert run.run_dir == models / JL1_EXPERIMENT / "seed1"
    assert run.title == "JL1-VAE (γ=0.1)\nseed1"
    assert find_model_runs(models, method=JL1, gamma=0.2) == []
    assert find_model_runs(models, include=["nothing*"]) == []


def test_discovery_reads_what_the_evaluator_writes(tmp_path: Path) -> None:
    """Files from jlonevae_lib.evaluate's own writer (the main job's small metrics)."""
    run_dir = tmp_path / "trainedModels" / JL1_EXPERIMENT / "seed1"
    local_gin = ("dataset.name = 'threeDots'\nevaluation.name = 'small_local_mig'\n"
                 "local_sample_factors.locality_proportion = 0.1\n")
    write_results(run_dir, "small_local_mig",
                  {"discrete_mig": 0.2, "local_discrete_migs_samples": [0.1, 0.2, 0.3]},
                  local_gin, gin_dict(local_gin), {})
    modularity_gin = local_gin.replace("small_local_mig", "small_local_modularity")
    write_results(run_dir, "small_local_modularity",
                  {"modularity_score": 0.8, "local_modularity_scores_samples": [0.7, 0.9]},
                  modularity_gin, gin_dict(modularity_gin), {})
    global_gin = "dataset.name = 'threeDots'\nevaluation.name = 'mig'\n"
    write_results(run_dir, "mig", {"discrete_mig": 0.01}, global_gin, gin_dict(global_gin), {})

    results = discover_results(tmp_path / "trainedModels")
    assert results.notes == []
    found = {(r.metric, r.locality): (r.value, r.dataset) for r in results.records}
    assert found == {(LOCAL_MIG, 0.1): (pytest.approx(0.2), "threeDots"),
                     (LOCAL_MODULARITY, 0.1): (pytest.approx(0.8), "threeDots"),
                     (MIG, None): (0.01, "threeDots")}
