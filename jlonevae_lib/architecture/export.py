"""TorchScript export of the mean encoder for disentanglement_lib-style evaluation.

Layout ("AIcrowd layout"): ``<run>/representation/pytorch_model.pt`` is a traced module mapping
float images (N, C, H, W) in [0, 1] to the posterior mean (N, d), and
``<run>/representation/results/`` exists.
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from jlonevae_lib.architecture.vae import ConvVAE
from jlonevae_lib.runs.layout import RESULTS_DIR, representation_dir, torchscript_path
from jlonevae_lib.utils.atomic import atomic_torch_save
from jlonevae_lib.utils.errors import DataFileError, short_reason


class MeanEncoder(nn.Module):
    """Images (N, C, H, W) -> posterior mean (N, d) of a ``ConvVAE``."""

    def __init__(self, model: ConvVAE) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.encode(x)[0]


def export_torchscript(model: ConvVAE, run_folder: str | os.PathLike) -> Path:
    """Trace ``model``'s mean encoder into ``<run_folder>/representation/pytorch_model.pt``
    (written atomically; ``representation/results/`` is created). Returns the file's path.

    A CPU copy is traced, so the file loads on any machine and ``model`` is left untouched.
    """
    (representation_dir(Path(run_folder)) / RESULTS_DIR).mkdir(parents=True, exist_ok=True)
    encoder = MeanEncoder(copy.deepcopy(model).cpu()).eval()
    # A constant example: tracing must not consume the caller's random-number stream.
    # On the CPU whatever torch's default device: the trace records its inputs' device.
    example = torch.full((1, model.im_channels, model.im_side_len, model.im_side_len), 0.5,
                         device="cpu")
    path = torchscript_path(Path(run_folder))
    # torch 2.13 deprecates torch.jit, but disentanglement_lib's PyTorch evaluation path (the
    # format this file promises) loads TorchScript: we use it knowingly and keep logs clean.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
        with torch.no_grad():
            traced = torch.jit.trace(encoder, example)
        atomic_torch_save(traced, path, save=torch.jit.save)
    return path


def load_torchscript(path: str | os.PathLike,
                     device: str | torch.device = "cpu") -> torch.jit.ScriptModule:
    """Load the TorchScript module at ``path`` onto ``device``.

    Loads only that file; a missing or unreadable one raises :class:`DataFileError`. A
    TorchScript archive carries code (restricted to TorchScript), so load files you trust.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path} is missing; export the model first (export_torchscript)")
    try:
        with warnings.catch_warnings():  # deprecated in torch 2.13, used knowingly (see above)
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
            return torch.jit.load(str(path), map_location=device)
    except Exception as err:  # torch raises RuntimeError/ValueError for damaged archives
        raise DataFileError(f"{path} is not a readable TorchScript file ({short_reason(err)}); "
                            "export the model again") from None
