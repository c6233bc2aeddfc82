"""The original's utils_pytorch, called as its training and evaluation scripts did."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import jlonevae_lib.utils.utils_pytorch as pyu
from jlonevae_lib.architecture.export import MeanEncoder
from jlonevae_lib.architecture.vae import build_conv_vae
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


@pytest.fixture
def aicrowd_env(tmp_path, monkeypatch):
    """The AIcrowd variables pointing into ``tmp_path``; the working folder is ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AICROWD_OUTPUT_PATH", str(tmp_path / "scratch"))
    monkeypatch.setenv("AICROWD_EVALUATION_NAME", "experiment")
    monkeypatch.setenv("AICROWD_DATASET_NAME", "threeDots")
    return tmp_path


def test_config_from_the_environment_and_defaults(aicrowd_env, monkeypatch):
    config = pyu.get_config()
    assert config == (str(aicrowd_env / "scratch"), "experiment", "threeDots")
    assert (config.base_path, config.experiment_name, config.dataset_name) == tuple(config)
    for name in ("AICROWD_OUTPUT_PATH", "AICROWD_EVALUATION_NAME", "AICROWD_DATASET_NAME"):
        monkeypatch.delenv(name)
    assert pyu.get_config() == ("./scratch/shared", "experiment_name", "threeDots")
    assert pyu.get_dataset_name() == "threeDots"
    # The default model path is under the same base path as the evaluation scripts read.
    path = Path(pyu.get_model_path())
    assert path == Path("scratch/shared/experiment_name/representation/pytorch_model.pt")
    assert (aicrowd_env / path.parent / "results").is_dir()
    assert pyu.get_model_path("base", "name", make=False) == str(
        Path("base/name/representation/pytorch_model.pt"))
    assert not (aicrowd_env / "base").exists()


def test_use_cuda_follows_aicrowd_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.delenv("AICROWD_CUDA", raising=False)
    assert pyu.use_cuda()
    for off in ("0", "False", "no"):
        monkeypatch.setenv("AICROWD_CUDA", off)
        assert not pyu.use_cuda()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("AICROWD_CUDA", "1")
    assert not pyu.use_cuda()


def test_export_import_and_represent_as_the_original(aicrowd_env):
    # The original training script: export_model(RepresentationExtractor(model), path=...,
    # input_shape=(1, C, 64, 64)); its evaluation: import_model(path), make_representor(model).
    torch.manual_seed(0)
    model = build_conv_vae("tiny16", latent_dim=3).eval()
    path = pyu.export_model(MeanEncoder(model), input_shape=(1, 1, 16, 16))
    assert path == pyu.get_model_path(make=False)
    imported = pyu.import_model()
    assert isinstance(imported, torch.jit.ScriptModule)
    represent = pyu.make_representor(imported, cuda=False)
    observations = np.random.default_rng(0).random((7, 16, 16, 1), dtype=np.float32)  # NHWC
    codes = represent(observations)
    assert codes.shape == (7, 3) and codes.dtype == np.float32
    with torch.no_grad():
        expected = model.encode(torch.from_numpy(observations).permute(0, 3, 1, 2))[0]
    np.testing.assert_allclose(codes, expected.numpy(), rtol=1e-5, atol=1e-6)
    # A ScriptModule is saved as it is.
    again = pyu.export_model(imported, path=str(aicrowd_env / "again.pt"))
    np.testing.assert_array_equal(pyu.make_representor(pyu.import_model(again), False)(
        observations), codes)


def test_export_and_import_refusals(aicrowd_env):
    model = build_conv_vae("tiny16", latent_dim=2)
    with pytest.raises(JLoneVAEError, match="use_script_module"):
        pyu.export_model(MeanEncoder(model), input_shape=(1, 1, 16, 16),
                         use_script_module=False)
    with pytest.raises(DataFileError, match="missing"):
        pyu.import_model(str(aicrowd_env / "nothing.pt"))


def test_loader_as_the_original_training_script(aicrowd_env):
    # train_loader = pyu.get_loader(batch_size=..., iterator_len=batch_size * batches_per_epoch)
    loader = pyu.get_loader(batch_size=4, iterator_len=8)
    batches = list(loader)
    assert len(batches) == 2 and batches[0].shape == (4, 1, 64, 64)
    assert batches[0].dtype == torch.float32 and 0 <= batches[0].min() <= batches[0].max() <= 1
    # Images are drawn from the seed, whatever the index.
    first, second = pyu.get_dataset(seed=3), pyu.get_dataset("threeDots", seed=3)
    torch.testing.assert_close(first[5], second[0], rtol=0, atol=0)
    assert not torch.equal(first[1], first[1])
    with pytest.raises(IndexError):
        pyu.DLIBDataset("threeDots", iterator_len=2)[2]
