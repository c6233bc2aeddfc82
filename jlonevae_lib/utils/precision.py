"""Numeric precision of training (TF32 on CUDA, bfloat16 autocast, the Jacobian's IEEE float32):
the package's one place for it.

Why it matters here: on Ampere and later GPUs PyTorch lets cuDNN run float32 convolutions in
TensorFloat-32 (``torch.backends.cudnn.allow_tf32`` is True by default), which rounds the
inputs and weights of each product to a 10-bit mantissa (relative error ≈ 5e-4). A forward
difference at ε = 1e-3 divides that rounding by ε: emulated on the CPU with the demo model, the
error of the FD Jacobian columns against exact ones grew many times over and the L1 penalty
moved with it (docs/gpu.md has the measurements). So every Jacobian the package computes runs
under :func:`ieee_float32`, whatever the process asked for, and the rest of training follows
``TrainConfig.allow_tf32`` (:func:`float32_precision`).

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

Mixed precision (``TrainConfig.precision``, docs/training.md, "Mixed precision"): a bf16 run
computes its loss under :func:`autocast_to` (bfloat16 autocast on the run's device), and
:func:`ieee_float32` also switches every active autocast off, so a Jacobian is IEEE float32 in a
bf16 run too; :func:`full_precision` takes a reduced-precision tensor back to float32 where a
loss reduces it.

The settings are process-wide: a thread that trains while another computes a Jacobian would see
them change. Training is single-threaded, as are the figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import torch

from jlonevae_lib.utils.errors import JLoneVAEError

#: ``TrainConfig.precision``'s values: IEEE float32 throughout (the paper's arithmetic), or
#: bfloat16 autocast for the loss outside the Jacobian (:func:`autocast_to`).
PRECISIONS = ("float32", "bf16")
#: The device types whose autocast :func:`autocast_disabled` switches off where it is on.
_AUTOCAST_DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu")
#: Floating-point dtypes that :func:`full_precision` takes to float32.
_REDUCED_DTYPES = (torch.bfloat16, torch.float16)

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
    """IEEE float32 for every matrix product and convolution of the block, whatever the
    process's TF32 and autocast settings; restored afterwards. The precision policy of every
    Jacobian (forward differences amplify TF32's rounding, and bfloat16's 7-bit mantissa far
    more, by 1/ε; see the module docstring). Outside autocast, a no-op in effect on the CPU.

    Autocast is off inside (:func:`autocast_disabled`), so the block's operations run in
    their inputs' dtype: give them float32 tensors (:func:`full_precision`).
    """
    with float32_precision(tf32=False), autocast_disabled():
        yield


@contextmanager
def autocast_disabled() -> Iterator[None]:
    """Switch off, for the block, every autocast that is on (of any device type), then put
    it back: the block's operations run in their inputs' dtypes. Nothing changes where no
    autocast is on."""
    with ExitStack() as stack:
        for device_type in _AUTOCAST_DEVICE_TYPES:
            if torch.is_autocast_enabled(device_type):
                stack.enter_context(torch.autocast(device_type=device_type, enabled=False))
        yield


def check_autocast_support(precision: str, device: torch.device) -> None:
    """Raise :class:`JLoneVAEError` (one line) when ``precision`` needs a bfloat16 autocast
    that ``device`` does not have. Every x86 CPU has one in PyTorch (emulated, and slow, on a
    CPU without bf16 instructions); a CUDA GPU has it natively from Ampere on, and where
    PyTorch can emulate it before (``torch.cuda.is_bf16_supported``, the current GPU)."""
    if precision == "float32":
        return
    supported = torch.amp.is_autocast_available(device.type)
    if supported and device.type == "cuda":
        supported = torch.cuda.is_bf16_supported()
    if not supported:
        raise JLoneVAEError(f"precision {precision!r} needs bfloat16 autocast, which device "
                            f"{device} does not support; train with --precision float32")


@contextmanager
def autocast_to(precision: str, device_type: str) -> Iterator[None]:
    """The block under ``precision``'s autocast on ``device_type``: none for ``"float32"``;
    bfloat16 for ``"bf16"``, which runs matrix products and convolutions in bfloat16 (inputs
    and weights rounded to bfloat16's 7-bit mantissa, sums in float32) and leaves parameters and
    gradients in float32."""
    if precision not in PRECISIONS:
        raise JLoneVAEError(f"precision must be one of {', '.join(PRECISIONS)}, got "
                            f"{precision!r}")
    if precision == "float32":
        yield
        return
    with torch.autocast(device_type=device_type, dtype=torch.bfloat16):
        yield


def full_precision(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` in float32 if it is bfloat16 or float16 (an autocast region's output),
    else ``tensor`` itself (float32 and float64 unchanged, no copy), any shape."""
    return tensor.float() if tensor.dtype in _REDUCED_DTYPES else tensor
