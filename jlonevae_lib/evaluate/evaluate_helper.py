"""The reference's ``evaluate_helper`` (disentanglement_lib's ``evaluate`` for PyTorch models).

Scripts written for the original repository (its ``evaluation.py``, ``smallEvaluation.py``)
call ``evaluate_with_gin(representation_dir, output_dir, overwrite, [metric.gin, dataset.gin],
bindings)``. Here that runs our metrics (:mod:`.configurables`) on the TorchScript
``pytorch_model.pt`` in ``representation_dir`` and writes disentanglement_lib's result layout
under ``<output_dir>/results/`` (see :mod:`.evaluation`), earlier steps' results included.
``dataset.name = "auto"`` is replaced by ``$AICROWD_DATASET_NAME``, as in the original.
TFHub and dill representations are not supported.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gin

from jlonevae_lib.data.ground_truth import (
    GroundTruthData,
    evaluation_dataset_name,
    get_named_ground_truth_data,
)
from jlonevae_lib.evaluate import configurables
from jlonevae_lib.evaluate.evaluation import (
    gin_config,
    gin_dict,
    previous_results,
    write_results_to,
)
from jlonevae_lib.evaluate.representation import load_representation
from jlonevae_lib.evaluate.sampling import DrawCache
from jlonevae_lib.runs.layout import RESULTS_DIR, TORCHSCRIPT_FILE
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.utils_pytorch import get_dataset_name, use_cuda

__all__ = ["evaluate", "evaluate_with_gin", "get_dataset_name"]


def evaluate_with_gin(model_dir: str | os.PathLike, output_dir: str | os.PathLike,
                      overwrite: bool = False,
                      gin_config_files: Sequence[str | os.PathLike] | None = None,
                      gin_bindings: Sequence[str] | None = None) -> None:
    """Parse ``gin_config_files`` then ``gin_bindings``, run :func:`evaluate`, clear gin."""
    with gin_config([Path(f) for f in gin_config_files or ()], gin_bindings or ()):
        evaluate(model_dir, output_dir, overwrite)


def _load_dataset(name: str) -> GroundTruthData:
    name = evaluation_dataset_name(name)  # training caches are evaluated on fresh images
    data = get_named_ground_truth_data(name)
    if not isinstance(data, GroundTruthData):
        raise JLoneVAEError(f"dataset {name!r} has no ground-truth factors, which the "
                            "disentanglement metrics need")
    return data


def evaluate(model_dir: str | os.PathLike, output_dir: str | os.PathLike,
             overwrite: bool = False, evaluation_fn: Callable[..., dict[str, Any]] | None = None,
             random_seed: int | None = None, name: str = "") -> None:
    """Evaluate ``<model_dir>/pytorch_model.pt`` with the active gin config.

    ``evaluation_fn`` and ``random_seed`` default to the config's ``evaluation.*`` bindings;
    ``name`` only labels the result, as in the original. An existing ``output_dir`` is an error
    unless ``overwrite``, which replaces its ``results`` folder.
    """
    del name
    model_dir, output_dir = Path(model_dir), Path(output_dir)
    if output_dir.exists() and not overwrite:
        raise JLoneVAEError(f"{output_dir} already exists; pass overwrite=True to replace its "
                            "results")
    model_path = model_dir / TORCHSCRIPT_FILE
    if not model_path.is_file():
        raise JLoneVAEError(f"{model_dir} holds no {TORCHSCRIPT_FILE} (TFHub and dill "
                            "representations are not supported)")
    try:
        dataset = gin.query_parameter("dataset.name")
    except ValueError:
        raise JLoneVAEError("the gin config does not set dataset.name; add a dataset config "
                            "(e.g. jlonevae_lib/config/dataset_configs/threeDots.gin)") from None
    if dataset == "auto":
        # No earlier disentanglement_lib step recorded the dataset: take the environment's.
        with gin.unlock_config():
            gin.bind_parameter("dataset.name", get_dataset_name())
    representation = load_representation(model_path, "cuda" if use_cuda() else "cpu")
    explicit = {key: value for key, value in (("evaluation_fn", evaluation_fn),
                                              ("random_seed", random_seed)) if value is not None}
    try:
        results = configurables.evaluate(_load_dataset, representation, DrawCache(), **explicit)
    except RuntimeError as err:
        # gin names a missing binding this way, torch a model that does not fit the data.
        raise JLoneVAEError(f"evaluating {model_path}: {err}") from None
    operative = gin.operative_config_str()
    if overwrite:
        shutil.rmtree(output_dir / RESULTS_DIR, ignore_errors=True)
    write_results_to(output_dir / RESULTS_DIR, results, operative,
                     gin_dict(gin.operative_config_str(max_line_length=10_000)),
                     previous_results(model_dir))
