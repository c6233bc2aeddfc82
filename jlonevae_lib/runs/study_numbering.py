"""disentanglement_lib's unsupervised study: model number ↔ (dataset, method, setting, seed).

The study (``disentanglement_lib/config/unsupervised_study_v1/sweep.py``) is the outer product
datasets × methods × 6 hyperparameter settings × 50 seeds, the seed varying fastest:

    model_num = dataset·1800 + method·300 + hp_index·50 + seed

with 7 datasets (12,600 members) and the methods in the order of ``METHODS``. The paper trained
the hp index 2 members of the first block (0 … 1799) with seeds 0–9, numbers
100 + 300·m + s, on three-dots in place of dSprites. Methods and hyperparameters carry
disentanglement_lib's names (``model.name`` and the gin parameters of each model). See
docs/method.md, "The six baselines".
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

from jlonevae_lib.utils.errors import JLoneVAEError

#: The study's datasets, by disentanglement_lib's ``dataset.name``, in its order.
DATASETS = ("dsprites_full", "color_dsprites", "noisy_dsprites", "scream_dsprites", "smallnorb",
            "cars3d", "shapes3d")
#: Each method's six hyperparameter settings, methods in the study's order.
GRIDS: dict[str, tuple[dict[str, float | int], ...]] = {
    "beta_vae": tuple({"beta": b} for b in (1.0, 2.0, 4.0, 6.0, 8.0, 16.0)),
    "factor_vae": tuple({"gamma": g} for g in (10.0, 20.0, 30.0, 40.0, 50.0, 100.0)),
    "dip_vae_i": tuple({"lambda_od": lam, "lambda_d_factor": 10.0}
                       for lam in (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)),
    "dip_vae_ii": tuple({"lambda_od": lam, "lambda_d_factor": 1.0}
                        for lam in (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)),
    "beta_tc_vae": tuple({"beta": b} for b in (1.0, 2.0, 4.0, 6.0, 8.0, 10.0)),
    "annealed_vae": tuple({"c_max": c, "gamma": 1000, "iteration_threshold": 100000}
                          for c in (5.0, 10.0, 25.0, 50.0, 75.0, 100.0)),
}
METHODS = tuple(GRIDS)
NUM_HP = 6
NUM_SEEDS = 50
#: Members per method, and per dataset (one block of every method, setting and seed).
METHOD_BLOCK = NUM_HP * NUM_SEEDS
DATASET_BLOCK = len(METHODS) * METHOD_BLOCK
STUDY_SIZE = len(DATASETS) * DATASET_BLOCK
#: The hyperparameter index of the paper's baselines.
PAPER_HP_INDEX = 2
#: Global steps per VAE update of the methods that count more than one: FactorVAE's VAE and
#: discriminator optimisers are both given disentanglement_lib's global step, so each of its
#: iterations (one VAE and one discriminator update) advances it twice.
GLOBAL_STEPS_PER_VAE_UPDATE = {"factor_vae": 2}


@dataclass(frozen=True)
class StudyMember:
    """One member of the study: what its model number stands for."""

    model_num: int
    dataset_index: int
    method: str
    hp_index: int
    seed: int

    @property
    def dataset(self) -> str:
        """disentanglement_lib's ``dataset.name`` of the member."""
        return DATASETS[self.dataset_index]

    @property
    def hyperparameters(self) -> dict[str, float | int]:
        """The method's settings at ``hp_index``, under disentanglement_lib's names."""
        return dict(GRIDS[self.method][self.hp_index])


def _in_range(value: object, what: str, stop: int, hint: str) -> int:
    try:
        if isinstance(value, bool):  # operator.index would read True as 1
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise JLoneVAEError(f"{what} must be a whole number, not {value!r}") from None
    if not 0 <= number < stop:
        raise JLoneVAEError(f"{what} {number} is outside disentanglement_lib's unsupervised "
                            f"study: give 0 to {stop - 1} ({hint})")
    return number


def study_member(model_num: int) -> StudyMember:
    """The dataset, method, hyperparameter index and seed of ``model_num`` (0 … 12,599)."""
    number = _in_range(model_num, "model number", STUDY_SIZE,
                       f"{len(DATASETS)} datasets × {DATASET_BLOCK}")
    dataset_index, rest = divmod(number, DATASET_BLOCK)
    method_index, rest = divmod(rest, METHOD_BLOCK)
    hp_index, seed = divmod(rest, NUM_SEEDS)
    return StudyMember(model_num=number, dataset_index=dataset_index,
                       method=METHODS[method_index], hp_index=hp_index, seed=seed)


def model_number(method: str, hp_index: int, seed: int, dataset: int | str = 0) -> int:
    """The model number of a study member; ``dataset`` by index or ``dataset.name``."""
    if method not in GRIDS:
        raise JLoneVAEError(f"unknown study method {method!r}: choose one of "
                            f"{', '.join(METHODS)}")
    if isinstance(dataset, str):
        if dataset not in DATASETS:
            raise JLoneVAEError(f"unknown study dataset {dataset!r}: choose one of "
                                f"{', '.join(DATASETS)}")
        dataset_index = DATASETS.index(dataset)
    else:
        dataset_index = _in_range(dataset, "dataset index", len(DATASETS), ", ".join(DATASETS))
    hp = _in_range(hp_index, "hyperparameter index", NUM_HP, f"six settings of {method}")
    seed_index = _in_range(seed, "seed", NUM_SEEDS, f"{NUM_SEEDS} seeds per setting")
    return (dataset_index * DATASET_BLOCK + METHODS.index(method) * METHOD_BLOCK
            + hp * NUM_SEEDS + seed_index)


def vae_updates(method: str, global_step: int) -> int:
    """The VAE updates (training iterations) behind disentanglement_lib's ``global_step`` of
    ``method`` (:data:`GLOBAL_STEPS_PER_VAE_UPDATE`): FactorVAE's half, every other method's
    whole."""
    return global_step // GLOBAL_STEPS_PER_VAE_UPDATE.get(method, 1)
