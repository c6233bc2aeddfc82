"""The results reader describes a run by its config.json, by its folder name only without one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jlonevae_lib.runs import layout
from jlonevae_lib.runs.results import (
    GAMMA0,
    JL2,
    MetricResult,
    discover_results,
    duplicate_note,
    method_from_experiment_name,
    our_run_info,
    preferred_result,
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


def _arms(results) -> dict[str, tuple[str, int]]:
    """{group: (label, runs)} of the results found."""
    runs = results.runs()
    return {run.group: (run.label, sum(r.group == run.group for r in runs)) for run in runs}


def test_a_baseline_at_two_settings_is_two_arms(tmp_path: Path) -> None:
    """Pooled, the runs of two FactorVAE γ (or a plug-in at two parameter values) would make
    one violin and one t-test that describe neither setting."""
    factor = {**CONFIG, "objective": "factor_vae", "gamma": 0.0, "regularization_type": "jlone",
              "architecture": "dlibConv"}
    for seed in ("seed1", "seed2"):
        write_run(tmp_path, "dlibConv_factor_vae_gamma30_0000_lat3", seed,
                  {**factor, "objective_params": {"gamma": 30.0}})
    write_run(tmp_path, "dlibConv_factor_vae_gamma10_0000_lat3", "seed1",
              {**factor, "objective_params": {"gamma": 10.0}, "beta": 1.0})
    plugin = {**CONFIG, "objective": "beta_l2mu", "gamma": 0.0, "regularization_type": "jlone"}
    write_run(tmp_path, "defaultConv_beta_l2mu_lam0_1", "seed1",
              {**plugin, "objective_params": {"beta": 4.0, "lam": 0.1}})
    write_run(tmp_path, "defaultConv_beta_l2mu_lam0_5", "seed1",
              {**plugin, "objective_params": {"beta": 4.0, "lam": 0.5}})
    results = discover_results(tmp_path)
    # FactorVAE reads no β: the older run's β = 1 does not make a third setting.
    assert _arms(results) == {
        "baseline:factor_vae:gamma=10": ("FactorVAE (gamma=10)", 1),
        "baseline:factor_vae:gamma=30": ("FactorVAE (gamma=30)", 2),
        "baseline:beta_l2mu:lam=0.1": ("beta_l2mu (lam=0.1)", 1),
        "baseline:beta_l2mu:lam=0.5": ("beta_l2mu (lam=0.5)", 1),
    }
    assert ("split: the FactorVAE runs have 2 settings (they differ in gamma); each is an arm "
            "of its own") in results.notes
    assert len(results.records) == 5 * len({record.name for record in results.records})


#: A FactorVAE run's config as the trainer writes it, without its objective's parameters.
FACTOR_VAE = {**CONFIG, "objective": "factor_vae", "gamma": 0.0, "regularization_type": "jlone",
              "architecture": "dlibConv"}


def write_factor_vae_at_two_gammas(models: Path) -> dict:
    """FactorVAE seed 1 at γ = 10 and at γ = 30 (folders ``f10``, ``f30``): two arms."""
    for gamma in (10.0, 30.0):
        write_run(models, f"f{gamma:g}", "seed1",
                  {**FACTOR_VAE, "objective_params": {"gamma": gamma}})
    return FACTOR_VAE


def test_include_picks_a_split_arm_by_its_own_name(tmp_path: Path) -> None:
    write_factor_vae_at_two_gammas(tmp_path)
    write_run(tmp_path, JL1_EXPERIMENT, "seed1", {**CONFIG, "regularization_type": "jlone"})

    def arms(*include: str) -> set[str]:
        return set(_arms(discover_results(tmp_path, include=include)))

    assert arms("baseline:factor_vae:gamma=30") == {"baseline:factor_vae:gamma=30"}
    both = {"baseline:factor_vae:gamma=10", "baseline:factor_vae:gamma=30"}
    assert arms("baseline:factor_vae") == arms("baseline:factor_vae*") == both
    assert arms(JL1_EXPERIMENT) == {JL1_EXPERIMENT}
    assert arms("nothing*") == set()


def test_runs_left_out_by_include_rename_no_arm_and_nested_baselines_stay(
        tmp_path: Path) -> None:
    factor = {**FACTOR_VAE, "objective_params": {"gamma": 30.0}}
    models, baselines = tmp_path / "trainedModels", tmp_path / "trainedModels" / "standard"
    write_run(models, "dlibConv_factor_vae_short", "seed1", {**factor, "num_batches": 8000})
    write_run(baselines, "dlibConv_factor_vae_long", "seed1", {**factor, "num_batches": 300000})
    write_run(models, JL1_EXPERIMENT, "seed1", {**CONFIG, "regularization_type": "jlone"})
    # Without a filter the two lengths are two arms; the short runs left out, the baselines
    # folder's (read once, though it lies inside the models folder) is FactorVAE again.
    assert set(_arms(discover_results(models, baselines))) == {
        JL1_EXPERIMENT, "baseline:factor_vae:num_batches=300000",
        "baseline:factor_vae:num_batches=8000"}
    results = discover_results(models, baselines, include=["*_lone_*"])
    assert _arms(results) == {JL1_EXPERIMENT: ("JL1-VAE (γ=0.1)", 1),
                              "baseline:factor_vae": ("FactorVAE", 1)}
    assert not any(note.startswith(("split:", "duplicate:")) for note in results.notes)


def test_a_picked_setting_is_one_arm_across_both_folders(tmp_path: Path) -> None:
    models, baselines = tmp_path / "trainedModels", tmp_path / "standard"
    write_factor_vae_at_two_gammas(models)
    write_run(baselines, "f30", "seed2", {**FACTOR_VAE, "objective_params": {"gamma": 30.0}})
    results = discover_results(models, baselines, include=["baseline:factor_vae:gamma=30"])
    assert _arms(results) == {"baseline:factor_vae:gamma=30": ("FactorVAE (gamma=30)", 2)}


def test_a_linked_run_in_a_nested_baselines_folder_is_read_once(tmp_path: Path) -> None:
    models = tmp_path / "trainedModels"
    write_run(models, JL1_EXPERIMENT, "seed1", {**CONFIG, "regularization_type": "jlone"})
    stored = write_run(tmp_path / "store", "f30", "seed1",
                       {**FACTOR_VAE, "objective_params": {"gamma": 30.0}})
    (models / "standard").mkdir()
    (models / "standard" / "f30").symlink_to(stored)  # a baseline one level down, linked
    for include in ([], ["nothing"]):
        results = discover_results(models, models / "standard", include=include)
        assert "baseline:factor_vae" in _arms(results)
        assert not any(note.startswith("duplicate:") for note in results.notes)


def test_a_run_not_evaluated_is_noted_when_its_split_arm_is_picked(tmp_path: Path) -> None:
    factor = write_factor_vae_at_two_gammas(tmp_path)
    bare = tmp_path / "f30" / "seed2"
    layout.torchscript_path(bare).parent.mkdir(parents=True)
    layout.torchscript_path(bare).write_bytes(b"model")
    layout.config_path(bare).write_text(json.dumps({**factor, "objective_params": {"gamma": 30}}))
    notes = discover_results(tmp_path, include=["baseline:factor_vae:gamma=30"]).notes
    assert f"not evaluated: {bare} has a model but no evaluation results" in notes


def test_a_baseline_at_one_setting_stays_one_arm(tmp_path: Path) -> None:
    """Runs that differ only per run (seed, places, logging) or in what the method does not
    read (β of FactorVAE, the penalty's settings at γ = 0), or where one run's older config
    lacks a setting, are one setting."""
    factor = {**CONFIG, "objective": "factor_vae", "gamma": 0.0, "regularization_type": "jlone",
              "objective_params": {"gamma": 30.0}}
    write_run(tmp_path, "a", "seed1", {**factor, "seed": 1, "beta": 1.0})
    write_run(tmp_path, "a", "seed2", {**factor, "seed": 2, "jacobian_batch": 16,
                                       "log_interval": 7, "output_dir": "elsewhere",
                                       "objective_params": {"gamma": 30}})
    older = {key: value for key, value in factor.items() if key != "batch_size"}
    write_run(tmp_path, "a", "seed3", {**older, "seed": 3})
    results = discover_results(tmp_path)
    assert _arms(results) == {"baseline:factor_vae": ("FactorVAE", 3)}
    assert not any(note.startswith("split:") for note in results.notes)


def test_disentanglement_lib_models_at_two_grid_points_are_two_arms(tmp_path: Path) -> None:
    """disentanglement_lib's numbered models tell their setting by their model number."""
    from jlonevae_lib.runs.study_numbering import model_number
    baselines = tmp_path / "baselines"
    for hp_index, seed in ((2, 0), (2, 1), (0, 0)):
        run_dir = baselines / str(model_number("beta_vae", hp_index, seed))
        write_all_metrics(run_dir, 0.0, np.random.default_rng(seed))
    results = discover_results(None, baselines)
    assert {group: count for group, (_, count) in _arms(results).items()} == {
        "baseline:beta_vae:beta=1": 1, "baseline:beta_vae:beta=4": 2}


def test_a_report_puts_every_run_in_its_settings_arm_evaluated_or_not(tmp_path: Path) -> None:
    """The study summaries' arms are the figures' split, for the runs not yet evaluated too:
    an unevaluated γ = 10 run is not counted in the γ = 30 arm, nor the other way round."""
    from jlonevae_lib.reports.records import collect_runs

    factor = {**CONFIG, "objective": "factor_vae", "gamma": 0.0, "regularization_type": "jlone"}
    for experiment, gamma, seeds in (("g30", 30.0, ("seed1", "seed2")), ("g10", 10.0, ("seed1",))):
        for seed in seeds:
            write_run(tmp_path, experiment, seed, {**factor, "objective_params": {"gamma": gamma}})
    unevaluated = tmp_path / "g10" / "seed2"
    (unevaluated / "representation").mkdir(parents=True)
    layout.config_path(unevaluated).write_text(json.dumps(
        {**factor, "objective_params": {"gamma": 10.0}}))
    runs, notes = collect_runs(tmp_path)
    arms = {(run.arm, run.run_id) for run in runs}
    assert arms == {("baseline:factor_vae:gamma=30", "seed1"),
                    ("baseline:factor_vae:gamma=30", "seed2"),
                    ("baseline:factor_vae:gamma=10", "seed1"),
                    ("baseline:factor_vae:gamma=10", "seed2")}
    assert [note for note in notes if note.startswith("split: ")] == [
        "split: the FactorVAE runs have 2 settings (they differ in gamma); each is an arm of "
        "its own"]


def test_a_full_config_beside_a_small_one_is_chosen_without_a_note(tmp_path: Path) -> None:
    run = our_run_info(write_run(tmp_path, JL1_EXPERIMENT, "seed2", CONFIG))

    def result(folder: str, clusters: int) -> MetricResult:
        return MetricResult(run=run, metric="local_mig", locality=0.1, value=0.1,
                            samples=(0.1,) * clusters, dataset="threeDots",
                            source=tmp_path / folder / "evaluation.json")

    full, small = result("local_mig_0_1", 100), result("small_local_mig", 10)
    assert preferred_result([small, full]) is full
    assert duplicate_note("run", "local MIG @0.1", [small, full]) is None  # make demo's case
    assert duplicate_note("run", "local MIG @0.1", [full]) is None
    twin = result("my_local_mig", 100)
    assert duplicate_note("run", "local MIG @0.1", [full, twin, small]) == (
        "duplicate: run has local MIG @0.1 in more than one metrics folder with as many "
        f"clusters; using {full.source}")
