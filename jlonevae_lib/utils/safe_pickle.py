"""Reading pickles that may come from strangers: plain data only.

The reference stores a model's constructor arguments with ``pickle.dump``. Loading such a file
with ``pickle.load`` would run whatever code the file asks for (a pickle names a global and
calls it), so we admit only the builtin containers and scalars and refuse every other global by
name, before anything is called. The result is checked once more after loading, so an object
built by an opcode that needs no global (e.g. ``bytearray`` in protocol 5) is refused too.

Errors: a pickle that asks for anything but plain data raises :class:`UnsafePickleError`; a
missing, truncated or garbled file raises :class:`DataFileError`.
"""

from __future__ import annotations

import io
import os
import pickle
from typing import Any

from jlonevae_lib.utils.errors import DataFileError, UnsafePickleError

# The only globals a plain-data pickle needs: protocols 0-3 spell sets as calls to these
# (protocols 0-2 under their Python 2 module name, which the unpickler maps to builtins).
_ALLOWED_GLOBALS = frozenset((module, name) for module in ("builtins", "__builtin__")
                             for name in ("set", "frozenset"))
_PLAIN_SCALARS = (str, bytes, int, float, bool, type(None))
_PLAIN_CONTAINERS = (dict, list, tuple, set, frozenset)


class _PlainDataUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, source: str) -> None:
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"{self._source} asks to load '{module}.{name}', which is not plain data; refusing to "
            "unpickle it (it could run code). Re-save the file with plain dicts/lists/numbers, "
            "or check where it came from."
        )


def _check_plain(obj: Any, source: str) -> None:
    # Iterative, so a deeply nested (hostile) structure cannot exhaust the Python stack.
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, _PLAIN_SCALARS):
            continue
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, _PLAIN_CONTAINERS):
            stack.extend(item)
        else:
            raise UnsafePickleError(
                f"{source} holds a {type(item).__name__}, which is not plain data; refusing it"
            )


def safe_loads(data: bytes, source: str = "pickle data") -> Any:
    """Unpickle ``data``, admitting only dict/list/tuple/set/str/bytes/int/float/bool/None.

    ``source`` names the data in error messages (a file path, usually).
    """
    try:
        obj = _PlainDataUnpickler(io.BytesIO(data), source).load()
    except UnsafePickleError:
        raise
    except Exception as err:  # truncated or garbage bytes: pickle raises many types
        raise DataFileError(
            f"{source} is not a readable pickle ({type(err).__name__}: {err}); the file is "
            "truncated or corrupt: restore or re-create it"
        ) from None
    _check_plain(obj, source)
    return obj


def safe_load_pickle(path: str | os.PathLike) -> Any:
    """Read a pickle file holding plain data only (see :func:`safe_loads` for the errors)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DataFileError(f"{path} does not exist") from None
    except OSError as err:
        raise DataFileError(f"cannot read {path}: {err.strerror or err}") from None
    return safe_loads(data, source=str(path))
