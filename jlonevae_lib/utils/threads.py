"""OpenMP waiting for processes that share a few CPU cores with other processes.

PyTorch's CPU kernels run on OpenMP (GNU libgomp in the Linux wheels). At the end of every
parallel region libgomp's threads spin-wait (``GOMP_SPINCOUNT``, 300,000 iterations by
default) before they sleep. When other processes keep the cores busy, a spinning thread burns
the time slice that the thread it waits for needs. Measured on the 2-core development machine
(defaultConv, batch 64, 2 threads, median ms per FD / plain training step, ranges over
repeated runs; "busy" cores run other processes):

    other load          libgomp default         GOMP_SPINCOUNT=2000    OMP_WAIT_POLICY=PASSIVE
    idle                308-374 / 41-55         309-375 / 46-58        327-361 / 54-61
    1 core busy         1050-2140 / 240-1200    650-710 / 108-117      613-654 / 88-102
    ~1.4 cores busy     2890-5960 / 1370-3390   1020-1220 / 176-210    1015-1030 / 174-186

Spin counts of 10,000 and 50,000 gave 760 / 150 and 940-990 / 230-280 with one core busy.
A short spin (:data:`DEFAULT_SPIN_COUNT`) keeps nearly all of PASSIVE's robustness; on an idle
machine it costs up to ~10% of an FD step (benchmark pairs in one sitting: +7%, +11%), less
than PASSIVE. It changes when threads sleep, never what they compute.
"""

from __future__ import annotations

import os
import sys

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
