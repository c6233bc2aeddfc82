"""Training: one run from a :class:`~jlonevae_lib.train.config.TrainConfig`.

``from jlonevae_lib.train import TrainConfig, train`` then ``train(TrainConfig(...))`` trains (or
resumes, or skips a finished) run from Python, as ``jlonevae-train`` does. Both names are
imported on first use (PEP 562), so that importing one submodule (the losses, say) does not
load the trainer.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name → the module that defines it.
_EXPORTS = {"TrainConfig": "jlonevae_lib.train.config", "train": "jlonevae_lib.train.trainer"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
