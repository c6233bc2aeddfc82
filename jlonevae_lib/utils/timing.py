"""Wall-clock timing of repeated calls, for the benchmarks.

The benchmarks run on shared machines: each reports ratios against a reference run in the same
process, and summarises repeats with a statistic that other processes' noise barely moves.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType

from jlonevae_lib.utils.allocator import tune_glibc_malloc
from jlonevae_lib.utils.threads import limit_openmp_spinning


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


def tune_benchmark_process(environ: Mapping[str, str]) -> bool:
    """Set a benchmark process up as the training CLI sets itself up: glibc malloc tuned and
    OpenMP's spin-waiting limited, each unless ``JLONEVAE_MALLOC_TUNING=0`` /
    ``JLONEVAE_OMP_TUNING=0`` in ``environ`` (the script's environment) asks to measure
    without. Call it before importing torch. Returns whether malloc was tuned (the scripts
    print it)."""
    malloc_tuned = environ.get("JLONEVAE_MALLOC_TUNING", "1") != "0" and tune_glibc_malloc()
    if environ.get("JLONEVAE_OMP_TUNING", "1") != "0":
        limit_openmp_spinning()
    return malloc_tuned


def load_sibling(name: str, beside: str) -> ModuleType:
    """The module ``<name>.py`` in the folder of the file ``beside`` (benchmarks/ is not a
    package, so one script reaches another's helpers this way), loaded once per process and
    registered in ``sys.modules`` (dataclasses look their module up there)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(beside).resolve().parent /
                                                  f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else ``platform.processor()``, else "unknown"."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_flags(names: Sequence[str]) -> dict[str, bool] | None:
    """Whether the CPU has each of ``names`` (/proc/cpuinfo's flags); None without them."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            flags = next((line.split(":", 1)[1].split() for line in info
                          if line.startswith("flags")), None)
    except OSError:
        return None
    return None if flags is None else {name: name in flags for name in names}


def present_cpu_flags(names: Sequence[str]) -> list[str]:
    """Those of ``names`` the CPU has, in the order given; empty without /proc/cpuinfo."""
    return [name for name, present in (cpu_flags(names) or {}).items() if present]


@contextlib.contextmanager
def environ_default(name: str, value: str) -> Iterator[str]:
    """The environment variable ``name`` while it lasts: the user's value where set and not
    empty (a benchmark then reuses the user's data cache), else ``value``, put back as it was
    at the end. Yields the value in force."""
    user_value = os.environ.get(name)
    if user_value:
        yield user_value
        return
    os.environ[name] = value
    try:
        yield value
    finally:
        if user_value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = user_value
