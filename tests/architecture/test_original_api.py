"""The original repository's model and Jacobian API, called as its scripts and notebooks did."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

import jlonevae_lib.architecture.vae_jacobian as vj
from jlonevae_lib.architecture.load_model import load_model
from jlonevae_lib.architecture.save_model import save_conv_vae
from jlonevae_lib.architecture.vae import CONV_VAE_ARG_NAMES, ConvVAE, build_conv_vae, conv_vae_args
from jlonevae_lib.utils.errors import JLoneVAEError

# The keys the original's save_conv_vae wrote, read from the model's attributes of these names.
ORIGINAL_SAVED_ATTRIBUTES = (
    "latent_dim", "im_side_len", "im_channels", "emb_conv_layers_channels",
    "emb_conv_layers_strides", "emb_conv_layers_kernel_sizes", "emb_fc_layers_num_features",
    "gen_fc_layers_num_features", "gen_first_im_side_len", "gen_conv_layers_channels",
    "gen_conv_layers_strides", "gen_conv_layers_kernel_sizes",
)


@pytest.fixture(scope="module")
def rgb_model():
    """tiny16 with 3 channels and d = 3, float64 (as the notebooks' .double() models)."""
    torch.manual_seed(0)
    return build_conv_vae("tiny16", im_channels=3, latent_dim=3).double().eval()


def hand_jacobian(model: ConvVAE, z: torch.Tensor, step: float = 1e-6) -> np.ndarray:
    """(d, B, C, H, W) by float64 central differences of decode at z (B, d): independent of
    the package's Jacobian code, accurate to ~1e-9 here."""
    model, z = model.double(), z.detach().double()
    with torch.no_grad():
        return torch.stack([(model.decode(z + step * e) - model.decode(z - step * e)) / (2 * step)
                            for e in torch.eye(z.shape[1], dtype=torch.float64)]).numpy()


def test_model_exposes_the_original_attributes():
    model = build_conv_vae("tiny16", im_channels=1, latent_dim=4)
    assert model.architecture == "conv_vae"
    assert ORIGINAL_SAVED_ATTRIBUTES == CONV_VAE_ARG_NAMES
    expected = conv_vae_args("tiny16", im_channels=1, latent_dim=4)
    assert {name: getattr(model, name) for name in ORIGINAL_SAVED_ATTRIBUTES} == expected
    # Read-only copies: editing one does not change the model's recorded arguments.
    channels = model.gen_conv_layers_channels
    channels.append(7)
    assert model.gen_conv_layers_channels == [64, 32, 1]
    with pytest.raises(AttributeError):
        model.gen_first_im_side_len = 8


def test_the_original_save_conv_vae_code_round_trips(tmp_path):
    # What the original's save_conv_vae did, step by step, on our model; then our loader.
    torch.manual_seed(1)
    model = build_conv_vae("tiny16", latent_dim=3)
    kwargs = {name: getattr(model, name) for name in ORIGINAL_SAVED_ATTRIBUTES}
    (tmp_path / "model_args.p").write_bytes(pickle.dumps(kwargs))
    (tmp_path / "model_type.txt").write_text(model.architecture)
    torch.save(model.state_dict(), tmp_path / "model_state_dict.pt")
    loaded = load_model(tmp_path)
    z = torch.randn(5, 3)
    torch.testing.assert_close(loaded.decode(z), model.decode(z), rtol=0, atol=0)
    # The original's load_model: ConvVAE(**kwargs) and a plain load_state_dict.
    rebuilt = ConvVAE(**pickle.loads((tmp_path / "model_args.p").read_bytes()))
    rebuilt.load_state_dict(torch.load(tmp_path / "model_state_dict.pt", weights_only=True))


class OriginalStyleVAE(torch.nn.Module):
    """A model with only the original's surface: attributes, ``architecture``, a state dict."""

    def __init__(self, inner: ConvVAE):
        super().__init__()
        self.inner = inner
        self.architecture = "conv_vae"
        for name in ORIGINAL_SAVED_ATTRIBUTES:
            value = getattr(inner, name)
            setattr(self, name, tuple(value) if isinstance(value, list) else value)

    def state_dict(self, *args, **kwargs):
        return self.inner.state_dict(*args, **kwargs)


def test_save_conv_vae_reads_the_attributes(tmp_path):
    torch.manual_seed(2)
    inner = build_conv_vae("tiny16", latent_dim=2)
    save_conv_vae(OriginalStyleVAE(inner), tmp_path)  # no model_args: read from attributes
    loaded = load_model(tmp_path)
    assert loaded.model_args == inner.model_args
    z = torch.randn(3, 2)
    torch.testing.assert_close(loaded.decode(z), inner.decode(z), rtol=0, atol=0)


def test_reparameterize_and_noisy_decode_as_the_original():
    torch.manual_seed(3)
    model = build_conv_vae("tiny16", latent_dim=4)
    mu, logvar = model.encode(torch.rand(6, 1, 16, 16))
    torch.manual_seed(5)
    z = model.reparameterize(mu, logvar)
    torch.manual_seed(5)
    eps = torch.randn(6, 4)
    torch.testing.assert_close(z, mu + eps * torch.exp(0.5 * logvar))

    torch.manual_seed(5)
    x, noisy = model.noisy_decode(mu, logvar)
    torch.testing.assert_close(noisy, z)
    torch.testing.assert_close(x, model.decode(z))
    assert x.shape == (6, 1, 16, 16)


def test_forward_samples_through_reparameterize():
    # As in the original, a subclass that changes the sampling changes forward's z and recon.
    class MeanOnly(ConvVAE):
        def reparameterize(self, mu, logvar):
            return mu

    torch.manual_seed(4)
    model = MeanOnly(**conv_vae_args("tiny16", latent_dim=3))
    images = torch.rand(2, 1, 16, 16)
    recon, mu, logvar, z = model(images)
    torch.testing.assert_close(z, mu)
    torch.testing.assert_close(recon, model.noiseless_autoencode(images)[0])


def test_image_optimized_sums_the_fd_columns_over_channels(rgb_model):
    torch.manual_seed(6)
    z = torch.randn(2, 3, dtype=torch.float64)
    jac = vj.compute_generator_jacobian_image_optimized(rgb_model, z, epsilon_scale=0.001,
                                                        device="cpu")
    assert isinstance(jac, torch.Tensor) and jac.shape == (3, 2, 1, 16, 16)
    base = rgb_model.decode(z)
    for k in range(3):
        step = torch.zeros(3, dtype=torch.float64)
        step[k] = 0.001
        by_hand = ((rgb_model.decode(z + step) - base) / 0.001).sum(dim=1, keepdim=True)
        torch.testing.assert_close(jac[k], by_hand, rtol=1e-9, atol=1e-9)
    # Positional arguments, the original's defaults, and gradients reaching the decoder.
    again = vj.compute_generator_jacobian_image_optimized(rgb_model, z)
    torch.testing.assert_close(again, jac)
    again.abs().sum().backward()
    assert rgb_model.gen_convs[-1].weight.grad is not None
    rgb_model.zero_grad(set_to_none=True)


def test_analytic_jacobian_as_the_notebooks_call_it(rgb_model):
    # The notebooks: encoding, logvar = model.encode(...); compute_..._analytic(model, encoding,
    # device=device, im_channels=3), with the default im_side_len and jac_batch_size.
    images = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    encoding, logvar = rgb_model.encode(images)
    jacs = vj.compute_generator_jacobian_analytic(rgb_model, encoding, device="cpu",
                                                  im_channels=3, im_side_len=16)
    assert isinstance(jacs, np.ndarray) and jacs.shape == (3, 1, 3, 16, 16)
    np.testing.assert_allclose(jacs, hand_jacobian(rgb_model, encoding), rtol=0, atol=1e-8)
    # The notebooks' use of the result: per-latent activity and (H, W, C) images.
    activities = [np.sum(np.square(jac)) for jac in jacs]
    assert len(activities) == 3 and jacs[int(np.argmax(activities)), 0].transpose(1, 2, 0).shape \
        == (16, 16, 3)
    small = vj.compute_generator_jacobian_analytic(rgb_model, encoding, 3, 16, "cpu",
                                                   jac_batch_size=7)
    np.testing.assert_allclose(small, jacs, rtol=1e-12, atol=0)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_analytic_jacobian_refuses_a_bad_jac_batch_size(rgb_model, bad):
    z = torch.zeros(1, 3, dtype=torch.float64)
    with pytest.raises(JLoneVAEError, match="jac_batch_size"):
        vj.compute_generator_jacobian_analytic(rgb_model, z, 3, 16, jac_batch_size=bad)


def test_fd_jacobian_as_the_natural_image_script_calls_it():
    # jacs = vj.compute_generator_jacobian_optimized(model, encoding, device=device)
    #            .detach().cpu().numpy(), with encoding from model(data).
    torch.manual_seed(7)
    model = build_conv_vae("tiny16", latent_dim=4)
    recon, encoding, logvar, noisy_encoding = model(torch.rand(1, 1, 16, 16))
    jacs = vj.compute_generator_jacobian_optimized(model, encoding, device="cpu")
    jacs = jacs.detach().cpu().numpy()
    assert jacs.shape == (4, 1, 1, 16, 16)
    exact = hand_jacobian(model, encoding)
    # Float32 forward differences with ε = 1e-3 are good to ~1e-4 (rounding of the images).
    np.testing.assert_allclose(jacs, exact, rtol=0, atol=3e-4)
    assert np.abs(exact).max() > 3e-3
