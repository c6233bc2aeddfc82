import json
import os
import time

import pytest

from jlonevae_lib.utils.atomic import (
    STALE_AFTER_SECONDS,
    WriteError,
    atomic_path,
    atomic_write,
    atomic_write_json,
    remove_temporaries,
)


def test_atomic_json_writes_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "sub" / "result.json"
    atomic_write_json(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]


def test_crash_mid_write_keeps_previous_file(tmp_path):
    target = tmp_path / "result.json"
    atomic_write_json(target, {"version": 1})

    def crash(f):
        f.write(b'{"version": 2, "trunc')
        raise OSError("disk full")

    with pytest.raises(WriteError, match="disk full; the previous version is intact"):
        atomic_write(target, crash)
    assert json.loads(target.read_text()) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_atomic_path_keeps_suffix_for_format_sniffing_writers(tmp_path):
    with atomic_path(tmp_path / "x.npz", suffix=".npz") as tmp:
        assert tmp.suffix == ".npz"  # np.savez would append ".npz" otherwise
        tmp.write_bytes(b"data")
    assert (tmp_path / "x.npz").read_bytes() == b"data"


def test_remove_temporaries_deletes_only_old_leftovers_of_that_file(tmp_path):
    target = tmp_path / "cache.npz"
    old = tmp_path / ".cache.npz.abc123.tmp.npz"
    fresh = tmp_path / ".cache.npz.def456.tmp.npz"
    other = tmp_path / ".other.npz.abc123.tmp.npz"
    for path in (old, fresh, other, target):
        path.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    for path in (old, other):
        os.utime(path, (two_hours_ago, two_hours_ago))

    assert remove_temporaries(target, suffix=".npz", older_than=3600) == [old]
    assert fresh.exists() and other.exists() and target.exists()
    assert remove_temporaries(target, suffix=".npz") == [fresh]
    assert target.exists() and other.exists()


def test_a_write_deletes_its_targets_stale_leftovers_and_names_match(tmp_path):
    target = tmp_path / "patches.npz"
    stale = tmp_path / ".patches.npz.old111.tmp.npz"
    fresh = tmp_path / ".patches.npz.new222.tmp.npz"
    for path in (stale, fresh):
        path.write_bytes(b"x")
    long_ago = time.time() - STALE_AFTER_SECONDS - 1
    os.utime(stale, (long_ago, long_ago))
    with atomic_path(target, suffix=".npz") as tmp:
        # The live temporary is named as remove_temporaries looks for them.
        assert tmp in set(tmp_path.glob(".patches.npz.*.tmp.npz"))
        tmp.write_bytes(b"data")
    assert not stale.exists() and fresh.exists()  # a fresh one may belong to a live writer
    assert target.read_bytes() == b"data"


def test_a_folder_in_the_way_is_named_as_such(tmp_path):
    (tmp_path / "fig.pdf").mkdir()
    with pytest.raises(WriteError, match="a folder has that name; give another path"):
        atomic_write(tmp_path / "fig.pdf", lambda f: f.write(b"%PDF"))
