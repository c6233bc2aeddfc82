"""glibc malloc tuning: applied on glibc, harmless elsewhere, in a child process.

mallopt settings are process-wide, so the call runs in a fresh interpreter, not in pytest's.
"""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from jlonevae_lib.utils.allocator import tune_glibc_malloc


def test_tuning_applies_on_glibc():
    result = subprocess.run(
        [sys.executable, "-c",
         "from jlonevae_lib.utils.allocator import tune_glibc_malloc; print(tune_glibc_malloc())"],
        capture_output=True, text=True, check=True, timeout=60)
    expected = platform.libc_ver()[0] == "glibc"
    assert result.stdout.strip() == str(expected)


@pytest.mark.parametrize("threshold", [-1, 2**31])
def test_threshold_must_fit_a_c_int(threshold):
    with pytest.raises(ValueError, match="must fit a C int"):
        tune_glibc_malloc(threshold)


GLIBC_ONLY = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")

# Page faults of a 48 MiB block malloc'ed, touched and freed (after one untimed round): zero
# when the heap keeps the pages, ~12k (one per 4 KiB page) when the block is mmap'ed anew.
_SWITCH_SCRIPT = """
import ctypes, ctypes.util, json, resource
from jlonevae_lib.utils.allocator import glibc_default_malloc, main_heap_bytes, tune_glibc_malloc
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

def cycle(size):
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)

def faults_per_block(size=48 << 20):
    cycle(size)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(3):
        cycle(size)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 3

out = {"applied": tune_glibc_malloc()}
cycle(200 << 20)  # a tuned heap of 200 MiB, as a training step leaves
out["tuned"], out["heap_before"] = faults_per_block(), main_heap_bytes()
with glibc_default_malloc() as untuned:
    cycle(1 << 20)  # a free into the top of the heap trims it, as under glibc's defaults
    out["untuned"], out["inside"] = faults_per_block(), untuned
out["after"], out["heap_after"] = faults_per_block(), main_heap_bytes()
print(json.dumps(out))
"""


@GLIBC_ONLY
def test_default_malloc_block_pays_page_faults_and_leaves_the_heap_tuned():
    import json

    result = subprocess.run([sys.executable, "-c", _SWITCH_SCRIPT], capture_output=True,
                            text=True, check=True, timeout=120)
    out = json.loads(result.stdout)
    assert out["applied"] and out["inside"]
    assert out["tuned"] < 100 and out["after"] < 100, out
    assert out["untuned"] > 5000, out  # each 48 MiB block mmap'ed and unmapped again
    assert out["heap_after"] >= 0.9 * out["heap_before"], out
