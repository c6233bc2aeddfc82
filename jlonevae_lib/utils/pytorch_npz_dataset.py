"""The reference's ``PytorchNpzDataset``: the images of ``.npz`` files as a torch dataset.

Scripts written for the original repository (its linear baselines, its natural-image training)
import it from here. Files are read with :func:`jlonevae_lib.data.npz.read_npz_arrays`: plain
arrays only (nothing is unpickled), every zip member's CRC checked, and any problem reported as
one :class:`DataFileError` naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import torch

from jlonevae_lib.data.npz import read_npz_arrays
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError


class PytorchNpzDataset(torch.utils.data.TensorDataset):
    """The arrays ``key`` of ``compressed_npz_files``, concatenated along their first axis.

    ``dataset[i]`` is one item, e.g. a patch (1, 16, 16), float32 (float64 with
    ``useDoublePrecision``); ``dataset.tensors[0]`` holds all N items (N, ...). A DataLoader
    over it yields batches (B, ...). A single path is accepted as well as a list.
    """

    def __init__(self, compressed_npz_files: Iterable[str | os.PathLike] | str | os.PathLike,
                 useDoublePrecision: bool = False, key: str = "images") -> None:
        if isinstance(compressed_npz_files, str | os.PathLike):
            compressed_npz_files = [compressed_npz_files]
        paths = list(compressed_npz_files)
        if not paths:
            raise JLoneVAEError("PytorchNpzDataset got no .npz files (an empty glob? the "
                                "reference's scripts read data/<name>/train/*.npz)")
        dtype = torch.float64 if useDoublePrecision else torch.float32
        chunks = []
        for path in paths:
            try:
                array = read_npz_arrays(path, (key,))[key]
            except DataFileError as err:
                raise DataFileError(f"{path} {err}") from None
            if array.ndim == 0 or array.dtype.kind not in "biuf":
                raise DataFileError(f"{path} holds {key!r} as a {array.dtype} array of shape "
                                    f"{array.shape}, not numbers with an item axis first")
            if chunks and array.shape[1:] != chunks[0].shape[1:]:
                raise DataFileError(f"{path} holds {key!r} items of shape {array.shape[1:]}, but "
                                    f"{paths[0]} holds {tuple(chunks[0].shape[1:])}")
            chunks.append(torch.from_numpy(np.asarray(array)).to(dtype))
        super().__init__(torch.cat(chunks))

    def __getitem__(self, index: int) -> torch.Tensor:
        """The item at ``index`` itself (a TensorDataset of one tensor would return a 1-tuple)."""
        return super().__getitem__(index)[0]
