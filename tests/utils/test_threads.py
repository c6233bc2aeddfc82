"""OpenMP spin limiting: set before torch loads libgomp, never over the user's own settings.

Environment and libgomp are process-wide, so each case runs in a fresh interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from jlonevae_lib.utils.threads import (
    DEFAULT_SPIN_COUNT,
    limit_openmp_spinning,
    thread_count_of,
    usable_cpus,
)

PROBE = ("import os, sys; {before}from jlonevae_lib.utils.threads import limit_openmp_spinning; "
         "print(limit_openmp_spinning(), os.environ.get('GOMP_SPINCOUNT'))")


def probe(before: str = "", **env: str) -> str:
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    environment.update(env)
    result = subprocess.run([sys.executable, "-c", PROBE.format(before=before)], env=environment,
                            capture_output=True, text=True, check=True, timeout=120)
    return result.stdout.strip()


def test_sets_the_spin_count_before_torch_is_imported():
    assert probe() == f"True {DEFAULT_SPIN_COUNT}"


def test_leaves_the_users_settings_alone():
    assert probe(GOMP_SPINCOUNT="123") == "False 123"
    assert probe(OMP_WAIT_POLICY="PASSIVE") == "False None"


def test_too_late_once_torch_is_imported():
    assert probe(before="import torch; ") == "False None"


def test_training_cli_limits_spinning():
    result = subprocess.run(
        [sys.executable, "-c", "import os, jlonevae_lib.cli.train; "
                               "print(os.environ.get('GOMP_SPINCOUNT'))"],
        env={k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT",
                                                             "OMP_WAIT_POLICY")},
        capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.strip() == str(DEFAULT_SPIN_COUNT)


def test_negative_spin_count_refused():
    with pytest.raises(ValueError, match=">= 0"):
        limit_openmp_spinning(-1)


def test_with_thread_count_sets_openmp_and_mkl_and_keeps_the_rest():
    from jlonevae_lib.utils.threads import with_thread_count

    base = {"PATH": "/bin", "OMP_NUM_THREADS": "8"}
    assert with_thread_count(base, 2) == {"PATH": "/bin", "OMP_NUM_THREADS": "2",
                                          "MKL_NUM_THREADS": "2"}
    assert base["OMP_NUM_THREADS"] == "8"  # a new mapping; the caller's is untouched


@pytest.mark.parametrize(("value", "expected"), [
    ("3", 3), (" 2 ", 2), ("0", None), ("-1", None), ("two", None), ("", None)])
def test_the_thread_count_an_environment_asks_for(value, expected):
    assert thread_count_of({"OMP_NUM_THREADS": value}) == expected
    assert thread_count_of({}) is None


def test_usable_cpus_is_the_affinity(monkeypatch):
    assert 1 <= usable_cpus() <= (os.cpu_count() or 1)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert usable_cpus() == 3
