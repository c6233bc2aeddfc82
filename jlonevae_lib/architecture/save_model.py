"""Writing a ``ConvVAE`` in the reference's saved-model format (docs/formats.md).

A model folder holds ``model_type.txt`` ("conv_vae"), ``model_args.p`` (a pickle of the 12
constructor kwargs), ``model_state_dict.pt`` (``torch.save`` of the state dict) and, new here,
``model_args.json`` (the same kwargs, human-readable). Models published with the paper load with
:func:`~jlonevae_lib.architecture.load_model.load_model` unchanged, and folders written here
load with the reference's code.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from jlonevae_lib.architecture.vae import CONV_VAE_ARG_NAMES, MODEL_TYPE, ConvVAE
from jlonevae_lib.utils.atomic import (
    atomic_torch_save,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
)

MODEL_TYPE_FILE = "model_type.txt"
MODEL_ARGS_FILE = "model_args.p"
MODEL_ARGS_JSON_FILE = "model_args.json"
STATE_DICT_FILE = "model_state_dict.pt"

# Protocol 4 is readable by every Python 3 the reference could have run on (3.4+).
_PICKLE_PROTOCOL = 4


def save_conv_vae(model: ConvVAE, folder: str | os.PathLike) -> Path:
    """Save ``model`` into ``folder`` (created if needed); returns the folder as a Path.

    The arguments are read from the model's attributes of the same names, as the reference
    did, so a model with the reference's attribute surface saves too. Each file is written
    atomically, ``model_type.txt`` last: a save into a fresh folder that is interrupted leaves
    no ``model_type.txt``, and the loader refuses the folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # Plain ints and lists, so the pickle holds plain data and the JSON copy can be written.
    args = {name: list(value) if isinstance(value, list | tuple) else value
            for name, value in ((name, getattr(model, name)) for name in CONV_VAE_ARG_NAMES)}
    atomic_torch_save(model.state_dict(), folder / STATE_DICT_FILE)
    atomic_write_bytes(folder / MODEL_ARGS_FILE, pickle.dumps(args, protocol=_PICKLE_PROTOCOL))
    atomic_write_json(folder / MODEL_ARGS_JSON_FILE, args)
    atomic_write_text(folder / MODEL_TYPE_FILE, MODEL_TYPE)
    return folder
