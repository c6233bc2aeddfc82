"""TorchScript export of the mean encoder in the AIcrowd layout."""

from __future__ import annotations

import pytest
import torch

from jlonevae_lib.architecture.export import export_torchscript, load_torchscript
from jlonevae_lib.architecture.vae import build_conv_vae
from jlonevae_lib.utils.errors import DataFileError

# torch 2.13 deprecates torch.jit; the AIcrowd layout (docs/formats.md) needs a TorchScript file.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.[a-z_]+` is deprecated")


@pytest.mark.parametrize("preset,channels", [("tiny16", 1), ("defaultConv", 3)])
def test_exported_module_is_the_mean_encoder(tmp_path, preset, channels):
    torch.manual_seed(0)
    model = build_conv_vae(preset, im_channels=channels, latent_dim=5)
    model.train()
    rng_before = torch.get_rng_state()
    path = export_torchscript(model, tmp_path / "seed1")

    assert path == tmp_path / "seed1" / "representation" / "pytorch_model.pt"
    assert (tmp_path / "seed1" / "representation" / "results").is_dir()
    assert model.training  # the caller's model is left as it was
    assert torch.equal(torch.get_rng_state(), rng_before)

    loaded = load_torchscript(path)
    side = model.im_side_len
    x = torch.rand(3, channels, side, side)  # a batch size other than the traced one
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model.encode(x)[0], rtol=0, atol=0)


def test_missing_torchscript_file(tmp_path):
    with pytest.raises(DataFileError, match="missing; export the model first"):
        load_torchscript(tmp_path / "pytorch_model.pt")


def test_corrupt_torchscript_file(tmp_path):
    path = export_torchscript(build_conv_vae("tiny16"), tmp_path)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DataFileError, match="not a readable TorchScript file"):
        load_torchscript(path)
