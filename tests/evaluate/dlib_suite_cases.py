"""Hand-made representations of :class:`~tests.evaluate.helpers.IdentityData` factors for the
tests of disentanglement_lib's metric suite: their scores are known in advance or their edge
cases are the ones disentanglement_lib fails on.

Every representation works row by row (no matrix product across a batch), so codes do not depend
on how many observations are encoded together: disentanglement_lib's batches of 16 or 64 and
ours give the same numbers bit for bit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TypeVar

import gin
import numpy as np
from threadpoolctl import threadpool_limits

from jlonevae_lib.evaluate.sampling import RepresentationFunction
from tests.evaluate import dlib_oracle

T = TypeVar("T")

#: Few values per factor, so that the classifiers stay fast.
SIZES = (5, 4, 6, 3)


def _factors(observations: np.ndarray) -> np.ndarray:
    return observations.reshape(len(observations), -1).astype(np.float64)


def identity(observations: np.ndarray) -> np.ndarray:
    """Perfectly disentangled: code j is factor j."""
    return _factors(observations)


def rotated(observations: np.ndarray) -> np.ndarray:
    """Factors 0 and 1 rotated by 45°: each of the two codes carries both."""
    x = _factors(observations)
    c = np.sqrt(0.5)
    return np.stack([c * (x[:, 0] - x[:, 1]), c * (x[:, 0] + x[:, 1]), x[:, 2], x[:, 3]],
                    axis=1)


def collapsed(observations: np.ndarray) -> np.ndarray:
    """Identity plus a code collapsed to a constant (a dimension at the prior's mean)."""
    x = _factors(observations)
    return np.hstack([x, np.full((len(x), 1), 0.25)])


def duplicated(observations: np.ndarray) -> np.ndarray:
    """Identity plus a second copy of factor 0's code."""
    x = _factors(observations)
    return np.hstack([x, x[:, :1]])


def mixed(observations: np.ndarray) -> np.ndarray:
    """A fixed nonlinear, entangled mix of the factors into five codes plus a little noise
    that depends only on the observation (deterministic)."""
    x = _factors(observations)
    weights = np.random.RandomState(0).randn(x.shape[1], 5)
    codes = np.tanh(x[:, :, np.newaxis] / 3.0 * weights[np.newaxis]).sum(axis=1)
    return codes + 0.05 * np.sin(7.0 * x.sum(axis=1, keepdims=True) + np.arange(5))


REPRESENTATIONS: dict[str, RepresentationFunction] = {
    "identity": identity, "rotated": rotated, "collapsed": collapsed, "duplicated": duplicated,
    "mixed": mixed}


def _dlib_binding(binding: str) -> str:
    """``a.b = @c`` -> ``dlib.a.b = @dlib.c``: the same binding for disentanglement_lib's names."""
    key, value = binding.split("=", 1)
    value = value.strip()
    if value.startswith("@"):
        value = f"@dlib.{value[1:]}"
    return f"dlib.{key.strip()} = {value}"


@contextlib.contextmanager
def bound(*bindings: str) -> Iterator[None]:
    """The bindings for our configurables and, prefixed, for disentanglement_lib's."""
    dlib_oracle.load()
    gin.clear_config()
    gin.parse_config([*bindings, *(_dlib_binding(b) for b in bindings)])
    try:
        yield
    finally:
        gin.clear_config()


def seeded(fn: Callable[[], T], seed: int = 0) -> T:
    """``fn()`` with NumPy's global random state seeded (scikit-learn's boosted trees and SVMs
    draw from it), then put back as it was; BLAS on one thread, as our fits run (with more,
    disentanglement_lib's logistic regressions only take longer)."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            return fn()
    finally:
        np.random.set_state(saved)
