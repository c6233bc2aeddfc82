"""Reading our ``.npz`` data files: plain arrays only, every byte checked.

Shared by the three-dots caches and the natural-image patch files. Errors are
:class:`DataFileError` carrying the problem only; the caller names the file and the fix.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jlonevae_lib.utils.errors import DataFileError

_ZIP_MAGIC = b"PK\x03\x04"
_NPY_MAGIC = b"\x93NUMPY"


def read_npz_arrays(path: str | Path, names: Sequence[str],
                    optional: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """The arrays ``names`` of the ``.npz`` at ``path``, read whole (zip checks each CRC), and
    those of ``optional`` that it holds (files written before such an array existed lack it).

    Refused, with DataFileError: a missing file, a plain ``.npy``, anything without a zip
    header, a truncated or corrupt archive, a missing array, and object arrays (which would
    need unpickling: ``allow_pickle=False``).
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError("does not exist")
    # Opened here, not by np.load, which leaks its handle when the zip turns out unreadable.
    with open(path, "rb") as f:
        magic = f.read(len(_NPY_MAGIC))
        if magic == _NPY_MAGIC:
            raise DataFileError("is a single .npy array, not an .npz archive (no zip header)")
        if not magic.startswith(_ZIP_MAGIC):
            raise DataFileError("is not an .npz archive (no zip header)")
        f.seek(0)
        try:
            with np.load(f, allow_pickle=False) as archive:
                missing = [name for name in names if name not in archive.files]
                if missing:
                    raise DataFileError(f"lacks the array {', '.join(map(repr, missing))}")
                present = [*names, *(name for name in optional if name in archive.files)]
                return {name: archive[name] for name in present}
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
            # ValueError also covers object arrays, which would need unpickling.
            raise DataFileError(f"is not a readable .npz archive of plain arrays (truncated "
                                f"or corrupt?): {err}") from None
