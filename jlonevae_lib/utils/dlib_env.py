"""Where disentanglement_lib's TensorFlow environment is: the interpreter that the importer,
the oracle tests and the TensorFlow benchmarks run it with (docs/dlib_tensorflow.md)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

#: The environment variable that names the TensorFlow environment's folder.
DLIB_VENV_ENV = "DLIB_VENV"
#: Its folder by default, in the working folder or in this checkout.
DLIB_VENV_DIR = ".venv-dlib"


def default_dlib_python(environ: Mapping[str, str]) -> Path:
    """``$DLIB_VENV/bin/python`` where ``environ`` sets it, else ``.venv-dlib/bin/python`` in
    the working folder or in this checkout, whichever exists (the working folder's name when
    neither does, for messages)."""
    if environ.get(DLIB_VENV_ENV):
        return Path(environ[DLIB_VENV_ENV]) / "bin" / "python"
    checkout = Path(__file__).resolve().parents[2]
    for root in (Path.cwd(), checkout):
        candidate = root / DLIB_VENV_DIR / "bin" / "python"
        if candidate.exists():
            return candidate
    return Path(DLIB_VENV_DIR) / "bin" / "python"
