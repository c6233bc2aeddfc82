"""Reading pickles that may come from strangers: plain data only.

The reference stores a model's constructor arguments with ``pickle.dump``. Loading such a file
with ``pickle.load`` would run whatever code the file asks for, so we admit only the builtin
containers and scalars and refuse every other global by name.
"""

from __future__ import annotations

import io
import os
import pickle
from typing import Any

from jlonevae_lib.utils.errors import UnsafePickleError



class _PlainDataUnpickler(pickle.Unpickler):
    def __init__(self, file, source: str):
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str):
        if (module, name) in {("builtins", "set"), ("builtins", "frozenset")}:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"{self._source} asks to load '{module}.{name}', which is not plain data; refusing to "
            "unpickle it (it could run code). Re-save the file with plain dicts/lists/numbers, "
            "or check where it came from."
        )


def _check_plain(obj: Any, source: str) -> None:
    plain_scalars = (str, int, float, bool, type(None), bytes)
    if isinstance(obj, plain_scalars):
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_plain(k, source)
            _check_plain(v, source)
        return
    if isinstance(obj, list | tuple | set | frozenset):
        for v in obj:
            _check_plain(v, source)
        return
    raise UnsafePickleError(f"{source} holds a {type(obj).__name__}, which is not plain data")


def safe_loads(data: bytes, source: str = "pickle data") -> Any:
    """Unpickle ``data`` admitting only dict, list, tuple, set, str, bytes, int, float, bool, None."""
    try:
        obj = _PlainDataUnpickler(io.BytesIO(data), source).load()
    except UnsafePickleError:
        raise
    except Exception as err:  # truncated or garbage bytes
        raise UnsafePickleError(f"{source} is not a readable pickle ({err})") from None
    _check_plain(obj, source)
    return obj


def safe_load_pickle(path: str | os.PathLike) -> Any:
    """Read a pickle file holding plain data only; anything else raises :class:`UnsafePickleError`."""
    with open(path, "rb") as f:
        return safe_loads(f.read(), source=str(path))
