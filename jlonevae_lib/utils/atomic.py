"""Atomic file writes: write a temporary file beside the target, fsync, then rename.

A reader never sees a half-written file, and a crash mid-write leaves the previous
version intact. Every file the project writes goes through here. A writer killed mid-write
leaves its temporary file behind; the next write of the same target deletes it once it is
:data:`STALE_AFTER_SECONDS` old, and a caller holding the folder's lock can delete leftovers
at once (:func:`remove_temporaries`).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from jlonevae_lib.utils.errors import JLoneVAEError


class WriteError(JLoneVAEError):
    """A file could not be written (disk full, file-size limit, permissions)."""


#: Age (seconds since last written) after which a temporary file is surely left over from a
#: killed writer: our writes take seconds. For cleanups done without the folder's lock.
STALE_AFTER_SECONDS = 3600


def _temporary_affixes(target: Path, suffix: str) -> tuple[str, str]:
    """(prefix, suffix) of :func:`atomic_path`'s temporary names for ``target``."""
    return f".{target.name}.", ".tmp" + suffix


def remove_temporaries(path: str | os.PathLike, suffix: str = "",
                       older_than: float = 0.0) -> list[Path]:
    """Delete temporary files that :func:`atomic_path` left beside ``path`` when its process
    was killed mid-write (nothing else removes them); returns what was deleted.

    Only call it where no live writer can own them: under the folder's lock, or with
    ``older_than`` (seconds since last modification) far beyond any write's duration.
    """
    target = Path(path)
    prefix, tmp_suffix = _temporary_affixes(target, suffix)
    now = time.time()
    removed = []
    for tmp in target.parent.glob(f"{prefix}*{tmp_suffix}"):
        with contextlib.suppress(FileNotFoundError):  # another cleaner got there first
            if now - tmp.stat().st_mtime >= older_than:
                tmp.unlink()
                removed.append(tmp)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    ``suffix`` is kept on the temporary name for writers that infer the format from it
    (``np.savez`` appends ``.npz`` otherwise). Temporaries of ``path`` that killed writers left
    more than :data:`STALE_AFTER_SECONDS` ago are deleted first.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_temporaries(target, suffix, older_than=STALE_AFTER_SECONDS)
    prefix, tmp_suffix = _temporary_affixes(target, suffix)
    fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=tmp_suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600; give the file the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as err:
        if target.is_dir():
            raise WriteError(f"could not write {target}: a folder has that name; give another "
                             "path") from None
        kept = "the previous version is intact" if target.exists() else "nothing was written"
        advice = ("Check that you may write there" if isinstance(err, PermissionError)
                  else "Free some disk space (or check permissions)")
        raise WriteError(f"could not write {target}: {err.strerror or err}; {kept}. "
                         f"{advice} and run again") from None
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(file)`` on a binary temporary file, then atomically move it to ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def atomic_torch_save(obj: Any, path: str | os.PathLike,
                      save: Callable[[Any, IO[bytes]], None] | None = None) -> None:
    """``torch.save`` (or ``save``, e.g. ``torch.jit.save``) atomically. Serialised in memory
    first: torch's own writer turns a failed disk write into an opaque RuntimeError, a plain
    file write gives the OSError that says why."""
    import torch

    buffer = io.BytesIO()
    (save or torch.save)(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())
