"""Float32 precision of CUDA matrix products and convolutions: the package's one place for it.

Why it matters here: on Ampere and later GPUs PyTorch lets cuDNN run float32 convolutions in
TensorFloat-32 (``torch.backends.cudnn.allow_tf32`` is True by default), which rounds the
inputs and weights of each product to a 10-bit mantissa (relative error ≈ 5e-4). A forward
difference at ε = 1e-3 divides that rounding by ε: emulated on the CPU with the demo model, the
error of the FD Jacobian columns against exact ones rose from 1.5% to 34.5% and the L1 penalty
by 6% (docs/gpu.md). So every Jacobian the package computes runs under :func:`ieee_float32`,
whatever the process asked for, and the rest of training follows ``TrainConfig.allow_tf32``
(:func:`float32_precision`).

Two generations of PyTorch switches are handled alike: the legacy ones
(``torch.backends.cuda.matmul.allow_tf32``, ``torch.backends.cudnn.allow_tf32``,
``torch.set_float32_matmul_precision``) and, where this PyTorch has them (2.9+), the per-operation
``fp32_precision`` settings the kernels actually consult (``torch.backends.cuda.matmul``,
``torch.backends.cudnn.conv``, ``torch.backends.cudnn.rnn``). Both are set on entry and both
are put back exactly on exit, so a caller's own choice, made with either API, survives.

On the CPU these switches choose nothing: cuDNN and cuBLAS are CUDA's, and IEEE float32
("highest") is PyTorch's default for CPU matrix products, so entering :func:`ieee_float32`
changes no CPU result (the bit-identity checks of issue 25 confirm it); it only protects a
process that asked for bfloat16 CPU products ("medium") from having them in a Jacobian.

The settings are process-wide: a thread that trains while another computes a Jacobian would see
them change. Training is single-threaded, as are the figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

#: The newer API's per-operation settings that decide TF32 on CUDA (paths under
#: ``torch.backends``; absent on older PyTorch): set on entry.
_NEW_API_OWNERS = ("cuda.matmul", "cudnn.conv", "cudnn.rnn")
#: Every ``fp32_precision`` setting, parents before children: saved on entry and put back on
#: exit (the legacy switches rewrite some of them, the CPU's oneDNN ones included).
_SAVED_OWNERS = ("", "cuda", "cuda.matmul", "cudnn", "cudnn.conv", "cudnn.rnn", "mkldnn",
                 "mkldnn.matmul", "mkldnn.conv", "mkldnn.rnn")


def _owner(path: str) -> Any | None:
    owner: Any = torch.backends
    if not path:
        return owner if hasattr(owner, "fp32_precision") else None
    for part in path.split("."):
        owner = getattr(owner, part, None)
        if owner is None:
            return None
    return owner if hasattr(owner, "fp32_precision") else None


def _legacy_state() -> tuple[bool, bool, str] | None:
    """(cuBLAS TF32, cuDNN TF32, matmul precision), or None where reading them raises (a
    process that mixed the legacy and new APIs: PyTorch then refuses the legacy getters)."""
    try:
        return (bool(torch.backends.cuda.matmul.allow_tf32),
                bool(torch.backends.cudnn.allow_tf32),
                torch.get_float32_matmul_precision())
    except RuntimeError:
        return None


def _new_state() -> dict[str, str]:
    return {path: owner.fp32_precision for path in _SAVED_OWNERS
            if (owner := _owner(path)) is not None}


def precision_state() -> dict[str, Any]:
    """The float32 settings in force: ``tf32_matmul``, ``tf32_cudnn``, ``matmul_precision``
    (None where unreadable) and the newer API's ``fp32_precision`` values. For records and
    tests; it changes nothing."""
    legacy = _legacy_state()
    state: dict[str, Any] = dict(zip(("tf32_matmul", "tf32_cudnn", "matmul_precision"),
                                     legacy or (None, None, None), strict=True))
    state.update({f"{path or 'backends'}.fp32_precision": value
                  for path, value in _new_state().items()})
    return state


def _apply(tf32: bool) -> None:
    # Legacy switches first: setting them rewrites the newer per-operation values, which are
    # then set explicitly (a bare legacy False leaves cudnn.conv at "none", which inherits
    # whatever torch.backends.cudnn.fp32_precision says, possibly "tf32").
    # (torch.backends.cuda.matmul.allow_tf32 is the matmul precision seen as a bool: "highest"
    # is False, "high" and "medium" True; setting the precision sets it.)
    torch.backends.cudnn.allow_tf32 = tf32
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    for path in _NEW_API_OWNERS:
        owner = _owner(path)
        if owner is not None:
            owner.fp32_precision = "tf32" if tf32 else "ieee"


def _restore(legacy: tuple[bool, bool, str] | None, new: dict[str, str]) -> None:
    if legacy is not None:
        _, cudnn_tf32, matmul_precision = legacy
        torch.backends.cudnn.allow_tf32 = cudnn_tf32
        torch.set_float32_matmul_precision(matmul_precision)  # cuBLAS's allow_tf32 with it
    for path, value in new.items():  # last: the exact values the kernels consult
        owner = _owner(path)
        if owner is not None:
            owner.fp32_precision = value


@contextmanager
def float32_precision(tf32: bool) -> Iterator[None]:
    """Run the block with TF32 allowed (``tf32=True``: cuBLAS and cuDNN may round float32
    products to TF32, "high" matmul precision) or forbidden (IEEE float32 everywhere), then
    restore every setting as it was, even if the block raises."""
    legacy, new = _legacy_state(), _new_state()
    _apply(tf32)
    try:
        yield
    finally:
        _restore(legacy, new)


@contextmanager
def ieee_float32() -> Iterator[None]:
    """IEEE float32 for every CUDA matrix product and convolution of the block, whatever the
    process's TF32 settings; restored afterwards. The precision policy of every Jacobian
    (forward differences amplify TF32's rounding by 1/ε; see the module docstring). A no-op in
    effect on the CPU."""
    with float32_precision(tf32=False):
        yield
