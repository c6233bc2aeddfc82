"""Choosing the torch device: CUDA when present, else CPU; an explicit name overrides."""

from __future__ import annotations

import torch

from jlonevae_lib.utils.errors import JLoneVAEError

#: The device types a --device flag may name (``mps`` only where torch has it).
_DEVICE_TYPES = ("cpu", "cuda", "mps")


def _gpus_visible(count: int) -> str:
    return "no GPU is visible" if count == 0 else (
        "1 GPU is visible" if count == 1 else f"{count} GPUs are visible")


def pick_device(name: str | None = None) -> torch.device:
    """Return ``torch.device(name)``, or CUDA if available and ``name`` is None/"auto", else CPU.

    A malformed name, a device type other than cpu/cuda (or mps where present), CUDA where no
    GPU is visible and ``cuda:N`` past the visible GPUs are :class:`JLoneVAEError` s of one line
    that say what to pass.
    """
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    unknown = f"unknown device '{name}'; use auto, cpu, cuda or cuda:N"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise JLoneVAEError(unknown) from None
    if device.type not in _DEVICE_TYPES or (
            device.type == "mps" and not torch.backends.mps.is_available()):
        raise JLoneVAEError(unknown)
    if device.type != "cuda":
        return device
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise JLoneVAEError(f"device '{name}' asked for, but {_gpus_visible(0)} here (CUDA is "
                            "not available); use --device cpu")
    if device.index is not None and device.index >= count:
        raise JLoneVAEError(
            f"device '{name}' asked for, but {_gpus_visible(count)} here "
            f"({'cuda:0' if count == 1 else f'cuda:0 to cuda:{count - 1}'}, numbered after "
            "CUDA_VISIBLE_DEVICES); use --device cuda (the first) or one of those")
    return device
