"""Wall-clock timing of repeated calls, for the benchmarks.

The benchmarks run on shared machines: each reports ratios against a reference run in the same
process, and summarises repeats with a statistic that other processes' noise barely moves.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def call_seconds(fn: Callable[[], object], repeats: int) -> list[float]:
    """The duration in seconds of each of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Fastest of ``repeats`` calls, in seconds: other processes only ever add time."""
    return min(call_seconds(fn, repeats))


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median of ``repeats`` calls, in seconds: for calls whose own time varies (training
    steps draw different batches), where the minimum would flatter."""
    return statistics.median(call_seconds(fn, repeats))
