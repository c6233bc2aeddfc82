"""Sampling ground-truth factors and encoding them: globally and around local centroids.

Every random choice comes from the one ``numpy.random.RandomState`` passed in, in
disentanglement_lib's order, so a seed fixes the result bit for bit:
- global: factors in chunks of ``batch_size`` (16) points, each chunk drawn by the dataset's
  ``sample_factors`` (column by column ``randint(n_j)``);
- local (the paper's reference order): per cluster a centroid ``randint(n_j)`` per factor, then
  chunks of ``batch_size`` points, each chunk factor by factor
  ``randint(low_j, high_j + 1, size=chunk, dtype=int32)``;
- the β-VAE and FactorVAE scores' batches (:func:`sample_pair_batches`,
  :func:`sample_fixed_factor_batches`): per sample ``randint(F)`` then ``sample_factors``
  batches, all drawn before any is encoded.
Observations are rendered and encoded after the factors are drawn, in batches of
``encode_batch_size`` (a rendering that consumed random numbers would then see a different
stream than disentanglement_lib's interleaved loop; the procedural datasets here render
deterministically).

Shapes: factors are (N, F) while sampling and (F, N) in what is returned; codes (d, N);
observations (N, H, W, C) float32 in [0, 1].
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import NamedTuple, TypeVar

import numpy as np

from jlonevae_lib.data import GroundTruthData
from jlonevae_lib.utils.errors import JLoneVAEError

#: Maps observations (N, H, W, C) float32 to codes (N, d).
RepresentationFunction = Callable[[np.ndarray], np.ndarray]

#: Points rendered and encoded together (does not change any result's randomness).
DEFAULT_ENCODE_BATCH_SIZE = 1000

T = TypeVar("T")


class Cluster(NamedTuple):
    """Codes (d, N) and the factors (F, N) they were encoded from."""

    codes: np.ndarray
    factors: np.ndarray


def encode_factors(data: GroundTruthData, representation_function: RepresentationFunction,
                   factors: np.ndarray, random_state: np.random.RandomState,
                   encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE) -> np.ndarray:
    """Render factors (N, F) and encode them in batches: -> codes (d, N).

    Raises JLoneVAEError if the representation returns the wrong number of rows or values that
    are not finite (a diverged model): no metric is defined on those.
    """
    parts = []
    for start in range(0, factors.shape[0], encode_batch_size):
        batch = factors[start:start + encode_batch_size]
        observations = data.sample_observations_from_factors(batch, random_state)
        codes = np.asarray(representation_function(observations))
        if codes.ndim != 2 or codes.shape[0] != batch.shape[0]:
            raise JLoneVAEError(f"the representation returned shape {codes.shape} for "
                                f"{batch.shape[0]} observations; expected (N, d)")
        if not np.all(np.isfinite(codes)):
            raise JLoneVAEError("the representation returned NaN or infinite codes; the model "
                                "has probably diverged")
        parts.append(codes)
    return np.concatenate(parts).T


def sample_global_factors(data: GroundTruthData, num_points: int,
                          random_state: np.random.RandomState, batch_size: int = 16
                          ) -> np.ndarray:
    """Factors (N, F) drawn as disentanglement_lib does: ``sample_factors`` per chunk."""
    chunks = [data.sample_factors(min(batch_size, num_points - start), random_state)
              for start in range(0, num_points, batch_size)]
    return np.concatenate(chunks).astype(np.int64, copy=False)


def global_codes(data: GroundTruthData, representation_function: RepresentationFunction,
                 num_points: int, random_state: np.random.RandomState, batch_size: int = 16,
                 encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE) -> Cluster:
    """Codes (d, N) and factors (F, N) of N points drawn from the whole factor space."""
    factors = sample_global_factors(data, num_points, random_state, batch_size)
    codes = encode_factors(data, representation_function, factors, random_state,
                           encode_batch_size)
    return Cluster(codes=codes, factors=factors.T)


class PairBatches(NamedTuple):
    """The β-VAE score's samples: a fixed factor per sample (S,) and two batches of factors
    (S, B, F) that agree on it."""

    labels: np.ndarray
    factors_a: np.ndarray
    factors_b: np.ndarray


def sample_pair_batches(data: GroundTruthData, batch_size: int, num_points: int,
                        random_state: np.random.RandomState) -> PairBatches:
    """``num_points`` samples of the β-VAE score in disentanglement_lib's order: per sample
    ``randint(F)``, then two batches of ``batch_size`` factors (``sample_factors`` each); the
    second takes the first's value of the chosen factor."""
    num_factors = data.num_factors
    labels = np.zeros(num_points, dtype=np.int64)
    factors_a = np.empty((num_points, batch_size, num_factors), dtype=np.int64)
    factors_b = np.empty_like(factors_a)
    for s in range(num_points):
        labels[s] = random_state.randint(num_factors)
        factors_a[s] = data.sample_factors(batch_size, random_state)
        factors_b[s] = data.sample_factors(batch_size, random_state)
        factors_b[s, :, labels[s]] = factors_a[s, :, labels[s]]
    return PairBatches(labels, factors_a, factors_b)


def sample_fixed_factor_batches(data: GroundTruthData, batch_size: int, num_points: int,
                                random_state: np.random.RandomState
                                ) -> tuple[np.ndarray, np.ndarray]:
    """``num_points`` samples of the FactorVAE score in disentanglement_lib's order: per sample
    ``randint(F)``, then a batch of ``batch_size`` factors (``sample_factors``) whose chosen
    factor is set to its first point's value. Returns (fixed factor (S,), factors (S, B, F))."""
    num_factors = data.num_factors
    labels = np.zeros(num_points, dtype=np.int64)
    factors = np.empty((num_points, batch_size, num_factors), dtype=np.int64)
    for s in range(num_points):
        labels[s] = random_state.randint(num_factors)
        factors[s] = data.sample_factors(batch_size, random_state)
        factors[s, :, labels[s]] = factors[s, 0, labels[s]]
    return labels, factors


def encode_batches(data: GroundTruthData, representation_function: RepresentationFunction,
                   factors: np.ndarray, random_state: np.random.RandomState,
                   encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE) -> np.ndarray:
    """Codes (S, B, d) of batches of factors (S, B, F), encoded together in large batches."""
    num_samples, batch_size, num_factors = factors.shape
    codes = encode_factors(data, representation_function,
                           factors.reshape(num_samples * batch_size, num_factors),
                           random_state, encode_batch_size)
    return np.ascontiguousarray(codes.T).reshape(num_samples, batch_size, -1)


def local_radii(factors_num_values: Sequence[int], locality_proportion: float,
                continuity_cutoff: int, denylist_factors: Sequence[int]) -> np.ndarray:
    """Sampling radius per factor (F,): floor(n_j · p), or 0 for a factor held fixed.

    A factor is held at its centroid value when it has fewer than ``continuity_cutoff`` values
    or is in ``denylist_factors`` (unordered factors such as colour or shape).
    """
    num_factors = len(factors_num_values)
    bad = [j for j in denylist_factors if not 0 <= int(j) < num_factors]
    if bad:
        raise JLoneVAEError(f"denylist_factors {list(denylist_factors)} names factors outside "
                            f"0..{num_factors - 1}")
    if locality_proportion < 0:
        raise JLoneVAEError(f"locality_proportion must be >= 0, got {locality_proportion}")
    denied = {int(j) for j in denylist_factors}
    return np.array([
        int(np.floor(n * locality_proportion)) if n >= continuity_cutoff and j not in denied
        else 0
        for j, n in enumerate(factors_num_values)], dtype=np.int64)


def sample_centroid(factors_num_values: Sequence[int],
                    random_state: np.random.RandomState) -> np.ndarray:
    """A cluster centre (F,): one ``randint(n_j)`` per factor, in factor order."""
    return np.array([random_state.randint(n) for n in factors_num_values], dtype=np.int64)


def sample_local_factors(num_points: int, factors_num_values: Sequence[int],
                         centroid: np.ndarray, radii: np.ndarray,
                         random_state: np.random.RandomState, batch_size: int = 16
                         ) -> np.ndarray:
    """Factors (N, F) uniform on [max(0, c_j − r_j), min(n_j − 1, c_j + r_j)] per factor.

    Drawn chunk by chunk and factor by factor exactly as the paper's reference code does, so a
    seed gives the reference's factors.
    """
    maxima = np.asarray(factors_num_values, dtype=np.int64) - 1
    lows = [int(v) for v in np.maximum(0, centroid - radii)]
    highs = [int(v) + 1 for v in np.minimum(maxima, centroid + radii)]
    factors = np.empty((num_points, len(lows)), dtype=np.int64)
    for start in range(0, num_points, batch_size):
        chunk = min(batch_size, num_points - start)
        for j, (low, high) in enumerate(zip(lows, highs, strict=True)):
            factors[start:start + chunk, j] = random_state.randint(low, high, size=chunk,
                                                                   dtype=np.int32)
    return factors


def local_codes(data: GroundTruthData, representation_function: RepresentationFunction,
                num_points: int, num_clusters: int, radii: np.ndarray,
                random_state: np.random.RandomState, batch_size: int = 16,
                encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE) -> list[Cluster]:
    """``num_clusters`` local clusters of N points each: codes (d, N), factors (F, N) per cluster.

    radii (F,) come from :func:`local_radii`.
    """
    sizes = list(data.factors_num_values)
    clusters = []
    for _ in range(num_clusters):
        centroid = sample_centroid(sizes, random_state)
        factors = sample_local_factors(num_points, sizes, centroid, radii, random_state,
                                       batch_size)
        codes = encode_factors(data, representation_function, factors, random_state,
                               encode_batch_size)
        clusters.append(Cluster(codes=codes, factors=factors.T))
    return clusters


def _state_fingerprint(random_state: np.random.RandomState) -> str:
    name, keys, pos, has_gauss, cached_gaussian = random_state.get_state()
    digest = hashlib.sha256(np.ascontiguousarray(keys).tobytes())
    digest.update(repr((name, pos, has_gauss, cached_gaussian)).encode())
    return digest.hexdigest()


def _nbytes(value: object) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, list | tuple):
        return sum(_nbytes(v) for v in value)
    return 0


class DrawCache:
    """Remembers draws so that metrics sharing a draw (same seed and settings) sample it once.

    A draw is keyed by the caller's settings and the random state's exact state before the
    draw; a hit returns the stored draw and moves the random state to where the draw left it,
    so the caller cannot tell a hit from a fresh draw. Oldest entries are dropped beyond
    ``max_bytes``. A cache belongs to one representation: create one per model.
    """

    def __init__(self, max_bytes: int = 1 << 30) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple, tuple[object, tuple, int]] = OrderedDict()
        self.hits = 0

    def __len__(self) -> int:
        return len(self._entries)

    def draw(self, key: Hashable, random_state: np.random.RandomState,
             make: Callable[[], T]) -> T:
        """Return ``make()``, or the stored result of an earlier identical draw."""
        full_key = (key, _state_fingerprint(random_state))
        if full_key in self._entries:
            value, end_state, _ = self._entries[full_key]
            self._entries.move_to_end(full_key)
            random_state.set_state(end_state)
            self.hits += 1
            return value  # type: ignore[return-value]
        value = make()
        self._entries[full_key] = (value, random_state.get_state(), _nbytes(value))
        while (len(self._entries) > 1
               and sum(size for _, _, size in self._entries.values()) > self.max_bytes):
            self._entries.popitem(last=False)
        return value
