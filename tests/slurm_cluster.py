"""A real one-node Slurm cluster for the tests that need one.

It comes from ``../shared/slurm/start-local-slurm.sh`` (installs slurm-wlm and munge with apt
when missing, so it needs root). Without that script (a checkout with no ``shared/`` beside it)
a test using it is skipped; where the script exists but the cluster cannot start, the test is
skipped too, except under CI (``CI=true``), where that is a failure. The daemons are stopped
when the ``with`` block ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SLURM_SCRIPTS = Path(__file__).resolve().parents[2] / "shared" / "slurm"


def unavailable(reason: str) -> None:
    """Skip the test (fail it under CI, which must have the cluster)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs the local Slurm cluster: {reason}")
    pytest.skip(reason)


@contextmanager
def local_slurm(state: Path | None, *flags: str) -> Iterator[Path]:
    """Start the cluster with its state in ``state`` and ``flags`` (``--accounting``: ``sacct``
    answers, which submitit needs; ``--fast-requeue``: a requeued job restarts after ~20 s
    rather than ~2 min); yields its ``slurm.conf`` (the clients' ``SLURM_CONF``).

    ``state`` None: a new folder under /tmp, removed afterwards. ``--accounting`` needs that
    (or another folder every user can reach): MariaDB runs as its own user and writes its PID
    file there, and pytest's temporary folders are private to their owner.
    """
    if state is None:
        made = Path(tempfile.mkdtemp(prefix="jlonevae-slurm-", dir="/tmp"))
        made.chmod(0o755)
        try:
            with local_slurm(made, *flags) as conf:
                yield conf
        finally:
            shutil.rmtree(made, ignore_errors=True)
        return
    start = SLURM_SCRIPTS / "start-local-slurm.sh"
    if not start.exists():
        pytest.skip(f"{start} not found")
    if os.geteuid() != 0:
        unavailable("starting the local Slurm cluster needs root")
    started = subprocess.run(["bash", str(start), str(state), *flags], capture_output=True,
                             text=True, timeout=600)
    try:
        if started.returncode != 0:
            unavailable(f"start-local-slurm.sh failed: {started.stderr[-2000:]}")
        yield state / "slurm.conf"
    finally:
        subprocess.run(["bash", str(SLURM_SCRIPTS / "stop-local-slurm.sh"), str(state)],
                       capture_output=True, timeout=120)
