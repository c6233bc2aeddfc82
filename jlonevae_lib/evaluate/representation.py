"""Representation functions for evaluation: observations (N, H, W, C) numpy -> codes (N, d).

Two sources, both giving the posterior mean:
- a saved-model folder (``<run>/representation/cache_batch_no<N>/``, docs/formats.md), whose
  mean encoder is traced;
- a TorchScript file taking (N, C, H, W) images, such as ``<run>/representation/
  pytorch_model.pt`` (the AIcrowd layout). As disentanglement_lib's PyTorch path does, the
  NHWC numpy batch is transposed to NCHW before the call.
Either module is frozen and optimised for inference (fused convolutions, pre-packed weights);
batches run under ``torch.inference_mode`` on the chosen device (CUDA when present).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from jlonevae_lib.architecture.export import MeanEncoder, load_torchscript
from jlonevae_lib.architecture.load_model import load_model
from jlonevae_lib.runs.layout import (
    SAVED_MODEL_NAME,
    TORCHSCRIPT_FILE,
    final_saved_model,
    representation_dir,
    torchscript_path,
)
from jlonevae_lib.utils.device import pick_device
from jlonevae_lib.utils.errors import JLoneVAEError

#: Images per forward call. Small batches keep a defaultConv encoder's activations in cache
#: (per-image cost by batch size: benchmarks/README.md).
DEFAULT_BATCH_SIZE = 250
#: Which representation of a run to evaluate (see :func:`find_representation`).
REPRESENTATION_KINDS = ("auto", "saved_model", "torchscript")


class TorchRepresentation:
    """Callable observations (N, H, W, C) float -> codes (N, d) float32 numpy.

    ``module`` maps images (N, C, H, W) on ``device`` to (N, d). Every forward call gets exactly
    ``batch_size`` images: a partial last batch is padded (with zeros, whose codes are dropped).
    Math libraries pick their code paths by the shape of a call (MKL's matrix products do on
    some CPUs), and another path rounds differently; with one shape for every call, the code of
    an image does not depend on how many images were passed with it: ``f(x[:k])`` equals
    ``f(x)[:k]`` bit for bit.
    """

    def __init__(self, module: torch.nn.Module, device: torch.device,
                 batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.module = module
        self.device = device
        self.batch_size = batch_size

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        if observations.ndim != 4:
            raise ValueError(f"observations must be (N, H, W, C), got shape {observations.shape}")
        images = torch.from_numpy(np.asarray(observations, dtype=np.float32)).permute(0, 3, 1, 2)
        outputs = []
        with torch.inference_mode():
            for start in range(0, images.shape[0], self.batch_size):
                batch = images[start:start + self.batch_size]
                num_images = batch.shape[0]
                if num_images < self.batch_size:
                    padding = batch.new_zeros((self.batch_size - num_images, *batch.shape[1:]))
                    batch = torch.cat([batch, padding])
                codes = self.module(batch.to(self.device))
                outputs.append(codes[:num_images].float().cpu())
        if not outputs:
            raise ValueError("observations must hold at least one image, got none")
        return torch.cat(outputs).numpy()


@contextlib.contextmanager
def _torch_jit_used_knowingly() -> Iterator[None]:
    # torch 2.13 deprecates torch.jit; TorchScript is the representation format this package
    # promises (docs/formats.md), so its deprecation notices would only clutter the logs.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
        yield


def _optimised(module: torch.jit.ScriptModule) -> torch.jit.ScriptModule:
    """Freeze a scripted module and apply torch's inference graph optimisations."""
    with _torch_jit_used_knowingly():
        return torch.jit.optimize_for_inference(torch.jit.freeze(module.eval()))


def saved_model_representation(folder: str | os.PathLike, device: torch.device,
                               batch_size: int = DEFAULT_BATCH_SIZE) -> TorchRepresentation:
    """The mean encoder of the ``ConvVAE`` saved in ``folder``."""
    model = load_model(folder, device)
    example = torch.full((1, model.im_channels, model.im_side_len, model.im_side_len), 0.5,
                         device=device)
    with torch.no_grad(), _torch_jit_used_knowingly():
        traced = torch.jit.trace(MeanEncoder(model).eval(), example)
    return TorchRepresentation(_optimised(traced), device, batch_size)


def torchscript_representation(path: str | os.PathLike, device: torch.device,
                               batch_size: int = DEFAULT_BATCH_SIZE) -> TorchRepresentation:
    """A TorchScript module mapping images (N, C, H, W) in [0, 1] to codes (N, d)."""
    return TorchRepresentation(_optimised(load_torchscript(path, device)), device, batch_size)


def find_representation(run_folder: str | os.PathLike, kind: str = "auto") -> Path:
    """The representation of a run to evaluate: a saved-model folder or a TorchScript file.

    ``auto`` prefers the final saved model (``representation/cache_batch_no<N>``, highest N)
    and falls back to ``representation/pytorch_model.pt``.
    """
    if kind not in REPRESENTATION_KINDS:
        raise JLoneVAEError(f"unknown representation kind {kind!r}; use one of "
                            f"{', '.join(REPRESENTATION_KINDS)}")
    run = Path(run_folder)
    saved = final_saved_model(representation_dir(run)) if kind != "torchscript" else None
    if saved is not None:
        return saved
    script = torchscript_path(run)
    if kind != "saved_model" and script.is_file():
        return script
    wanted = {"auto": f"{SAVED_MODEL_NAME}/ or {TORCHSCRIPT_FILE}",
              "saved_model": f"{SAVED_MODEL_NAME}/", "torchscript": TORCHSCRIPT_FILE}[kind]
    raise JLoneVAEError(f"{run_folder} has no model to evaluate: expected {wanted} in "
                        f"{representation_dir(run)}")


def load_representation(path: str | os.PathLike, device: str | torch.device | None = None,
                        batch_size: int = DEFAULT_BATCH_SIZE) -> TorchRepresentation:
    """Load a saved-model folder or a TorchScript file as a representation function."""
    resolved = pick_device(None if device is None else str(device))
    path = Path(path)
    if path.is_dir():
        return saved_model_representation(path, resolved, batch_size)
    return torchscript_representation(path, resolved, batch_size)
