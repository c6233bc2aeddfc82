"""disentanglement_lib's ground-truth dataset interface, a name registry and the data root.

A dataset maps integer factors (N, F) to images. Evaluation uses disentanglement_lib's methods
with a ``numpy.random.RandomState``, in its exact order, so metric samples are reproducible bit
for bit; training uses :meth:`GroundTruthData.sample_training_batch` with a
``numpy.random.Generator`` and gets NCHW float32 batches ready for ``torch.from_numpy``.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from jlonevae_lib.utils.errors import JLoneVAEError

#: Environment variable naming the data folder, as in disentanglement_lib.
DATA_ROOT_ENV = "DISENTANGLEMENT_LIB_DATA"


def data_root() -> Path:
    """The data folder: ``$DISENTANGLEMENT_LIB_DATA`` if set, else ``data`` (relative to cwd)."""
    return Path(os.environ.get(DATA_ROOT_ENV) or "data")


class GroundTruthData(abc.ABC):
    """A dataset with known factors of variation (disentanglement_lib's ``GroundTruthData``)."""

    @property
    @abc.abstractmethod
    def num_factors(self) -> int:
        """Number of factors F."""

    @property
    @abc.abstractmethod
    def factors_num_values(self) -> list[int]:
        """Number of values n_j of each factor; factor j takes the values 0..n_j−1."""

    @property
    @abc.abstractmethod
    def observation_shape(self) -> tuple[int, int, int]:
        """Shape (H, W, C) of one observation."""

    @abc.abstractmethod
    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        """factors (N, F) ints → observations float32 (N, H, W, C) in [0, 1]."""

    def sample_factors(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        """Uniform factors, int64 (num, F), drawn column by column with ``randint(n_j)``.

        The order of draws is disentanglement_lib's, so the same ``random_state`` gives the
        same factors (and the same metric samples) as the reference.
        """
        factors = np.zeros((num, self.num_factors), dtype=np.int64)
        for j, num_values in enumerate(self.factors_num_values):
            factors[:, j] = random_state.randint(num_values, size=num)
        return factors

    def sample(self, num: int, random_state: np.random.RandomState
               ) -> tuple[np.ndarray, np.ndarray]:
        """(factors int64 (num, F), observations float32 (num, H, W, C))."""
        factors = self.sample_factors(num, random_state)
        return factors, self.sample_observations_from_factors(factors, random_state)

    def sample_observations(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        """Observations float32 (num, H, W, C) of uniformly sampled factors."""
        return self.sample(num, random_state)[1]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """Shape (C, H, W) of one training image."""
        height, width, channels = self.observation_shape
        return (channels, height, width)

    def sample_training_batch(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """A training batch float32 (B, C, H, W) in [0, 1].

        By default: factors drawn uniformly with ``rng.integers`` (column by column), then
        observed with a ``RandomState`` seeded from ``rng``. Datasets with a training cache
        override this to draw cached images.
        """
        factors = np.stack([rng.integers(0, n, size=batch_size) for n in self.factors_num_values],
                           axis=1)
        random_state = np.random.RandomState(rng.integers(2**32, dtype=np.uint64))
        return to_nchw(self.sample_observations_from_factors(factors, random_state))


def to_nchw(observations: np.ndarray) -> np.ndarray:
    """(N, H, W, C) → C-contiguous (N, C, H, W) (no copy when C = 1)."""
    return np.ascontiguousarray(observations.transpose(0, 3, 1, 2))


DatasetFactory = TypeVar("DatasetFactory", bound=Callable[..., GroundTruthData])
_REGISTRY: dict[str, Callable[..., GroundTruthData]] = {}


def register_ground_truth_data(name: str) -> Callable[[DatasetFactory], DatasetFactory]:
    """Decorator: make a dataset class (or factory) available under ``name``."""

    def register(factory: DatasetFactory) -> DatasetFactory:
        if name in _REGISTRY:
            raise ValueError(f"dataset name {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory

    return register


def available_datasets() -> list[str]:
    """Registered dataset names, sorted."""
    return sorted(_REGISTRY)


def get_named_ground_truth_data(name: str, **kwargs) -> GroundTruthData:
    """Build the dataset registered as ``name`` (keyword arguments go to its constructor)."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise JLoneVAEError(f"unknown dataset {name!r}; known datasets: "
                            f"{', '.join(available_datasets())}") from None
    return factory(**kwargs)
