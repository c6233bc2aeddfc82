"""glibc malloc tuning for training processes.

With glibc's defaults every block above the (dynamic) mmap threshold, at most 32 MB, gets its
own ``mmap`` and is unmapped again on ``free``. A Jacobian training step allocates and frees
several such blocks (the (d+1)·B-row decoder activations), so each step paid for fresh pages
from the kernel, in system time that rivals the step itself (benchmarks/README.md).
Disabling mmap'ed blocks and raising the trim threshold keeps freed memory in the heap for the
next step.

Call :func:`tune_glibc_malloc` at process start, before torch allocates large tensors (blocks
already mmap'ed stay so). It changes only how memory is obtained, never results.

:func:`glibc_default_malloc` runs a block of code under glibc's default behaviour again, so
that a benchmark can time the reference implementation as it ran (untuned) in the same process
as tuned code.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

# mallopt parameter numbers from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4

# glibc's defaults on 64-bit (malloc/malloc.c): at most 65,536 mmap'ed blocks, and a dynamic
# mmap threshold that starts at 128 KiB and rises with each freed mmap'ed block up to
# DEFAULT_MMAP_THRESHOLD_MAX = 32 MiB, the trim threshold following at twice the mmap one.
_GLIBC_DEFAULT_MMAP_MAX = 65536
_GLIBC_MMAP_THRESHOLD_MAX = 32 << 20

#: Heap space above this size is returned to the kernel; 1 GiB keeps a training step's
#: working set (a few hundred MB for defaultConv at batch 64) resident between steps.
DEFAULT_TRIM_THRESHOLD_BYTES = 1 << 30


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (glibc >= 2.33); ``arena`` is the main heap's size."""

    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


@cache
def _glibc() -> ctypes.CDLL | None:
    """The C library with ``mallopt``, ``malloc`` and ``free`` typed, or None off glibc."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    try:
        libc = ctypes.CDLL(libc_name)
    except OSError:
        return None
    # Only glibc has this symbol; musl and macOS's libc have different malloc tunables.
    if not (hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt")):
        return None
    libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    libc.malloc.argtypes, libc.malloc.restype = [ctypes.c_size_t], ctypes.c_void_p
    libc.free.argtypes, libc.free.restype = [ctypes.c_void_p], None
    if hasattr(libc, "mallinfo2"):
        libc.mallinfo2.argtypes, libc.mallinfo2.restype = [], _MallInfo2
    if hasattr(libc, "malloc_trim"):
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    return libc


def _mallopt_all(settings: tuple[tuple[int, int], ...]) -> bool:
    libc = _glibc()
    # mallopt returns 1 on success.
    return libc is not None and all(libc.mallopt(param, value) == 1 for param, value in settings)


def _check_trim_threshold(trim_threshold_bytes: int) -> None:
    if not 0 <= trim_threshold_bytes < 2**31:
        raise ValueError(f"trim_threshold_bytes must fit a C int, got {trim_threshold_bytes}")


def tune_glibc_malloc(trim_threshold_bytes: int = DEFAULT_TRIM_THRESHOLD_BYTES) -> bool:
    """Stop glibc from mmap'ing/unmapping large blocks; True if applied, False off glibc."""
    _check_trim_threshold(trim_threshold_bytes)
    return _mallopt_all(((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, trim_threshold_bytes)))


def _untune_glibc_malloc() -> bool:
    """Undo :func:`tune_glibc_malloc`: glibc's default behaviour once warmed up; True if applied.

    glibc's dynamic mmap threshold cannot be re-enabled, so this sets the value it rises to:
    blocks over 32 MiB get their own mmap (and are unmapped on free), heap space over 64 MiB
    is trimmed. A process that never called mallopt mmaps from a lower threshold at first,
    so this is, if anything, kinder to allocation-heavy code than the real defaults.
    """
    return _mallopt_all(((_M_MMAP_MAX, _GLIBC_DEFAULT_MMAP_MAX),
                         (_M_MMAP_THRESHOLD, _GLIBC_MMAP_THRESHOLD_MAX),
                         (_M_TRIM_THRESHOLD, 2 * _GLIBC_MMAP_THRESHOLD_MAX)))


def main_heap_bytes() -> int | None:
    """Size of glibc's main heap (``mallinfo2().arena``), or None off glibc < 2.33."""
    libc = _glibc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return None
    return int(libc.mallinfo2().arena)


def _regrow_main_heap(size: int) -> None:
    """Grow the (tuned, untrimmed) main heap back to ``size`` bytes of resident pages."""
    libc = _glibc()
    current = main_heap_bytes()
    if libc is None or current is None or size <= current:
        return
    # The heap's free top is too small for this block, so the heap grows by about its size.
    missing = size - current
    block = libc.malloc(missing)
    if block:
        # Touching every page makes the kernel back it now; freed, it stays in the heap.
        ctypes.memset(block, 0, missing)
        libc.free(block)


@contextmanager
def glibc_default_malloc(trim_threshold_bytes: int = DEFAULT_TRIM_THRESHOLD_BYTES
                         ) -> Iterator[bool]:
    """Run the block under glibc's default malloc behaviour, then tune again.

    For benchmarks that interleave the reference implementation as it ran with tuned code in
    one process. On entry the heap's free pages are returned to the kernel (``malloc_trim``),
    so the block starts as an always-untuned process would; on exit the main heap is grown back
    to its size at entry (one block, touched and freed), so that tuned code after the block
    does not pay the page faults. Both happen outside the block, i.e. outside a timer inside
    it. Yields whether the default behaviour is in force; off glibc nothing changes and it
    yields False.
    """
    _check_trim_threshold(trim_threshold_bytes)  # now, not when re-tuning after the block
    libc, heap_at_entry = _glibc(), main_heap_bytes()
    applied = _untune_glibc_malloc()
    if applied and hasattr(libc, "malloc_trim"):
        # Give the tuned heap's free pages back now, before the block (and its caller's timer)
        # starts, as a process that had always run untuned would not hold them.
        libc.malloc_trim(0)
    try:
        yield applied
    finally:
        if applied:
            tune_glibc_malloc(trim_threshold_bytes)
            if heap_at_entry is not None and heap_at_entry < trim_threshold_bytes:
                _regrow_main_heap(heap_at_entry)
