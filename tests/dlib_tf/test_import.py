"""A model trained by disentanglement_lib on TensorFlow, imported (jlonevae-import-dlib) and
scored by our evaluation: the imported PyTorch model gives TensorFlow's mean representation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from jlonevae_lib.architecture.export import load_torchscript
from jlonevae_lib.architecture.load_model import load_model
from jlonevae_lib.cli import evaluate as evaluate_cli
from jlonevae_lib.cli import import_dlib
from jlonevae_lib.data import get_named_ground_truth_data
from jlonevae_lib.runs import layout
from jlonevae_lib.train.config import TrainConfig
from tests.dlib_tf.conftest import TRAINED_MODEL_NUM, TRAINED_STEPS, run_dlib

pytestmark = pytest.mark.slow

NUM_IMAGES = 256
#: float32 forward passes of the same weights by two libraries (measured: ~3e-8 on trained
#: weights, docs/dlib_tensorflow.md).
MEANS_ATOL = 1e-5


@pytest.fixture(scope="module")
def imported(dlib_python, dlib_trained_model, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("imported")
    assert import_dlib.main([str(dlib_trained_model), "--output-dir", str(output_dir),
                             "--dlib-python", str(dlib_python)]) == 0
    (run,) = [p.parent for p in output_dir.rglob(layout.CONFIG_FILE)]
    return run


def test_the_import_records_the_study_member(imported, dlib_trained_model):
    config = TrainConfig.load(layout.config_path(imported))
    assert imported.name == f"tf_model{TRAINED_MODEL_NUM}"
    assert (config.objective, config.objective_params, config.model_num, config.seed) == (
        "factor_vae", {"gamma": 30.0}, TRAINED_MODEL_NUM, 0)
    assert config.architecture == "dlibConv" and config.dataset == "threeDots"
    assert config.imported_from == str(dlib_trained_model.resolve())
    done = json.loads(layout.done_path(imported).read_text())
    assert done["weights_from"] == "checkpoint"
    # FactorVAE's global step counts each iteration twice, and its estimator stops at the
    # first check past the limit: one iteration more than the limit asks (notes in
    # docs/dlib_tensorflow.md).
    assert done["global_step"] in (TRAINED_STEPS, TRAINED_STEPS + 2)
    assert config.num_batches == done["global_step"] // 2


def test_the_imported_model_gives_tensorflows_mean_representation(imported, dlib_python,
                                                                   dlib_trained_model, tmp_path):
    images = get_named_ground_truth_data("threeDots").sample_observations(
        NUM_IMAGES, np.random.RandomState(5)).astype(np.float32)
    np.save(tmp_path / "images.npy", images)
    representation_hub = dlib_trained_model / layout.DLIB_REPRESENTATION_DIR / layout.DLIB_HUB_DIR
    run_dlib(dlib_python, ["-m", "jlonevae_lib.dlib_tf.variables", str(representation_hub),
                           "--means-of", str(tmp_path / "images.npy"),
                           "--output", str(tmp_path / "means.npy")])
    tf_means = np.load(tmp_path / "means.npy")
    assert tf_means.shape == (NUM_IMAGES, 10) and np.abs(tf_means).max() > 1e-3
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    num_batches = TrainConfig.load(layout.config_path(imported)).num_batches
    model = load_model(layout.saved_model_dir(imported, num_batches))
    ours = model.encode(x)[0].detach().numpy()
    scripted = load_torchscript(layout.torchscript_path(imported))(x).detach().numpy()
    assert np.abs(ours - tf_means).max() <= MEANS_ATOL
    assert np.abs(scripted - tf_means).max() <= MEANS_ATOL


def test_the_imported_model_is_evaluated_like_our_runs(imported):
    assert evaluate_cli.main([str(imported), "--metrics", "small_local_mig"]) == 0
    aggregate = json.loads(layout.evaluation_path(imported, "small_local_mig").read_text())
    assert 0.0 <= aggregate["evaluation_results.discrete_mig"] <= 1.0


def test_a_folder_that_is_not_a_dlib_model_is_refused_in_one_line(dlib_python, tmp_path,
                                                                   capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exited:
        import_dlib.main([str(tmp_path / "empty"), "--output-dir", str(tmp_path),
                          "--dlib-python", str(dlib_python)])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not a disentanglement_lib model folder" in err
    # The experiment's folder, one above the model's: the model's named.
    (tmp_path / "model400_on3dots" / "tf").mkdir(parents=True)
    with pytest.raises(SystemExit):
        import_dlib.main([str(tmp_path / "model400_on3dots"), "--output-dir", str(tmp_path),
                          "--dlib-python", str(dlib_python)])
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"(did you mean {tmp_path / 'model400_on3dots' / 'tf'}?)"), err


def test_a_corrupt_tensorflow_checkpoint_is_one_line(dlib_python, tmp_path, capsys):
    """TensorFlow's reader raises its own error with its traceback in the message: the
    import shows the first line of it, not the traceback."""
    checkpoint = tmp_path / "model" / "tf_checkpoint"
    checkpoint.mkdir(parents=True)
    (checkpoint / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-10"\n')
    (checkpoint / "model.ckpt-10.index").write_bytes(b"not an index")
    (checkpoint / "model.ckpt-10.data-00000-of-00001").write_bytes(b"\0" * 64)
    with pytest.raises(SystemExit) as exited:
        import_dlib.main([str(tmp_path / "model"), "--output-dir", str(tmp_path / "out"),
                          "--dlib-python", str(dlib_python)])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: cannot read"), err
    assert "Traceback" not in err and 'File "' not in err
