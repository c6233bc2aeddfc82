"""The reference's ``utils_pytorch`` (from the AIcrowd starter kit), over this package.

Scripts written for the original repository import it for the experiment settings
(:func:`get_config`), for exporting and loading TorchScript representations and for a
disentanglement_lib-style data loader. Differences on purpose:

- the default dataset name is ``threeDots`` (the original's ``cars3d`` is not provided here);
- :func:`get_model_path` defaults to the same ``./scratch/shared`` as :func:`get_config`, so a
  model exported with the defaults is where the evaluation scripts look for it;
- ``AICROWD_CUDA=0`` (or ``false``/``no``) turns CUDA off; the original treated any value as on;
- :func:`import_model` loads TorchScript files only: it never unpickles a whole module;
- ``DISENTANGLEMENT_LIB_DATA`` is left alone (the data folder defaults to ``data``).
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from jlonevae_lib.architecture.export import load_torchscript
from jlonevae_lib.data.ground_truth import GroundTruthData, get_named_ground_truth_data
from jlonevae_lib.evaluate.representation import TorchRepresentation
from jlonevae_lib.runs import layout
from jlonevae_lib.utils.atomic import atomic_torch_save
from jlonevae_lib.utils.errors import JLoneVAEError

DEFAULT_BASE_PATH = "./scratch/shared"
DEFAULT_EXPERIMENT_NAME = "experiment_name"
DEFAULT_DATASET_NAME = "threeDots"

_FALSE_WORDS = {"0", "false", "no", "off"}


class ExperimentConfig(NamedTuple):
    """Where an experiment lives and its dataset, from the AIcrowd environment variables."""

    base_path: str
    experiment_name: str
    dataset_name: str


def get_dataset_name() -> str:
    """``$AICROWD_DATASET_NAME`` when set and not empty, else ``threeDots``."""
    return os.getenv("AICROWD_DATASET_NAME") or DEFAULT_DATASET_NAME


def get_config() -> ExperimentConfig:
    """``$AICROWD_OUTPUT_PATH`` (else ``./scratch/shared``), ``$AICROWD_EVALUATION_NAME`` (else
    ``experiment_name``) and :func:`get_dataset_name`; a variable set but empty counts as
    unset."""
    return ExperimentConfig(
        base_path=os.getenv("AICROWD_OUTPUT_PATH") or DEFAULT_BASE_PATH,
        experiment_name=os.getenv("AICROWD_EVALUATION_NAME") or DEFAULT_EXPERIMENT_NAME,
        dataset_name=get_dataset_name())


def use_cuda() -> bool:
    """True when CUDA is available and ``$AICROWD_CUDA`` does not turn it off."""
    wanted = os.getenv("AICROWD_CUDA", "1").strip().lower() not in _FALSE_WORDS
    return wanted and torch.cuda.is_available()


def get_model_path(base_path: str | None = None, experiment_name: str | None = None,
                   make: bool = True) -> str:
    """``<base_path>/<experiment_name>/representation/pytorch_model.pt`` (defaults from
    :func:`get_config`); with ``make``, its folder and a ``results`` folder beside the file are
    created."""
    config = get_config()
    folder = Path(base_path if base_path is not None else config.base_path,
                  experiment_name if experiment_name is not None else config.experiment_name,
                  layout.REPRESENTATION_DIR)
    if make:
        (folder / layout.RESULTS_DIR).mkdir(parents=True, exist_ok=True)
    return str(folder / layout.TORCHSCRIPT_FILE)


def export_model(model: torch.nn.Module, path: str | None = None,
                 input_shape: tuple[int, ...] = (1, 3, 64, 64),
                 use_script_module: bool = True) -> str:
    """Save ``model`` as TorchScript at ``path`` (default :func:`get_model_path`); returns it.

    A plain module is traced on a CPU copy with zeros of ``input_shape`` (N, C, H, W); a
    ScriptModule is saved as is. The write is atomic.
    """
    if not use_script_module:
        raise JLoneVAEError("export_model(use_script_module=False) would pickle the whole "
                            "module, which this package never loads; keep the TorchScript default")
    path = get_model_path() if path is None else path
    if isinstance(model, torch.jit.ScriptModule):
        script = model
    else:
        module = copy.deepcopy(model).cpu().eval()
        with warnings.catch_warnings(), torch.no_grad():
            # torch.jit is deprecated, but TorchScript is the format this file promises.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
            script = torch.jit.trace(module, torch.zeros(*input_shape))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
        atomic_torch_save(script, path, save=torch.jit.save)
    return path


def import_model(path: str | None = None) -> torch.jit.ScriptModule:
    """The TorchScript module at ``path`` (default :func:`get_model_path`), on the CPU."""
    return load_torchscript(get_model_path(make=False) if path is None else path, "cpu")


def make_representor(model: torch.nn.Module, cuda: bool | None = None
                     ) -> Callable[[np.ndarray], np.ndarray]:
    """disentanglement_lib's representation function for ``model``: observations (N, H, W, C)
    numpy -> codes (N, d) float32 numpy; ``model`` maps images (N, C, H, W) to (N, d).

    The model is moved to CUDA when ``cuda`` (default :func:`use_cuda`), else to the CPU.
    """
    device = torch.device("cuda" if (use_cuda() if cuda is None else cuda) else "cpu")
    return TorchRepresentation(model.to(device).eval(), device)


class DLIBDataset(Dataset):
    """Random training images of a named dataset; ``iterator_len`` items make an epoch.

    As in the original, every index gives a fresh random image (``dataset[0]`` twice differs),
    drawn from ``seed``: (C, H, W) float32 tensors. DataLoader workers each copy the random
    state, so with ``num_workers > 0`` they repeat each other's images (as in the original).
    """

    def __init__(self, name: str, seed: int = 0, iterator_len: int = 50000) -> None:
        self.name = name
        self.seed = seed
        self.iterator_len = iterator_len
        self.random_state = np.random.RandomState(seed)
        self.rng = np.random.default_rng(seed)
        self.dataset = self.load_dataset()

    def load_dataset(self) -> Any:
        return get_named_ground_truth_data(self.name)

    def __len__(self) -> int:
        return self.iterator_len

    def __getitem__(self, item: int) -> torch.Tensor:
        if not 0 <= item < self.iterator_len:
            raise IndexError(f"index {item} is outside this dataset of {self.iterator_len}")
        if isinstance(self.dataset, GroundTruthData):
            observation = self.dataset.sample_observations(1, self.random_state)[0]
            image = np.ascontiguousarray(np.moveaxis(observation, 2, 0))
        else:  # training data without factors (natural-image patches) has no observations
            image = self.dataset.sample_training_batch(1, self.rng)[0]
        return torch.from_numpy(image)


def get_dataset(name: str | None = None, seed: int = 0, iterator_len: int = 50000
                ) -> DLIBDataset:
    """A :class:`DLIBDataset` of ``name`` (default :func:`get_dataset_name`)."""
    return DLIBDataset(get_dataset_name() if name is None else name, seed, iterator_len)


def get_loader(name: str | None = None, batch_size: int = 32, seed: int = 0,
               iterator_len: int = 50000, num_workers: int = 0, **dataloader_kwargs: Any
               ) -> DataLoader:
    """A shuffling DataLoader over :func:`get_dataset`: batches (B, C, H, W)."""
    return DataLoader(get_dataset(name, seed, iterator_len), batch_size=batch_size,
                      shuffle=True, num_workers=num_workers, **dataloader_kwargs)
