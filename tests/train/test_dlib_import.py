"""The TensorFlow-free half of the disentanglement_lib import (jlonevae_lib.train.dlib_import):
bindings → settings, variables → a run folder. The half that reads TensorFlow files is tested
against real disentanglement_lib models in tests/dlib_tf/test_import.py."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from jlonevae_lib.architecture.dlib_conv import DlibConvVAE, tf_variable_mapping
from jlonevae_lib.architecture.export import load_torchscript
from jlonevae_lib.architecture.load_model import load_model
from jlonevae_lib.cli import import_dlib
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.results import our_run_info
from jlonevae_lib.runs.study_numbering import vae_updates
from jlonevae_lib.train import dlib_import
from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.train.dlib_import import (
    TRAIN_CONFIG_NAME,
    gin_value,
    import_dlib_model,
    parse_train_config,
)
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError

#: disentanglement_lib 1.5's results/json/train_config.json of study member 400 (FactorVAE,
#: γ = 30, seed 0), trained for 20 steps; the keys the import reads, as it wrote them.
FACTOR_VAE_BINDINGS = {
    "vae/AdamOptimizer.learning_rate": "0.0001",
    "dataset.name": "'threeDotsCache'",
    "decoder.decoder_fn": "@deconv_decoder",
    "discriminator.discriminator_fn": "@fc_discriminator",
    "encoder.encoder_fn": "@conv_encoder",
    "encoder.num_latent": "10",
    "factor_vae.gamma": "30.0",
    "model.batch_size": "64",
    "model.model": "@factor_vae()",
    "model.model_num": "400",
    "model.name": "'factor_vae'",
    "model.random_seed": "0",
    "model.training_steps": "20",
    "reconstruction_loss.activation": "'logits'",
}


def test_gin_values_are_read_as_gin_wrote_them():
    assert gin_value("'factor_vae'") == "factor_vae"
    assert gin_value("30.0") == 30.0 and gin_value("10") == 10
    assert gin_value("None") is None and gin_value("False") is False
    assert gin_value("@conv_encoder") == "@conv_encoder"


def test_the_bindings_give_method_hyperparameters_and_study_member():
    settings = parse_train_config(FACTOR_VAE_BINDINGS)
    assert settings.method == "factor_vae" and settings.hyperparameters == {"gamma": 30.0}
    assert (settings.model_num, settings.random_seed, settings.training_steps) == (400, 0, 20)
    assert (settings.batch_size, settings.latent_dim, settings.lr) == (64, 10, 1e-4)
    assert settings.dataset == "threeDotsCache"


def test_dip_vae_ii_and_annealed_vae_read_their_scopes():
    dip = {**FACTOR_VAE_BINDINGS, "model.name": "'dip_vae_ii'", "dip_vae.lambda_od": "5.0",
           "dip_vae.lambda_d_factor": "1.0", "dip_vae.dip_type": "'ii'"}
    assert parse_train_config(dip).hyperparameters == {"lambda_od": 5.0, "lambda_d_factor": 1.0}
    annealed = {**FACTOR_VAE_BINDINGS, "model.name": "'annealed_vae'",
                "annealed_vae.c_max": "25.0", "annealed_vae.gamma": "1000",
                "annealed_vae.iteration_threshold": "100000"}
    assert parse_train_config(annealed).hyperparameters == {
        "c_max": 25.0, "gamma": 1000.0, "iteration_threshold": 100000.0}


@pytest.mark.parametrize("change, message", [
    ({"encoder.encoder_fn": "@fc_encoder"}, "only disentanglement_lib's conv_encoder"),
    ({"model.name": "'vqvae'"}, "unknown disentanglement_lib method"),
    ({"factor_vae.gamma": None}, "no binding factor_vae.gamma"),
])
def test_models_that_cannot_be_imported_are_refused_in_one_line(change, message):
    bindings = {k: v for k, v in {**FACTOR_VAE_BINDINGS, **change}.items() if v is not None}
    with pytest.raises(DataFileError, match=message) as raised:
        parse_train_config(bindings)
    assert "\n" not in str(raised.value)


def _tf_weights(model: DlibConvVAE) -> dict[str, np.ndarray]:
    """The model's parameters as disentanglement_lib's TensorFlow variables."""
    params = dict(model.named_parameters())
    return {tf_name: params[name].detach().numpy().transpose(np.argsort(convert.axes))
            for name, (tf_name, convert) in tf_variable_mapping().items()}


@pytest.fixture
def tf_model():
    torch.manual_seed(3)
    model = DlibConvVAE(latent_dim=10)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.normal_(0, 0.1)  # zero biases would hide a bias mix-up
    info = {"model_dir": "/models/model400_on3dots/tf", "source": "checkpoint",
            "global_step": 22, "train_config": FACTOR_VAE_BINDINGS, "tensorflow": "2.15.1"}
    weights = {**_tf_weights(model), "discriminator/d1/kernel": np.zeros((10, 1000))}
    return model, weights, info


def test_an_import_is_a_finished_run_with_the_same_weights(tmp_path, tf_model):
    model, weights, info = tf_model
    result = import_dlib_model(weights, info, tmp_path)
    run = result.run_dir
    assert run == (tmp_path / layout.STANDARD_MODELS_DIR
                   / "dlibConv_factor_vae_gamma30_0000_lat10_batch64_lr0_0001" / "tf_model400")
    assert layout.is_finished(run) and result.num_batches == 11 and not result.skipped
    config = TrainConfig.load(layout.config_path(run))
    assert (config.objective, config.objective_params, config.model_num, config.seed) == (
        "factor_vae", {"gamma": 30.0}, 400, 0)
    assert config.imported_from == info["model_dir"] and config.num_batches == 11
    loaded = load_model(layout.saved_model_dir(run, 11))
    for (name, ours), (_, theirs) in zip(model.state_dict().items(),
                                          loaded.state_dict().items(), strict=True):
        assert torch.equal(ours, theirs), name
    x = torch.rand(3, 1, 64, 64)
    scripted = load_torchscript(layout.torchscript_path(run))
    torch.testing.assert_close(scripted(x), model.encode(x)[0], rtol=0, atol=0)
    done = json.loads(layout.done_path(run).read_text())
    assert done["imported_from"] == info["model_dir"] and done["global_step"] == 22
    info_of_run = our_run_info(run)
    assert info_of_run.label == "FactorVAE (TensorFlow)"
    assert info_of_run.group == "baseline:factor_vae:TensorFlow"


def test_importing_twice_skips_and_another_source_is_refused(tmp_path, tf_model):
    _, weights, info = tf_model
    import_dlib_model(weights, info, tmp_path)
    assert import_dlib_model(weights, info, tmp_path).skipped
    other = {**info, "model_dir": "/elsewhere/tf"}
    with pytest.raises(JLoneVAEError, match="already holds another run"):
        import_dlib_model(weights, other, tmp_path)
    assert not import_dlib_model(weights, other, tmp_path, overwrite=True).skipped


def test_a_checkpoint_of_another_shape_is_refused_before_anything_is_written(tmp_path, tf_model):
    _, weights, info = tf_model
    wrong = {**weights, "encoder/e5/kernel": np.zeros((512, 256), np.float32)}
    with pytest.raises(DataFileError, match="wrong shape: encoder/e5/kernel"):
        import_dlib_model(wrong, info, tmp_path)
    # The mean encoder alone (a post-processed representation/): the folder named, and which
    # folder to give instead.
    encoder_only = {name: value for name, value in weights.items() if name != "encoder/e1/kernel"}
    with pytest.raises(DataFileError, match=r"^/models/model400_on3dots/tf: .*encoder/e1/kernel"
                                            r".*; is it the model folder disentanglement_lib's "
                                            r"training wrote \(model<N>_on3dots/tf, with "
                                            r"tf_checkpoint/\)\?$"):
        import_dlib_model(encoder_only, info, tmp_path)
    assert not list(tmp_path.rglob("config.json"))


def test_an_unfinished_training_folder_is_named_as_such(tmp_path, tf_model):
    _, weights, info = tf_model
    model_dir = tmp_path / "model400_on3dots" / "tf"
    (model_dir / "tf_checkpoint").mkdir(parents=True)
    unfinished = {**info, "model_dir": str(model_dir), "train_config": None}
    with pytest.raises(DataFileError, match="its training has not finished .*; run the training "
                                            "again, then import"):
        import_dlib_model(weights, unfinished, tmp_path / "out")
    elsewhere = {**unfinished, "model_dir": str(tmp_path / "docs")}
    with pytest.raises(DataFileError, match="which says how the model was trained; import the "
                                            "folder that disentanglement_lib's training wrote"):
        import_dlib_model(weights, elsewhere, tmp_path / "out")


def test_the_cli_without_the_tensorflow_environment_says_how_to_build_it(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        import_dlib.main([str(tmp_path), "--dlib-python", str(tmp_path / "none" / "python")])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "build_dlib_env.bash" in err


def test_an_overwrite_that_crashes_mid_save_is_redone_by_the_next_import(tmp_path, tf_model,
                                                                        monkeypatch):
    """issue 28: ``--overwrite`` removes the old import's DONE, weights and results before it
    writes anything, and writes DONE last, so a crash mid-save is never taken for a finished
    import (with the old weights)."""
    _, weights, info = tf_model
    run = import_dlib_model(weights, info, tmp_path).run_dir
    old_model = layout.saved_model_dir(run, 11)
    results = layout.metric_results_dir(run, "mig")
    layout.aggregate_file(results).parent.mkdir(parents=True)
    layout.aggregate_file(results).write_text("{}")
    layout.evaluation_failed_path(run).write_text("{}")
    other = {**info, "model_dir": "/elsewhere/tf", "global_step": 30}

    def crash(model, folder):
        assert TrainConfig.load(layout.config_path(run)).imported_from == "/elsewhere/tf"
        raise OSError("disk full")

    monkeypatch.setattr(dlib_import, "save_model", crash)
    with pytest.raises(OSError, match="disk full"):
        import_dlib_model(weights, other, tmp_path, overwrite=True)
    assert not layout.is_finished(run)
    assert not old_model.exists() and not results.exists()
    assert not layout.evaluation_failed_path(run).exists()
    monkeypatch.undo()
    again = import_dlib_model(weights, other, tmp_path)
    assert not again.skipped and again.num_batches == 15
    done = json.loads(layout.done_path(run).read_text())
    assert done["imported_from"] == "/elsewhere/tf" and done["num_batches"] == 15
    assert layout.find_saved_model(run) == layout.saved_model_dir(run, 15)


def test_a_tfhub_module_without_a_global_step_counts_the_configured_training_steps(
        tmp_path, tf_model):
    """issue 28: the TF-Hub fallback (no tf_checkpoint/) has no global step; the run's length
    comes from model.training_steps (FactorVAE: two global steps per VAE update)."""
    _, weights, info = tf_model
    hub = {**info, "source": "tfhub", "global_step": None}
    result = import_dlib_model(weights, hub, tmp_path)
    assert not result.skipped and layout.is_finished(result.run_dir)
    assert result.num_batches == vae_updates("factor_vae", 20) == 10
    assert TrainConfig.load(layout.config_path(result.run_dir)).num_batches == 10
    done = json.loads(layout.done_path(result.run_dir).read_text())
    assert done["weights_from"] == "tfhub" and done["global_step"] == 20
    assert done["global_step_from"] == "model.training_steps"


@pytest.mark.parametrize("key, text", [
    ("factor_vae.gamma", "@some_function"),
    ("factor_vae.gamma", "[30.0, 40.0]"),
    ("factor_vae.gamma", "True"),
    ("model.batch_size", "'sixty-four'"),
    ("model.random_seed", "None"),
    ("model.training_steps", "2.5"),
    ("vae/AdamOptimizer.learning_rate", "1e-4 +"),
    ("encoder.num_latent", "'10\n'"),
])
def test_bindings_that_are_not_numbers_are_one_line_errors(key, text):
    """issue 28: a bad value names the file, the binding and its text, in one line."""
    with pytest.raises(DataFileError) as raised:
        parse_train_config({**FACTOR_VAE_BINDINGS, key: text},
                           source="/models/400/tf/results/json/train_config.json")
    message = str(raised.value)
    assert "\n" not in message
    assert "/models/400/tf/results/json/train_config.json" in message
    assert f"{key} = {text if text.isprintable() else repr(text)}" in message


def _cli_with_read(monkeypatch, tmp_path, weights, info) -> int:
    """jlonevae-import-dlib on one folder whose TensorFlow read gives (weights, info)."""
    monkeypatch.setattr(import_dlib, "read_dlib_model", lambda python, model_dir: (weights, info))
    model_dir = tmp_path / "model400"
    model_dir.mkdir(exist_ok=True)
    try:
        code = import_dlib.main([str(model_dir), "--output-dir", str(tmp_path / "out"),
                                 "--dlib-python", sys.executable])
    except SystemExit as exited:
        code = exited.code
    return code


def test_the_cli_refuses_a_bad_binding_in_one_line(tmp_path, tf_model, monkeypatch, capsys):
    _, weights, info = tf_model
    bad = {**info, "train_config": {**FACTOR_VAE_BINDINGS, "factor_vae.gamma": "'thirty'"}}
    code = _cli_with_read(monkeypatch, tmp_path, weights, bad)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "factor_vae.gamma" in err and "thirty" in err and TRAIN_CONFIG_NAME in err


def test_the_cli_imports_a_tfhub_only_folder(tmp_path, tf_model, monkeypatch, capsys):
    _, weights, info = tf_model
    code = _cli_with_read(monkeypatch, tmp_path, weights,
                          {**info, "source": "tfhub", "global_step": None})
    assert code == 0, capsys.readouterr().err
    assert "(imported, 10 VAE updates)" in capsys.readouterr().out
