"""The convolutional VAE of the paper (docs/method.md) and its named presets.

Images are float tensors (B, C, H, W) in [0, 1] with H = W = ``im_side_len``; latents are
(B, d) with d = ``latent_dim``.

The decoder reproduces TensorFlow's ``padding='SAME'`` transposed convolutions: a PyTorch
``ConvTranspose2d`` without padding gives side (s-1)·stride + kernel, TensorFlow gives s·stride,
so the reference cropped the excess (kernel - stride) after each layer, floor(excess/2) from
top/left and the rest from bottom/right. Cropping p rows from both sides of a transposed
convolution's output is exactly what its ``padding=p`` argument computes, without producing the
rows first, so we pass padding = floor(excess/2) and slice off the one remaining bottom/right row
and column only when the excess is odd. Outputs are identical to crop-after (a test checks it),
the FD Jacobian step is faster since the discarded rows are never computed (benchmarks/README.md),
and padding has no parameters, so the state dict is unchanged.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from jlonevae_lib.architecture.registry import register_architecture
from jlonevae_lib.utils.errors import JLoneVAEError

MODEL_TYPE = "conv_vae"

#: The constructor keyword arguments, in the reference's order; saved models store exactly these.
CONV_VAE_ARG_NAMES: tuple[str, ...] = (
    "latent_dim",
    "im_side_len",
    "im_channels",
    "emb_conv_layers_channels",
    "emb_conv_layers_strides",
    "emb_conv_layers_kernel_sizes",
    "emb_fc_layers_num_features",
    "gen_fc_layers_num_features",
    "gen_first_im_side_len",
    "gen_conv_layers_channels",
    "gen_conv_layers_strides",
    "gen_conv_layers_kernel_sizes",
)

# The reference initialises the log-variance head so the posterior std starts near exp(-1.5).
_FCLOGVAR_BIAS_SHIFT = 3.0

#: Decoder transposed convolutions with at most this many output channels run their forward
#: pass without oneDNN on the CPU (see :attr:`ConvVAE.tuned_cpu_kernels`).
NATIVE_FORWARD_MAX_OUT_CHANNELS = 1


@contextmanager
def onednn_disabled() -> Iterator[None]:
    """Run the enclosed CPU convolutions with PyTorch's own kernels instead of oneDNN's.

    Toggles only ``torch.backends.mkldnn.enabled`` (``torch.backends.mkldnn.flags`` would also
    reset the TF32 and determinism settings). The flag is process-wide, not per thread.
    """
    previous = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = previous


def int_argument(model: str, name: str, value: Any, minimum: int) -> int:
    """Constructor argument ``name`` of the ``model`` class as an int ≥ ``minimum``; anything
    else (a bool, a float, a string) is a one-line :class:`JLoneVAEError`."""
    if isinstance(value, bool):
        raise JLoneVAEError(f"{model} argument {name} must be an integer, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise JLoneVAEError(f"{model} argument {name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise JLoneVAEError(f"{model} argument {name} must be >= {minimum}, got {number}")
    return number


def _as_int(name: str, value: Any, minimum: int) -> int:
    return int_argument("ConvVAE", name, value, minimum)


def _as_int_list(name: str, values: Any, minimum: int) -> list[int]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise JLoneVAEError(f"ConvVAE argument {name} must be a list of integers, got {values!r}")
    return [_as_int(f"{name}[{i}]", v, minimum) for i, v in enumerate(values)]


def _check_same_length(names: Sequence[str], args: dict[str, Any]) -> None:
    lengths = {name: len(args[name]) for name in names}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise JLoneVAEError(f"ConvVAE layer lists must have the same length: {detail}")


def _model_arg(name: str) -> property:
    """A read-only attribute for the constructor argument ``name`` (a copy of its value)."""

    def get(self: ConvVAE) -> Any:
        value = self.model_args[name]
        return list(value) if isinstance(value, list) else value

    return property(get, doc=f"The constructor's ``{name}`` (see ``model_args``).")


class ConvVAE(nn.Module):
    """Convolutional VAE with a Gaussian encoder and a sigmoid (Bernoulli-mean) decoder.

    The keyword arguments are the reference's; their defaults are the reference's too
    (a 64×64×3 model). ``model.model_args`` holds them as a plain dict of ints and lists of ints,
    exactly what :func:`~jlonevae_lib.architecture.save_model.save_conv_vae` writes; each is
    also a read-only attribute (``model.gen_conv_layers_channels``, ...), and ``architecture``
    is the model type, as on the reference's model. Invalid
    geometry (an encoder that shrinks the image to nothing, a decoder whose output is not
    ``im_channels`` × ``im_side_len`` × ``im_side_len``) raises :class:`JLoneVAEError`.

    ``tuned_cpu_kernels`` (default True) runs the FORWARD pass of decoder transposed
    convolutions with a single output channel (the last layer of every grey-scale preset)
    without oneDNN on the CPU: for one output channel oneDNN's forward kernel is slower than
    PyTorch's own (GEMM + col2im), and that layer is a large part of the FD penalty's work on
    (d+1)·B images. The backward pass keeps oneDNN, which is the faster one there (oneDNN in
    both directions or in neither is slower; figures in benchmarks/README.md). The two kernels
    sum in different orders, so images differ by float32 rounding (≤ 1 ulp, ~6e-8); set it to
    False for oneDNN everywhere. It has no effect on other devices;
    tests/architecture/test_cpu_kernels.py compares the two paths.
    """

    #: Per-layer CPU kernel choice in :meth:`decode`; see the class docstring.
    tuned_cpu_kernels: bool = True
    #: The model type saved in ``model_type.txt`` (the reference's attribute name).
    architecture: str = MODEL_TYPE

    emb_conv_layers_channels = _model_arg("emb_conv_layers_channels")
    emb_conv_layers_strides = _model_arg("emb_conv_layers_strides")
    emb_conv_layers_kernel_sizes = _model_arg("emb_conv_layers_kernel_sizes")
    emb_fc_layers_num_features = _model_arg("emb_fc_layers_num_features")
    gen_fc_layers_num_features = _model_arg("gen_fc_layers_num_features")
    gen_first_im_side_len = _model_arg("gen_first_im_side_len")
    gen_conv_layers_channels = _model_arg("gen_conv_layers_channels")
    gen_conv_layers_strides = _model_arg("gen_conv_layers_strides")
    gen_conv_layers_kernel_sizes = _model_arg("gen_conv_layers_kernel_sizes")

    def __init__(
        self,
        latent_dim: int,
        im_side_len: int = 64,
        im_channels: int = 3,
        emb_conv_layers_channels: Sequence[int] = (64, 128, 192, 256),
        emb_conv_layers_strides: Sequence[int] = (2, 2, 2, 2),
        emb_conv_layers_kernel_sizes: Sequence[int] = (4, 4, 4, 4),
        emb_fc_layers_num_features: Sequence[int] = (1024,),
        gen_fc_layers_num_features: Sequence[int] = (4 * 4 * 256,),
        gen_first_im_side_len: int = 4,
        gen_conv_layers_channels: Sequence[int] = (192, 128, 128, 64, 3),
        gen_conv_layers_strides: Sequence[int] = (2, 2, 1, 2, 2),
        gen_conv_layers_kernel_sizes: Sequence[int] = (4, 4, 4, 4, 4),
    ) -> None:
        super().__init__()
        args: dict[str, Any] = {
            "latent_dim": _as_int("latent_dim", latent_dim, 1),
            "im_side_len": _as_int("im_side_len", im_side_len, 1),
            "im_channels": _as_int("im_channels", im_channels, 1),
            "emb_conv_layers_channels": _as_int_list(
                "emb_conv_layers_channels", emb_conv_layers_channels, 1),
            "emb_conv_layers_strides": _as_int_list(
                "emb_conv_layers_strides", emb_conv_layers_strides, 1),
            "emb_conv_layers_kernel_sizes": _as_int_list(
                "emb_conv_layers_kernel_sizes", emb_conv_layers_kernel_sizes, 1),
            "emb_fc_layers_num_features": _as_int_list(
                "emb_fc_layers_num_features", emb_fc_layers_num_features, 1),
            "gen_fc_layers_num_features": _as_int_list(
                "gen_fc_layers_num_features", gen_fc_layers_num_features, 1),
            "gen_first_im_side_len": _as_int("gen_first_im_side_len", gen_first_im_side_len, 1),
            "gen_conv_layers_channels": _as_int_list(
                "gen_conv_layers_channels", gen_conv_layers_channels, 1),
            "gen_conv_layers_strides": _as_int_list(
                "gen_conv_layers_strides", gen_conv_layers_strides, 1),
            "gen_conv_layers_kernel_sizes": _as_int_list(
                "gen_conv_layers_kernel_sizes", gen_conv_layers_kernel_sizes, 1),
        }
        _check_same_length(("emb_conv_layers_channels", "emb_conv_layers_strides",
                            "emb_conv_layers_kernel_sizes"), args)
        _check_same_length(("gen_conv_layers_channels", "gen_conv_layers_strides",
                            "gen_conv_layers_kernel_sizes"), args)
        self.model_args = args
        self.latent_dim: int = args["latent_dim"]
        self.im_side_len: int = args["im_side_len"]
        self.im_channels: int = args["im_channels"]
        self._build_encoder(args)
        self._build_decoder(args)

    def _build_encoder(self, args: dict[str, Any]) -> None:
        side, channels = self.im_side_len, self.im_channels
        convs = []
        for i, (out_channels, stride, kernel) in enumerate(zip(
                args["emb_conv_layers_channels"], args["emb_conv_layers_strides"],
                args["emb_conv_layers_kernel_sizes"], strict=True)):
            if side < kernel:
                raise JLoneVAEError(
                    f"encoder conv {i} (kernel {kernel}) gets a {side}×{side} image: the encoder "
                    f"shrinks the {self.im_side_len}×{self.im_side_len} input to nothing; use "
                    "fewer or smaller encoder convolutions or a larger im_side_len")
            convs.append(nn.Conv2d(channels, out_channels, kernel, stride))
            side = (side - kernel) // stride + 1
            channels = out_channels

        features = side * side * channels
        fcs = []
        for out_features in args["emb_fc_layers_num_features"]:
            fcs.append(nn.Linear(features, out_features))
            features = out_features
        self.fcmu = nn.Linear(features, self.latent_dim)
        self.fclogvar = nn.Linear(features, self.latent_dim)
        with torch.no_grad():
            self.fclogvar.bias.sub_(_FCLOGVAR_BIAS_SHIFT)
        # Registered after the heads, as in the reference, so state dicts list keys in its order.
        self.emb_convs = nn.ModuleList(convs)
        self.emb_fcs = nn.ModuleList(fcs)

    def _build_decoder(self, args: dict[str, Any]) -> None:
        features = self.latent_dim
        fcs = []
        for out_features in args["gen_fc_layers_num_features"]:
            fcs.append(nn.Linear(features, out_features))
            features = out_features
        self.gen_fcs = nn.ModuleList(fcs)

        side = args["gen_first_im_side_len"]
        if features % (side * side) != 0:
            raise JLoneVAEError(
                f"the decoder's last fully connected width ({features}) must be a multiple of "
                f"gen_first_im_side_len² ({side}² = {side * side}) to reshape it to an image")
        channels = features // (side * side)
        self._gen_first_channels = channels
        self._gen_first_side = side

        convs = []
        # Per layer: the side to slice the output to, or None when padding alone gives SAME.
        crops: list[int | None] = []
        native_forward: list[bool] = []
        for i, (out_channels, stride, kernel) in enumerate(zip(
                args["gen_conv_layers_channels"], args["gen_conv_layers_strides"],
                args["gen_conv_layers_kernel_sizes"], strict=True)):
            excess = kernel - stride
            if excess < 0:
                raise JLoneVAEError(
                    f"decoder conv {i} has kernel {kernel} < stride {stride}: it cannot produce "
                    "TensorFlow 'SAME' output sizes; use kernel >= stride")
            convs.append(nn.ConvTranspose2d(channels, out_channels, kernel, stride,
                                            padding=excess // 2))
            side *= stride
            crops.append(side if excess % 2 else None)
            native_forward.append(out_channels <= NATIVE_FORWARD_MAX_OUT_CHANNELS)
            channels = out_channels
        self.gen_convs = nn.ModuleList(convs)
        self._gen_crops = crops
        self._gen_native_forward = native_forward

        if side != self.im_side_len or channels != self.im_channels:
            raise JLoneVAEError(
                f"the decoder produces {channels}×{side}×{side} images but the model's input is "
                f"{self.im_channels}×{self.im_side_len}×{self.im_side_len}; adjust "
                "gen_first_im_side_len, gen_conv_layers_strides or gen_conv_layers_channels")

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, C, H, W) -> posterior mean and log-variance, each (B, d)."""
        h = x
        for conv in self.emb_convs:
            h = F.relu(conv(h))
        h = torch.flatten(h, 1)
        for fc in self.emb_fcs:
            h = F.relu(fc(h))
        return self.fcmu(h), self.fclogvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (B, d) -> images (B, C, H, W) in [0, 1]: the sigmoid of
        :meth:`decode_logits`."""
        return torch.sigmoid(self.decode_logits(z))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (B, d) -> the decoder's logits (B, C, H, W), before the sigmoid (what
        disentanglement_lib's losses take)."""
        h = z
        num_convs = len(self.gen_convs)
        for i, fc in enumerate(self.gen_fcs):
            h = fc(h)
            # A decoder made of FC layers only ends linearly, right before the sigmoid.
            if num_convs > 0 or i + 1 < len(self.gen_fcs):
                h = F.relu(h)
        h = h.reshape(-1, self._gen_first_channels, self._gen_first_side, self._gen_first_side)
        tuned = self.tuned_cpu_kernels and h.device.type == "cpu"
        for i, (conv, crop, native) in enumerate(zip(
                self.gen_convs, self._gen_crops, self._gen_native_forward, strict=True)):
            if tuned and native:
                with onednn_disabled():
                    h = conv(h)
            else:
                h = conv(h)
            if i + 1 < num_convs:
                h = F.relu(h)
            if crop is not None:
                h = h[..., :crop, :crop]
        return h

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """A posterior sample z (B, d) = mu + eps·exp(logvar/2), eps ~ N(0, I) from the global
        torch RNG (of mu's dtype and device)."""
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def noisy_decode(self, mu: torch.Tensor, logvar: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior (mu, logvar), each (B, d) -> (decode(z) (B, C, H, W), z (B, d)), z sampled
        by :meth:`reparameterize`."""
        z = self.reparameterize(mu, logvar)
        return self.decode(z), z

    def forward(self, x: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images (B, C, H, W) -> (recon (B, C, H, W), mu (B, d), logvar (B, d), z (B, d)).

        z = mu + eps·exp(logvar/2) with eps ~ N(0, I) from the global torch RNG; recon = decode(z)
        (:meth:`noisy_decode`).
        """
        mu, logvar = self.encode(x)
        recon, z = self.noisy_decode(mu, logvar)
        return recon, mu, logvar, z

    def noiseless_autoencode(self, x: torch.Tensor
                             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images (B, C, H, W) -> (decode(mu) (B, C, H, W), mu (B, d), logvar (B, d)).

        Returns the triple, as the reference did, so the paper's notebooks unpack it unchanged.
        """
        mu, logvar = self.encode(x)
        return self.decode(mu), mu, logvar


def _default_conv_args(im_channels: int, latent_dim: int) -> dict[str, Any]:
    return {
        "latent_dim": latent_dim,
        "im_side_len": 64,
        "im_channels": im_channels,
        "emb_conv_layers_channels": [32, 32, 64, 64],
        "emb_conv_layers_strides": [2, 2, 2, 2],
        "emb_conv_layers_kernel_sizes": [4, 4, 4, 4],
        "emb_fc_layers_num_features": [256],
        "gen_fc_layers_num_features": [256, 1024],
        "gen_first_im_side_len": 4,
        "gen_conv_layers_channels": [64, 32, 32, im_channels],
        "gen_conv_layers_strides": [2, 2, 2, 2],
        "gen_conv_layers_kernel_sizes": [4, 4, 4, 4],
    }


def _tiny16_args(im_channels: int, latent_dim: int) -> dict[str, Any]:
    return {
        "latent_dim": latent_dim,
        "im_side_len": 16,
        "im_channels": im_channels,
        "emb_conv_layers_channels": [64, 128],
        "emb_conv_layers_strides": [2, 2],
        "emb_conv_layers_kernel_sizes": [3, 3],
        "emb_fc_layers_num_features": [128],
        "gen_fc_layers_num_features": [128, 1024],
        "gen_first_im_side_len": 4,
        "gen_conv_layers_channels": [64, 32, im_channels],
        "gen_conv_layers_strides": [2, 2, 1],
        "gen_conv_layers_kernel_sizes": [3, 3, 3],
    }


#: Architectures of the paper by name: ``PRESETS[name](im_channels, latent_dim) -> kwargs``.
#: ``defaultConv`` is the 64×64 model of the three-dots and MPI3D experiments, ``tiny16`` the
#: 16×16 natural-image-patch model.
PRESETS: dict[str, Callable[[int, int], dict[str, Any]]] = {
    "defaultConv": _default_conv_args,
    "tiny16": _tiny16_args,
}


def conv_vae_args(preset: str, im_channels: int = 1, latent_dim: int = 10) -> dict[str, Any]:
    """The 12 ``ConvVAE`` kwargs of a named preset (a fresh dict; safe to modify)."""
    try:
        make_args = PRESETS[preset]
    except KeyError:
        raise JLoneVAEError(
            f"unknown ConvVAE preset '{preset}'; known presets: {', '.join(PRESETS)}"
        ) from None
    return make_args(im_channels, latent_dim)


def build_conv_vae(preset: str, im_channels: int = 1, latent_dim: int = 10) -> ConvVAE:
    """A freshly initialised ``ConvVAE`` of a named preset (uses the global torch RNG)."""
    return ConvVAE(**conv_vae_args(preset, im_channels, latent_dim))


@register_architecture("defaultConv")
def default_conv(im_channels: int, latent_dim: int) -> ConvVAE:
    """The 64×64 ``ConvVAE`` of the three-dots and MPI3D experiments."""
    return build_conv_vae("defaultConv", im_channels, latent_dim)


@register_architecture("tiny16")
def tiny16(im_channels: int, latent_dim: int) -> ConvVAE:
    """The 16×16 ``ConvVAE`` of the natural-image patches."""
    return build_conv_vae("tiny16", im_channels, latent_dim)
