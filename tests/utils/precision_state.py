"""The float32 settings in force, read for tests of utils/precision.py's switches."""

from __future__ import annotations

from typing import Any

from jlonevae_lib.utils.precision import _legacy_state, _new_state


def precision_state() -> dict[str, Any]:
    """``tf32_matmul``, ``tf32_cudnn``, ``matmul_precision`` (None where unreadable) and the
    newer API's ``fp32_precision`` values; it changes nothing."""
    legacy = _legacy_state()
    state: dict[str, Any] = dict(zip(("tf32_matmul", "tf32_cudnn", "matmul_precision"),
                                     legacy or (None, None, None), strict=True))
    state.update({f"{path or 'backends'}.fp32_precision": value
                  for path, value in _new_state().items()})
    return state
