"""The decoder Jacobian and the penalties built on it (docs/method.md). Pure tensor math.

J[k, b] = ∂ decode(z_b) / ∂ z_k: one column per latent dimension, shape (d, B, ...), where
``...`` is the decoder's output shape per row: (C, H, W) for our image decoders, (P,) for an MLP
with flat output. Any callable ``decode: (N, d) -> (N, ...)`` works, provided it treats its rows
independently and deterministically (no batch statistics, no dropout): the FD method decodes
the shifted copies of z in one call, next to z itself. docs/penalty.md shows the penalty in a
model of one's own; :func:`jacobian_penalty` is exported as ``jlonevae_lib.jacobian_penalty``.

Two ways to compute the columns, registered in :data:`JACOBIAN_METHODS`:

- ``"fd"`` (default): forward differences with ε = 1e-3, in one decoder call on (d+1)·B rows,
  as the reference implementation (and so the paper's results) did. ε is an absolute step in
  latent units (each z_k moves by 1e-3), small against a latent of the prior's scale N(0, 1);
  :func:`jacobian_columns_fd` takes another.
- ``"exact"``: forward-mode autodiff (``torch.func.jvp``, vectorised over the d basis vectors
  with ``torch.func.vmap``).

The two give the same penalty VALUE (1e-4 to 1e-3 relative on the models we tried) but
different parameter GRADIENTS (cosine similarity ≈0.1 on an untrained defaultConv, even in
float64): a ReLU that switches between z and z + εe_k makes the FD column a secant, and its
derivative with respect to the weights differs from the derivative of the tangent; summed over
the many units of a conv decoder those switches dominate the FD gradient (at ε = 1e-5 the two
gradients coincide).
FD is the default for fidelity to the paper; ``"exact"`` is the mathematically clean variant.

Penalties, registered in :data:`JACOBIAN_PENALTIES`: ``"jlone"`` Σ|J|/B (the paper's) and
``"jltwo"`` ΣJ²/B (its appendix). :func:`jacobian_penalty` combines a method and a penalty and
can estimate the penalty on a random sub-batch.

Precision: every function here runs its decoder calls under
:func:`~jlonevae_lib.utils.precision.ieee_float32` (and :func:`jacobian_penalty_backward` its
backward too), whatever the process's TF32 settings: on a GPU that rounds float32 products to
TF32 (cuDNN's default on Ampere and later), forward differences divide the rounding by ε and the
columns become noise (docs/gpu.md). On the CPU the policy changes nothing. :func:`jacobian_penalty`
returns a tensor whose backward runs later, in the caller's hands: run that backward under
``ieee_float32()`` as well (the trainer uses :func:`jacobian_penalty_backward`, which does).
``ieee_float32()`` also switches autocast off, so in a mixed-precision (bf16) run the decoder's
calls here are IEEE float32 as well: a z in bfloat16 or float16 is taken to float32 first
(:func:`~jlonevae_lib.utils.precision.full_precision`), and the result is the float32 one for
that z, bit for bit.

Callers pass z DETACHED from the encoder (``z.detach()``): the penalty of the paper is evaluated
at the sampled latent but its gradient must reach the decoder's parameters only. These
functions do not detach themselves, so they stay differentiable in z for whoever needs it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TypeVar

import torch

from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.precision import full_precision, ieee_float32

Decoder = Callable[[torch.Tensor], torch.Tensor]
ColumnsFn = Callable[[Decoder, torch.Tensor], torch.Tensor]
PenaltyFn = Callable[[torch.Tensor], torch.Tensor]

#: The finite-difference step of the reference implementation.
FD_EPSILON = 1e-3


def jacobian_columns_fd(decode: Decoder, z: torch.Tensor,
                        epsilon: float = FD_EPSILON) -> torch.Tensor:
    """Forward-difference Jacobian columns of ``decode`` at ``z``.

    decode: (N, d) -> (N, ...); z: (B, d). Returns (d, B, ...) with
    J[k] = (decode(z + ε e_k) - decode(z)) / ε (ε in latent units), from ONE call of ``decode``
    on the (d+1)·B rows [z + ε e_0; ...; z + ε e_{d-1}; z]. Differentiable w.r.t. the
    decoder's parameters (and z).
    The decoder runs in IEEE float32 (:func:`~jlonevae_lib.utils.precision.ieee_float32`,
    autocast off), on z in float32 where it came in bfloat16 or float16.
    """
    z = full_precision(z)
    batch_size, latent_dim = z.shape
    basis = torch.eye(latent_dim, dtype=z.dtype, device=z.device)
    shifted = z.unsqueeze(0) + epsilon * basis.unsqueeze(1)  # (d, B, d): row k is z + ε e_k
    rows = torch.cat((shifted.reshape(latent_dim * batch_size, latent_dim), z))
    with ieee_float32():
        images = decode(rows)
    images = images.reshape(latent_dim + 1, batch_size, *images.shape[1:])
    # split, not two slices: the same values, but its backward concatenates the two gradients
    # where two slices' would zero-fill two (d+1)·B-image buffers and add them.
    shifted, base = images.split((latent_dim, 1))
    return (shifted - base) / epsilon


def jacobian_columns_exact(decode: Decoder, z: torch.Tensor) -> torch.Tensor:
    """Exact Jacobian columns of ``decode`` at ``z`` by forward-mode autodiff.

    decode: (N, d) -> (N, ...); z: (B, d). Returns (d, B, ...). One Jacobian-vector
    product per basis vector e_k (the same for every row), vectorised over k; the result is an
    ordinary autograd graph, so ``.backward()`` reaches the decoder's parameters. Computed in
    IEEE float32, like the FD columns (TF32 would cost the figures ~1e-3 relative here: not
    amplified, but the same policy everywhere keeps the two methods comparable); z in float32
    where it came in bfloat16 or float16.
    """
    z = full_precision(z)
    batch_size, latent_dim = z.shape
    basis = torch.eye(latent_dim, dtype=z.dtype, device=z.device)
    tangents = basis.unsqueeze(1).expand(latent_dim, batch_size, latent_dim)

    def column(tangent: torch.Tensor) -> torch.Tensor:
        return torch.func.jvp(decode, (z,), (tangent,))[1]

    with warnings.catch_warnings():
        # torch.func scripts a helper of its own on first use and warns that torch.jit.script
        # is deprecated: torch's business, not the caller's.
        warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated",
                                category=DeprecationWarning)
        with ieee_float32():
            return torch.func.vmap(column)(tangents)


def jacobian_l1(columns: torch.Tensor) -> torch.Tensor:
    """The JL1 penalty Σ|J| / B of Jacobian columns (d, B, ...): a scalar."""
    return columns.abs().sum() / columns.shape[1]


def jacobian_l2(columns: torch.Tensor) -> torch.Tensor:
    """The L2 variant Σ J² / B of Jacobian columns (d, B, ...): a scalar."""
    return columns.square().sum() / columns.shape[1]


JACOBIAN_METHODS: dict[str, ColumnsFn] = {
    "fd": jacobian_columns_fd,
    "exact": jacobian_columns_exact,
}

JACOBIAN_PENALTIES: dict[str, PenaltyFn] = {
    "jlone": jacobian_l1,
    "jltwo": jacobian_l2,
}

_T = TypeVar("_T")


def _lookup(registry: dict[str, _T], name: str, what: str) -> _T:
    try:
        return registry[name]
    except KeyError:
        raise JLoneVAEError(
            f"unknown Jacobian {what} '{name}'; known: {', '.join(registry)}") from None


def _penalty_rows(z: torch.Tensor, sub_batch: int | None,
                  generator: torch.Generator | None) -> torch.Tensor:
    """z itself, or the random sub-batch of its rows that :func:`jacobian_penalty` uses.

    The permutation is drawn where ``generator`` lives (the CPU without one): a generator on
    z's GPU draws it there, with no copy and no wait for the host; a CPU generator draws exactly
    the numbers it always has (then copied to z's device).
    """
    batch_size = z.shape[0]
    if sub_batch is not None:
        if sub_batch < 1:
            raise JLoneVAEError(f"the Jacobian sub-batch must be >= 1 (or None), got {sub_batch}")
        if sub_batch < batch_size:
            device = generator.device if generator is not None else torch.device("cpu")
            rows = torch.randperm(batch_size, generator=generator, device=device)[:sub_batch]
            z = z[rows.to(z.device)]
    return z


def jacobian_penalty(decode: Decoder, z: torch.Tensor, penalty: str = "jlone",
                     method: str = "fd", sub_batch: int | None = None,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """The Jacobian penalty of ``decode`` at the latents ``z`` (B, d): a scalar tensor.

    decode: any (N, d) -> (N, ...) that treats rows independently (see the module docstring).
    penalty: a name in :data:`JACOBIAN_PENALTIES`; method: a name in :data:`JACOBIAN_METHODS`.
    Pass ``z`` detached from the encoder (see the module docstring). ``"jlone"`` is Σ|J| over
    the d latents and every output value of a row, averaged over the rows: it grows with the
    output size and d, and so should γ shrink (docs/penalty.md).

    sub_batch k < B evaluates the penalty on k rows drawn without replacement
    (``torch.randperm(B, generator=generator)`` on the generator's device; None uses the
    global CPU one)
    and returns Σ|J_sub|/k. Every row is drawn with probability k/B, so its expectation is the
    full-batch Σ|J|/B: an unbiased estimate at about k/B of the cost. k >= B or None: full batch.
    """
    penalty_fn = _lookup(JACOBIAN_PENALTIES, penalty, "penalty")
    columns_fn = _lookup(JACOBIAN_METHODS, method, "method")
    return penalty_fn(columns_fn(decode, _penalty_rows(z, sub_batch, generator)))


def jacobian_penalty_backward(decode: Decoder, z: torch.Tensor, scale: float,
                              penalty: str = "jlone", method: str = "fd",
                              sub_batch: int | None = None,
                              generator: torch.Generator | None = None,
                              chunk_size: int | None = None) -> torch.Tensor:
    """Backpropagate ``scale`` × the penalty now, a chunk of latents at a time.

    Same arguments, rows and random draws as :func:`jacobian_penalty`; ``z`` must be detached
    (the graph of each chunk is built from ``z`` alone). The gradient of ``scale · penalty`` is
    ADDED to the ``.grad`` of the tensors ``decode`` depends on, and the penalty's value is
    returned as a detached scalar, to be added to the loss for logging only.

    The penalty is a sum over latents, so chunk c of n_c of the n rows contributes
    ``penalty(chunk) · n_c / n``; each chunk's graph is freed before the next is built, so
    the (d+1)·n decoded images are never all held for backward at once: less peak memory, at no
    cost in speed (figures in benchmarks/README.md). Against one ``backward`` of
    :func:`jacobian_penalty` the float32 results change by rounding only: sums run in another
    order, and kernels may round differently for another number of rows, which forward
    differences amplify by 1/ε (far less than float32 and float64 FD gradients differ; in
    float64 the chunks agree to rounding, as the tests check). chunk_size None or >= n: one
    chunk, the same numbers as :func:`jacobian_penalty`. Forward and backward run in IEEE
    float32 (:func:`~jlonevae_lib.utils.precision.ieee_float32`): TF32 rounding in the
    backward would spoil the gradient as it spoils the columns.
    """
    if z.requires_grad:
        raise JLoneVAEError("jacobian_penalty_backward needs z detached from the encoder")
    penalty_fn = _lookup(JACOBIAN_PENALTIES, penalty, "penalty")
    columns_fn = _lookup(JACOBIAN_METHODS, method, "method")
    # float32 latents from a bf16 forward pass: the penalty, and its running total, in float32
    z = full_precision(_penalty_rows(z, sub_batch, generator))
    num_rows = z.shape[0]
    if chunk_size is not None and chunk_size < 1:
        raise JLoneVAEError(f"the penalty chunk size must be >= 1 (or None), got {chunk_size}")
    step = num_rows if chunk_size is None else chunk_size
    total = torch.zeros((), dtype=z.dtype, device=z.device)
    with ieee_float32():
        for chunk in z.split(step):
            value = penalty_fn(columns_fn(decode, chunk))
            if chunk.shape[0] != num_rows:
                value = value * (chunk.shape[0] / num_rows)
            (scale * value).backward()
            total += value.detach()
    return total
