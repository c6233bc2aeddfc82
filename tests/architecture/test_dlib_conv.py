"""disentanglement_lib's architecture (architecture/dlib_conv.py): TensorFlow's shapes, 'SAME'
padding, initialisation and variable layouts, checked against NumPy written here; the saved
model, TorchScript export and a training run."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
import torch

from jlonevae_lib.architecture import registry
from jlonevae_lib.architecture.dlib_conv import (
    Conv2dSame,
    ConvTranspose2dSame,
    DlibConvVAE,
    load_tf_weights,
    same_padding,
    tf_variable_mapping,
)
from jlonevae_lib.architecture.export import export_torchscript, load_torchscript
from jlonevae_lib.architecture.load_model import load_model
from jlonevae_lib.architecture.registry import build_architecture
from jlonevae_lib.architecture.save_model import save_conv_vae, save_model
from jlonevae_lib.architecture.vae import ConvVAE, build_conv_vae, conv_vae_args
from jlonevae_lib.evaluate.representation import saved_model_representation
from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.train.trainer import train
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError
from jlonevae_lib.utils.safe_pickle import safe_load_pickle

# torch 2.13 deprecates torch.jit; the AIcrowd layout (docs/formats.md) needs a TorchScript file.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.[a-z_]+` is deprecated")

#: torch parameter name -> TensorFlow variable name.
TF_NAMES = {name: tf_name for name, (tf_name, _) in tf_variable_mapping().items()}


def tf_shapes(channels: int = 1, latent: int = 10) -> dict[str, tuple[int, ...]]:
    """disentanglement_lib's variables and shapes, as its TensorFlow checkpoints list them."""
    kernels = {
        "encoder/e1": (4, 4, channels, 32), "encoder/e2": (4, 4, 32, 32),
        "encoder/e3": (2, 2, 32, 64), "encoder/e4": (2, 2, 64, 64), "encoder/e5": (1024, 256),
        "encoder/means": (256, latent), "encoder/log_var": (256, latent),
        "decoder/dense": (latent, 256), "decoder/dense_1": (256, 1024),
        "decoder/conv2d_transpose": (4, 4, 64, 64), "decoder/conv2d_transpose_1": (4, 4, 32, 64),
        "decoder/conv2d_transpose_2": (4, 4, 32, 32),
        "decoder/conv2d_transpose_3": (4, 4, channels, 32),
    }
    shapes = {}
    for layer, kernel in kernels.items():
        shapes[f"{layer}/kernel"] = kernel
        # conv2d_transpose kernels are [h, w, out, in]: their bias has the third axis's size.
        out = kernel[2] if "conv2d_transpose" in layer else kernel[-1]
        shapes[f"{layer}/bias"] = (out,)
    return shapes


# ------------------------------------------------------------- NumPy TensorFlow (NHWC) forward

def np_same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    # TensorFlow's rule: output ceil(size/stride), padding split with the odd row at the end.
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def np_conv2d_same(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, stride: int
                   ) -> np.ndarray:
    """tf.nn.conv2d(padding='SAME') + bias: x (B, H, W, in), kernel [k, k, in, out]."""
    k = kernel.shape[0]
    (top, bottom), (left, right) = (np_same_pads(x.shape[1], k, stride),
                                    np_same_pads(x.shape[2], k, stride))
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    out_h, out_w = math.ceil(x.shape[1] / stride), math.ceil(x.shape[2] / stride)
    out = np.zeros((x.shape[0], out_h, out_w, kernel.shape[3]))
    for i in range(out_h):
        for j in range(out_w):
            patch = padded[:, i * stride:i * stride + k, j * stride:j * stride + k, :]
            out[:, i, j, :] = np.einsum("bhwc,hwco->bo", patch, kernel)
    return out + bias


def np_conv2d_transpose_same(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, stride: int
                             ) -> np.ndarray:
    """tf.nn.conv2d_transpose(padding='SAME') + bias: x (B, n, n, in), kernel [k, k, out, in],
    output (B, n·stride, n·stride, out): the gradient of a 'SAME' conv2d on that output size,
    i.e. the full scatter cropped by that conv2d's padding."""
    batch, n, _, _ = x.shape
    k, out_channels = kernel.shape[0], kernel.shape[2]
    full = np.zeros((batch, (n - 1) * stride + k, (n - 1) * stride + k, out_channels))
    for i in range(n):
        for j in range(n):
            full[:, i * stride:i * stride + k, j * stride:j * stride + k, :] += np.einsum(
                "bc,hwoc->bhwo", x[:, i, j, :], kernel)
    size = n * stride
    before, _ = np_same_pads(size, k, stride)
    return full[:, before:before + size, before:before + size, :] + bias


def relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0)


def np_encoder(w: dict[str, np.ndarray], images_nhwc: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    h = images_nhwc
    for layer, stride in (("e1", 2), ("e2", 2), ("e3", 2), ("e4", 2)):
        h = relu(np_conv2d_same(h, w[f"encoder/{layer}/kernel"], w[f"encoder/{layer}/bias"],
                                stride))
    h = h.reshape(h.shape[0], -1)  # tf.layers.flatten of NHWC
    h = relu(h @ w["encoder/e5/kernel"] + w["encoder/e5/bias"])
    return (h @ w["encoder/means/kernel"] + w["encoder/means/bias"],
            h @ w["encoder/log_var/kernel"] + w["encoder/log_var/bias"])


def np_decoder(w: dict[str, np.ndarray], z: np.ndarray) -> np.ndarray:
    """Logits (B, 64, 64, C), NHWC as TensorFlow's."""
    h = relu(z @ w["decoder/dense/kernel"] + w["decoder/dense/bias"])
    h = relu(h @ w["decoder/dense_1/kernel"] + w["decoder/dense_1/bias"])
    h = h.reshape(-1, 4, 4, 64)
    names = ["conv2d_transpose", "conv2d_transpose_1", "conv2d_transpose_2", "conv2d_transpose_3"]
    for i, name in enumerate(names):
        h = np_conv2d_transpose_same(h, w[f"decoder/{name}/kernel"], w[f"decoder/{name}/bias"], 2)
        if i + 1 < len(names):
            h = relu(h)
    return h


def random_tf_arrays(channels: int, latent: int, seed: int) -> dict[str, np.ndarray]:
    """He-scaled kernels and non-zero biases in TensorFlow's layouts (activations stay O(1))."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, shape in tf_shapes(channels, latent).items():
        if name.endswith("bias"):
            arrays[name] = rng.uniform(-0.1, 0.1, shape).astype(np.float32)
        else:
            fan_in = math.prod(shape[:-1]) if len(shape) == 4 else shape[0]
            arrays[name] = (rng.standard_normal(shape) * math.sqrt(2 / fan_in)).astype(np.float32)
    return arrays


# ------------------------------------------------------------------------------- the network

def test_parameters_are_disentanglement_libs_variables_with_their_counts():
    model = DlibConvVAE(latent_dim=10, im_channels=1)
    mapping = tf_variable_mapping()
    shapes = tf_shapes(1, 10)
    params = dict(model.named_parameters())
    assert list(mapping) == list(params)  # one entry per parameter, in creation order
    assert sorted(TF_NAMES.values()) == sorted(shapes)
    for name, param in params.items():
        tf_name, convert = mapping[name]
        assert name.replace(".", "/").replace("weight", "kernel") == tf_name
        assert convert.tf_shape(tuple(param.shape)) == shapes[tf_name], name
        assert param.numel() == math.prod(shapes[tf_name])
    per_layer = {}
    for tf_name, shape in shapes.items():
        layer = tf_name.rsplit("/", 1)[0]
        per_layer[layer] = per_layer.get(layer, 0) + math.prod(shape)
    assert per_layer == {
        "encoder/e1": 544, "encoder/e2": 16416, "encoder/e3": 8256, "encoder/e4": 16448,
        "encoder/e5": 262400, "encoder/means": 2570, "encoder/log_var": 2570,
        "decoder/dense": 2816, "decoder/dense_1": 263168, "decoder/conv2d_transpose": 65600,
        "decoder/conv2d_transpose_1": 32800, "decoder/conv2d_transpose_2": 16416,
        "decoder/conv2d_transpose_3": 513,
    }
    assert sum(p.numel() for p in model.parameters()) == sum(per_layer.values()) == 690517


def test_layer_by_layer_activation_shapes():
    model = DlibConvVAE(latent_dim=10, im_channels=3)
    x = torch.rand(2, 3, 64, 64)
    enc = model.encoder
    sides = []
    h = x
    for layer in (enc.e1, enc.e2, enc.e3, enc.e4):
        h = layer(h)
        sides.append(tuple(h.shape[1:]))
    assert sides == [(32, 32, 32), (32, 16, 16), (64, 8, 8), (64, 4, 4)]
    dec = model.decoder
    h = dec.dense_1(dec.dense(torch.zeros(2, 10))).reshape(-1, 4, 4, 64).permute(0, 3, 1, 2)
    sides = []
    for layer in (dec.conv2d_transpose, dec.conv2d_transpose_1, dec.conv2d_transpose_2,
                  dec.conv2d_transpose_3):
        h = layer(h)
        sides.append(tuple(h.shape[1:]))
    assert sides == [(64, 8, 8), (32, 16, 16), (32, 32, 32), (3, 64, 64)]


@pytest.mark.parametrize("size,kernel,pads", [
    (64, 4, (1, 1)), (63, 4, (1, 2)), (65, 4, (1, 2)), (64, 2, (0, 0)), (63, 2, (0, 1)),
    (16, 2, (0, 0)), (15, 2, (0, 1)),
])
def test_same_padding_matches_a_numpy_convolution(size, kernel, pads):
    assert same_padding(size, kernel, 2) == pads == np_same_pads(size, kernel, 2)
    torch.manual_seed(size + kernel)
    conv = Conv2dSame(3, 5, kernel, 2, input_side=size)
    with torch.no_grad():
        conv.bias.uniform_(-0.5, 0.5)
    x = torch.rand(2, 3, size, size)
    with torch.no_grad():
        out = conv(x)
    assert out.shape == (2, 5, math.ceil(size / 2), math.ceil(size / 2))
    expected = np_conv2d_same(x.permute(0, 2, 3, 1).double().numpy(),
                              conv.weight.detach().permute(2, 3, 1, 0).double().numpy(),
                              conv.bias.detach().double().numpy(), 2)
    np.testing.assert_allclose(out.permute(0, 2, 3, 1).double().numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("size,kernel", [(4, 4), (3, 4), (4, 3), (5, 3)])
def test_transposed_same_matches_a_numpy_transposed_convolution(size, kernel):
    torch.manual_seed(size * kernel)
    conv = ConvTranspose2dSame(3, 5, kernel, 2)
    with torch.no_grad():
        conv.bias.uniform_(-0.5, 0.5)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        out = conv(x)
    assert out.shape == (2, 5, 2 * size, 2 * size)
    # ConvTranspose2d's weight (in, out, k, k) is TensorFlow's [k, k, out, in] permuted.
    expected = np_conv2d_transpose_same(x.permute(0, 2, 3, 1).double().numpy(),
                                        conv.weight.detach().permute(2, 3, 1, 0).double().numpy(),
                                        conv.bias.detach().double().numpy(), 2)
    np.testing.assert_allclose(out.permute(0, 2, 3, 1).double().numpy(), expected, atol=1e-5)


def test_glorot_uniform_kernels_with_tensorflows_fans_and_zero_biases():
    torch.manual_seed(3)
    model = DlibConvVAE(latent_dim=10, im_channels=1)
    shapes = tf_shapes(1, 10)
    for name, param in model.named_parameters():
        tf_name = TF_NAMES[name]
        values = param.detach()
        if name.endswith("bias"):
            assert torch.count_nonzero(values) == 0, name
            continue
        shape = shapes[tf_name]
        receptive = math.prod(shape[:-2])
        limit = math.sqrt(6 / (receptive * shape[-2] + receptive * shape[-1]))
        assert values.abs().max() <= limit, name
        assert values.abs().max() > 0.95 * limit, name  # fills the interval, not a narrower one
        if values.numel() >= 10000:  # uniform on ±limit: std limit/√3
            assert values.std().item() == pytest.approx(limit / math.sqrt(3), rel=0.03), name
    # e5's fans are 1024 and 256; a PyTorch default init would be ±1/√1024 = ±0.03125.
    assert model.encoder.e5.weight.abs().max() > 0.06


def test_initialisation_follows_the_global_seed():
    torch.manual_seed(7)
    first = DlibConvVAE(latent_dim=4).state_dict()
    torch.manual_seed(7)
    again = build_architecture("dlibConv", 1, 4).state_dict()
    torch.manual_seed(8)
    other = DlibConvVAE(latent_dim=4).state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["encoder.e1.weight"], other["encoder.e1.weight"])


def test_forward_decode_and_sampling():
    torch.manual_seed(0)
    model = DlibConvVAE(latent_dim=5, im_channels=3)
    assert model.model_args == {"latent_dim": 5, "im_side_len": 64, "im_channels": 3}
    assert (model.latent_dim, model.im_side_len, model.im_channels) == (5, 64, 3)
    assert model.architecture == "dlib_conv_vae"
    x = torch.rand(4, 3, 64, 64)
    torch.manual_seed(1)
    recon, mu, logvar, z = model(x)
    assert recon.shape == x.shape and mu.shape == logvar.shape == z.shape == (4, 5)
    torch.manual_seed(1)
    mu2, logvar2 = model.encode(x)
    eps = torch.randn_like(mu2)
    torch.testing.assert_close(z, mu2 + eps * torch.exp(0.5 * logvar2))
    logits = model.decode_logits(z)
    assert logits.shape == (4, 3, 64, 64)
    torch.testing.assert_close(recon, torch.sigmoid(logits))
    torch.testing.assert_close(model.decode(z), torch.sigmoid(logits))
    assert recon.min() >= 0 and recon.max() <= 1
    torch.testing.assert_close(model.noiseless_autoencode(x)[0], model.decode(mu))


def test_other_image_sizes_are_refused():
    with pytest.raises(JLoneVAEError, match="takes 64×64 images, not 32×32"):
        DlibConvVAE(latent_dim=3, im_side_len=32)
    with pytest.raises(JLoneVAEError, match="latent_dim must be >= 1"):
        DlibConvVAE(latent_dim=0)


# --------------------------------------------------------------------- TensorFlow's variables

@pytest.mark.parametrize("channels,latent", [(1, 10), (3, 4)])
def test_tf_weights_give_tensorflows_forward(channels, latent):
    arrays = random_tf_arrays(channels, latent, seed=channels)
    model = load_tf_weights(DlibConvVAE(latent_dim=latent, im_channels=channels), arrays)
    w64 = {name: a.astype(np.float64) for name, a in arrays.items()}
    rng = np.random.default_rng(10 + channels)
    images_nhwc = rng.uniform(0, 1, (3, 64, 64, channels))
    z = rng.standard_normal((3, latent))
    means, log_var = np_encoder(w64, images_nhwc)
    logits_nhwc = np_decoder(w64, z)
    assert np.abs(means).max() > 0.1 and np.abs(logits_nhwc).max() > 0.1  # not trivially small
    with torch.no_grad():
        mu, logvar = model.encode(torch.from_numpy(images_nhwc).float().permute(0, 3, 1, 2))
        logits = model.decode_logits(torch.from_numpy(z).float())
    np.testing.assert_allclose(mu.double().numpy(), means, atol=1e-5)
    np.testing.assert_allclose(logvar.double().numpy(), log_var, atol=1e-5)
    np.testing.assert_allclose(logits.permute(0, 2, 3, 1).double().numpy(), logits_nhwc,
                               atol=1e-5)


def test_tf_weights_round_trip_and_extra_variables():
    arrays = random_tf_arrays(1, 3, seed=5)
    with_extras = {f"module/{name}": a for name, a in arrays.items()}
    with_extras["module/encoder/e1/kernel/Adam"] = np.zeros((4, 4, 1, 32), np.float32)
    with_extras["global_step"] = np.array(22)
    model = load_tf_weights(DlibConvVAE(latent_dim=3), with_extras, prefix="module/")
    # Undo each conversion by hand: conv kernels (o, i, h, w) -> [h, w, i, o], dense (o, i) ->
    # [i, o], biases as they are; every TensorFlow array comes back exactly.
    for name, param in model.named_parameters():
        tensor = param.detach()
        back = {4: lambda t: t.permute(2, 3, 1, 0), 2: lambda t: t.T, 1: lambda t: t}[
            tensor.ndim](tensor)
        np.testing.assert_array_equal(back.numpy(), arrays[TF_NAMES[name]])


def test_tf_weights_that_do_not_fit_are_refused_before_any_change():
    arrays = random_tf_arrays(1, 10, seed=6)
    del arrays["decoder/dense/bias"]
    arrays["encoder/e5/kernel"] = arrays["encoder/e5/kernel"].T
    torch.manual_seed(0)
    model = DlibConvVAE(latent_dim=10)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(DataFileError) as info:
        load_tf_weights(model, arrays)
    assert "missing: decoder/dense/bias" in str(info.value)
    assert "wrong shape: encoder/e5/kernel (256, 1024) (expected (1024, 256))" in str(info.value)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# ----------------------------------------------------------- saved model, TorchScript, training

def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = DlibConvVAE(latent_dim=4, im_channels=1).eval()
    folder = save_model(model, tmp_path / "cache_batch_no2")
    assert (folder / "model_type.txt").read_text() == "dlib_conv_vae"
    args = {"latent_dim": 4, "im_side_len": 64, "im_channels": 1}
    assert safe_load_pickle(folder / "model_args.p") == args
    assert json.loads((folder / "model_args.json").read_text()) == args
    loaded = load_model(folder)
    assert isinstance(loaded, DlibConvVAE) and not loaded.training
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode(x), model.encode(x), rtol=0, atol=0)
        z = torch.randn(2, 4)
        torch.testing.assert_close(loaded.decode_logits(z), model.decode_logits(z),
                                   rtol=0, atol=0)


def test_saved_dlib_folder_with_bad_args(tmp_path):
    folder = save_model(DlibConvVAE(latent_dim=4), tmp_path / "m")
    (folder / "model_args.json").write_text(json.dumps(
        {"latent_dim": 4, "im_side_len": 32, "im_channels": 1}))
    (folder / "model_args.p").unlink()
    with pytest.raises(DataFileError, match="do not build a model: .*takes 64×64 images"):
        load_model(folder)
    (folder / "model_args.json").write_text(json.dumps({"latent_dim": 4, "im_channels": 1}))
    with pytest.raises(DataFileError, match="DlibConvVAE arguments \\(missing im_side_len\\)"):
        load_model(folder)
    (folder / "model_type.txt").write_text("dense_vae")
    with pytest.raises(DataFileError, match="only 'conv_vae' or 'dlib_conv_vae' models"):
        load_model(folder)


def test_save_model_refuses_a_model_without_a_saved_type(tmp_path):
    with pytest.raises(JLoneVAEError, match="cannot save a Linear"):
        save_model(torch.nn.Linear(2, 2), tmp_path)


class ClampedVAE(ConvVAE):
    """A subclass with code of its own, which a saved ``conv_vae`` folder cannot hold."""

    def encode(self, x):
        mu, logvar = super().encode(x)
        return mu.clamp(-1, 1), logvar


def test_a_subclass_is_refused_at_save_and_before_training(tmp_path, monkeypatch):
    model = ClampedVAE(**conv_vae_args("tiny16", latent_dim=3))
    message = ("cannot save a ClampedVAE as model type 'conv_vae': loading it would build a "
               "plain ConvVAE without ClampedVAE's own code")
    with pytest.raises(JLoneVAEError, match=message):
        save_model(model, tmp_path / "model")
    assert not (tmp_path / "model").exists()
    # Training refuses it at the start, not after the last batch.
    def clamped16(im_channels: int, latent_dim: int) -> ClampedVAE:
        return ClampedVAE(**conv_vae_args("tiny16", im_channels, latent_dim))

    monkeypatch.setattr(registry, "_REGISTRY", {**registry._REGISTRY, "clamped16": clamped16})
    config = TrainConfig(dataset="threeDots", architecture="clamped16", latent_dim=3,
                         batch_size=4, num_batches=2, device="cpu", output_dir=str(tmp_path))
    with pytest.raises(JLoneVAEError, match=message):
        train(config)
    assert not any(tmp_path.rglob("checkpoint.pt"))


# The files of a tiny16 (d = 4, C = 1) conv_vae folder, as save_conv_vae wrote them before
# saved folders carried other model types.
CONV_VAE_ARGS_SHA256 = {
    "model_args.json": "b4bf8b295332ac6aab8d458b9e4da4d86a8ace36fad487d20eb4b9ed609799cb",
    "model_args.p": "0694a3a813d187cddf161d234c97405583a03ec701285aa814209e56e63af7c1",
    "model_type.txt": "1569bf19460bac1d5bbec0ade8657f9bea8ded903106a6fd189b7ccd292b2955",
}


def test_conv_vae_folders_are_unchanged(tmp_path):
    torch.manual_seed(0)
    model = build_conv_vae("tiny16", latent_dim=4)
    generic = save_model(model, tmp_path / "generic")
    specific = save_conv_vae(model, tmp_path / "specific")
    reference = tmp_path / "reference_state_dict.pt"
    torch.save(model.state_dict(), reference)
    names = sorted(p.name for p in generic.iterdir())
    assert names == sorted(p.name for p in specific.iterdir())
    for name in names:
        assert (generic / name).read_bytes() == (specific / name).read_bytes(), name
    for name, digest in CONV_VAE_ARGS_SHA256.items():
        assert hashlib.sha256((generic / name).read_bytes()).hexdigest() == digest, name
    loaded_state = torch.load(generic / "model_state_dict.pt", weights_only=True)
    reference_state = torch.load(reference, weights_only=True)
    assert list(loaded_state) == list(reference_state)
    assert all(torch.equal(loaded_state[k], reference_state[k]) for k in reference_state)
    assert type(load_model(generic)).__name__ == "ConvVAE"


def test_torchscript_export_is_the_mean_encoder(tmp_path):
    torch.manual_seed(0)
    model = DlibConvVAE(latent_dim=3)
    path = export_torchscript(model, tmp_path / "run")
    loaded = load_torchscript(path)
    x = torch.rand(3, 1, 64, 64)  # a batch size other than the traced one
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model.encode(x)[0], rtol=0, atol=1e-6)


def test_trains_saves_exports_and_evaluates(tmp_path):
    config = TrainConfig(dataset="threeDots", architecture="dlibConv", latent_dim=3,
                         batch_size=4, num_batches=2, seed=1, device="cpu",
                         output_dir=str(tmp_path))
    result = train(config)
    assert result.num_batches == 2
    assert (result.model_dir / "model_type.txt").read_text() == "dlib_conv_vae"
    assert all(np.isfinite(v) for v in result.final_scalars.values())
    model = load_model(result.model_dir)
    assert isinstance(model, DlibConvVAE) and model.latent_dim == 3
    x = torch.rand(5, 1, 64, 64)
    with torch.no_grad():
        mean = model.encode(x)[0]
        torch.testing.assert_close(load_torchscript(result.torchscript_path)(x), mean,
                                   rtol=0, atol=1e-6)
    codes = saved_model_representation(result.model_dir, torch.device("cpu"), batch_size=5)(
        x.permute(0, 2, 3, 1).numpy())
    np.testing.assert_allclose(codes, mean.numpy(), atol=1e-5)
