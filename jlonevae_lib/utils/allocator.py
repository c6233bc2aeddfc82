"""glibc malloc tuning for training processes.

With glibc's defaults every block above the (dynamic) mmap threshold, at most 32 MB, gets its
own ``mmap`` and is unmapped again on ``free``. A Jacobian training step allocates and frees
several such blocks (the (d+1)·B-row decoder activations), so each step paid for fresh pages
from the kernel: about 0.6 s of system time per step on a 2-core machine. Disabling mmap'ed
blocks and raising the trim threshold keeps freed memory in the heap for the next step.

Call :func:`tune_glibc_malloc` at process start, before torch allocates large tensors (blocks
already mmap'ed stay so). It changes only how memory is obtained, never results.
"""

from __future__ import annotations

import ctypes
import ctypes.util

# mallopt parameter numbers from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4

#: Heap space above this size is returned to the kernel; 1 GiB keeps a training step's
#: working set (a few hundred MB for defaultConv at batch 64) resident between steps.
DEFAULT_TRIM_THRESHOLD_BYTES = 1 << 30


def tune_glibc_malloc(trim_threshold_bytes: int = DEFAULT_TRIM_THRESHOLD_BYTES) -> bool:
    """Stop glibc from mmap'ing/unmapping large blocks; True if applied, False off glibc."""
    if not 0 <= trim_threshold_bytes < 2**31:
        raise ValueError(f"trim_threshold_bytes must fit a C int, got {trim_threshold_bytes}")
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    try:
        libc = ctypes.CDLL(libc_name)
    except OSError:
        return False
    # Only glibc has this symbol; musl and macOS's libc have different malloc tunables.
    if not (hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt")):
        return False
    mallopt = libc.mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success.
    return bool(mallopt(_M_MMAP_MAX, 0) == 1
                and mallopt(_M_TRIM_THRESHOLD, trim_threshold_bytes) == 1)
