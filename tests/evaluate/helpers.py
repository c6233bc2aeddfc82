"""Small ground-truth datasets and representations for the evaluation tests.

As in disentanglement_lib's tests, an "identity" dataset whose observations are the factors
themselves makes perfect scores known in advance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from jlonevae_lib.data import GroundTruthData


class IdentityData(GroundTruthData):
    """Factors with the given sizes; an observation (1, F, 1) holds the factor values."""

    def __init__(self, sizes: Sequence[int] = (12, 4, 30, 10)):
        self.sizes = list(sizes)

    @property
    def num_factors(self) -> int:
        return len(self.sizes)

    @property
    def factors_num_values(self) -> list[int]:
        return self.sizes

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        return (1, len(self.sizes), 1)

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        return np.asarray(factors, dtype=np.float32)[:, np.newaxis, :, np.newaxis]


def identity_representation(observations: np.ndarray) -> np.ndarray:
    """Observations (N, 1, F, 1) -> codes (N, F): the factors."""
    return observations.reshape(len(observations), -1)


def mixing_representation(seed: int = 0, num_codes: int = 5):
    """A fixed nonlinear mix of the factors into ``num_codes`` codes (N, num_codes)."""
    weights = np.random.RandomState(seed).randn(4, num_codes).astype(np.float32)

    def represent(observations: np.ndarray) -> np.ndarray:
        factors = observations.reshape(len(observations), -1)[:, :4]
        return np.tanh(factors / 10.0) @ weights

    return represent


def reference_local_factors(sizes: Sequence[int], num_points: int, num_clusters: int,
                            locality_proportion: float, continuity_cutoff: int,
                            denylist: Sequence[int], seed: int,
                            batch_size: int = 16) -> list[np.ndarray]:
    """Local factors (N, F) per cluster, drawn with the reference implementation's loop.

    Written plainly from docs/metrics.md in the reference's call order: per cluster a centroid
    ``randint(n)`` per factor, then chunks of ``batch_size`` points, each factor by factor
    ``randint(low, high + 1, size=chunk, dtype=int32)`` with float radius ``floor(n · p)``.
    """
    random_state = np.random.RandomState(seed)
    clusters = []
    for _ in range(num_clusters):
        centroid = [random_state.randint(n) for n in sizes]
        chunks = []
        done = 0
        while done < num_points:
            chunk = min(batch_size, num_points - done)
            factors = np.zeros((chunk, len(sizes)), dtype=np.int64)
            for j, n in enumerate(sizes):
                radius = (np.floor(n * locality_proportion)
                          if n >= continuity_cutoff and j not in denylist else 0)
                low = max(0, centroid[j] - radius)
                high = min(n - 1, centroid[j] + radius)
                factors[:, j] = random_state.randint(low, high + 1, size=chunk, dtype=np.int32)
            chunks.append(factors)
            done += chunk
        clusters.append(np.vstack(chunks))
    return clusters
