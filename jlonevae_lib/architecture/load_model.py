"""Loading a saved-model folder (docs/formats.md) without running code from it.

The folder's ``model_type.txt`` names the class to build (:data:`~.save_model.MODEL_TYPES`:
``conv_vae`` is a ``ConvVAE``, ``dlib_conv_vae`` disentanglement_lib's architecture, or a type
an installed plug-in registers with :func:`~.save_model.register_model_type`).

The reference loaded ``model_args.p`` with ``pickle.load`` and the state dict with a plain
``torch.load``; both run arbitrary code from a hostile file. Here the arguments go through a
plain-data unpickler and the tensors through ``torch.load(weights_only=True)``, and every
problem is reported as one readable :class:`DataFileError` (or :class:`UnsafePickleError`)
naming the file and what to do.
"""

from __future__ import annotations

import json
import os
import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from jlonevae_lib.architecture.save_model import (
    MODEL_ARGS_FILE,
    MODEL_ARGS_JSON_FILE,
    MODEL_TYPE_FILE,
    MODEL_TYPES,
    STATE_DICT_FILE,
    ModelType,
    find_model_type,
)
from jlonevae_lib.architecture.vae import MODEL_TYPE
from jlonevae_lib.runs.layout import find_saved_model
from jlonevae_lib.utils.errors import (
    DataFileError,
    JLoneVAEError,
    UnsafePickleError,
    short_reason,
)
from jlonevae_lib.utils.safe_pickle import safe_load_pickle

Device = str | torch.device

# Later versions of the reference also saved this key in conv_vae folders; "sigmoid" is the only
# decoder output of the paper's models (and of ours), so it is accepted with that value and
# dropped.
_FINAL_ACTIVATION_KEY = "final_activation"


def read_model_type(folder: str | os.PathLike) -> str:
    """The model type named in ``<folder>/model_type.txt`` (its first line, stripped)."""
    path = Path(folder) / MODEL_TYPE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        inside = find_saved_model(Path(folder))
        if inside is not None:
            raise DataFileError(f"{folder} is not a saved model folder but holds one: load "
                                f"{inside}") from None
        raise DataFileError(
            f"{path} is missing: {folder} is not a saved model folder, or the save into it was "
            "interrupted; save the model again") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataFileError(f"cannot read {path} ({err}); save the model again") from None
    lines = text.splitlines()
    return lines[0].strip() if lines else ""


def _listed(*labelled: tuple[str, list[str]]) -> list[str]:
    """``label + "a, b"`` for each (label, names) pair whose list is not empty."""
    return [label + ", ".join(names) for label, names in labelled if names]


def validate_model_args(args: Any, source: str, model_type: str = MODEL_TYPE) -> dict[str, Any]:
    """Check a loaded kwargs dict: exactly the argument names of ``model_type`` (the 12
    ``ConvVAE`` names for ``conv_vae``; see the module note on ``final_activation``). Returns a
    new dict of them, in their saved order; lists and tuples become lists.

    ``source`` names the file in error messages. Values are checked by the model class itself.
    """
    names, class_name = _arg_names(model_type)
    if not isinstance(args, dict):
        raise DataFileError(f"{source} holds a {type(args).__name__}, not a dict of {class_name} "
                            "arguments")
    args = dict(args)
    if model_type == MODEL_TYPE and _FINAL_ACTIVATION_KEY in args:
        activation = args.pop(_FINAL_ACTIVATION_KEY)
        if activation != "sigmoid":
            raise DataFileError(f"{source} asks for final_activation={activation!r}; only "
                                "'sigmoid' decoders are supported")
    missing = [name for name in names if name not in args]
    unknown = sorted(str(name) for name in args if name not in names)
    problems = _listed(("missing ", missing), ("unknown ", unknown))
    if problems:
        raise DataFileError(f"{source} does not hold the {class_name} arguments "
                            f"({'; '.join(problems)}); expected exactly: {', '.join(names)}")
    return {name: list(value) if isinstance(value, list | tuple) else value
            for name, value in ((name, args[name]) for name in names)}


def _arg_names(model_type: str) -> tuple[tuple[str, ...], str]:
    """(saved argument names, class name) of a known model type."""
    known = _known_model_type(model_type)
    return known.arg_names, known.model_class.__name__


def _known_model_type(model_type: str, source: str | os.PathLike | None = None) -> ModelType:
    """The registered model type ``model_type`` (a plug-in's too); one line naming the known
    ones and ``source`` (the folder's ``model_type.txt``) if there is none."""
    known = find_model_type(model_type)
    if known is None:
        names = " or ".join(f"'{name}'" for name in MODEL_TYPES)
        where = f"{source} names" if source is not None else "unknown"
        raise DataFileError(f"{where} model type '{model_type}'; only {names} models can be "
                            "loaded, or those of an installed plug-in that registers its model "
                            "type (docs/plugins.md)")
    return known


def _read_args_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataFileError(f"{path} is not readable JSON ({err}); delete it or save the model "
                            "again") from None


def load_model_args(folder: str | os.PathLike, model_type: str = MODEL_TYPE) -> dict[str, Any]:
    """The constructor kwargs of a ``model_type`` model saved in ``folder`` (the 12 ``ConvVAE``
    kwargs for ``conv_vae``).

    Read from ``model_args.p`` with the plain-data unpickler and cross-checked against
    ``model_args.json`` when both are readable (a disagreement is an error). When only one of
    them is missing or damaged the other is used (with a warning if a file is damaged); a pickle
    that asks to run code is never worked around: :class:`UnsafePickleError`.
    """
    folder = Path(folder)
    pickle_path, json_path = folder / MODEL_ARGS_FILE, folder / MODEL_ARGS_JSON_FILE
    # UnsafePickleError is not a DataFileError, so a tampered pickle propagates from here.
    try:
        from_pickle = validate_model_args(safe_load_pickle(pickle_path), str(pickle_path),
                                          model_type)
        pickle_error = None
    except DataFileError as err:
        from_pickle, pickle_error = None, err
    if not json_path.exists():
        if pickle_error is not None:
            raise DataFileError(f"{pickle_error}; {folder} has no {MODEL_ARGS_JSON_FILE} to fall "
                                "back on, so the model cannot be rebuilt: save it again")
        return from_pickle
    try:
        from_json = validate_model_args(_read_args_json(json_path), str(json_path), model_type)
    except DataFileError as json_error:
        if pickle_error is not None:
            raise DataFileError(f"{pickle_error}; and {json_error}") from None
        warnings.warn(f"{json_error}; using {pickle_path}", stacklevel=2)
        return from_pickle
    if pickle_error is not None:
        if pickle_path.exists():
            warnings.warn(f"{pickle_error}; using {json_path} instead", stacklevel=2)
        return from_json
    if from_json != from_pickle:
        differing = [name for name in from_pickle if from_json[name] != from_pickle[name]]
        raise DataFileError(f"{pickle_path} and {json_path} disagree on {', '.join(differing)}; "
                            "one of them was edited: delete the wrong one or save the model again")
    return from_pickle


def load_state_dict_file(path: str | os.PathLike,
                         device: Device = "cpu") -> dict[str, torch.Tensor]:
    """Tensors of a ``torch.save``'d state dict, loaded with ``weights_only=True`` onto
    ``device``. A file that asks to run code raises :class:`UnsafePickleError`; a missing,
    corrupt or non-state-dict file raises :class:`DataFileError`.
    """
    path = Path(path)
    if not path.exists():
        raise DataFileError(f"{path} is missing; the model's weights cannot be loaded without it")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        # torch reports a refused global with this phrase; any other unpickling error is damage.
        if "Weights only load failed" in str(err):
            raise UnsafePickleError(
                f"{path} asks for objects that are not tensors or plain data, so it was refused "
                "(loading it could run code); check where it came from. torch said: "
                f"{short_reason(err)}") from None
        raise DataFileError(f"{path} is corrupt ({short_reason(err)}); restore or re-create it"
                            ) from None
    except Exception as err:  # truncated zip, wrong format: torch raises several types
        raise DataFileError(f"{path} is not a readable torch file ({short_reason(err)}); "
                            "restore or re-create it") from None
    if not isinstance(state, Mapping) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise DataFileError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    return dict(state)


def check_state_dict(model: torch.nn.Module, state: Mapping[str, torch.Tensor],
                     source: str) -> None:
    """Raise one :class:`DataFileError` listing every missing, unexpected or wrongly shaped
    tensor of ``state`` compared with ``model.state_dict()``."""
    expected = model.state_dict()
    missing = [name for name in expected if name not in state]
    unexpected = [name for name in state if name not in expected]
    wrong_shape = [f"{name} {tuple(state[name].shape)} (model {tuple(tensor.shape)})"
                   for name, tensor in expected.items()
                   if name in state and state[name].shape != tensor.shape]
    problems = _listed(("missing: ", missing), ("unexpected: ", unexpected),
                       ("wrong shape: ", wrong_shape))
    if problems:
        raise DataFileError(f"{source} does not match the architecture in {MODEL_ARGS_FILE} ("
                            f"{'; '.join(problems)}); the files come from different models: save "
                            "the model again")


def load_model(folder: str | os.PathLike, device: Device = "cpu") -> nn.Module:
    """Load the model saved in ``folder`` onto ``device``, in eval mode: a ``ConvVAE`` for a
    ``conv_vae`` folder, else the class registered for the type named in ``model_type.txt``
    (:func:`~.save_model.find_model_type`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataFileError(f"model folder {folder} does not exist (or is not a folder)")
    model_type = read_model_type(folder)
    known = _known_model_type(model_type, folder / MODEL_TYPE_FILE)
    args = load_model_args(folder, model_type)
    try:
        model = known.model_class(**args)
    except (JLoneVAEError, TypeError, ValueError) as err:  # a plug-in class's own checks too
        why = err if isinstance(err, JLoneVAEError) else short_reason(err)
        raise DataFileError(f"the arguments saved in {folder} do not build a model: {why}"
                            ) from None
    state_path = folder / STATE_DICT_FILE
    # Tensors are read to the CPU, whichever device saved them (a model trained on a GPU opens
    # on a machine without one), and move with the model.
    state = load_state_dict_file(state_path, "cpu")
    check_state_dict(model, state, str(state_path))
    model.load_state_dict(state)
    return model.to(device).eval()
