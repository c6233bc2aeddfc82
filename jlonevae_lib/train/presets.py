"""Named sets of training settings (``jlonevae-train --preset NAME``): the paper's runs in one word.

A preset is data: :class:`~jlonevae_lib.train.config.TrainConfig` fields and their values. The
command line starts from the reference script's defaults, lays the preset over them, then the
flags given explicitly over both, and records the preset's name in the run's ``config.json``
(``preset``). Which preset a run came from never decides its folder or whether two runs are the
same: the settings do.

- ``paper``: the paper's three-dots runs (docs/method.md, Experiments of the paper) on the
  500,000-image cache; the seeds (11-20 in the paper) stay the user's choice.
- ``example``: the reference's small example, on the 20,000-image cache, seed 1.
"""

from __future__ import annotations

from typing import Any

from jlonevae_lib.utils.errors import JLoneVAEError

#: The settings both presets share: the paper's objective, model and batch.
_THREE_DOTS = {
    "objective": "jlonevae", "architecture": "defaultConv", "beta": 4.0, "gamma": 0.1,
    "latent_dim": 10, "batch_size": 64, "regularization_type": "jlone",
}

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {**_THREE_DOTS, "dataset": "threeDotsCache", "lr": 1e-4,
              "num_batches": 300_000, "annealing_batches": 100_000},
    "example": {**_THREE_DOTS, "dataset": "threeDotsCacheSmall", "lr": 1e-3,
                "num_batches": 30_000, "annealing_batches": 10_000, "seed": 1},
}


def preset_settings(name: str) -> dict[str, Any]:
    """The TrainConfig settings of preset ``name`` (a copy); an unknown name is a
    :class:`JLoneVAEError` listing the known ones."""
    if name not in PRESETS:
        raise JLoneVAEError(f"unknown preset {name!r}; presets: {', '.join(sorted(PRESETS))}")
    return dict(PRESETS[name])
