"""Writing a model in the saved-model folder format (docs/formats.md).

A model folder holds ``model_type.txt`` (the model type: ``conv_vae`` for a ``ConvVAE``,
``dlib_conv_vae`` for disentanglement_lib's architecture), ``model_args.p`` (a pickle of the
constructor's keyword arguments), ``model_state_dict.pt`` (``torch.save`` of the state dict,
always as CPU tensors, so a folder written on a GPU loads anywhere)
and, new here, ``model_args.json`` (the same kwargs, human-readable). ``conv_vae`` folders are
the reference's format: models published with the paper load with
:func:`~jlonevae_lib.architecture.load_model.load_model` unchanged, and ``conv_vae`` folders
written here load with the reference's code.
"""

from __future__ import annotations

import math
import os
import pickle
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from torch import nn

from jlonevae_lib.architecture import dlib_conv
from jlonevae_lib.architecture.vae import CONV_VAE_ARG_NAMES, MODEL_TYPE, ConvVAE
from jlonevae_lib.utils.atomic import (
    atomic_torch_save,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
)
from jlonevae_lib.utils.device import cpu_tensors
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.plugins import ARCHITECTURES, is_redefinition, load_plugins

MODEL_TYPE_FILE = "model_type.txt"
MODEL_ARGS_FILE = "model_args.p"
MODEL_ARGS_JSON_FILE = "model_args.json"
STATE_DICT_FILE = "model_state_dict.pt"
#: Every file a save writes, each atomically (model_type.txt last).
SAVED_MODEL_FILES = (STATE_DICT_FILE, MODEL_ARGS_FILE, MODEL_ARGS_JSON_FILE, MODEL_TYPE_FILE)

# Protocol 4 is readable by every Python 3 the reference could have run on (3.4+).
_PICKLE_PROTOCOL = 4


@dataclass(frozen=True)
class ModelType:
    """A model type of the saved-model format: its ``model_type.txt`` name, the class that
    builds it from the saved keyword arguments, and the names of those arguments (saved in this
    order, read from the model's attributes of the same names)."""

    name: str
    model_class: type[nn.Module]
    arg_names: tuple[str, ...]


#: Model type name -> how to save and rebuild it. A model names its type in ``architecture``.
#: The package's two; a plug-in adds its own with :func:`register_model_type`.
MODEL_TYPES: dict[str, ModelType] = {
    model_type.name: model_type for model_type in (
        ModelType(MODEL_TYPE, ConvVAE, CONV_VAE_ARG_NAMES),
        ModelType(dlib_conv.MODEL_TYPE, dlib_conv.DlibConvVAE, dlib_conv.DLIB_CONV_VAE_ARG_NAMES),
    )
}

ModelClass = TypeVar("ModelClass", bound=type[nn.Module])
_MODEL_TYPE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")


def register_model_type(name: str, arg_names: Sequence[str]) -> Callable[[ModelClass],
                                                                            ModelClass]:
    """Class decorator: save models of this class as model type ``name`` and load such
    folders by building the class from the saved arguments ``arg_names`` (read from the
    model's attributes of those names when saving; plain data: finite numbers, strings,
    booleans, None and lists or tuples of them). The model names its type in its
    ``architecture`` attribute.

    For an architecture of a class of its own (docs/plugins.md). A folder of this type loads
    only where the module that registers it is installed and declared as a plug-in (its entry
    point in ``jlonevae.architectures``), since the loader builds the class from it.
    """
    if not isinstance(name, str) or not _MODEL_TYPE_NAME.fullmatch(name):
        raise ValueError(f"model type name {name!r}: a letter, then letters, digits, '_', '.' "
                         "or '-' (it is the first line of model_type.txt)")
    if isinstance(arg_names, str) or not arg_names or not all(
            isinstance(arg, str) and arg.isidentifier() for arg in arg_names):
        raise ValueError(f"model type {name!r}: arg_names must be a non-empty sequence of "
                         f"argument names, got {arg_names!r}")
    if len(set(arg_names)) != len(arg_names):
        raise ValueError(f"model type {name!r}: arg_names {list(arg_names)} repeat a name")

    def register(cls: ModelClass) -> ModelClass:
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise ValueError(f"model type {name!r}: {cls!r} is not a torch.nn.Module class")
        taken = MODEL_TYPES.get(name)
        if taken is not None and not is_redefinition(taken.model_class, cls):
            raise ValueError(f"model type name {name!r} is already registered "
                             f"(for {taken.model_class.__module__}."
                             f"{taken.model_class.__qualname__})")
        MODEL_TYPES[name] = ModelType(name, cls, tuple(arg_names))
        return cls

    return register


def find_model_type(name: str) -> ModelType | None:
    """The model type registered as ``name``, after the plug-ins' registrations (an installed
    architecture plug-in registers its model types when imported); None if there is none."""
    if name not in MODEL_TYPES:
        load_plugins(ARCHITECTURES)
    return MODEL_TYPES.get(name)


def _plain(value: Any) -> Any:
    # Lists for tuples, at any depth, so the pickle holds plain data and JSON writes it as is.
    return [_plain(item) for item in value] if isinstance(value, list | tuple) else value


#: The types of plain data, exactly (a subclass, a numpy scalar or an enum would pickle as its
#: own class, which the loader's plain-data unpickler refuses).
_PLAIN_TYPES = (type(None), bool, int, float, str)


def _not_plain_data(value: Any) -> Any:
    """The first part of ``value`` that is not plain data (what the loader's plain-data
    unpickler reads back, and JSON writes, as the same value), or None if it all is. A float
    that is not finite is not: nan compares unequal to itself, and JSON has no inf."""
    if type(value) is list:
        return next((part for part in map(_not_plain_data, value) if part is not None), None)
    if type(value) is float and not math.isfinite(value):
        return value
    return None if type(value) in _PLAIN_TYPES else value


def _model_args(model: nn.Module, model_type: ModelType) -> dict[str, Any]:
    """The saved arguments of ``model``, read from its attributes; one line for an argument
    it lacks or that is not plain data."""
    args = {}
    for name in model_type.arg_names:
        if not hasattr(model, name):
            raise JLoneVAEError(f"cannot save a {type(model).__name__} as model type "
                                f"{model_type.name!r}: it has no attribute {name!r}, one of the "
                                "arguments that model type saves")
        value = _plain(getattr(model, name))
        odd = _not_plain_data(value)
        if odd is not None:
            what = repr(odd) if type(odd) is float else f"a {type(odd).__name__}"
            raise JLoneVAEError(f"cannot save a {type(model).__name__}: its argument {name!r} "
                                f"holds {what}, not plain data (finite numbers, strings, "
                                "booleans, None and lists of them)")
        args[name] = value
    return args


def _save(model: nn.Module, folder: str | os.PathLike, model_type: ModelType) -> Path:
    args = _model_args(model, model_type)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # CPU tensors whatever the model's device: the folder must load with a plain torch.load
    # (the reference's loader) on a machine without a GPU.
    atomic_torch_save(cpu_tensors(model.state_dict()), folder / STATE_DICT_FILE)
    atomic_write_bytes(folder / MODEL_ARGS_FILE, pickle.dumps(args, protocol=_PICKLE_PROTOCOL))
    atomic_write_json(folder / MODEL_ARGS_JSON_FILE, args)
    atomic_write_text(folder / MODEL_TYPE_FILE, model_type.name)
    return folder


def save_conv_vae(model: ConvVAE, folder: str | os.PathLike) -> Path:
    """Save ``model`` into ``folder`` (created if needed) as a ``conv_vae``; returns the folder.

    The arguments are read from the model's attributes of the same names, as the reference
    did, so a model with the reference's attribute surface saves too. Each file is written
    atomically, ``model_type.txt`` last: a save into a fresh folder that is interrupted leaves
    no ``model_type.txt``, and the loader refuses the folder.
    """
    return _save(model, folder, MODEL_TYPES[MODEL_TYPE])


def saved_model_type(model: nn.Module) -> ModelType:
    """The model type ``model`` saves as: the one its ``architecture`` attribute names, whose
    class is exactly the model's, with arguments it can save. A subclass is refused: loading
    would build the base class without the subclass's code, a different network from the one
    trained. The trainer asks at its start, so a model it could not save trains no batch."""
    name = getattr(model, "architecture", None)
    model_type = find_model_type(name) if isinstance(name, str) else None
    if model_type is None:
        raise JLoneVAEError(f"cannot save a {type(model).__name__} (model type {name!r}); "
                            f"saved models are of type {', '.join(MODEL_TYPES)}, or of one "
                            "a plug-in registers (register_model_type, docs/plugins.md)")
    if type(model) is not model_type.model_class:
        raise JLoneVAEError(
            f"cannot save a {type(model).__name__} as model type {name!r}: loading it would "
            f"build a plain {model_type.model_class.__name__} without "
            f"{type(model).__name__}'s own code; an architecture builds a "
            f"{model_type.model_class.__name__} with arguments of its own (docs/plugins.md)")
    _model_args(model, model_type)  # arguments it could not save: refused now, not at the end
    return model_type


def save_model(model: nn.Module, folder: str | os.PathLike) -> Path:
    """Save ``model`` into ``folder`` (created if needed) as :func:`saved_model_type` says;
    returns the folder as a Path.

    A ``ConvVAE`` gives exactly the folder :func:`save_conv_vae` writes. Files are written as
    there, ``model_type.txt`` last.
    """
    return _save(model, folder, saved_model_type(model))
