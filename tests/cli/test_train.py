"""``jlonevae-train``'s flags for disentanglement_lib's study members and objectives."""

from __future__ import annotations

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


@pytest.mark.parametrize(("flags", "message"), [
    (["--model-num", "700", "--seed", "2"], "names the seed too"),
    (["--model-num", "700", "--model", "beta_vae"], "leave out --model"),
    (["--model", "beta_vae", "--objective", "beta_vae"], "not both"),
    (["--hp-index", "3"], "--hp-index goes with --model"),
    (["--model", "beta_vae", "--hp-index", "6"], "hyperparameter index"),
    (["--model", "vq_vae"], "vq_vae"),
    (["--objective", "factor_vae", "--param", "lambda=2"], "no parameter lambda"),
    (["--param", "gamma"], "NAME=NUMBER"),
])
def test_bad_study_flags_are_one_line_errors(flags, message):
    with pytest.raises(JLoneVAEError, match=message):
        config(*flags)


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
