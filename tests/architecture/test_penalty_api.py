"""The penalty as a public API for any decoder (docs/penalty.md): equal to a hand computation
on decoders of our own making, reproducible sub-batches, short imports, and the documented
example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.autograd.functional import jacobian

import jlonevae_lib
from jlonevae_lib import architecture
from jlonevae_lib.architecture import jacobian as jacobian_module
from jlonevae_lib.architecture import jacobian_penalty

DOC = Path(__file__).resolve().parents[2] / "docs" / "penalty.md"
#: Tolerances, relative to the hand computation. Exact: float rounding only, forward-mode
#: products against autograd's reverse mode (measured: 0 in float64, ≤ 1e-7 in float32).
EXACT_RTOL = {torch.float64: 1e-10, torch.float32: 1e-6}
#: FD at ε = 1e-3: an O(ε) truncation error on these smooth decoders (measured ≤ 5e-5 in
#: float64), plus in float32 the outputs' rounding divided by ε (measured ≤ 1.6e-4 in all).
FD_RTOL = {torch.float64: 5e-4, torch.float32: 1e-3}


def mlp_decoder(latent_dim: int, pixels: int) -> nn.Module:
    """A plain 3-layer MLP, flat output (B, pixels)."""
    return nn.Sequential(nn.Linear(latent_dim, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                         nn.Linear(16, pixels), nn.Sigmoid())


def conv_decoder(latent_dim: int) -> nn.Module:
    """Latents → images (B, 2, 6, 6) through a transposed convolution."""
    return nn.Sequential(nn.Linear(latent_dim, 4 * 3 * 3), nn.Tanh(), nn.Unflatten(1, (4, 3, 3)),
                         nn.ConvTranspose2d(4, 2, kernel_size=2, stride=2), nn.Sigmoid())


def hand_penalty(decode, z: torch.Tensor, square: bool = False) -> torch.Tensor:
    """(1/B) Σ_b Σ |∂decode(z_b)/∂z| from torch.autograd.functional.jacobian, one row at a
    time; differentiable in the decoder's parameters."""
    total = z.new_zeros(())
    for row in z:
        entries = jacobian(lambda v: decode(v.unsqueeze(0))[0], row, create_graph=True)
        total = total + (entries.square().sum() if square else entries.abs().sum())
    return total / z.shape[0]


DECODERS = {"mlp": lambda d: mlp_decoder(d, 10), "conv": conv_decoder}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("kind", sorted(DECODERS))
@pytest.mark.parametrize("penalty", ["jlone", "jltwo"])
def test_the_penalty_of_any_decoder_is_the_hand_computation(kind, penalty, dtype):
    torch.manual_seed(0)
    decoder = DECODERS[kind](3).to(dtype)
    z = torch.randn(5, 3, dtype=dtype)
    expected = hand_penalty(decoder, z, square=penalty == "jltwo")
    exact = jacobian_penalty(decoder, z, penalty=penalty, method="exact")
    fd = jacobian_penalty(decoder, z, penalty=penalty, method="fd")
    torch.testing.assert_close(exact, expected, rtol=EXACT_RTOL[dtype], atol=0)
    torch.testing.assert_close(fd, expected, rtol=FD_RTOL[dtype], atol=0)


@pytest.mark.parametrize("kind", sorted(DECODERS))
def test_the_exact_penalty_has_the_hand_computations_gradient(kind):
    torch.manual_seed(1)
    decoder = DECODERS[kind](3).double()
    z = torch.randn(4, 3, dtype=torch.float64)
    grads = []
    for value in (lambda: jacobian_penalty(decoder, z, method="exact"),
                  lambda: hand_penalty(decoder, z)):
        decoder.zero_grad(set_to_none=True)
        value().backward()
        grads.append(torch.cat([p.grad.flatten() for p in decoder.parameters()]))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-9, atol=1e-12)


def test_a_seeded_generator_makes_the_sub_batch_reproducible():
    torch.manual_seed(2)
    decoder = mlp_decoder(3, 10).double()
    z = torch.randn(8, 3, dtype=torch.float64)

    def sub_batch_penalty(seed: int) -> torch.Tensor:
        return jacobian_penalty(decoder, z, method="exact", sub_batch=3,
                                generator=torch.Generator().manual_seed(seed))

    first, again = sub_batch_penalty(4), sub_batch_penalty(4)
    assert torch.equal(first, again)
    # The rows are the generator's first permutation, whatever torch's global generator does.
    rows = torch.randperm(8, generator=torch.Generator().manual_seed(4))[:3]
    torch.testing.assert_close(first, hand_penalty(decoder, z[rows]), rtol=1e-10, atol=0)
    torch.manual_seed(99)
    assert torch.equal(sub_batch_penalty(4), first)
    assert not torch.equal(sub_batch_penalty(5), first)  # another seed, other rows


def test_the_short_imports_are_the_module_functions():
    for name in ("jacobian_penalty", "jacobian_penalty_backward"):
        assert getattr(jlonevae_lib, name) is getattr(jacobian_module, name)
        assert getattr(architecture, name) is getattr(jacobian_module, name)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        jlonevae_lib.nope  # noqa: B018


def test_importing_the_package_does_not_load_torch():
    """The TensorFlow program and the command lines' checks import the package without torch;
    the short import loads it on first use."""
    code = ("import sys, jlonevae_lib; assert 'torch' not in sys.modules; "
            "from jlonevae_lib import jacobian_penalty; assert 'torch' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def doc_python_blocks() -> list[str]:
    """The fenced ```python blocks of docs/penalty.md, in order."""
    return re.findall(r"^```python\n(.*?)^```$", DOC.read_text(), flags=re.M | re.S)


def test_the_documented_example_runs(capsys):
    blocks = doc_python_blocks()
    assert len(blocks) == 2 and "class MyVAE(nn.Module)" in blocks[1]
    assert "jacobian_penalty(model.decode, z.detach()" in blocks[1]
    namespace: dict = {"__name__": "penalty_doc"}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102
    assert "loss after 20 steps: " in capsys.readouterr().out
    assert torch.isfinite(namespace["loss"])
