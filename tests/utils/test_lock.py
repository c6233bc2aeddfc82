import json
import os
import socket
import subprocess
import sys

import pytest

from jlonevae_lib.utils.lock import FolderLock, LockedError


def test_second_holder_is_refused_while_first_lives(tmp_path):
    with FolderLock(tmp_path, "training"):
        with pytest.raises(LockedError, match="in training by process"):
            FolderLock(tmp_path).acquire()
    FolderLock(tmp_path).acquire()  # free again after release


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    (tmp_path / ".lock").write_text(json.dumps(
        {"host": socket.gethostname(), "pid": int(dead.stdout), "purpose": "training"}))
    with FolderLock(tmp_path):
        owner = json.loads((tmp_path / ".lock").read_text())
        assert owner["pid"] == os.getpid()


def test_half_written_lock_counts_as_stale(tmp_path):
    (tmp_path / ".lock").write_text('{"host": ')
    with FolderLock(tmp_path):
        pass
    assert not (tmp_path / ".lock").exists()
