"""The study registry: each of the paper's sweeps expands to its runs, with the settings the old
bash loops gave jlonevae-train, stable indices and run folders, and readable errors."""

from __future__ import annotations

import pytest

from jlonevae_lib.cli import train as train_cli
from jlonevae_lib.runs import layout, study_numbering
from jlonevae_lib.sweep.members import train_arguments
from jlonevae_lib.sweep.studies import (
    available_studies,
    get_study,
    parse_axis_values,
    parse_setting,
    plan_study,
)
from jlonevae_lib.train.objectives import objective_class
from jlonevae_lib.utils.errors import JLoneVAEError

PAPER_COUNTS = {"threeDots": 50, "threeDots_l2": 40, "mpi3d_multi": 10, "naturalImages": 2,
                "baselines": 60, "cpu_study": 10}


def members(name: str, **kwargs):
    return plan_study(get_study(name), **kwargs).members


def train_config(flags: list[str]):
    return train_cli.config_from_args(train_cli.build_parser().parse_args(flags))


# The flags the drivers passed to jlonevae-train before they called the runner, loop by loop
# (seed outermost), copied from the scripts.
def old_three_dots(seed: int, gamma: float, l2: bool = False) -> list[str]:
    flags = ["--dataset", "threeDotsCache", "--beta", "4", "--gamma", str(gamma),
             "--latent-dim", "10", "--epochs", "60", "--annealingBatches", "100000", "--lr",
             "0.0001"]
    return flags + (["--regularization_type", "jltwo"] if l2 else []) + ["--seed", str(seed)]


OLD_DRIVERS = {
    "threeDots": [old_three_dots(s, g) for s in range(11, 21)
                  for g in ("0.0", "0.1", "0.05", "0.2", "0.4")],
    "threeDots_l2": [old_three_dots(s, g, l2=True) for s in range(11, 21)
                     for g in ("0.1", "0.05", "0.2", "0.4")],
    "mpi3d_multi": [["--dataset", "mpi3dMulti", "--architecture", "defaultConv", "--beta", "0.01",
                     "--gamma", g, "--latent-dim", "10", "--batch-size", "64", "--lr", "0.0001",
                     "--num-batches", "300000", "--annealingBatches", "100000", "--seed", str(s)]
                    for s in (11, 12, 13, 14, 15) for g in ("0.0", "0.01")],
    "naturalImages": [["--dataset", "naturalImages", "--architecture", "tiny16", "--beta",
                       "0.01", "--gamma", g, "--latent-dim", "10", "--lr", "0.001",
                       "--batch-size", "128", "--num-batches", "100000", "--annealingBatches",
                       "50000", "--seed", "0", "--output-dir", "."] for g in ("0.0", "0.01")],
    "baselines": [["--model", m, "--hp-index", "2", "--seed", str(s), "--dataset",
                   "threeDotsCache", "--output-dir", "."]
                  for s in range(10) for m in study_numbering.METHODS],
    "cpu_study": [["--dataset", "threeDotsCacheSmall", "--beta", "4", "--latent-dim", "10",
                   "--lr", "0.001", "--batch-size", "64", "--num-batches", "8000",
                   "--annealingBatches", "2667", "--jacobian-batch", "16", "--device", "cpu",
                   "--checkpoint-every", "500", "--output-dir", "studies/cpu_study",
                   "--gamma", g, "--seed", str(s)] for s in (1, 2, 3, 4, 5) for g in ("0", "0.1")],
}


def test_every_paper_study_is_registered() -> None:
    assert set(PAPER_COUNTS) <= set(available_studies())


@pytest.mark.parametrize("name", sorted(PAPER_COUNTS))
def test_study_has_the_papers_runs_in_the_old_drivers_order(name: str) -> None:
    planned = members(name)
    assert len(planned) == PAPER_COUNTS[name]
    assert [m.index for m in planned] == list(range(len(planned)))
    assert len({m.run_dir for m in planned}) == len(planned)
    old = [train_config(flags) for flags in OLD_DRIVERS[name]]
    assert [m.config for m in planned] == old


@pytest.mark.parametrize("name", sorted(PAPER_COUNTS))
def test_train_arguments_rebuild_each_members_config(name: str) -> None:
    for member in members(name):
        flags = train_arguments(member.config)
        assert train_config(flags) == member.config
        assert member.run_dir == member.config.run_dir
        # jlonevae-train refuses a β to a method that does not read one (FactorVAE's members).
        assert ("--beta" in flags) == objective_class(member.config.objective).uses_beta


def test_three_dots_members_and_folders() -> None:
    planned = members("threeDots")
    assert [(m.point["seed"], m.point["gamma"]) for m in planned[:6]] == [
        (11, 0.0), (11, 0.1), (11, 0.05), (11, 0.2), (11, 0.4), (12, 0.0)]
    assert planned[1].run_dir == layout.run_dir(
        ".", "defaultConv_lone_beta4_0000_ica0_1000_lat10_batch64_lr0_0001_anneal100000",
        "seed11")
    assert planned[1].label == "seed=11 gamma=0.1"
    assert {m.config.num_batches for m in planned} == {300_000}


def test_baselines_are_the_study_members_at_hp_index_2() -> None:
    planned = members("baselines")
    assert {(m.config.objective, m.config.seed) for m in planned} == {
        (method, seed) for method in study_numbering.METHODS for seed in range(10)}
    for member in planned:
        assert member.config.model_num == study_numbering.model_number(
            member.config.objective, 2, member.config.seed)
        assert member.config.models_dir == layout.STANDARD_MODELS_DIR
    other = members("baselines", overrides={"hp_index": 3}, axes={"seed": (0,)})
    assert [m.config.model_num for m in other] == [
        study_numbering.model_number(method, 3, 0) for method in study_numbering.METHODS]


def test_a_setting_keeps_indices_and_folders() -> None:
    plain = members("threeDots")
    shorter = members("threeDots", overrides={"num_batches": 8000, "device": "cpu"})
    assert [(m.index, m.run_dir) for m in shorter] == [(m.index, m.run_dir) for m in plain]
    assert {m.config.num_batches for m in shorter} == {8000}


def test_overriding_an_axis_keeps_each_members_folder_and_order() -> None:
    plain = {m.label: m for m in members("threeDots")}
    some = members("threeDots", axes={"seed": (13, 11), "gamma": (0.4, 0.1)})
    assert [m.label for m in some] == ["seed=13 gamma=0.4", "seed=13 gamma=0.1",
                                       "seed=11 gamma=0.4", "seed=11 gamma=0.1"]
    assert [m.index for m in some] == [0, 1, 2, 3]
    for member in some:
        assert member.run_dir == plain[member.label].run_dir
        assert member.config == plain[member.label].config


def test_output_dir_moves_every_member() -> None:
    moved = members("cpu_study", overrides={"output_dir": "/tmp/elsewhere"})
    assert all(str(m.run_dir).startswith("/tmp/elsewhere/trainedModels/") for m in moved)


def test_parse_setting_types() -> None:
    study = get_study("cpu_study")
    assert parse_setting(study, "num_batches", "20") == 20
    assert parse_setting(study, "lr", "1e-3") == 0.001
    assert parse_setting(study, "jacobian_batch", "none") is None
    assert parse_setting(study, "dataset", "threeDots") == "threeDots"
    assert parse_setting(study, "objective_params", '{"gamma": 30}') == {"gamma": 30.0}
    assert parse_setting(study, "keep_models_at", "8000,15000") == [8000, 15000]
    assert parse_setting(study, "keep_models_at", "") == []
    assert parse_setting(get_study("baselines"), "hp_index", "4") == 4
    assert parse_axis_values(study, "gamma", ["0", "0.2"]) == (0.0, 0.2)
    assert parse_axis_values(get_study("baselines"), "method", ["factor_vae"]) == ("factor_vae",)


@pytest.mark.parametrize("call, message", [
    (lambda: get_study("threedots"), "unknown study 'threedots'; known studies: threeDots"),
    (lambda: parse_setting(get_study("threeDots"), "epochs", "3"), "not a setting"),
    (lambda: parse_setting(get_study("threeDots"), "num_batches", "many"), "expected int"),
    (lambda: parse_setting(get_study("threeDots"), "keep_models_at", "8k"),
     "expected list[int]"),
    (lambda: parse_setting(get_study("threeDots"), "model_num", "5"), "not a setting"),
    (lambda: parse_setting(get_study("threeDots"), "preset", "paper"), "not a setting"),
    (lambda: parse_setting(get_study("cpu_study"), "objective_params", '{"gamma": true}'),
     "every value must be a number"),
    (lambda: members("cpu_penalty_study", axes={"arm": ("bogus",)}), "unknown arm 'bogus'"),
    (lambda: members("cpu_seven_arms", axes={"arm": ("bogus",)}), "unknown arm 'bogus'"),
    (lambda: parse_axis_values(get_study("threeDots"), "method", ["x"]), "has no axis"),
    (lambda: members("threeDots", overrides={"gamma": 0.3}), "is an axis of study threeDots"),
    (lambda: members("threeDots", axes={"seed": (1, 1)}), "distinct values"),
    (lambda: members("threeDots", overrides={"run_id": "same"}), "would share the run folder"),
    (lambda: members("threeDots", overrides={"num_batches": 0}), "num_batches must be"),
])
def test_bad_input_is_one_readable_line(call, message: str) -> None:
    with pytest.raises(JLoneVAEError) as err:
        call()
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_the_penalty_study_as_registered() -> None:
    """cpu_penalty_study's members are its pre-registration (docs/studies.md): three arms on
    dlibConv, seeds 1-10, 30,000 batches on the 500,000-image cache, lr 1e-3, models kept at
    8,000 and 15,000, evaluated there too."""
    plan = plan_study(get_study("cpu_penalty_study"))
    assert len(plan.members) == 30
    by_arm: dict[str, list] = {}
    for member in plan.members:
        by_arm.setdefault(member.point["arm"], []).append(member.config)
    assert set(by_arm) == {"jl1_dlib", "beta_ramp_dlib", "beta_vae_dlib"}
    for arm, configs in by_arm.items():
        assert sorted(c.seed for c in configs) == list(range(1, 11)), arm
        for c in configs:
            assert (c.architecture, c.dataset, c.latent_dim, c.batch_size, c.lr, c.num_batches,
                    c.keep_models_at) == ("dlibConv", "threeDotsCache", 10, 64, 1e-3, 30_000,
                                          [8000, 15000]), arm
            assert c.beta == 4.0
    jl1, ramp, dlib = by_arm["jl1_dlib"][0], by_arm["beta_ramp_dlib"][0], by_arm["beta_vae_dlib"][0]
    assert (jl1.objective, jl1.gamma, jl1.annealing_batches, jl1.jacobian_batch) == (
        "jlonevae", 0.1, 10_000, 16)
    # The penalty is the only difference between the first two arms.
    assert {k for k, v in jl1.to_dict().items() if ramp.to_dict()[k] != v} == {"gamma"}
    assert (dlib.objective, dlib.annealing_batches, dlib.gamma) == ("beta_vae", 0, 0.0)
    names = plan.metric_names()
    assert "local_mig_0_1" in names and "local_mig_0_1@8000" in names
    assert "local_mig_0_1_evalseed2@15000" in names and "mig@8000" not in names


def test_a_member_is_where_jlonevae_train_puts_it(tmp_path, capsys) -> None:
    """A member whose seed folder holds its settings trained to another length is trained in
    ``seed<k>_batches<N>``: the member's folder (evaluation, status) follows, as jlonevae-train's
    --print-run-dir shows."""
    import dataclasses
    import json

    member = members("cpu_study", overrides={"output_dir": str(tmp_path)})[0]
    seed_folder = member.config.run_dir
    assert member.run_dir == seed_folder
    seed_folder.mkdir(parents=True)
    shorter = dataclasses.replace(member.config, num_batches=100)
    layout.config_path(seed_folder).write_text(json.dumps(shorter.to_dict()))
    expected = seed_folder.parent / f"seed{member.config.seed}_batches8000"
    assert member.run_dir == expected
    assert train_cli.main([*train_arguments(member.config), "--print-run-dir"]) == 0
    assert capsys.readouterr().out.strip() == str(expected)


def test_the_cpu_studys_report_and_figures_read_its_members_alone(tmp_path) -> None:
    """Another sweep's runs in the same folders (other seeds) stay out of this one's report."""
    plan = plan_study(get_study("cpu_study"), overrides={"output_dir": str(tmp_path)},
                      axes={"seed": (1, 2)}, results_dir=str(tmp_path / "results"))
    runs = sorted(str(member.run_dir.resolve()) for member in plan.members)
    commands = plan.summary_commands()
    assert [argv[3] for argv in (c.argv for c in commands[:-1])] == ["compare-baselines",
                                                                     "vs-locality"]
    for command in commands:
        argv = command.argv
        given = [argv[i + 1] for i, flag in enumerate(argv) if flag == "--run"]
        assert sorted(given) == runs
