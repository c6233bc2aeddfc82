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
