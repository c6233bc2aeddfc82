"""Choosing the torch device: CUDA when present, else CPU; an explicit name overrides."""

from __future__ import annotations

from typing import Any

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


def cpu_tensors(obj: Any) -> Any:
    """``obj`` with every tensor inside it (nested dicts, lists, tuples) on the CPU, for saving.

    Why: ``torch.save`` records each tensor's device, and a file holding CUDA tensors cannot be
    read by a plain ``torch.load`` on a machine without a GPU (the reference's loaders, and
    anyone's notebook, call it without ``map_location``). Containers without a tensor to move
    come back as the very same objects, so on the CPU a save is unchanged byte for byte; a
    rebuilt mapping keeps its type and attributes (a module state dict's ``_metadata``).
    """
    if isinstance(obj, torch.Tensor):
        return obj if obj.device.type == "cpu" else obj.detach().cpu()
    if isinstance(obj, dict):
        items = {key: cpu_tensors(value) for key, value in obj.items()}
        if all(items[key] is value for key, value in obj.items()):
            return obj
        if type(obj) is dict:
            return items
        moved = type(obj)(items)
        if hasattr(obj, "__dict__"):
            vars(moved).update(vars(obj))
        return moved
    if isinstance(obj, list | tuple):
        values = [cpu_tensors(value) for value in obj]
        if all(new is old for new, old in zip(values, obj, strict=True)):
            return obj
        return type(obj)(values) if type(obj) in (list, tuple) else type(obj)(*values)
    return obj
