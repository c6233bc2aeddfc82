"""The results reader describes a run by its config.json, by its folder name only without one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jlonevae_lib.runs import layout
from jlonevae_lib.runs.results import (
    GAMMA0,
    JL2,
    discover_results,
    method_from_experiment_name,
    our_run_info,
    settings_from_config,
)
from tests.visualize.result_fixtures import JL1_EXPERIMENT, write_all_metrics

#: A run config as the trainer writes it (the keys the reader uses, and a few others).
CONFIG = {"architecture": "defaultConv", "beta": 4.0, "gamma": 0.1, "latent_dim": 3,
          "batch_size": 64, "lr": 0.001, "annealing_batches": 700, "seed": 2,
          "regularization_type": "jltwo", "dataset": "threeDots", "objective": "jlonevae"}


def write_run(models: Path, experiment: str, run: str, config: dict | None) -> Path:
    run_dir = models / experiment / run
    write_all_metrics(run_dir, 0.0, np.random.default_rng(0))
    if config is not None:
        layout.config_path(run_dir).write_text(json.dumps(config))
    return run_dir


def test_the_config_names_method_and_gamma_whatever_the_folder(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, "defaultConv_beta_vae_beta4_0000_lat3", "seed2",
                        {**CONFIG, "gamma": 0.0, "regularization_type": "jlone"})
    run = our_run_info(run_dir)
    assert run is not None
    assert (run.method, run.gamma, run.label) == (GAMMA0, 0.0, "β-VAE (γ=0)")
    assert run.group == "defaultConv_beta_vae_beta4_0000_lat3"
    # Settings read from a config compare equal to those read from a reference folder name.
    assert run.settings == method_from_experiment_name(JL1_EXPERIMENT)[2]


def test_the_config_wins_over_the_folder_name(tmp_path: Path) -> None:
    # A JL1 folder name, but the config says JL2 with γ = 0.1.
    run = our_run_info(write_run(tmp_path, JL1_EXPERIMENT, "seed2", CONFIG))
    assert run is not None and (run.method, run.label) == (JL2, "JL2-VAE (γ=0.1)")


def test_without_a_usable_config_the_folder_name_tells(tmp_path: Path) -> None:
    assert settings_from_config({"seed": 1}) is None
    assert settings_from_config({**CONFIG, "gamma": "0.1"}) is None
    for config in (None, {"seed": 2}):
        run_dir = write_run(tmp_path / str(config is None), JL1_EXPERIMENT, "seed2", config)
        run = our_run_info(run_dir)
        assert run is not None and (run.method, run.gamma) == ("jlone", 0.1)
    broken = write_run(tmp_path / "broken", JL1_EXPERIMENT, "seed2", None)
    layout.config_path(broken).write_text("{not json")
    assert our_run_info(broken).method == "jlone"
    assert our_run_info(write_run(tmp_path, "other", "seed1", None)) is None


def test_records_are_named_by_the_metric_table(tmp_path: Path) -> None:
    write_run(tmp_path, "any_name", "seed2", CONFIG)
    results = discover_results(tmp_path)
    names = {record.name for record in results.records}
    assert {"local_mig_1_0", "local_modularity_0_1", "mig",
            "modularity_explicitness"} <= names
    assert "local_mig_1" not in names
    assert {run.label for run in results.runs()} == {"JL2-VAE (γ=0.1)"}


def test_a_baseline_with_the_penalty_is_apart_from_the_plain_baseline(tmp_path: Path) -> None:
    """issue 27: FactorVAE + JL1 is another method than FactorVAE, grouped by its experiment."""
    factor = {**CONFIG, "objective": "factor_vae", "objective_params": {"gamma": 30.0},
              "architecture": "dlibConv", "annealing_batches": 0}
    plain = our_run_info(write_run(tmp_path, "dlibConv_factor_vae_gamma30_0000_lat3", "seed2",
                                   {**factor, "gamma": 0.0}))
    assert plain is not None and (plain.method, plain.group, plain.label, plain.gamma) == (
        "factor_vae", "baseline:factor_vae", "FactorVAE", None)
    experiment = "dlibConv_factor_vae_gamma30_0000_jltwo_ica0_1000_lat3"
    penalised = our_run_info(write_run(tmp_path, experiment, "seed2", factor))
    assert penalised is not None and (penalised.method, penalised.group, penalised.label,
                                      penalised.gamma) == (
        "factor_vae+jltwo", experiment, "FactorVAE + JL2 (γ=0.1)", 0.1)
    # β-VAE with the penalty is JL1-VAE (the same loss): it compares as ours.
    beta = our_run_info(write_run(tmp_path, "dlibConv_beta_vae_ica", "seed2",
                                  {**CONFIG, "objective": "beta_vae", "regularization_type":
                                   "jlone"}))
    assert beta is not None and (beta.method, beta.gamma) == ("jlone", 0.1)
