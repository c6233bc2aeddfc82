"""DeconvDecoder.tuned_cpu_kernels (architecture/dlib_conv.py): the last transposed convolution
of a grey-scale dlibConv decoder runs its forward pass without oneDNN on the CPU. The tuned and
plain paths compute the same function; they may differ only by float32 rounding, bounded here."""

from __future__ import annotations

import copy

import torch
from torch.nn import functional as F

from jlonevae_lib.architecture.dlib_conv import DlibConvVAE


def pair(im_channels: int = 1) -> tuple[DlibConvVAE, DlibConvVAE]:
    """(tuned, plain) copies of one freshly initialised model."""
    torch.manual_seed(0)
    tuned = DlibConvVAE(latent_dim=10, im_channels=im_channels)
    plain = copy.deepcopy(tuned)
    plain.decoder.tuned_cpu_kernels = False
    assert tuned.decoder.tuned_cpu_kernels
    return tuned, plain


def test_tuned_forward_is_the_plain_one_with_a_oneDNN_free_last_layer():
    tuned, plain = pair()
    z = torch.randn(16, 10, generator=torch.Generator().manual_seed(1))
    dec = plain.decoder
    with torch.no_grad():
        h = F.relu(dec.dense_1(F.relu(dec.dense(z))))
        h = h.reshape(-1, 4, 4, 64).permute(0, 3, 1, 2).contiguous()
        for layer in (dec.conv2d_transpose, dec.conv2d_transpose_1, dec.conv2d_transpose_2):
            h = F.relu(layer(h))
        previous = torch.backends.mkldnn.enabled
        torch.backends.mkldnn.enabled = False
        try:
            expected = dec.conv2d_transpose_3(h)
        finally:
            torch.backends.mkldnn.enabled = previous
        assert torch.equal(tuned.decode_logits(z), expected)
        assert torch.backends.mkldnn.enabled == previous  # the switch is undone
        # the two kernels differ by float32 rounding only
        torch.testing.assert_close(tuned.decode_logits(z), plain.decode_logits(z),
                                   rtol=1e-5, atol=1e-6)


def test_tuned_and_plain_training_gradients_agree():
    tuned, plain = pair()
    x = torch.rand(8, 1, 64, 64, generator=torch.Generator().manual_seed(2))
    grads = []
    for model in (tuned, plain):
        torch.manual_seed(3)
        recon, mu, logvar, _ = model(x)
        loss = F.binary_cross_entropy(recon, x, reduction="sum") + mu.pow(2).sum()
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert float((grads[0] - grads[1]).norm() / grads[1].norm()) < 1e-5


def test_colour_decoders_keep_oneDNN():
    tuned, plain = pair(im_channels=3)
    z = torch.randn(4, 10, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert torch.equal(tuned.decode_logits(z), plain.decode_logits(z))
