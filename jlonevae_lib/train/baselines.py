"""Training settings of a disentanglement_lib study member (``--model-num``, ``--model``).

A model number means what it means in disentanglement_lib's unsupervised study
(:mod:`jlonevae_lib.runs.study_numbering`): a method, one of its six hyperparameter settings and
a seed. This module turns it into :class:`~jlonevae_lib.train.config.TrainConfig` settings with
the study's shared ones: disentanglement_lib's architecture, batch 64, 10 latents, Adam at lr
1e-4, 300,000 steps, no Jacobian penalty and no β ramp. The dataset is not the study's: the
paper trained these members on three-dots, and so does ``jlonevae-train`` unless told otherwise.
β-VAE's and β-TCVAE's β is ``TrainConfig.beta``; every other hyperparameter goes to
``objective_params``. See docs/method.md, "The six baselines".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jlonevae_lib.runs.study_numbering import StudyMember, model_number, study_member

#: The study's settings shared by every member (disentanglement_lib's ``shared.gin``).
STUDY_SHARED_SETTINGS: dict[str, Any] = {
    "architecture": "dlibConv", "latent_dim": 10, "batch_size": 64, "lr": 1e-4,
    "num_batches": 300_000, "annealing_batches": 0, "gamma": 0.0, "jacobian_batch": None,
}
#: Hyperparameters that are TrainConfig fields rather than objective parameters.
_CONFIG_FIELDS = ("beta",)


def hyperparameter_settings(hyperparameters: Mapping[str, float]) -> dict[str, Any]:
    """TrainConfig keyword arguments of a method's hyperparameters (disentanglement_lib's
    names), as floats: β as ``beta``, every other one in ``objective_params``."""
    params = {name: float(value) for name, value in hyperparameters.items()}
    fields = {name: params.pop(name) for name in _CONFIG_FIELDS if name in params}
    return {"objective_params": params, **fields}


def member_settings(member: StudyMember) -> dict[str, Any]:
    """TrainConfig keyword arguments of a study member: the shared settings, its method, its
    hyperparameters, its seed and its model number."""
    return {**STUDY_SHARED_SETTINGS, "objective": member.method,
            **hyperparameter_settings(member.hyperparameters),
            "seed": member.seed, "model_num": member.model_num}


def study_settings(model_num: int) -> dict[str, Any]:
    """:func:`member_settings` of study member ``model_num``."""
    return member_settings(study_member(model_num))


def method_settings(method: str, hp_index: int, seed: int) -> dict[str, Any]:
    """:func:`member_settings` of a method's setting ``hp_index`` with ``seed`` (the study's
    first dataset block gives the model number)."""
    return study_settings(model_number(method, hp_index, seed))
