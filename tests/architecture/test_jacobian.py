"""Decoder Jacobian: FD vs exact, penalties, the sub-batch estimator, the reference wrappers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from jlonevae_lib.architecture import vae_jacobian
from jlonevae_lib.architecture.jacobian import (
    JACOBIAN_METHODS,
    JACOBIAN_PENALTIES,
    jacobian_columns_exact,
    jacobian_columns_fd,
    jacobian_l1,
    jacobian_l2,
    jacobian_penalty,
    jacobian_penalty_backward,
)
from jlonevae_lib.architecture.vae import build_conv_vae
from jlonevae_lib.utils.errors import JLoneVAEError


@pytest.fixture(scope="module")
def tiny64():
    """tiny16 with d = 3 in float64: smooth enough numerics to compare FD with exact."""
    torch.manual_seed(0)
    return build_conv_vae("tiny16", latent_dim=3).double()


@pytest.fixture(scope="module")
def z64():
    torch.manual_seed(1)
    return torch.randn(4, 3, dtype=torch.float64)


def square_decoder(z: torch.Tensor) -> torch.Tensor:
    """(B, d) -> (B, d, 1, 1), z²/2 elementwise: J[k, b] is z[b, k] at channel k, else 0."""
    return (0.5 * z**2).reshape(z.shape[0], z.shape[1], 1, 1)


def test_penalties_equal_hand_computation():
    columns = torch.tensor([[[1.0, -2.0]], [[0.5, 0.0]], [[-3.0, 4.0]]])  # (d=3, B=1, 2)
    columns = torch.cat([columns, 2 * columns], dim=1)  # B = 2: second row doubled
    # Σ|J| = (1+2+0.5+3+4)·(1+2) = 31.5 over B = 2; ΣJ² = (1+4+0.25+9+16)·(1+4) = 151.25 over 2.
    assert jacobian_l1(columns).item() == pytest.approx(15.75)
    assert jacobian_l2(columns).item() == pytest.approx(75.625)
    assert JACOBIAN_PENALTIES == {"jlone": jacobian_l1, "jltwo": jacobian_l2}


@pytest.mark.parametrize("method", sorted(JACOBIAN_METHODS))
def test_linear_decoder_columns_are_its_weight_columns(method):
    weight = torch.tensor([[1.0, -2.0], [0.0, 3.0], [0.5, 0.25], [-1.0, 1.0]],
                          dtype=torch.float64)  # (C·H·W = 4, d = 2)

    def decode(z):
        return (z @ weight.T).reshape(-1, 1, 2, 2)

    z = torch.randn(3, 2, dtype=torch.float64)
    columns = JACOBIAN_METHODS[method](decode, z)
    assert columns.shape == (2, 3, 1, 2, 2)
    for k in range(2):
        for b in range(3):
            torch.testing.assert_close(columns[k, b].flatten(), weight[:, k])
    # Σ|W| = 8.75 for every row, so the penalty (a mean over rows) is 8.75.
    assert jacobian_penalty(decode, z, method=method).item() == pytest.approx(8.75)


def test_fd_makes_one_decoder_call_on_d_plus_one_times_b_rows(tiny64, z64):
    calls = []

    def decode(z):
        calls.append(z.clone())
        return tiny64.decode(z)

    columns = jacobian_columns_fd(decode, z64, epsilon=1e-3)
    assert len(calls) == 1
    rows = calls[0]
    assert rows.shape == (4 * 4, 3)
    torch.testing.assert_close(rows[-4:], z64, rtol=0, atol=0)
    for k in range(3):
        shift = torch.zeros(3, dtype=torch.float64)
        shift[k] = 1e-3
        torch.testing.assert_close(rows[4 * k:4 * (k + 1)], z64 + shift)
    assert columns.shape == (3, 4, 1, 16, 16)


def test_fd_columns_equal_the_two_slice_formulation_bitwise():
    """Our split of the decoded rows gives exactly the values and gradients of the reference's
    ``(images[:-1] - images[-1]) / ε``."""
    torch.manual_seed(3)
    model = build_conv_vae("tiny16", latent_dim=3)
    z = torch.randn(5, 3)
    results = []
    for columns_of in (
        lambda: jacobian_columns_fd(model.decode, z),
        lambda: _two_slice_fd_columns(model.decode, z, 1e-3),
    ):
        model.zero_grad(set_to_none=True)
        columns = columns_of()
        columns.abs().sum().backward()
        results.append((columns.detach(), [p.grad.clone() for p in model.parameters()
                                           if p.grad is not None]))
    (cols_a, grads_a), (cols_b, grads_b) = results
    assert torch.equal(cols_a, cols_b)
    assert len(grads_a) == len(grads_b) and all(map(torch.equal, grads_a, grads_b))


def _two_slice_fd_columns(decode, z, epsilon):
    batch_size, latent_dim = z.shape
    shifted = z.unsqueeze(0) + epsilon * torch.eye(latent_dim).unsqueeze(1)
    images = decode(torch.cat((shifted.reshape(-1, latent_dim), z)))
    images = images.reshape(latent_dim + 1, batch_size, *images.shape[1:])
    return (images[:-1] - images[-1]) / epsilon


def test_fd_and_exact_columns_agree(tiny64, z64):
    exact = jacobian_columns_exact(tiny64.decode, z64)
    fd = jacobian_columns_fd(tiny64.decode, z64, epsilon=1e-6)
    assert exact.shape == fd.shape == (3, 4, 1, 16, 16)
    assert ((fd - exact).norm() / exact.norm()).item() < 1e-4


def test_fd_and_exact_penalties_agree_at_reference_epsilon(tiny64, z64):
    fd = jacobian_penalty(tiny64.decode, z64, method="fd").item()
    exact = jacobian_penalty(tiny64.decode, z64, method="exact").item()
    assert abs(fd - exact) / exact < 1e-3


def test_fd_and_exact_agree_in_float32_on_the_penalty_value():
    torch.manual_seed(2)
    model = build_conv_vae("tiny16", latent_dim=3)
    z = torch.randn(4, 3)
    fd = jacobian_penalty(model.decode, z, method="fd").item()
    exact = jacobian_penalty(model.decode, z, method="exact").item()
    assert abs(fd - exact) / exact < 1e-3


def _decoder_grads(model, penalty):
    model.zero_grad()
    penalty.backward()
    return torch.cat([p.grad.flatten() for p in model.gen_fcs.parameters()]
                     + [p.grad.flatten() for p in model.gen_convs.parameters()])


def test_exact_penalty_backpropagates_to_decoder_only(tiny64):
    x = torch.rand(4, 1, 16, 16, dtype=torch.float64)
    tiny64.zero_grad()
    _, _, _, z = tiny64(x)
    penalty = jacobian_penalty(tiny64.decode, z.detach(), method="exact")
    penalty.backward()
    for name, param in tiny64.named_parameters():
        if name.startswith("gen_"):
            assert param.grad is not None and param.grad.abs().sum() > 0, name
            assert torch.isfinite(param.grad).all(), name
        else:
            assert param.grad is None, name


def test_exact_gradient_is_the_limit_of_fd_gradients(tiny64, z64):
    # At a tiny ε no ReLU switches between z and z + εe_k, so the FD gradient must match the
    # exact one; at the reference's ε = 1e-3 it need not (see the jacobian module docstring).
    exact = _decoder_grads(tiny64, jacobian_penalty(tiny64.decode, z64, method="exact"))
    fd = _decoder_grads(tiny64, jacobian_l1(jacobian_columns_fd(tiny64.decode, z64, 1e-7)))
    assert ((fd - exact).norm() / exact.norm()).item() < 1e-3


def test_sub_batch_is_an_unbiased_estimate():
    torch.manual_seed(3)
    z = torch.randn(5, 4, dtype=torch.float64)
    full = jacobian_penalty(square_decoder, z, method="exact").item()
    per_row = z.abs().sum(dim=1)  # Σ_k |J[k, b]| for row b
    assert full == pytest.approx(per_row.mean().item(), rel=1e-12)

    k = 2
    subsets = list(itertools.combinations(range(5), k))
    # Exact expectation over the uniform distribution of k-subsets equals the full penalty.
    expectation = np.mean([per_row[list(s)].mean().item() for s in subsets])
    assert expectation == pytest.approx(full, rel=1e-12)

    # jacobian_penalty draws each k-subset uniformly and returns that subset's mean penalty.
    generator = torch.Generator().manual_seed(4)
    counts = dict.fromkeys(subsets, 0)
    draws = 2000
    for _ in range(draws):
        replay = torch.Generator().set_state(generator.get_state())
        drawn = tuple(sorted(torch.randperm(5, generator=replay)[:k].tolist()))
        value = jacobian_penalty(square_decoder, z, method="exact", sub_batch=k,
                                 generator=generator).item()
        assert value == pytest.approx(per_row[list(drawn)].mean().item(), rel=1e-12)
        counts[drawn] += 1
    frequencies = np.array(list(counts.values())) / draws
    # Each of the 10 subsets has probability 0.1; 5 binomial standard errors is 0.034.
    assert np.abs(frequencies - 1 / len(subsets)).max() < 0.034


@pytest.mark.parametrize("sub_batch", [None, 5, 8])
def test_sub_batch_of_whole_batch_or_more_is_the_full_penalty(sub_batch):
    z = torch.randn(5, 4, dtype=torch.float64)
    full = jacobian_penalty(square_decoder, z, method="exact")
    value = jacobian_penalty(square_decoder, z, method="exact", sub_batch=sub_batch)
    torch.testing.assert_close(value, full)


@pytest.mark.parametrize("kwargs,message", [
    (dict(penalty="jlthree"), "unknown Jacobian penalty 'jlthree'; known: jlone, jltwo"),
    (dict(method="backward"), "unknown Jacobian method 'backward'; known: fd, exact"),
    (dict(sub_batch=0), "sub-batch must be >= 1"),
])
def test_bad_penalty_arguments(kwargs, message):
    with pytest.raises(JLoneVAEError, match=message):
        jacobian_penalty(square_decoder, torch.randn(2, 3), **kwargs)


# --- the reference's entry points -----------------------------------------------------------

@pytest.fixture(scope="module")
def tiny32():
    torch.manual_seed(5)
    return build_conv_vae("tiny16", latent_dim=3)


def test_compute_generator_jacobian_optimized(tiny32):
    z = torch.randn(4, 3)
    columns = vae_jacobian.compute_generator_jacobian_optimized(tiny32, z)
    assert isinstance(columns, torch.Tensor) and columns.shape == (3, 4, 1, 16, 16)
    torch.testing.assert_close(columns, jacobian_columns_fd(tiny32.decode, z, 1e-3))


def test_compute_generator_jacobian_analytic(tiny32):
    z = torch.randn(1, 3)
    columns = vae_jacobian.compute_generator_jacobian_analytic(tiny32, z, im_channels=1,
                                                               im_side_len=16)
    assert isinstance(columns, np.ndarray) and columns.shape == (3, 1, 1, 16, 16)
    np.testing.assert_allclose(columns, jacobian_columns_exact(tiny32.decode, z).detach().numpy())
    with pytest.raises(JLoneVAEError, match=r"not \(3, 64, 64\)"):
        vae_jacobian.compute_generator_jacobian_analytic(tiny32, z)


@pytest.mark.parametrize("function,penalty", [
    (vae_jacobian.jacobian_loss_function, "jlone"),
    (vae_jacobian.jacobian_l2_loss_function, "jltwo"),
])
def test_reference_loss_functions(tiny32, function, penalty):
    x = torch.rand(4, 1, 16, 16)
    tiny32.zero_grad()
    _, _, logvar, z = tiny32(x)
    loss = function(tiny32, z, logvar, "cpu")
    assert loss.shape == ()
    torch.testing.assert_close(loss, jacobian_penalty(tiny32.decode, z.detach(), penalty))
    loss.backward()  # the wrappers detach: only the decoder receives gradient
    assert tiny32.fcmu.weight.grad is None and tiny32.gen_fcs[0].weight.grad is not None


# --- the chunked backward -------------------------------------------------------------------

def _grads_of(model) -> list[torch.Tensor]:
    return [p.grad.clone() for p in model.parameters() if p.grad is not None]


@pytest.mark.parametrize("method", ["fd", "exact"])
@pytest.mark.parametrize("penalty", ["jlone", "jltwo"])
def test_penalty_backward_in_one_chunk_equals_backward_of_the_penalty(method, penalty):
    torch.manual_seed(6)
    model = build_conv_vae("tiny16", latent_dim=3)
    z = torch.randn(6, 3)
    value = jacobian_penalty(model.decode, z, penalty, method)
    (0.3 * value).backward()
    expected = _grads_of(model)
    model.zero_grad(set_to_none=True)
    returned = jacobian_penalty_backward(model.decode, z, 0.3, penalty, method)
    assert not returned.requires_grad and torch.equal(returned, value.detach())
    assert all(map(torch.equal, _grads_of(model), expected))


@pytest.mark.parametrize("chunk_size", [1, 2, 4, 5])
def test_penalty_backward_in_chunks_equals_one_backward(tiny64, chunk_size):
    """Chunks change only the order of sums: equal to float64 rounding."""
    z = torch.randn(5, 3, dtype=torch.float64)
    tiny64.zero_grad(set_to_none=True)
    value = jacobian_penalty(tiny64.decode, z)
    (2.0 * value).backward()
    expected = _grads_of(tiny64)
    tiny64.zero_grad(set_to_none=True)
    chunked = jacobian_penalty_backward(tiny64.decode, z, 2.0, chunk_size=chunk_size)
    torch.testing.assert_close(chunked, value.detach(), rtol=1e-12, atol=0)
    for got, want in zip(_grads_of(tiny64), expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    tiny64.zero_grad(set_to_none=True)


def test_penalty_backward_adds_to_existing_gradients(tiny64, z64):
    tiny64.zero_grad(set_to_none=True)
    jacobian_penalty_backward(tiny64.decode, z64, 1.0)
    once = _grads_of(tiny64)
    jacobian_penalty_backward(tiny64.decode, z64, 1.0, chunk_size=2)
    for got, single in zip(_grads_of(tiny64), once, strict=True):
        torch.testing.assert_close(got, 2 * single)
    tiny64.zero_grad(set_to_none=True)


def test_penalty_backward_draws_the_same_sub_batch(tiny64):
    # float64: in float32 the decoder's kernels round differently for different numbers of
    # rows, and forward differences amplify that to ~1e-4 of the penalty on this tiny model.
    z = torch.randn(8, 3, dtype=torch.float64)
    value = jacobian_penalty(tiny64.decode, z, sub_batch=3,
                             generator=torch.Generator().manual_seed(4))
    chunked = jacobian_penalty_backward(tiny64.decode, z, 1.0, sub_batch=3, chunk_size=2,
                                        generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(chunked, value.detach(), rtol=1e-12, atol=0)
    tiny64.zero_grad(set_to_none=True)


def test_penalty_backward_refuses_bad_input(tiny64, z64):
    with pytest.raises(JLoneVAEError, match="detached"):
        jacobian_penalty_backward(tiny64.decode, z64.clone().requires_grad_(), 1.0)
    with pytest.raises(JLoneVAEError, match="chunk size"):
        jacobian_penalty_backward(tiny64.decode, z64, 1.0, chunk_size=0)
    tiny64.zero_grad(set_to_none=True)
