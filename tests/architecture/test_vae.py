"""ConvVAE: shapes, parameter names, the 'SAME' decoder and argument checks."""

from __future__ import annotations

import pytest
import torch

from jlonevae_lib.architecture.vae import (
    CONV_VAE_ARG_NAMES,
    PRESETS,
    ConvVAE,
    build_conv_vae,
    conv_vae_args,
)
from jlonevae_lib.utils.errors import JLoneVAEError
from tests.architecture.reference_forward import reference_decode, reference_encode

PRESET_CASES = [("defaultConv", 1, 64), ("defaultConv", 3, 64), ("tiny16", 1, 16)]

DEFAULT_CONV_C1_STATE = [
    ("fcmu.weight", (10, 256)), ("fcmu.bias", (10,)),
    ("fclogvar.weight", (10, 256)), ("fclogvar.bias", (10,)),
    ("emb_convs.0.weight", (32, 1, 4, 4)), ("emb_convs.0.bias", (32,)),
    ("emb_convs.1.weight", (32, 32, 4, 4)), ("emb_convs.1.bias", (32,)),
    ("emb_convs.2.weight", (64, 32, 4, 4)), ("emb_convs.2.bias", (64,)),
    ("emb_convs.3.weight", (64, 64, 4, 4)), ("emb_convs.3.bias", (64,)),
    ("emb_fcs.0.weight", (256, 256)), ("emb_fcs.0.bias", (256,)),
    ("gen_fcs.0.weight", (256, 10)), ("gen_fcs.0.bias", (256,)),
    ("gen_fcs.1.weight", (1024, 256)), ("gen_fcs.1.bias", (1024,)),
    ("gen_convs.0.weight", (64, 64, 4, 4)), ("gen_convs.0.bias", (64,)),
    ("gen_convs.1.weight", (64, 32, 4, 4)), ("gen_convs.1.bias", (32,)),
    ("gen_convs.2.weight", (32, 32, 4, 4)), ("gen_convs.2.bias", (32,)),
    ("gen_convs.3.weight", (32, 1, 4, 4)), ("gen_convs.3.bias", (1,)),
]

TINY16_STATE = [
    ("fcmu.weight", (10, 128)), ("fcmu.bias", (10,)),
    ("fclogvar.weight", (10, 128)), ("fclogvar.bias", (10,)),
    ("emb_convs.0.weight", (64, 1, 3, 3)), ("emb_convs.0.bias", (64,)),
    ("emb_convs.1.weight", (128, 64, 3, 3)), ("emb_convs.1.bias", (128,)),
    ("emb_fcs.0.weight", (128, 1152)), ("emb_fcs.0.bias", (128,)),
    ("gen_fcs.0.weight", (128, 10)), ("gen_fcs.0.bias", (128,)),
    ("gen_fcs.1.weight", (1024, 128)), ("gen_fcs.1.bias", (1024,)),
    ("gen_convs.0.weight", (64, 64, 3, 3)), ("gen_convs.0.bias", (64,)),
    ("gen_convs.1.weight", (64, 32, 3, 3)), ("gen_convs.1.bias", (32,)),
    ("gen_convs.2.weight", (32, 1, 3, 3)), ("gen_convs.2.bias", (1,)),
]


def small_args(**overrides):
    """A 16×16×1 model small enough to build in microseconds."""
    args = {
        "latent_dim": 3, "im_side_len": 16, "im_channels": 1,
        "emb_conv_layers_channels": [4], "emb_conv_layers_strides": [2],
        "emb_conv_layers_kernel_sizes": [4], "emb_fc_layers_num_features": [8],
        "gen_fc_layers_num_features": [8, 32], "gen_first_im_side_len": 4,
        "gen_conv_layers_channels": [4, 1], "gen_conv_layers_strides": [2, 2],
        "gen_conv_layers_kernel_sizes": [4, 4],
    }
    args.update(overrides)
    return args


@pytest.mark.parametrize("preset,channels,side", PRESET_CASES)
def test_preset_shapes(preset, channels, side):
    torch.manual_seed(0)
    model = build_conv_vae(preset, im_channels=channels, latent_dim=10)
    x = torch.rand(2, channels, side, side)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (2, 10)
    recon = model.decode(mu)
    assert recon.shape == x.shape
    assert 0 <= recon.min() and recon.max() <= 1
    recon, mu, logvar, z = model(x)
    assert recon.shape == x.shape and mu.shape == logvar.shape == z.shape == (2, 10)
    recon, mu, logvar = model.noiseless_autoencode(x)
    torch.testing.assert_close(recon, model.decode(model.encode(x)[0]))


@pytest.mark.parametrize("preset,expected", [("defaultConv", DEFAULT_CONV_C1_STATE),
                                             ("tiny16", TINY16_STATE)])
def test_state_dict_names_and_shapes(preset, expected):
    state = build_conv_vae(preset).state_dict()
    assert [(k, tuple(v.shape)) for k, v in state.items()] == expected


def test_model_args_are_the_plain_kwargs():
    model = build_conv_vae("defaultConv", im_channels=3, latent_dim=7)
    assert model.model_args == conv_vae_args("defaultConv", im_channels=3, latent_dim=7)
    assert tuple(model.model_args) == CONV_VAE_ARG_NAMES
    for value in model.model_args.values():
        assert type(value) is int or (type(value) is list and all(type(v) is int for v in value))
    assert ConvVAE(**model.model_args).model_args == model.model_args


def test_fclogvar_bias_starts_three_below_default_init():
    model = build_conv_vae("defaultConv")
    bound = 1 / 256 ** 0.5  # nn.Linear's default bias range for fan-in 256
    assert ((model.fclogvar.bias + 3).abs() <= bound).all()
    assert (model.fcmu.bias.abs() <= bound).all()


def test_forward_samples_z_by_reparameterisation():
    torch.manual_seed(1)
    model = build_conv_vae("tiny16", latent_dim=4)
    x = torch.rand(3, 1, 16, 16)
    torch.manual_seed(5)
    recon, mu, logvar, z = model(x)
    torch.manual_seed(5)
    eps = torch.randn(3, 4)
    torch.testing.assert_close(z, mu + eps * torch.exp(logvar / 2))
    torch.testing.assert_close(recon, model.decode(z))


@pytest.mark.parametrize("overrides", [
    {},  # kernel 4 stride 2: symmetric crop, done by padding
    dict(gen_conv_layers_kernel_sizes=[3, 3]),  # excess 1: crop bottom/right only
    dict(gen_conv_layers_kernel_sizes=[5, 7]),  # excess 3 and 5: crops of 1|2 and 2|3
    dict(gen_conv_layers_channels=[4, 4, 1], gen_conv_layers_strides=[2, 1, 2],
         gen_conv_layers_kernel_sizes=[4, 2, 3]),  # stride 1 with even kernel: excess 1
])
def test_decoder_equals_explicit_crop_implementation(overrides):
    torch.manual_seed(2)
    model = ConvVAE(**small_args(**overrides))
    z = torch.randn(5, 3)
    expected = reference_decode(model.state_dict(), model.model_args, z)
    torch.testing.assert_close(model.decode(z), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("preset", ["defaultConv", "tiny16"])
def test_presets_equal_explicit_crop_implementation(preset):
    torch.manual_seed(3)
    model = build_conv_vae(preset)
    side = model.im_side_len
    x = torch.rand(2, 1, side, side)
    state, args = model.state_dict(), model.model_args
    mu, logvar = model.encode(x)
    ref_mu, ref_logvar = reference_encode(state, args, x)
    torch.testing.assert_close(mu, ref_mu)
    torch.testing.assert_close(logvar, ref_logvar)
    torch.testing.assert_close(model.decode(mu), reference_decode(state, args, mu),
                               rtol=1e-6, atol=1e-6)


def test_fc_only_decoder_ends_linearly():
    torch.manual_seed(4)
    model = ConvVAE(**small_args(im_side_len=4, emb_conv_layers_channels=[],
                                 emb_conv_layers_strides=[], emb_conv_layers_kernel_sizes=[],
                                 gen_fc_layers_num_features=[8, 16], gen_first_im_side_len=4,
                                 gen_conv_layers_channels=[], gen_conv_layers_strides=[],
                                 gen_conv_layers_kernel_sizes=[]))
    z = torch.randn(6, 3)
    fc0, fc1 = model.gen_fcs
    expected = torch.sigmoid(fc1(torch.relu(fc0(z)))).reshape(6, 1, 4, 4)
    torch.testing.assert_close(model.decode(z), expected)


def test_unknown_preset_lists_known_names():
    with pytest.raises(JLoneVAEError, match="defaultConv, tiny16"):
        conv_vae_args("bigConv")
    assert set(PRESETS) == {"defaultConv", "tiny16"}


@pytest.mark.parametrize("overrides,message", [
    (dict(im_side_len=32), r"produces 1×16×16 images but the model's input is 1×32×32"),
    (dict(im_channels=3), r"produces 1×16×16 images but the model's input is 3×16×16"),
    (dict(im_side_len=3), "shrinks the 3×3 input to nothing"),
    (dict(emb_conv_layers_channels=[4, 4, 4], emb_conv_layers_strides=[2, 2, 2],
          emb_conv_layers_kernel_sizes=[4, 4, 4]), "encoder conv 2 .* to nothing"),
    (dict(gen_conv_layers_kernel_sizes=[1, 4]), "kernel 1 < stride 2"),
    (dict(gen_fc_layers_num_features=[8, 30]), "must be a multiple of"),
    (dict(gen_conv_layers_strides=[2]), "same length"),
    (dict(latent_dim=2.5), "latent_dim must be an integer"),
    (dict(latent_dim=True), "latent_dim must be an integer"),
    (dict(latent_dim=0), "latent_dim must be >= 1"),
    (dict(emb_fc_layers_num_features=8), "must be a list of integers"),
    (dict(gen_conv_layers_channels=[4, "1"]), r"gen_conv_layers_channels\[1\] must be an integer"),
])
def test_bad_arguments_are_clear_errors(overrides, message):
    with pytest.raises(JLoneVAEError, match=message):
        ConvVAE(**small_args(**overrides))

