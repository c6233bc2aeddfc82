"""``jlonevae-train``'s flags for disentanglement_lib's study members and objectives."""

from __future__ import annotations

import json

import pytest

from jlonevae_lib.cli.train import build_parser, config_from_args
from jlonevae_lib.runs import study_numbering
from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.utils.errors import JLoneVAEError


def config(*flags: str) -> TrainConfig:
    return config_from_args(build_parser().parse_args(list(flags)))


def test_a_model_number_is_that_study_member_on_our_data():
    member = study_numbering.study_member(700)  # dip_vae_i, hp 2, seed 0
    trained = config("--model-num", "700", "--dataset", "threeDots")
    assert (trained.objective, trained.seed, trained.model_num) == ("dip_vae_i", 0, 700)
    assert trained.objective_params == {"lambda_d_factor": 10.0, "lambda_od": 5.0}
    assert member.hyperparameters == {"lambda_od": 5.0, "lambda_d_factor": 10.0}
    assert (trained.architecture, trained.batch_size, trained.lr, trained.latent_dim,
            trained.num_batches, trained.annealing_batches, trained.gamma) == (
        "dlibConv", 64, 1e-4, 10, 300_000, 0, 0.0)
    assert trained.run_dir.parts[:2] == ("trainedStandardModels",
                                         "dlibConv_dip_vae_i_lambda_d_factor10_0000_lambda_od5_0000"
                                         "_lat10_batch64_lr0_0001")


@pytest.mark.parametrize("method", study_numbering.METHODS)
def test_every_method_at_the_papers_setting(method):
    trained = config("--model", method, "--seed", "3", "--num-batches", "20", "--lr", "0.001")
    assert trained.model_num == 100 + 300 * study_numbering.METHODS.index(method) + 3
    assert (trained.objective, trained.num_batches, trained.lr) == (method, 20, 1e-3)
    hyper = study_numbering.GRIDS[method][2]
    if "beta" in hyper:
        assert trained.beta == hyper["beta"] and trained.objective_params == {}
    else:
        assert trained.objective_params == {k: float(v) for k, v in hyper.items()}


def test_explicit_parameters_and_our_default_layout():
    trained = config("--objective", "factor_vae", "--param", "gamma=10", "--dataset", "threeDots")
    assert trained.objective_params == {"gamma": 10.0} and trained.gamma == 0.0
    assert trained.run_dir.parts[0] == "trainedModels"
    # Without study flags, the seed script's defaults as before.
    paper = config("--dataset", "threeDots")
    assert (paper.objective, paper.beta, paper.gamma, paper.lr, paper.batch_size,
            paper.architecture, paper.model_num) == ("jlonevae", 1.0, 1.0, 1e-3, 64,
                                                     "defaultConv", None)


def test_gamma_adds_the_penalty_to_any_baseline():
    """issue 27: --gamma is the Jacobian penalty's weight, with any objective."""
    tc = config("--objective", "beta_tc_vae", "--beta", "6", "--gamma", "0.1",
                "--annealingBatches", "10000", "--jacobian-batch", "16")
    assert (tc.objective, tc.gamma, tc.annealing_batches, tc.jacobian_batch) == (
        "beta_tc_vae", 0.1, 10000, 16)
    assert tc.experiment_name == (
        "defaultConv_beta_tc_vae_beta6_0000_ica0_1000_lat10_batch64_lr0_0010_anneal10000")
    # FactorVAE's own γ stays --param gamma; a study member's is its setting's.
    both = config("--objective", "factor_vae", "--param", "gamma=30", "--gamma", "0.1")
    assert (both.objective_params, both.gamma) == ({"gamma": 30.0}, 0.1)
    member = config("--model", "factor_vae", "--gamma", "0.1", "--annealingBatches", "100")
    assert (member.objective_params, member.gamma, member.model_num) == (
        {"gamma": 30.0}, 0.1, 400)


@pytest.mark.parametrize(("flags", "message"), [
    (["--objective", "factor_vae", "--gamma", "30"], "--gamma 30 is the weight of the "
     "Jacobian penalty added to factor_vae, not factor_vae's own gamma, which is --param"),
    (["--objective", "annealed_vae", "--gamma", "0.1"], "annealed_vae's own gamma"),
    (["--objective", "dip_vae_i", "--annealingBatches", "10"], "no β schedule"),
    (["--model-num", "700", "--seed", "2"], "names the seed too"),
    (["--model-num", "700", "--model", "beta_vae"], "leave out --model"),
    (["--model", "beta_vae", "--objective", "beta_vae"], "not both"),
    (["--hp-index", "3"], "--hp-index goes with --model"),
    (["--model", "beta_vae", "--hp-index", "6"], "hyperparameter index"),
    (["--model", "vq_vae"], "vq_vae"),
    (["--objective", "factor_vae", "--param", "lambda=2"], "no parameter lambda"),
    (["--param", "gamma"], "NAME=NUMBER"),
    (["--objective", "factor_vae", "--beta", "2"], "factor_vae has no β, so --beta would be "
     "ignored: leave it out \\(factor_vae's own settings, gamma, are --param NAME=N\\)"),
    (["--model", "dip_vae_i", "--beta", "4"], "dip_vae_i has no β"),
    (["--objective", "factor_vae", "--param", "gamma=30", "--param", "gamma=40"],
     "--param gamma is given twice with different values"),
    (["--objective", "factor_vae", "--param", "gamma=nan"], "must be a number >= 0, got nan"),
])
def test_bad_study_flags_are_one_line_errors(flags, message):
    with pytest.raises(JLoneVAEError, match=message):
        config(*flags)


def test_a_method_without_beta_records_one_beta_whatever_it_was_given():
    """A β a method does not read never tells two of its runs apart: a config.json written
    with another (as an earlier version recorded the seed script's 1.0) is the same run."""
    factor = config("--objective", "factor_vae")
    assert factor.beta == 4.0
    recorded = TrainConfig.from_dict({**factor.to_dict(), "beta": 1.0})
    assert recorded.beta == 4.0 and recorded.same_run_as(factor)
    # A method that reads β keeps it, and it sets the run apart.
    tc = config("--objective", "beta_tc_vae", "--beta", "6")
    assert tc.beta == 6.0 and not tc.same_run_as(config("--objective", "beta_tc_vae"))


def _train_cli(*flags: str) -> int:
    from jlonevae_lib.cli.train import main

    try:
        return main(list(flags))
    except SystemExit as exited:
        return exited.code


def test_a_gpu_past_the_visible_ones_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    """issue 28: --device cuda:3 with one GPU visible exits 2 with one line, before training."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    code = _train_cli("--dataset", "threeDots", "--num-batches", "1", "--output-dir",
                      str(tmp_path), "--device", "cuda:3")
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert "1 GPU is visible" in err
    assert not any(tmp_path.iterdir())


def test_a_factor_vae_checkpoint_without_its_discriminator_is_a_one_line_error(tmp_path, capsys):
    """issue 28: resuming FactorVAE from a checkpoint that lacks the discriminator's state."""
    import torch

    from jlonevae_lib.runs import layout
    from jlonevae_lib.train.trainer import Trainer

    flags = ("--objective", "factor_vae", "--dataset", "threeDots", "--latent-dim", "3",
             "--batch-size", "4", "--num-batches", "2", "--output-dir", str(tmp_path),
             "--device", "cpu")
    trainer = Trainer(config(*flags))
    state = trainer.state_dict()
    del state["objective"]
    trainer.checkpoint_path.parent.mkdir(parents=True)
    torch.save(state, trainer.checkpoint_path)
    code = _train_cli(*flags)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert "lacks FactorVAE's discriminator" in err
    assert not layout.is_finished(trainer.config.run_dir)


def test_a_run_whose_failed_marker_is_unreadable_is_a_one_line_error(tmp_path, capsys):
    """issue 28: a FAILED marker that is not JSON exits 2 with one line, not a traceback."""
    flags = ("--dataset", "threeDots", "--latent-dim", "3", "--batch-size", "4",
             "--num-batches", "2", "--output-dir", str(tmp_path), "--device", "cpu")
    run_dir = config(*flags).run_dir
    run_dir.mkdir(parents=True)
    (run_dir / "FAILED").write_text("{truncated")
    code = _train_cli(*flags)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert "failed earlier" in err and "unreadable" in err



def test_a_damaged_done_marker_is_a_one_line_error_and_deleting_it_finishes_the_run(
        tmp_path, capsys):
    """A DONE that is not JSON, or lacks its fields, exits 2 with one line saying what to do;
    done as it says, the same command finishes the run again from its last checkpoint."""
    from jlonevae_lib.runs import layout

    flags = ("--dataset", "threeDots", "--latent-dim", "3", "--batch-size", "4",
             "--num-batches", "2", "--output-dir", str(tmp_path), "--device", "cpu")
    assert _train_cli(*flags) in (0, None)
    done = layout.done_path(config(*flags).run_dir)
    for damaged in ("{truncated", '{"model_dir": "representation"}'):
        done.write_text(damaged)
        capsys.readouterr()
        code = _train_cli(*flags)
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
        assert str(done) in err and "delete it and run again" in err
    done.unlink()
    assert _train_cli(*flags) in (0, None)
    assert layout.read_json_object(done)["num_batches"] == 2


# ------------------------------------------------------------------------------ presets

PAPER = {"objective": "jlonevae", "dataset": "threeDotsCache", "architecture": "defaultConv",
         "beta": 4.0, "gamma": 0.1, "latent_dim": 10, "lr": 1e-4, "batch_size": 64,
         "num_batches": 300_000, "annealing_batches": 100_000, "regularization_type": "jlone"}


def settings_of(trained: TrainConfig, names) -> dict:
    return {name: getattr(trained, name) for name in names}


def test_the_paper_preset_is_the_papers_three_dots_run():
    trained = config("--preset", "paper")
    assert settings_of(trained, PAPER) == PAPER
    assert (trained.preset, trained.seed, trained.jacobian_batch) == ("paper", 1, None)
    assert trained.experiment_name == TrainConfig().experiment_name  # TrainConfig's defaults
    # The paper's command spelt out is the same run, in the same folder.
    spelt_out = config("--dataset", "threeDotsCache", "--beta", "4", "--gamma", "0.1",
                       "--epochs", "60", "--annealingBatches", "100000", "--lr", "0.0001")
    assert spelt_out.same_run_as(trained) and spelt_out.run_dir == trained.run_dir


def test_flags_given_override_the_preset():
    trained = config("--preset", "paper", "--num-batches", "2", "--dataset", "threeDots",
                     "--lr", "0.001", "--seed", "11", "--gamma", "0.2",
                     "--regularization_type", "jltwo")
    assert settings_of(trained, ("num_batches", "dataset", "lr", "seed", "gamma",
                                 "regularization_type")) == {
        "num_batches": 2, "dataset": "threeDots", "lr": 1e-3, "seed": 11, "gamma": 0.2,
        "regularization_type": "jltwo"}
    assert settings_of(trained, ("beta", "annealing_batches", "architecture", "batch_size")) == {
        "beta": 4.0, "annealing_batches": 100_000, "architecture": "defaultConv",
        "batch_size": 64}
    assert trained.preset == "paper"
    assert config("--preset", "paper", "--epochs", "2").num_batches == 10_000


def test_the_example_preset_is_the_references_small_example():
    trained = config("--preset", "example")
    assert settings_of(trained, ("dataset", "lr", "num_batches", "annealing_batches", "beta",
                                 "gamma", "seed", "latent_dim", "batch_size")) == {
        "dataset": "threeDotsCacheSmall", "lr": 1e-3, "num_batches": 30_000,
        "annealing_batches": 10_000, "beta": 4.0, "gamma": 0.1, "seed": 1, "latent_dim": 10,
        "batch_size": 64}
    assert config("--preset", "example", "--seed", "3").seed == 3


def test_without_a_preset_the_defaults_are_the_reference_scripts(monkeypatch):
    monkeypatch.delenv("AICROWD_DATASET_NAME", raising=False)
    trained = config()
    assert (trained.preset, trained.dataset, trained.beta, trained.gamma, trained.lr,
            trained.num_batches, trained.annealing_batches) == (
        None, "threeDotsCache", 1.0, 1.0, 1e-3, 50_000, 0)
    monkeypatch.setenv("AICROWD_DATASET_NAME", "threeDots")
    assert config().dataset == "threeDots"
    assert config("--preset", "paper").dataset == "threeDotsCache"  # the preset's data wins
    monkeypatch.setenv("AICROWD_DATASET_NAME", "")  # set but empty counts as unset
    assert config().dataset == "threeDotsCache"


@pytest.mark.parametrize(("flags", "message"), [
    (["--preset", "paper", "--model-num", "700"], "leave out --model-num"),
    (["--preset", "paper", "--model", "beta_vae"], "leave out --model-num and --model"),
])
def test_a_preset_with_a_study_member_is_refused(flags, message):
    with pytest.raises(JLoneVAEError, match=message):
        config(*flags)


def test_an_unknown_preset_is_a_usage_error(capsys):
    assert _train_cli("--preset", "papers") == 2
    assert "invalid choice: 'papers'" in capsys.readouterr().err


# ------------------------------------------------------------------------------ runs that grow


def test_extend_and_another_length_from_the_command_line(tmp_path, capsys):
    """A finished run extended on purpose; another length without --extend gets its own
    folder; a bad extend is one line."""
    import json

    from jlonevae_lib.runs import layout

    flags = ("--dataset", "threeDots", "--latent-dim", "3", "--batch-size", "4",
             "--jacobian-batch", "2", "--output-dir", str(tmp_path), "--device", "cpu",
             "--seed", "3")
    run_dir = config(*flags, "--num-batches", "2").run_dir
    assert _train_cli(*flags, "--num-batches", "2") == 0
    assert f"run folder {run_dir}: a new run in the seed's folder" in capsys.readouterr().out

    assert _train_cli(*flags, "--num-batches", "3", "--print-run-dir") == 0
    assert capsys.readouterr().out.strip() == str(run_dir.parent / "seed3_batches3")
    assert _train_cli(*flags, "--num-batches", "3", "--extend", "--print-run-dir") == 0
    assert capsys.readouterr().out.strip() == str(run_dir)
    # A dataset training would refuse gets no folder either.
    assert _train_cli(*flags, "--num-batches", "3", "--dataset", "threeDotz",
                      "--print-run-dir") == 2
    captured = capsys.readouterr()
    assert not captured.out and captured.err.startswith("error: unknown dataset 'threeDotz'")

    assert _train_cli(*flags, "--num-batches", "3", "--extend", "--preset", "paper",
                      "--beta", "1", "--gamma", "1", "--lr", "0.001",
                      "--annealingBatches", "0") == 0
    out = capsys.readouterr().out
    assert "--extend continues the run there" in out and "Extended the run from 2 to 3" in out
    recorded = json.loads(layout.config_path(run_dir).read_text())
    assert (recorded["num_batches"], recorded["extended_from"], recorded["preset"]) == (
        3, [2], "paper")

    code = _train_cli(*flags, "--num-batches", "3", "--extend")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "already has 3 batches" in err, err
    assert _train_cli(*flags, "--num-batches", "3") == 0  # the same run, finished: skipped
    assert "Run already finished (3 batches)" in capsys.readouterr().out


def test_a_setting_missing_from_the_recorded_config_is_named_as_defaulted(tmp_path, capsys):
    import json

    from jlonevae_lib.runs import layout

    flags = ("--dataset", "threeDots", "--latent-dim", "3", "--batch-size", "4",
             "--num-batches", "2", "--beta", "1", "--output-dir", str(tmp_path),
             "--device", "cpu")
    assert _train_cli(*flags) in (0, None)
    path = layout.config_path(config(*flags).run_dir)
    recorded = json.loads(path.read_text())
    del recorded["beta"]
    path.write_text(json.dumps(recorded))
    capsys.readouterr()
    assert _train_cli(*flags) == 2
    err = capsys.readouterr().err
    assert "beta: 4.0 there (not in its config.json: the default) vs 1.0 now" in err, err


def test_an_output_folder_in_a_run_or_a_models_folder_is_refused(tmp_path, capsys,
                                                                  monkeypatch):
    """Runs go to <output-dir>/trainedModels/<experiment>/<run>: an output folder that is a run
    folder, inside one, or a trainedModels/ folder itself would nest runs, so it is refused
    with the folder to give; a folder that merely holds some other config.json is not."""
    run = tmp_path / "trainedModels" / "experiment" / "seed1"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(config("--num-batches", "10").to_dict()))
    monkeypatch.chdir(run)
    for output, message in [
            (run, f"is the run folder {run}: give the folder that holds trainedModels/"),
            (run / "sub", f"is inside the run folder {run}"),
            (".", f"--output-dir . is the run folder {run}"),
            (tmp_path / "trainedModels", f"is itself a trainedModels/ folder: give the folder "
                                         f"above it, {tmp_path}")]:
        assert _train_cli("--num-batches", "10", "--output-dir", str(output),
                          "--print-run-dir") == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    # A relative path is taken where it leads: ../../.. from the run is the project's folder.
    assert _train_cli("--num-batches", "10", "--output-dir", "../../..", "--print-run-dir") == 0
    assert capsys.readouterr().out.startswith("../../../trainedModels/")
    project = tmp_path / "project"
    (project / "checkpoints").mkdir(parents=True)
    (project / "config.json").write_text('{"lr": 0.1}')  # some other tool's
    assert _train_cli("--num-batches", "10", "--output-dir", str(project / "out"),
                      "--print-run-dir") == 0
