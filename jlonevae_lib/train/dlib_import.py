"""A disentanglement_lib model (TensorFlow) as one of our runs, so that everything reads it.

disentanglement_lib's training writes a model folder (docs/dlib_tensorflow.md): a TensorFlow
checkpoint, a TF-Hub export, and ``results/json/train_config.json``, its gin bindings as
strings. Reading the TensorFlow files needs TensorFlow, which this environment does not have:
:mod:`jlonevae_lib.dlib_tf.variables`, run in ``.venv-dlib``, turns them into an npz of
variables and a JSON of information, and this module does the rest without TensorFlow:

- :func:`parse_train_config` reads the method, its hyperparameters, the model number, the seed
  and the shared settings from the bindings, and refuses another architecture than
  disentanglement_lib's ``conv_encoder`` / ``deconv_decoder``;
- :func:`import_dlib_model` loads the variables into
  :class:`~jlonevae_lib.architecture.dlib_conv.DlibConvVAE` (TensorFlow layouts converted by
  :func:`~jlonevae_lib.architecture.dlib_conv.load_tf_weights`) and writes an ordinary run
  folder, ``trainedStandardModels/<experiment>/tf_model<N>/``: ``config.json`` (with
  ``imported_from``), the saved model, the TorchScript mean encoder and ``DONE``. Evaluation,
  figures and Jacobian columns then work on it as on any run.

The run's length is the number of VAE updates: disentanglement_lib's global step, halved for
FactorVAE, whose two optimisers each advance it once per iteration
(:func:`~jlonevae_lib.runs.study_numbering.vae_updates`). A TF-Hub module (read when
``tf_checkpoint/`` is gone) holds the weights but no global step; its length is then the
``model.training_steps`` the training was given, the step at which disentanglement_lib stops.
"""

from __future__ import annotations

import ast
import platform
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jlonevae_lib.architecture.dlib_conv import DlibConvVAE, load_tf_weights
from jlonevae_lib.architecture.export import export_torchscript
from jlonevae_lib.architecture.save_model import save_model
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.study_numbering import GRIDS, vae_updates
from jlonevae_lib.train.baselines import STUDY_SHARED_SETTINGS, hyperparameter_settings
from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.utils.atomic import atomic_write_json
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError
from jlonevae_lib.utils.lock import FolderLock

#: Each method's gin scope for its hyperparameters in disentanglement_lib.
METHOD_SCOPES = {"beta_vae": "vae", "annealed_vae": "annealed_vae", "factor_vae": "factor_vae",
                 "dip_vae_i": "dip_vae", "dip_vae_ii": "dip_vae", "beta_tc_vae": "beta_tc_vae"}
#: The architecture every importable model has (DlibConvVAE's).
_ARCHITECTURE_BINDINGS = {"encoder.encoder_fn": "@conv_encoder",
                          "decoder.decoder_fn": "@deconv_decoder"}
TRAIN_CONFIG_NAME = layout.DLIB_TRAIN_CONFIG


def gin_value(text: str) -> Any:
    """A value of disentanglement_lib's recorded bindings: ``"'beta_vae'"`` → ``"beta_vae"``,
    ``"30.0"`` → 30.0, ``"None"`` → None; a reference such as ``"@vae()"`` stays a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


@dataclass(frozen=True)
class DlibTrainSettings:
    """What a disentanglement_lib model folder says about its training."""

    method: str
    #: disentanglement_lib's names (``beta``, ``gamma``, ``c_max``, ``lambda_od`` ...).
    hyperparameters: dict[str, float]
    model_num: int | None
    random_seed: int
    training_steps: int
    batch_size: int
    latent_dim: int
    lr: float
    dataset: str


#: How much of a bad binding's text a message quotes.
_QUOTED_CHARS = 80


def _shown(text: str) -> str:
    """A binding's text as a one-line message quotes it."""
    shown = text if text.isprintable() else repr(text)
    return shown if len(shown) <= _QUOTED_CHARS else shown[:_QUOTED_CHARS - 1] + "…"


def _required(bindings: Mapping[str, str], key: str, source: str = TRAIN_CONFIG_NAME) -> Any:
    if key not in bindings:
        raise DataFileError(f"{source} has no binding {key}: is this "
                            "disentanglement_lib 1.5's training output?")
    return gin_value(bindings[key])


def _number(bindings: Mapping[str, str], key: str, kind: type, source: str) -> Any:
    """The binding ``key`` as a ``kind`` (int or float); anything else, a bool or a float
    with a fraction where an int belongs included, is a one-line :class:`DataFileError`."""
    value = _required(bindings, key, source)
    if isinstance(value, float) and kind is int and value.is_integer():
        value = int(value)
    allowed = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, allowed) or (
            kind is float and not np.isfinite(value)):
        what = "an integer" if kind is int else "a number"
        raise DataFileError(f"{source}: {key} = {_shown(str(bindings[key]))} is not {what}; "
                            "import the folder that disentanglement_lib's training wrote, "
                            "with its record of the bindings unchanged")
    return kind(value)


def parse_train_config(bindings: Mapping[str, str],
                       source: str = TRAIN_CONFIG_NAME) -> DlibTrainSettings:
    """The training settings recorded in ``results/json/train_config.json`` (key → gin text);
    ``source`` names that file in messages.

    Raises :class:`DataFileError` for a model of another architecture or an unknown method,
    and, naming the binding and its text, for a value that is not a number where one belongs.
    """
    for key, expected in _ARCHITECTURE_BINDINGS.items():
        found = gin_value(bindings.get(key, "None"))
        if found != expected:
            raise DataFileError(
                f"this model was trained with {key} = {found}, not {expected}: only "
                "disentanglement_lib's conv_encoder/deconv_decoder network can be imported")
    method = _required(bindings, "model.name", source)
    if method not in METHOD_SCOPES:
        raise DataFileError(f"unknown disentanglement_lib method model.name = {method!r}; "
                            f"importable: {', '.join(METHOD_SCOPES)}")
    scope = METHOD_SCOPES[method]
    hyperparameters = {name: _number(bindings, f"{scope}.{name}", float, source)
                       for name in GRIDS[method][0]}
    model_num = None
    if gin_value(bindings.get("model.model_num", "None")) is not None:
        model_num = _number(bindings, "model.model_num", int, source)
    return DlibTrainSettings(
        method=method, hyperparameters=hyperparameters, model_num=model_num,
        random_seed=_number(bindings, "model.random_seed", int, source),
        training_steps=_number(bindings, "model.training_steps", int, source),
        batch_size=_number(bindings, "model.batch_size", int, source),
        latent_dim=_number(bindings, "encoder.num_latent", int, source),
        lr=_number(bindings, "vae/AdamOptimizer.learning_rate", float, source),
        dataset=str(_required(bindings, "dataset.name", source)))


def imported_config(settings: DlibTrainSettings, global_step: int, output_dir: str | Path,
                    imported_from: str | Path) -> TrainConfig:
    """The TrainConfig of an imported model, a run in ``trainedStandardModels/``."""
    return TrainConfig(**{
        **STUDY_SHARED_SETTINGS, "objective": settings.method,
        **hyperparameter_settings(settings.hyperparameters),
        "latent_dim": settings.latent_dim, "batch_size": settings.batch_size,
        "lr": settings.lr, "num_batches": max(vae_updates(settings.method, global_step), 1),
        "seed": settings.random_seed, "model_num": settings.model_num,
        "dataset": settings.dataset, "output_dir": str(output_dir),
        "models_dir": layout.STANDARD_MODELS_DIR,
        "run_id": layout.dlib_imported_run_name(settings.model_num, settings.random_seed),
        "imported_from": str(imported_from)})


def model_from_tf_weights(weights: Mapping[str, np.ndarray], latent_dim: int) -> DlibConvVAE:
    """A DlibConvVAE holding disentanglement_lib's variables (TensorFlow names and layouts)."""
    first_kernel = weights.get("encoder/e1/kernel")
    if first_kernel is None or np.ndim(first_kernel) != 4:
        raise DataFileError("the checkpoint has no 4-axis encoder/e1/kernel: it is not "
                            "disentanglement_lib's conv_encoder")
    model = DlibConvVAE(latent_dim=latent_dim, im_channels=int(np.shape(first_kernel)[2]))
    return load_tf_weights(model, weights)


@dataclass(frozen=True)
class ImportResult:
    run_dir: Path
    num_batches: int
    #: True when the run folder already held this import (nothing written).
    skipped: bool


def _remove_earlier_import(run_dir: Path) -> None:
    """Remove what an earlier import (or a crashed one) left in ``run_dir``: ``DONE`` first,
    so that a crash from here on leaves a folder the next import redoes, then the old model's
    saved weights and TorchScript (``representation/``), any checkpoint, and the results and
    markers that belong to the old model."""
    layout.done_path(run_dir).unlink(missing_ok=True)
    for marker in (layout.failed_path(run_dir), layout.evaluation_failed_path(run_dir)):
        marker.unlink(missing_ok=True)
    for folder in (layout.representation_dir(run_dir), run_dir / layout.METRICS_DIR,
                   run_dir / layout.CHECKPOINTS_DIR):
        if folder.is_dir():
            shutil.rmtree(folder)


def import_dlib_model(weights: Mapping[str, np.ndarray], info: Mapping[str, Any],
                      output_dir: str | Path, overwrite: bool = False) -> ImportResult:
    """Write the run folder of a disentanglement_lib model read by
    :mod:`jlonevae_lib.dlib_tf.variables` (``weights``: TensorFlow name → array; ``info``: its
    JSON, with ``train_config``, ``global_step`` and ``model_dir``).

    The run's length is the global step read with the weights; a TF-Hub module (the fallback
    when ``tf_checkpoint/`` is gone) has none, and then it is the ``model.training_steps`` the
    training was given (``DONE`` records which, as ``global_step_from``).

    A folder that already holds the same import is left alone (``skipped``) unless
    ``overwrite``; one that holds another run is refused. Before anything is written, what an
    earlier import left is removed, ``DONE`` first; ``DONE`` is written last, so an import cut
    short is never taken for a finished one.
    """
    model_dir = info.get("model_dir")
    if not info.get("train_config"):
        if model_dir and (Path(model_dir) / layout.DLIB_CHECKPOINT_DIR).is_dir():
            raise DataFileError(f"{model_dir} has no {TRAIN_CONFIG_NAME}: its training has not "
                                "finished (disentanglement_lib writes that file at the end); "
                                "run the training again, then import")
        raise DataFileError(f"{model_dir} has no {TRAIN_CONFIG_NAME}, which says "
                            "how the model was trained; import the folder that "
                            "disentanglement_lib's training wrote")
    settings = parse_train_config(info["train_config"],
                                  source=f"{info.get('model_dir')}/{TRAIN_CONFIG_NAME}")
    if info.get("global_step") is not None:
        global_step, step_from = int(info["global_step"]), "variables"
    else:  # a TF-Hub module keeps no global step
        global_step, step_from = settings.training_steps, "model.training_steps"
    try:
        model = model_from_tf_weights(weights, settings.latent_dim)
    except DataFileError as err:
        # A post-processed representation/ (the mean encoder alone, as a TF-Hub module) lands
        # here too: the question names the folder that holds the whole model.
        raise DataFileError(f"{model_dir}: {err}; is it the model folder disentanglement_lib's "
                            f"training wrote (model<N>_on3dots/{layout.DLIB_TF_MODEL_DIR}, with "
                            f"{layout.DLIB_CHECKPOINT_DIR}/)?") from None
    config = imported_config(settings, global_step, output_dir, info["model_dir"])
    problem = layout.output_dir_problem(config.output_dir, config.models_dir)
    if problem:
        raise JLoneVAEError(problem)
    run_dir = config.run_dir
    config_path = layout.config_path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with FolderLock(run_dir, "import"):
        if config_path.exists() and not overwrite:
            existing = TrainConfig.load(config_path)
            if not existing.same_run_as(config):
                raise JLoneVAEError(f"{run_dir} already holds another run (imported from "
                                    f"{existing.imported_from}); pass --overwrite to replace it")
            if layout.is_finished(run_dir):
                return ImportResult(run_dir, config.num_batches, skipped=True)
        _remove_earlier_import(run_dir)
        atomic_write_json(config_path, config.to_dict())
        model_dir = layout.saved_model_dir(run_dir, config.num_batches)
        save_model(model, model_dir)
        export_torchscript(model, run_dir)
        atomic_write_json(layout.done_path(run_dir), {
            "num_batches": config.num_batches,
            "model_dir": str(model_dir.relative_to(run_dir)),
            "imported_from": info["model_dir"],
            "weights_from": info.get("source"),
            "global_step": global_step,
            "global_step_from": step_from,
            "tensorflow": info.get("tensorflow"),
            "torch": torch.__version__,
            "python": platform.python_version(),
        })
    return ImportResult(run_dir, config.num_batches, skipped=False)
