"""Choosing the torch device: CUDA when present, else CPU; an explicit name overrides."""

from __future__ import annotations

import torch

from jlonevae_lib.utils.errors import JLoneVAEError


def pick_device(name: str | None = None) -> torch.device:
    """Return ``torch.device(name)``, or CUDA if available and ``name`` is None/"auto", else CPU."""
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise JLoneVAEError(f"unknown device '{name}'; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise JLoneVAEError(f"device '{name}' asked for, but CUDA is not available here; "
                            "use --device cpu")
    return device
