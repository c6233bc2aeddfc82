"""The plain-data unpickler: plain data in every protocol, nothing else, clear errors."""

from __future__ import annotations

import builtins
import collections
import os
import pickle

import pytest

from jlonevae_lib.utils.errors import DataFileError, UnsafePickleError
from jlonevae_lib.utils.safe_pickle import safe_load_pickle, safe_loads

PLAIN = {
    "latent_dim": 10,
    "channels": [32, 32, 64],
    "nested": {"t": (1, 2.5, None), "flags": [True, False], "s": {1, 2}, "f": frozenset({3})},
    "text": "ünïcode",
    "raw": b"\x00\xff",
    "big": 2**100,
    -1: -0.0,
}


class Opens:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return builtins.open, (self.path, "w")


class Shell:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return os.system, (f"touch {self.path}",)


class Evaluates:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return eval, (f"open({self.path!r}, 'w')",)


class Plain:
    pass


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_plain_data_round_trips_in_every_protocol(protocol):
    data = PLAIN if protocol >= 3 else {k: v for k, v in PLAIN.items() if k != "raw"}
    assert safe_loads(pickle.dumps(data, protocol=protocol)) == data


@pytest.mark.parametrize("payload", [Opens, Shell, Evaluates])
@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_code_running_pickles_are_refused_before_running(tmp_path, payload, protocol):
    marker = tmp_path / "marker"
    path = tmp_path / "args.p"
    path.write_bytes(pickle.dumps({"ok": [1], "bad": payload(marker)}, protocol=protocol))
    with pytest.raises(UnsafePickleError, match=r"args\.p asks to load '.*', which is not plain"):
        safe_load_pickle(path)
    assert not marker.exists()


@pytest.mark.parametrize("obj,name", [
    (collections.OrderedDict(a=1), "collections.OrderedDict"),
    (Plain(), "Plain"),
    (complex(1, 2), "builtins.complex"),
])
def test_objects_other_than_plain_data_are_refused(obj, name):
    with pytest.raises(UnsafePickleError, match=name):
        safe_loads(pickle.dumps(obj))


def test_objects_built_without_a_global_are_checked_too():
    # Protocol 5 builds a bytearray with its own opcode, without naming a global.
    data = pickle.dumps({"x": bytearray(b"ab")}, protocol=5)
    with pytest.raises(UnsafePickleError, match="holds a bytearray"):
        safe_loads(data)


def test_deep_nesting_does_not_exhaust_the_stack():
    depth = 100_000
    # EMPTY_LIST pushed `depth` times, then APPEND folds each into the one below it.
    data = b"\x80\x04" + b"]" * depth + b"a" * (depth - 1) + b"."
    obj = safe_loads(data)
    assert isinstance(obj, list) and len(obj) == 1


@pytest.mark.parametrize("data", [b"", b"\x80\x04]", b"garbage that is not a pickle"])
def test_damaged_data_is_a_data_file_error(data):
    with pytest.raises(DataFileError, match="not a readable pickle.*truncated or corrupt"):
        safe_loads(data, source="args.p")


def test_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="does not exist"):
        safe_load_pickle(tmp_path / "missing.p")


def test_unreadable_path_is_a_data_file_error(tmp_path):
    with pytest.raises(DataFileError, match="cannot read"):
        safe_load_pickle(tmp_path)  # a folder
