"""ConvVAE.tuned_cpu_kernels: the decoder's single-output-channel transposed convolutions run
their forward pass without oneDNN on the CPU. Tuned and plain paths compute the same function;
they may differ only by float32 rounding, which these tests bound."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.nn import functional as F

from jlonevae_lib.architecture.jacobian import jacobian_penalty
from jlonevae_lib.architecture.vae import ConvVAE, build_conv_vae


def pair(preset: str, im_channels: int = 1, latent_dim: int = 10) -> tuple[ConvVAE, ConvVAE]:
    """(tuned, plain) copies of one freshly initialised model."""
    torch.manual_seed(0)
    tuned = build_conv_vae(preset, im_channels=im_channels, latent_dim=latent_dim)
    plain = copy.deepcopy(tuned)
    plain.tuned_cpu_kernels = False
    assert tuned.tuned_cpu_kernels
    return tuned, plain


def grads(model: ConvVAE) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("preset", ["defaultConv", "tiny16"])
def test_tuned_forward_is_oneDNN_free_last_layer_exactly(preset):
    """The tuned decoder is exactly the plain decoder with its last layer computed by
    PyTorch's own kernel (oneDNN disabled around that one call)."""
    tuned, plain = pair(preset)
    z = torch.randn(32, 10)
    h = z
    for fc in plain.gen_fcs:
        h = F.relu(fc(h))
    h = h.reshape(32, plain._gen_first_channels, plain._gen_first_side, plain._gen_first_side)
    for conv, crop in zip(plain.gen_convs[:-1], plain._gen_crops[:-1], strict=True):
        h = F.relu(conv(h))
        h = h if crop is None else h[..., :crop, :crop]
    torch.backends.mkldnn.enabled = False  # (flags() would also warn about TF32)
    try:
        h = plain.gen_convs[-1](h)
    finally:
        torch.backends.mkldnn.enabled = True
    crop = plain._gen_crops[-1]
    expected = torch.sigmoid(h if crop is None else h[..., :crop, :crop])
    with torch.no_grad():
        torch.testing.assert_close(tuned.decode(z), expected, rtol=0, atol=0)


@pytest.mark.parametrize("preset", ["defaultConv", "tiny16"])
def test_tuned_and_plain_agree_to_rounding(preset):
    tuned, plain = pair(preset)
    side = tuned.im_side_len
    x = torch.rand(16, 1, side, side)
    results = []
    for model in (tuned, plain):
        torch.manual_seed(1)
        recon, mu, logvar, z = model(x)
        loss = F.binary_cross_entropy(recon, x, reduction="sum") / 16
        loss.backward()
        results.append((recon.detach(), loss.item(), grads(model)))
    (r1, l1, g1), (r2, l2, g2) = results
    torch.testing.assert_close(r1, r2, rtol=0, atol=1e-6)  # a few float32 ulps of [0, 1]
    assert abs(l1 - l2) <= 1e-6 * abs(l2)
    assert relative(g1, g2) < 1e-5


def test_fd_penalty_agrees_within_its_float32_noise():
    """Forward differences divide image differences by ε = 1e-3, so they amplify the kernels'
    1e-7 rounding difference to ~1e-5 of the penalty; float32 FD itself is ~1e-4 away from
    float64 FD on the same weights. The tuned path must stay well inside that noise."""
    tuned, plain = pair("defaultConv")
    reference = copy.deepcopy(plain).double()
    z = torch.randn(64, 10)
    values = []
    for model, zz in ((tuned, z), (plain, z), (reference, z.double())):
        p = jacobian_penalty(model.decode, zz)
        p.backward()
        values.append((p.item(), grads(model).double()))
    (p_tuned, g_tuned), (p_plain, g_plain), (p_64, g_64) = values
    assert abs(p_tuned - p_plain) / p_plain < 1e-4
    float32_noise = abs(p_plain - p_64) / p_64
    assert abs(p_tuned - p_plain) / p_plain < float32_noise
    # The FD penalty's weight gradient is a difference of O(1/ε) terms: in float32 it is
    # ~25% (relative norm) away from float64 on this model; tuned vs plain is ~3%.
    assert relative(g_tuned, g_plain) < 0.5 * relative(g_plain, g_64)


def test_exact_jacobian_works_with_tuned_kernels():
    tuned, plain = pair("tiny16")
    z = torch.randn(8, 10)
    values = [jacobian_penalty(m.decode, z, method="exact").item() for m in (tuned, plain)]
    assert values[0] == pytest.approx(values[1], rel=1e-5)


def test_multi_channel_decoders_are_untouched():
    tuned, plain = pair("defaultConv", im_channels=3)
    assert not any(tuned._gen_native_forward)
    z = torch.randn(8, 10)
    with torch.no_grad():
        torch.testing.assert_close(tuned.decode(z), plain.decode(z), rtol=0, atol=0)


def test_onednn_flag_is_restored_after_decode_and_errors():
    tuned, _ = pair("tiny16")
    assert torch.backends.mkldnn.enabled
    tuned.decode(torch.randn(2, 10))
    assert torch.backends.mkldnn.enabled
    with pytest.raises(RuntimeError):
        tuned.gen_convs[-1].weight.data = torch.empty(0)
        tuned.decode(torch.randn(2, 10))
    assert torch.backends.mkldnn.enabled


def test_state_dict_unchanged():
    tuned, plain = pair("defaultConv")
    assert list(tuned.state_dict()) == list(plain.state_dict())
