"""pick_device: the device a --device flag names, refused in one line when it is not here
(tested on a CPU-only machine with CUDA's answers patched)."""

from __future__ import annotations

import pytest
import torch

from jlonevae_lib.utils.device import pick_device
from jlonevae_lib.utils.errors import JLoneVAEError


def _visible_gpus(monkeypatch, count: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


def test_auto_and_cpu(monkeypatch):
    _visible_gpus(monkeypatch, 0)
    assert pick_device(None) == pick_device("auto") == pick_device("cpu") == torch.device("cpu")
    _visible_gpus(monkeypatch, 2)
    assert pick_device("auto") == torch.device("cuda")


def test_a_visible_gpu_is_given(monkeypatch):
    _visible_gpus(monkeypatch, 2)
    assert pick_device("cuda") == torch.device("cuda")
    assert pick_device("cuda:1") == torch.device("cuda:1")


@pytest.mark.parametrize("count, name, expected", [
    (1, "cuda:3", ["cuda:3", "1 GPU is visible", "cuda:0"]),
    (2, "cuda:2", ["cuda:2", "2 GPUs are visible", "cuda:0 to cuda:1"]),
    (0, "cuda", ["no GPU is visible", "--device cpu"]),
    (0, "cuda:0", ["no GPU is visible", "--device cpu"]),
])
def test_a_gpu_that_is_not_here_is_one_line(monkeypatch, count, name, expected):
    """issue 28: cuda:N past the visible GPUs said nothing until torch's traceback."""
    _visible_gpus(monkeypatch, count)
    with pytest.raises(JLoneVAEError) as raised:
        pick_device(name)
    message = str(raised.value)
    assert "\n" not in message
    for part in expected:
        assert part in message


@pytest.mark.parametrize("name", ["cuda:x", "gpu", "GPU:0", "cuda:-1", "", "meta", "xpu"])
def test_a_malformed_or_unusable_device_name_is_one_line(monkeypatch, name):
    _visible_gpus(monkeypatch, 1)
    with pytest.raises(JLoneVAEError, match="use auto, cpu, cuda or cuda:N") as raised:
        pick_device(name)
    assert "\n" not in str(raised.value)
