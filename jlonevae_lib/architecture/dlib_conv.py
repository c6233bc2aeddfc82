"""disentanglement_lib's convolutional VAE (``conv_encoder`` / ``deconv_decoder``) in PyTorch.

The network of disentanglement_lib's unsupervised study (docs/method.md, "disentanglement_lib's
architecture"), the one its six baselines train, built so that a TensorFlow checkpoint of it
loads one variable per parameter:

- every parameter is named after its TensorFlow variable: ``encoder.e1.weight`` is
  ``encoder/e1/kernel``, ``decoder.conv2d_transpose_1.bias`` is ``decoder/conv2d_transpose_1/bias``
  (:func:`tf_variable_mapping`);
- the encoder flattens its last feature map in TensorFlow's NHWC order and the decoder reshapes
  its dense output in that order, so every dense kernel is TensorFlow's transposed and every
  convolution kernel TensorFlow's with its axes permuted; no weight is reordered on import
  (:func:`load_tf_weights`);
- convolutions use TensorFlow's ``padding='SAME'`` (:func:`same_padding`), kernels start
  Glorot-uniform with the fans TensorFlow computes and biases at zero, drawn from torch's global
  generator, so a run's seed fixes them.

Images are (B, C, 64, 64) in [0, 1] (NCHW, where TensorFlow takes NHWC); latents are (B, d).
The decoder's output is logits, as disentanglement_lib's; :meth:`DlibConvVAE.decode` applies the
sigmoid, so the model has the surface of :class:`~jlonevae_lib.architecture.vae.ConvVAE`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from jlonevae_lib.architecture.registry import register_architecture
from jlonevae_lib.architecture.vae import int_argument, onednn_disabled
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError

#: The model type saved in ``model_type.txt`` (docs/formats.md).
MODEL_TYPE = "dlib_conv_vae"

#: The constructor keyword arguments; saved models store exactly these.
DLIB_CONV_VAE_ARG_NAMES: tuple[str, ...] = ("latent_dim", "im_side_len", "im_channels")

#: The only image side the network takes: four stride-2 layers take 64 to the 4×4 map that the
#: dense layers are sized for.
IM_SIDE_LEN = 64
_FIRST_SIDE, _FIRST_CHANNELS = 4, 64  # the decoder's reshape target, TF [-1, 4, 4, 64]


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's ``padding='SAME'`` for one spatial axis: (before, after) zero rows.

    The output has ceil(size / stride) rows; the padding needed for that is split with the odd
    row at the end (bottom / right), as TensorFlow does.
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    """A ``Conv2d`` with TensorFlow's 'SAME' padding for square inputs of side ``input_side``.

    Symmetric padding is the layer's own ``padding``; an asymmetric one (the odd row at the
    bottom / right) is added with ``F.pad`` before the convolution. Parameters are ``weight``
    (out, in, k, k) and ``bias`` (out,), as a plain ``Conv2d``'s.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int,
                 input_side: int) -> None:
        before, after = same_padding(input_side, kernel_size, stride)
        super().__init__(in_channels, out_channels, kernel_size, stride,
                         padding=before if before == after else 0)
        #: F.pad's (left, right, top, bottom), or None when the layer's padding is enough.
        self.extra_padding = None if before == after else (before, after, before, after)
        self.output_side = -(-input_side // stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in, n, n) -> (B, out, ceil(n / stride), ceil(n / stride)); n = ``input_side``."""
        if self.extra_padding is not None:
            x = F.pad(x, self.extra_padding)
        return super().forward(x)


class ConvTranspose2dSame(nn.ConvTranspose2d):
    """A ``ConvTranspose2d`` with TensorFlow's 'SAME' output side n·stride (kernel >= stride).

    The full transposed convolution is (n−1)·stride + kernel rows; TensorFlow drops the excess
    kernel − stride, floor(excess/2) from the top / left and the rest from the bottom / right.
    Dropping p rows on both sides is what ``padding=p`` computes; an odd excess leaves one row
    and column to slice off. Parameters are ``weight`` (in, out, k, k) and ``bias`` (out,).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int) -> None:
        excess = kernel_size - stride
        if excess < 0:
            raise ValueError(f"kernel {kernel_size} < stride {stride} has no TensorFlow 'SAME' "
                             "transposed convolution here")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding=excess // 2)
        self.crop_last = excess % 2 == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in, n, n) -> (B, out, n·stride, n·stride)."""
        h = super().forward(x)
        return h[..., :-1, :-1] if self.crop_last else h


class ConvEncoder(nn.Module):
    """disentanglement_lib's ``conv_encoder``: images (B, C, 64, 64) -> (means, log_var), (B, d).

    e1, e2: conv 32, kernel 4, stride 2; e3, e4: conv 64, kernel 2, stride 2 (ReLU, 'SAME');
    flatten in NHWC order; e5: dense 256, ReLU; ``means`` and ``log_var``: dense d, linear.
    """

    def __init__(self, im_channels: int, latent_dim: int) -> None:
        super().__init__()
        side = IM_SIDE_LEN
        self.e1 = Conv2dSame(im_channels, 32, 4, 2, side)
        self.e2 = Conv2dSame(32, 32, 4, 2, self.e1.output_side)
        self.e3 = Conv2dSame(32, 64, 2, 2, self.e2.output_side)
        self.e4 = Conv2dSame(64, 64, 2, 2, self.e3.output_side)
        side = self.e4.output_side
        self.e5 = nn.Linear(side * side * 64, 256)
        self.means = nn.Linear(256, latent_dim)
        self.log_var = nn.Linear(256, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(self.e1(x))
        h = F.relu(self.e2(h))
        h = F.relu(self.e3(h))
        h = F.relu(self.e4(h))
        # TensorFlow flattens NHWC: (row, column, channel), channel fastest. Flattening in that
        # order keeps e5's weight equal to TensorFlow's kernel transposed.
        h = h.permute(0, 2, 3, 1).flatten(1)
        h = F.relu(self.e5(h))
        return self.means(h), self.log_var(h)


class DeconvDecoder(nn.Module):
    """disentanglement_lib's ``deconv_decoder``: latents (B, d) -> logits (B, C, 64, 64).

    dense 256, ReLU; dense_1 1024, ReLU; reshape to 4×4×64 in NHWC order; transposed convs
    64, 32, 32, C (kernel 4, stride 2, 'SAME'), ReLU after all but the last.

    ``tuned_cpu_kernels`` (default True) runs the FORWARD pass of the last transposed
    convolution without oneDNN on the CPU when it has a single output channel (grey-scale
    images), for the reason :class:`~jlonevae_lib.architecture.vae.ConvVAE` does: oneDNN's
    forward kernel for one output channel is slower than PyTorch's own, while its backward is
    the faster one and is kept. The logits differ by float32 rounding only; False uses oneDNN
    everywhere. Figures: benchmarks/README.md ("bench_baselines.py").
    """

    #: The CPU kernel choice of the last layer's forward pass; see the class docstring.
    tuned_cpu_kernels: bool = True

    def __init__(self, latent_dim: int, im_channels: int) -> None:
        super().__init__()
        self.dense = nn.Linear(latent_dim, 256)
        self.dense_1 = nn.Linear(256, _FIRST_SIDE * _FIRST_SIDE * _FIRST_CHANNELS)
        self.conv2d_transpose = ConvTranspose2dSame(_FIRST_CHANNELS, 64, 4, 2)
        self.conv2d_transpose_1 = ConvTranspose2dSame(64, 32, 4, 2)
        self.conv2d_transpose_2 = ConvTranspose2dSame(32, 32, 4, 2)
        self.conv2d_transpose_3 = ConvTranspose2dSame(32, im_channels, 4, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.dense(z))
        h = F.relu(self.dense_1(h))
        # TensorFlow reshapes to [-1, 4, 4, 64] (NHWC); the same order keeps dense_1's weight
        # equal to TensorFlow's kernel transposed. contiguous(): the convolutions get plain
        # NCHW tensors, not a channels-last view.
        h = h.reshape(-1, _FIRST_SIDE, _FIRST_SIDE, _FIRST_CHANNELS).permute(0, 3, 1, 2)
        h = h.contiguous()
        h = F.relu(self.conv2d_transpose(h))
        h = F.relu(self.conv2d_transpose_1(h))
        h = F.relu(self.conv2d_transpose_2(h))
        last = self.conv2d_transpose_3
        if self.tuned_cpu_kernels and h.device.type == "cpu" and last.out_channels == 1:
            with onednn_disabled():
                return last(h)
        return last(h)


class DlibConvVAE(nn.Module):
    """disentanglement_lib's Gaussian VAE with ``conv_encoder`` and ``deconv_decoder``.

    ``model_args`` is the plain dict of the constructor's arguments (what a saved model
    stores); ``im_side_len`` must be 64. The surface is ``ConvVAE``'s: ``encode``, ``decode``
    (sigmoid of :meth:`decode_logits`), ``forward``, ``reparameterize``, ``noisy_decode``,
    ``noiseless_autoencode``, ``latent_dim``, ``im_side_len``, ``im_channels`` and
    ``architecture`` (the saved model type).
    """

    #: The model type saved in ``model_type.txt``.
    architecture: str = MODEL_TYPE

    def __init__(self, latent_dim: int, im_side_len: int = IM_SIDE_LEN, im_channels: int = 1
                 ) -> None:
        super().__init__()
        args = {
            "latent_dim": int_argument("DlibConvVAE", "latent_dim", latent_dim, 1),
            "im_side_len": int_argument("DlibConvVAE", "im_side_len", im_side_len, 1),
            "im_channels": int_argument("DlibConvVAE", "im_channels", im_channels, 1),
        }
        if args["im_side_len"] != IM_SIDE_LEN:
            raise JLoneVAEError(
                f"disentanglement_lib's architecture takes {IM_SIDE_LEN}×{IM_SIDE_LEN} images, "
                f"not {args['im_side_len']}×{args['im_side_len']}; use a 64×64 dataset or "
                "another architecture")
        self.model_args = args
        self.latent_dim: int = args["latent_dim"]
        self.im_side_len: int = args["im_side_len"]
        self.im_channels: int = args["im_channels"]
        self.encoder = ConvEncoder(self.im_channels, self.latent_dim)
        self.decoder = DeconvDecoder(self.latent_dim, self.im_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """TensorFlow's initialisation, from torch's global generator: every kernel
        Glorot-uniform on ±sqrt(6 / (fan_in + fan_out)) with the fans of its TensorFlow shape
        (:func:`glorot_fans`), every bias zero. Parameters are drawn in TensorFlow's creation
        order (encoder e1 ... log_var, then decoder dense ... conv2d_transpose_3)."""
        mapping = tf_variable_mapping()
        with torch.no_grad():
            for name, param in self.named_parameters():
                if name.endswith(".bias"):
                    param.zero_()
                    continue
                fan_in, fan_out = glorot_fans(mapping[name][1].tf_shape(tuple(param.shape)))
                limit = math.sqrt(6.0 / (fan_in + fan_out))
                param.uniform_(-limit, limit)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, C, 64, 64) -> posterior mean and log-variance, each (B, d)."""
        return self.encoder(x)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (B, d) -> Bernoulli logits (B, C, 64, 64) (disentanglement_lib's decoder
        output; its reconstruction loss takes these)."""
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (B, d) -> images (B, C, 64, 64) in [0, 1]: sigmoid of the logits."""
        return torch.sigmoid(self.decoder(z))

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """A posterior sample z (B, d) = mu + eps·exp(logvar/2), eps ~ N(0, I) from the global
        torch RNG (of mu's dtype and device), as ConvVAE and disentanglement_lib sample."""
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def noisy_decode(self, mu: torch.Tensor, logvar: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior (mu, logvar), each (B, d) -> (decode(z) (B, C, 64, 64), z (B, d))."""
        z = self.reparameterize(mu, logvar)
        return self.decode(z), z

    def forward(self, x: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images (B, C, 64, 64) -> (recon (B, C, 64, 64) in [0, 1], mu (B, d), logvar (B, d),
        z (B, d)), z sampled by :meth:`reparameterize` and recon = decode(z)."""
        mu, logvar = self.encode(x)
        recon, z = self.noisy_decode(mu, logvar)
        return recon, mu, logvar, z

    def noiseless_autoencode(self, x: torch.Tensor
                             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images (B, C, 64, 64) -> (decode(mu) (B, C, 64, 64), mu (B, d), logvar (B, d))."""
        mu, logvar = self.encode(x)
        return self.decode(mu), mu, logvar


@register_architecture("dlibConv")
def dlib_conv(im_channels: int, latent_dim: int) -> DlibConvVAE:
    """disentanglement_lib's 64×64 ``conv_encoder`` / ``deconv_decoder`` VAE."""
    return DlibConvVAE(latent_dim=latent_dim, im_channels=im_channels)


# ------------------------------------------------------------------ TensorFlow variables

@dataclass(frozen=True)
class AxisPermutation:
    """A TensorFlow -> PyTorch layout converter: ``torch_array = tf_array.transpose(axes)``."""

    axes: tuple[int, ...]

    def __call__(self, tf_array: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.transpose(tf_array, self.axes))

    def tf_shape(self, torch_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The TensorFlow shape whose conversion has ``torch_shape``."""
        shape = [0] * len(self.axes)
        for torch_axis, tf_axis in enumerate(self.axes):
            shape[tf_axis] = torch_shape[torch_axis]
        return tuple(shape)


#: conv2d kernels [h, w, in, out] -> Conv2d (out, in, h, w), and conv2d_transpose kernels
#: [h, w, out, in] -> ConvTranspose2d (in, out, h, w): the same permutation, no spatial flip.
CONV_KERNEL = AxisPermutation((3, 2, 0, 1))
#: dense kernels [in, out] -> Linear (out, in).
DENSE_KERNEL = AxisPermutation((1, 0))
#: biases (out,) as they are.
BIAS = AxisPermutation((0,))

_ENCODER_LAYERS = (("e1", CONV_KERNEL), ("e2", CONV_KERNEL), ("e3", CONV_KERNEL),
                   ("e4", CONV_KERNEL), ("e5", DENSE_KERNEL), ("means", DENSE_KERNEL),
                   ("log_var", DENSE_KERNEL))
_DECODER_LAYERS = (("dense", DENSE_KERNEL), ("dense_1", DENSE_KERNEL),
                   ("conv2d_transpose", CONV_KERNEL), ("conv2d_transpose_1", CONV_KERNEL),
                   ("conv2d_transpose_2", CONV_KERNEL), ("conv2d_transpose_3", CONV_KERNEL))


def tf_variable_mapping() -> dict[str, tuple[str, AxisPermutation]]:
    """``{torch parameter name: (TensorFlow variable name, converter)}`` for every parameter of
    :class:`DlibConvVAE`, in TensorFlow's creation order.

    The TensorFlow names are those of disentanglement_lib's checkpoints and TF-Hub modules
    without a scope prefix (``encoder/e1/kernel``; a postprocessed hub module prefixes
    ``module/``). ``converter(tf_array)`` gives the PyTorch array.
    """
    mapping = {}
    for scope, layers in (("encoder", _ENCODER_LAYERS), ("decoder", _DECODER_LAYERS)):
        for layer, kernel in layers:
            mapping[f"{scope}.{layer}.weight"] = (f"{scope}/{layer}/kernel", kernel)
            mapping[f"{scope}.{layer}.bias"] = (f"{scope}/{layer}/bias", BIAS)
    return mapping


def glorot_fans(tf_shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a kernel as TensorFlow's ``glorot_uniform`` computes them.

    Dense [in, out]: (in, out). Convolution kernels [h, w, a, b]: (h·w·a, h·w·b), with (a, b) =
    (in, out) for conv2d and (out, in) for conv2d_transpose; Glorot's bound uses the sum.
    """
    if len(tf_shape) < 2:
        raise ValueError(f"a kernel has at least 2 axes, got shape {tf_shape}")
    receptive_field = math.prod(tf_shape[:-2])
    return receptive_field * tf_shape[-2], receptive_field * tf_shape[-1]


def load_tf_weights(model: DlibConvVAE, arrays: Mapping[str, np.ndarray],
                    prefix: str = "") -> DlibConvVAE:
    """Copy disentanglement_lib's TensorFlow variables into ``model``; returns ``model``.

    ``arrays`` maps TensorFlow variable names (``prefix`` + ``encoder/e1/kernel`` ...) to
    arrays in TensorFlow's layouts: conv2d kernels [h, w, in, out], conv2d_transpose kernels
    [h, w, out, in], dense kernels [in, out], biases (out,). Names it does not know (Adam
    slots, ``global_step``, a FactorVAE discriminator) are ignored. A missing or mis-shaped
    variable raises one :class:`DataFileError` listing them all, before any weight is changed.
    """
    params = dict(model.named_parameters())
    converted: dict[str, torch.Tensor] = {}
    missing, wrong_shape = [], []
    for name, (tf_name, convert) in tf_variable_mapping().items():
        key = prefix + tf_name
        if key not in arrays:
            missing.append(key)
            continue
        array = np.asarray(arrays[key])
        expected = convert.tf_shape(tuple(params[name].shape))
        if array.shape != expected:
            wrong_shape.append(f"{key} {array.shape} (expected {expected})")
            continue
        converted[name] = torch.from_numpy(convert(array))
    problems = [label + ", ".join(items) for label, items in
                (("missing: ", missing), ("wrong shape: ", wrong_shape)) if items]
    if problems:
        raise DataFileError(f"the TensorFlow variables do not fit disentanglement_lib's "
                            f"architecture with d={model.latent_dim}, C={model.im_channels} "
                            f"({'; '.join(problems)}); check the checkpoint and the prefix")
    with torch.no_grad():
        for name, tensor in converted.items():
            params[name].copy_(tensor)
    return model
