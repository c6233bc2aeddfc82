"""Experiment names are built and parsed in one module (jlonevae_lib.runs.naming): every
registered objective's name on every registered architecture parses back to the settings it was
built from, and the names stay byte for byte the reference's (its notebooks glob on them)."""

from __future__ import annotations

import itertools

import pytest

from jlonevae_lib.architecture.registry import available_architectures
from jlonevae_lib.runs import naming
from jlonevae_lib.runs.results import method_from_experiment_name as parse_our_run
from jlonevae_lib.runs.results import settings_from_config
from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.train.objectives import available_objectives, objective_class
from jlonevae_lib.utils.errors import JLoneVAEError

#: (TrainConfig settings, the experiment name the code gave them before naming.py existed).
GOLDEN = [
    ({}, "defaultConv_lone_beta4_0000_ica0_1000_lat10_batch64_lr0_0001_anneal100000"),
    ({"gamma": 0.0, "regularization_type": "jltwo", "annealing_batches": 0, "lr": 1e-3,
      "batch_size": 32, "latent_dim": 7},
     "defaultConv_jltwo_beta4_0000_ica0_0000_lat7_batch32_lr0_0010"),
    ({"beta": 0.5, "gamma": 12.3456789, "lr": 0.00012345, "annealing_batches": 5},
     "defaultConv_lone_beta0_5000_ica12_3457_lat10_batch64_lr0_0001_anneal5"),
    ({"architecture": "dlibConv", "objective": "beta_vae", "gamma": 0.0, "lr": 1e-3,
      "annealing_batches": 0},
     "dlibConv_beta_vae_beta4_0000_lat10_batch64_lr0_0010"),
    ({"objective": "beta_vae", "gamma": 0.0, "lr": 1e-3, "annealing_batches": 2667},
     "defaultConv_beta_vae_beta4_0000_lat10_batch64_lr0_0010_anneal2667"),
    ({"architecture": "dlibConv", "objective": "factor_vae", "gamma": 0.0,
      "annealing_batches": 0},
     "dlibConv_factor_vae_gamma30_0000_lat10_batch64_lr0_0001"),
    ({"architecture": "dlibConv", "objective": "dip_vae_i", "gamma": 0.0, "annealing_batches": 0,
      "objective_params": {"lambda_od": 2.5}},
     "dlibConv_dip_vae_i_lambda_d_factor10_0000_lambda_od2_5000_lat10_batch64_lr0_0001"),
    ({"architecture": "dlibConv", "objective": "dip_vae_ii", "gamma": 0.0,
      "annealing_batches": 0},
     "dlibConv_dip_vae_ii_lambda_d_factor1_0000_lambda_od5_0000_lat10_batch64_lr0_0001"),
    ({"architecture": "dlibConv", "objective": "beta_tc_vae", "beta": 6.0, "gamma": 0.0,
      "annealing_batches": 0},
     "dlibConv_beta_tc_vae_beta6_0000_lat10_batch64_lr0_0001"),
    ({"architecture": "tiny16", "objective": "annealed_vae", "gamma": 0.0,
      "annealing_batches": 0},
     "tiny16_annealed_vae_c_max25_0000_gamma1000_0000_iteration_threshold100000_0000_lat10"
     "_batch64_lr0_0001"),
]
#: Baselines with the Jacobian penalty: the penalty's part comes last (issue 27).
WITH_PENALTY = [
    ({"architecture": "dlibConv", "objective": "beta_tc_vae", "beta": 6.0, "gamma": 0.1,
      "annealing_batches": 10000},
     "dlibConv_beta_tc_vae_beta6_0000_ica0_1000_lat10_batch64_lr0_0001_anneal10000"),
    ({"architecture": "dlibConv", "objective": "factor_vae", "gamma": 0.2,
      "regularization_type": "jltwo", "annealing_batches": 0},
     "dlibConv_factor_vae_gamma30_0000_jltwo_ica0_2000_lat10_batch64_lr0_0001"),
]


@pytest.mark.parametrize(("settings", "name"), GOLDEN, ids=[name for _, name in GOLDEN])
def test_names_are_the_ones_runs_already_have(settings: dict, name: str) -> None:
    assert TrainConfig(**settings).experiment_name == name
    parsed = naming.parse_experiment_name(name, available_objectives())
    assert parsed is not None and str(parsed) == name


@pytest.mark.parametrize(("settings", "name"), WITH_PENALTY, ids=[n for _, n in WITH_PENALTY])
def test_a_baseline_with_the_penalty_names_it_last(settings: dict, name: str) -> None:
    config = TrainConfig(**settings)
    assert config.experiment_name == name
    parsed = naming.parse_experiment_name(name, available_objectives())
    assert parsed is not None and str(parsed) == name
    assert parsed.penalty == (config.regularization_type, config.gamma)
    assert parsed.gamma is None  # γ of the paper's objective only, as before


def configs(objective: str, architecture: str) -> list[TrainConfig]:
    """The configs of ``objective`` on ``architecture`` over a few settings the name encodes:
    with and without annealing, with and without the Jacobian penalty (every objective takes
    it), both penalties, odd numbers."""
    found = []
    variants = itertools.product((0, 2667), ("jlone", "jltwo"), (0.0, 0.25))
    for annealing, penalty, gamma in variants:
        settings = {"objective": objective, "architecture": architecture, "latent_dim": 7,
                    "batch_size": 32, "lr": 0.00055, "beta": 2.5,
                    "annealing_batches": annealing, "regularization_type": penalty,
                    "gamma": gamma}
        try:
            found.append(TrainConfig(**settings))
        except JLoneVAEError:  # a setting this objective refuses (annealing, say)
            continue
    return found


def _penalty_of(config: TrainConfig) -> tuple[str, str] | None:
    """(regularization type, γ as names print it) of the penalty a config trains with, as its
    name must tell; None without one (the paper's objective always names it, γ = 0 too)."""
    if config.gamma == 0 and config.objective != naming.JACOBIAN_OBJECTIVE:
        return None
    return config.regularization_type, naming.format_number(config.gamma)


@pytest.mark.parametrize("architecture", available_architectures())
@pytest.mark.parametrize("objective", available_objectives())
def test_every_name_parses_back_to_its_settings(objective: str, architecture: str) -> None:
    found = configs(objective, architecture)
    assert found, f"no config of {objective} on {architecture}"
    assert any(config.gamma > 0 for config in found), f"{objective} without the penalty only"
    # Runs with and without the penalty, or with another penalty, never share a folder.
    folders = {(config.annealing_batches, _penalty_of(config)): config.experiment_name
               for config in found}
    assert len(set(folders.values())) == len(folders), folders
    for config in found:
        name = config.experiment_name
        parsed = naming.parse_experiment_name(name, available_objectives())
        assert parsed is not None, name
        assert str(parsed) == name
        penalty = parsed.penalty
        assert _penalty_of(config) == (
            None if penalty is None else (penalty[0], naming.format_number(penalty[1]))), name
        number = naming.format_number
        assert (parsed.architecture, parsed.objective, parsed.latent_dim, parsed.batch_size,
                number(parsed.lr), parsed.annealing_batches) == (
            config.architecture, config.objective, config.latent_dim, config.batch_size,
            number(config.lr), config.annealing_batches)
        parts = objective_class(objective).name_parts(config)
        if objective == naming.JACOBIAN_OBJECTIVE:
            assert parsed.regularization_type == config.regularization_type
            assert (number(parsed.beta), number(parsed.gamma)) == (number(config.beta),
                                                                   number(config.gamma))
            assert parsed.settings == parse_our_run(name)[2]
            continue
        assert parsed.regularization_type is None and parsed.gamma is None
        assert [(label, number(value)) for label, value in parsed.parts] == [
            (label, number(value)) for label, value in parts]
        if parsed.beta is not None:
            assert number(parsed.beta) == number(config.beta)
        params = {label: value for label, value in parsed.parts
                  if label not in (naming.BETA_LABEL, *naming.PENALTY_LABELS.values())}
        assert {k: number(v) for k, v in params.items()} == {
            k: number(v) for k, v in config.objective_params.items()}


def test_only_the_references_names_parse_without_the_objectives() -> None:
    assert naming.parse_experiment_name(
        "dlibConv_beta_vae_beta4_0000_lat10_batch64_lr0_0010") is None
    parsed = naming.parse_experiment_name(
        "defaultConv_lone_beta4_0000_ica0_1000_lat10_batch64_lr0_0001_anneal100000")
    assert parsed is not None
    assert (parsed.objective, parsed.regularization_type, parsed.beta, parsed.gamma) == (
        "jlonevae", "jlone", 4.0, 0.1)
    for other in ("some_other_folder", "defaultConv_lone_beta4_0000_lat10_batch64_lr0_0001",
                  "defaultConv_lone_ica0_1000_beta4_0000_lat10_batch64_lr0_0001"):
        assert naming.parse_experiment_name(other) is None


def test_a_label_that_would_not_parse_back_is_refused() -> None:
    with pytest.raises(ValueError, match="letters"):
        naming.experiment_name("defaultConv", "my_vae", [("lambda2", 1.0)], 10, 64, 1e-4)
    with pytest.raises(ValueError, match="differ"):
        naming.experiment_name("defaultConv", "my_vae", [("a", 1.0), ("a", 2.0)], 10, 64, 1e-4)


def test_a_config_and_its_name_describe_a_run_alike() -> None:
    # The results reader reads config.json first and the name only without one: both must give
    # the same method, γ and settings, and a config of another objective is not read as ours.
    config = TrainConfig(gamma=0.25, regularization_type="jltwo", lr=0.00055, latent_dim=7)
    assert settings_from_config(config.to_dict()) == parse_our_run(config.experiment_name) == (
        "jltwo", 0.25, "defaultConv_beta4_0000_lat7_batch64_lr0_0006_anneal100000")
    assert settings_from_config({**config.to_dict(), "objective": "my_vae"}) is None


def test_every_jacobian_penalty_has_its_words_in_names() -> None:
    """A penalty added to the registry (architecture.jacobian) needs its word in experiment
    names and its γ label, or its runs could not be named."""
    from jlonevae_lib.architecture.jacobian import JACOBIAN_PENALTIES

    assert set(naming.PENALTY_ABBREVIATIONS) == set(JACOBIAN_PENALTIES) == set(
        naming.PENALTY_LABELS)
