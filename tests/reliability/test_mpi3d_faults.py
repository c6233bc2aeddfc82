"""Bad MPI3D files, injected for real: each is refused (archive) or rebuilt (our .npy) with one
readable message naming the file and the fix; a killed conversion is never read as valid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from jlonevae_lib.data.mpi3d import Mpi3dMulti, Mpi3dReal
from jlonevae_lib.data.mpi3d_conversion import Mpi3dLayout, load_mpi3d_images
from jlonevae_lib.utils.errors import DataFileError
from tests.data.test_mpi3d import (
    SMALL,
    converted_path,
    small_images,
    source_path,
    write_archive,
)
from tests.reliability.conftest import TRAIN, CodePayload, one_line_error, run_cli

LAYOUT = Mpi3dLayout(SMALL)
CONVERT = [sys.executable, "-m", "jlonevae_lib.data.mpi3d"]


def refused(root: Path) -> str:
    """The DataFileError message of a first use of the data under ``root``; no file made."""
    with pytest.raises(DataFileError) as err:
        Mpi3dMulti(root, SMALL).sample_observations(2, np.random.RandomState(0))
    message = str(err.value)
    assert "\n" not in message
    assert not converted_path(root).exists()
    assert [p.name for p in source_path(root).parent.iterdir()
            if p.name.startswith(".")] == []  # no temporary file, no lock left behind
    return message


def assert_archive_refused(root: Path, *fragments: str) -> None:
    message = refused(root)
    assert f"MPI3D archive {source_path(root)}" in message, message
    assert "delete it and download it again" in message and "download_mpi3d_real.sh" in message
    for fragment in fragments:
        assert fragment in message, message


def member_data_offset(archive_path: Path) -> int:
    """File offset of the first byte of the ``images.npy`` member's data (local header parsed)."""
    with zipfile.ZipFile(archive_path) as archive:
        info = archive.getinfo("images.npy")
    with open(archive_path, "rb") as f:
        f.seek(info.header_offset + 26)
        name_len, extra_len = np.frombuffer(f.read(4), dtype="<u2")
    return info.header_offset + 30 + int(name_len) + int(extra_len)


# --------------------------------------------------------------------------- the archive
def test_truncated_archive(tmp_path):
    archive = write_archive(tmp_path)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    assert_archive_refused(tmp_path, "is truncated or corrupt (File is not a zip file)")


@pytest.mark.parametrize("compressed", [False, True], ids=["stored", "deflated"])
def test_corrupted_bytes_fail_the_crc(tmp_path, compressed):
    archive = write_archive(tmp_path, compressed=compressed)
    data = bytearray(archive.read_bytes())
    start = member_data_offset(archive) + 200  # past the .npy header, inside the pixels
    offset = start + (len(data) - start) // 2 if not compressed else start + 300
    data[offset:offset + 8] = bytes(b ^ 0x5A for b in data[offset:offset + 8])
    archive.write_bytes(bytes(data))
    # Stored: zipfile's CRC-32 check at the member's end; deflated: zlib's own checks or the CRC.
    assert_archive_refused(tmp_path, "is truncated or corrupt (", *(
        [] if compressed else ["Bad CRC-32 for file 'images.npy'"]))


def test_archive_without_an_images_array(tmp_path):
    write_archive(tmp_path, imgs=small_images(), factors=np.zeros((3, 7)))
    assert_archive_refused(tmp_path, "has no array 'images'", "factors, imgs")


def test_archive_of_the_wrong_shape(tmp_path):
    write_archive(tmp_path, images=small_images()[:-1])
    assert_archive_refused(tmp_path, "shape (287, 64, 64, 3)", "expected uint8 (288, 64, 64, 3)")


def test_archive_of_the_wrong_dtype(tmp_path):
    write_archive(tmp_path, images=small_images().astype(np.float32) / 255)
    assert_archive_refused(tmp_path, "dtype float32", "expected uint8")


def test_archive_holding_a_pickle_is_refused_unread(tmp_path):
    marker = tmp_path / "payload-ran"
    payload = np.array([CodePayload(marker)], dtype=object)
    path = source_path(tmp_path)
    path.parent.mkdir(parents=True)
    with zipfile.ZipFile(path, "w") as archive, archive.open("images.npy", "w") as member:
        np.lib.format.write_array(member, payload, allow_pickle=True)
    assert_archive_refused(tmp_path, "Python objects")
    assert not marker.exists()


# --------------------------------------------------------------------------- our .npy
def corrupt_truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def corrupt_wrong_shape(path: Path) -> None:
    np.save(path, small_images()[:10])


def corrupt_garbage(path: Path) -> None:
    path.write_bytes(b"not an npy file at all" * 100)


CORRUPTIONS = {"truncated": (corrupt_truncated, "truncated or corrupt"),
               "wrong-shape": (corrupt_wrong_shape, "shape (10, 64, 64, 3)"),
               "garbage": (corrupt_garbage, "no valid .npy header")}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_bad_converted_file_is_rebuilt_from_the_archive(tmp_path, corruption):
    corrupt, problem = CORRUPTIONS[corruption]
    write_archive(tmp_path)
    load_mpi3d_images(tmp_path, LAYOUT)
    corrupt(converted_path(tmp_path))
    with pytest.warns(UserWarning) as caught:
        images = load_mpi3d_images(tmp_path, LAYOUT)
    (warning,) = [str(w.message) for w in caught]
    assert warning.startswith(str(converted_path(tmp_path))) and problem in warning
    assert warning.endswith(f"rebuilding it from {source_path(tmp_path)}")
    assert np.array_equal(images, small_images())


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_bad_converted_file_without_its_archive_is_refused(tmp_path, corruption):
    corrupt, problem = CORRUPTIONS[corruption]
    write_archive(tmp_path)
    load_mpi3d_images(tmp_path, LAYOUT)
    source_path(tmp_path).unlink()
    corrupt(converted_path(tmp_path))
    with pytest.raises(DataFileError) as err:
        Mpi3dReal(tmp_path, SMALL).sample_observations(2, np.random.RandomState(0))
    message = str(err.value)
    assert message.startswith(str(converted_path(tmp_path))) and problem in message
    assert "download_mpi3d_real.sh" in message and "\n" not in message


def test_converted_pickle_is_never_unpickled(tmp_path):
    marker = tmp_path / "payload-ran"
    path = converted_path(tmp_path)
    path.parent.mkdir(parents=True)
    np.save(path, np.array([CodePayload(marker)] * 3, dtype=object), allow_pickle=True)
    with pytest.raises(DataFileError, match="Python objects"):
        Mpi3dMulti(tmp_path, SMALL).sample_observations(2, np.random.RandomState(0))
    assert not marker.exists()

    write_archive(tmp_path)  # with the archive beside it, the pickle is replaced
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images = load_mpi3d_images(tmp_path, LAYOUT)
    assert any("Python objects" in str(w.message) for w in caught)
    assert np.array_equal(images, small_images()) and not marker.exists()


# --------------------------------------------------------------------------- a crash
KILL_MID_CONVERSION = """
import os, signal, sys
from jlonevae_lib.data import mpi3d_conversion

def die_after_the_first_chunk(copied, total):
    if copied > 0:
        os.kill(os.getpid(), signal.SIGKILL)

mpi3d_conversion.CONVERT_CHUNK_BYTES = 1 << 18  # several chunks for a 3.5 MB archive
mpi3d_conversion.load_mpi3d_images(sys.argv[1], mpi3d_conversion.Mpi3dLayout({sizes}),
                                   progress=die_after_the_first_chunk)
"""


@pytest.mark.slow
def test_sigkill_during_conversion_leaves_nothing_read_as_valid(tmp_path):
    archive = write_archive(tmp_path)
    killed = subprocess.run([sys.executable, "-c", KILL_MID_CONVERSION.format(sizes=SMALL),
                             str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    folder = archive.parent
    leftovers = sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
    assert leftovers[0] == ".lock" and len(leftovers) == 2  # its lock and a half-written copy
    assert leftovers[1].startswith(".mpi3d_real_images.npy.") and leftovers[1].endswith(".tmp")
    assert not converted_path(tmp_path).exists()

    archive.rename(tmp_path / "elsewhere.npz")  # without the archive: the leftover is not data
    with pytest.raises(DataFileError, match="MPI3D data not found"):
        Mpi3dMulti(tmp_path, SMALL)
    (tmp_path / "elsewhere.npz").rename(archive)

    images = load_mpi3d_images(tmp_path, LAYOUT)  # takes over the stale lock, cleans up
    assert np.array_equal(images, small_images())
    assert sorted(p.name for p in folder.iterdir()) == ["mpi3d_real.npz", "mpi3d_real_images.npy"]


# --------------------------------------------------------------------------- the CLIs
@pytest.mark.slow
def test_conversion_cli_on_a_corrupt_archive_says_what_to_do(tmp_path):
    archive = write_archive(tmp_path)
    archive.write_bytes(archive.read_bytes()[:5000])
    message = one_line_error(run_cli([*CONVERT, "--data-root", str(tmp_path)], cwd=tmp_path))
    assert message.startswith(f"error: MPI3D archive {archive} is truncated or corrupt")
    assert "download_mpi3d_real.sh" in message


@pytest.mark.slow
def test_training_with_the_data_missing_fails_before_writing_a_run(tmp_path):
    env = {**os.environ, "DISENTANGLEMENT_LIB_DATA": str(tmp_path / "data")}
    result = run_cli([*TRAIN, "--dataset", "mpi3dMulti", "--num-batches", "2", "--device", "cpu"],
                     cwd=tmp_path, env=env)
    message = one_line_error(result)
    assert "MPI3D data not found" in message, message
    assert str(source_path(tmp_path / "data")) in message and "download_mpi3d_real.sh" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no trainedModels/, logs/, data/
