"""Threads of the processes that share a few CPU cores: how many each gets, and how its OpenMP
threads wait.

PyTorch's CPU kernels run on OpenMP (GNU libgomp in the Linux wheels). At the end of every
parallel region libgomp's threads spin-wait (``GOMP_SPINCOUNT``, 300,000 iterations by
default) before they sleep. When other processes keep the cores busy, a spinning thread burns
the time slice that the thread it waits for needs, and a training step slows down several
times over. Sleeping at once (``OMP_WAIT_POLICY=PASSIVE``) avoids that but costs time on an
idle machine, where spinning is what keeps threads ready. A short spin
(:data:`DEFAULT_SPIN_COUNT`) keeps nearly all of PASSIVE's robustness under contention and
costs less than PASSIVE when the machine is idle (measurements: benchmarks/README.md). It
changes when threads sleep, never what they compute.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

#: The variables that set a child process's thread count: OpenMP's (torch's CPU kernels) and
#: MKL's (its BLAS), which otherwise each take every core.
THREAD_COUNT_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def thread_count_of(environ: Mapping[str, str]) -> int | None:
    """The thread count an environment asks for (``OMP_NUM_THREADS``, a positive integer);
    None where it asks for none."""
    text = environ.get(THREAD_COUNT_VARIABLES[0], "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity on Linux, else all of them), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def with_thread_count(base: Mapping[str, str], threads: int) -> dict[str, str]:
    """``base`` (an environment) with ``threads`` threads for a child process's kernels."""
    return {**base, **dict.fromkeys(THREAD_COUNT_VARIABLES, str(threads))}


#: Spin iterations before an idle OpenMP thread sleeps (libgomp's default is 300,000).
DEFAULT_SPIN_COUNT = 2000

_USER_SETTINGS = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")


def limit_openmp_spinning(spin_count: int = DEFAULT_SPIN_COUNT) -> bool:
    """Set ``GOMP_SPINCOUNT`` for this process (and its children); True if set now.

    Leaves things alone (False) when the user has set ``GOMP_SPINCOUNT`` or
    ``OMP_WAIT_POLICY``, or when torch is already imported: libgomp reads its settings once,
    when torch loads it, so call this at process start, before importing torch.
    """
    if spin_count < 0:
        raise ValueError(f"spin_count must be >= 0, got {spin_count}")
    if any(name in os.environ for name in _USER_SETTINGS) or "torch" in sys.modules:
        return False
    os.environ["GOMP_SPINCOUNT"] = str(spin_count)
    return True
