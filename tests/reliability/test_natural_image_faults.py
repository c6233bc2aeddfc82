"""Bad natural-image files, a killed patch writer and the CLIs: clear errors, nothing bad used."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from jlonevae_lib.architecture.export import export_torchscript
from jlonevae_lib.architecture.save_model import save_conv_vae
from jlonevae_lib.architecture.vae import build_conv_vae
from jlonevae_lib.cli import evaluate as evaluate_cli
from jlonevae_lib.cli import natural_images as natural_images_cli
from jlonevae_lib.data import natural_images as ni
from jlonevae_lib.utils.errors import DataFileError
from tests.data.test_natural_images import expected_patches, source_images, write_source
from tests.reliability.conftest import (
    TRAIN,
    CodePayload,
    kill_while_writing,
    make_stale,
    one_line_error,
    run_cli,
)

SAMPLE = [sys.executable, "-m", "jlonevae_lib.data.natural_images"]
DOWNLOAD_HINT = "data/download_natural_image_data.sh"


@pytest.fixture
def root(tmp_path, monkeypatch):
    """An empty data root, also set as $DISENTANGLEMENT_LIB_DATA; emptied afterwards (MBs)."""
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path / "data"))
    yield tmp_path / "data"
    shutil.rmtree(tmp_path / "data", ignore_errors=True)


# --------------------------------------------------------------------------- IMAGES.mat
def _truncate_half(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _truncate_header(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def _garble_tag(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[128:136] = b"\xff" * 8  # the first variable's type and size
    path.write_bytes(bytes(data))


def _html_page(path: Path) -> None:
    path.write_bytes(b"<!DOCTYPE html><html><body>404 Not Found</body></html>\n")


def _other_variable(path: Path) -> None:
    scipy.io.savemat(path, {"IMAGES_RAW": np.zeros((4, 4))})


def _wrong_shape(path: Path) -> None:
    scipy.io.savemat(path, {"IMAGES": np.zeros((512, 512, 3))})


def _a_nan(path: Path) -> None:
    images = source_images()
    images[100, 200, 3] = np.nan
    scipy.io.savemat(path, {"IMAGES": images})


def _an_infinity(path: Path) -> None:
    images = source_images()
    images[0, 0, 9] = -np.inf
    scipy.io.savemat(path, {"IMAGES": images})


def _a_cell_array(path: Path) -> None:
    cells = np.empty((1, 2), dtype=object)
    cells[0, 0], cells[0, 1] = np.zeros(3), np.ones(3)
    scipy.io.savemat(path, {"IMAGES": cells})


SOURCE_FAULTS = {
    "truncated": (_truncate_half, "not a readable MAT file (truncated or corrupt?)"),
    "header only": (_truncate_header, "not a readable MAT file"),
    "garbled": (_garble_tag, "not a readable MAT file"),
    "html page": (_html_page, "HTML/XML page"),
    "missing variable": (_other_variable, "has no variable 'IMAGES'"),
    "wrong shape": (_wrong_shape, "shape (512, 512, 3), expected (512, 512, 10)"),
    "nan": (_a_nan, "non-finite values"),
    "infinity": (_an_infinity, "non-finite values"),
    "cell array": (_a_cell_array, "of type object, expected real floats"),
}


@pytest.mark.parametrize("fault", SOURCE_FAULTS)
def test_bad_source_is_refused_naming_the_file_and_the_fix(root, fault, capsys):
    corrupt, problem = SOURCE_FAULTS[fault]
    source = write_source(root)
    corrupt(source)
    before = source.read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        natural_images_cli.main(["--train-per-image", "2", "--test-per-image", "1"])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: natural-image source {source} ")
    assert problem in line and f"delete it and run {DOWNLOAD_HINT}" in line
    assert source.read_bytes() == before  # refused, never replaced
    assert not (root / "naturalImages" / "train").exists()


def test_missing_source_says_to_download_it(root):
    # The strict loader; sampling falls back to other photographs instead (own tests).
    with pytest.raises(DataFileError) as info:
        ni.load_source_images(root)
    assert str(info.value) == (f"natural-image source {ni.source_path(root)} does not exist; run "
                               f"{DOWNLOAD_HINT} to fetch it (Olshausen's sparsenet IMAGES.mat)")


# --------------------------------------------------------------------------- patch files
def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])


def _flipped_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the stored float data: only the CRC can tell
    path.write_bytes(bytes(data))


def _wrong_patch_shape(path: Path) -> None:
    np.savez(path, images=np.zeros((40, 1, 8, 8), dtype=np.float32))


def _float16(path: Path) -> None:
    np.savez(path, images=np.zeros((40, 1, 16, 16), dtype=np.float16))


def _out_of_range(path: Path) -> None:
    np.savez(path, images=np.full((40, 1, 16, 16), 1.5, dtype=np.float32))


def _nan_patch(path: Path) -> None:
    patches = np.zeros((40, 1, 16, 16), dtype=np.float32)
    patches[7, 0, 3, 3] = np.nan
    np.savez(path, images=patches)


def _no_images(path: Path) -> None:
    np.savez(path, imgs=np.zeros((40, 1, 16, 16), dtype=np.float32))


def _plain_npy(path: Path) -> None:
    with open(path, "wb") as f:
        np.save(f, np.zeros((40, 1, 16, 16), dtype=np.float32))


PATCH_FAULTS = {
    "truncated": (_truncated, "not a readable .npz archive"),
    "flipped byte": (_flipped_byte, "Bad CRC-32"),
    "wrong shape": (_wrong_patch_shape, "shape (40, 1, 8, 8)"),
    "float16": (_float16, "dtype float16"),
    "out of range": (_out_of_range, "values outside [0, 1]"),
    "nan": (_nan_patch, "non-finite"),
    "no images array": (_no_images, "lacks the array 'images'"),
    "plain npy": (_plain_npy, "no zip header"),
}


@pytest.mark.parametrize("fault", PATCH_FAULTS)
def test_bad_patch_file_is_sampled_again_with_a_warning(root, monkeypatch, fault):
    monkeypatch.setitem(ni.DEFAULT_PATCHES_PER_IMAGE, "train", 4)
    corrupt, problem = PATCH_FAULTS[fault]
    images = source_images()
    write_source(root, images)
    path = ni.patches_path("train", root)
    ni.write_patch_files(root, splits=("train",))
    corrupt(path)
    with pytest.raises(DataFileError) as info:
        ni.read_patch_file(path)
    assert problem in str(info.value)
    with pytest.warns(UserWarning) as caught:
        data = ni.NaturalImagePatches(data_root=root)
    (message,) = [str(w.message) for w in caught]
    assert message.startswith(f"natural-image patches {path} ") and problem in message
    assert "sampling them again" in message
    expected = expected_patches(images, 4, ni.DEFAULT_SEED, "train")
    assert np.array_equal(data.patches, expected)
    assert np.array_equal(ni.read_patch_file(path)[0], expected)  # the file was replaced


def test_the_references_float64_patch_file_is_read_and_kept(root):
    """The reference wrote float64, compressed, drawn without a seed: the user's data, which
    could not be cut again. It is read as float32 and left as it is."""
    patches = np.random.default_rng(5).random((40, 1, 16, 16))
    path = ni.patches_path("train", root)
    path.parent.mkdir(parents=True)
    np.savez_compressed(path, images=patches)
    before = path.read_bytes()
    data = ni.NaturalImagePatches(data_root=root)
    assert data.patches.dtype == np.float32
    np.testing.assert_array_equal(data.patches, patches.astype(np.float32))
    assert path.read_bytes() == before


def test_pickled_patch_file_is_refused_without_running_it(root, tmp_path, monkeypatch):
    monkeypatch.setitem(ni.DEFAULT_PATCHES_PER_IMAGE, "train", 4)
    marker = tmp_path / "payload-ran"
    write_source(root)
    path = ni.patches_path("train", root)
    path.parent.mkdir(parents=True)
    np.savez(path, images=np.array([CodePayload(marker)], dtype=object))
    with pytest.raises(DataFileError, match="allow_pickle=False"):
        ni.read_patch_file(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ni.load_patches("train", root)  # replaced by fresh patches, never unpickled
    assert not marker.exists()


def test_bad_patches_with_a_bad_source_name_both_files_and_the_fix(root):
    _html_page(write_source(root))  # present but bad: refused, not stood in for by the fallback
    path = ni.patches_path("train", root)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataFileError) as info:
        ni.NaturalImagePatches(data_root=root)
    message = str(info.value)
    assert message.startswith(f"natural-image patches {path} is not a readable .npz archive")
    assert (f"and cannot be sampled: natural-image source {ni.source_path(root)} is an HTML/XML "
            "page" in message)
    assert f"delete it and run {DOWNLOAD_HINT}" in message


def test_killed_patch_writer_leaves_nothing_read_as_valid(root, tmp_path):
    write_source(root)
    train = ni.patches_path("train", root)
    # 10,000 patches per image: a 100 MB file whose writing takes long enough to interrupt.
    writer = subprocess.Popen([*SAMPLE, "--data-root", str(root), "--train-per-image", "10000"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    leftover = kill_while_writing(writer, train, suffix=".npz", timeout=60)
    assert not train.exists() and not ni.patches_path("test", root).exists()
    assert list(train.parent.iterdir()) == [leftover]  # only the temporary the kill left
    with pytest.raises(DataFileError, match="not a readable .npz archive|no zip header"):
        ni.read_patch_file(leftover)
    make_stale(leftover)
    result = run_cli([*SAMPLE, "--data-root", str(root), "--train-per-image", "3",
                      "--test-per-image", "1"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(ni.read_patch_file(train)[0]) == 30
    assert [p.name for p in train.parent.iterdir()] == ["data.npz"]  # the leftover is gone


# --------------------------------------------------------------------------- CLIs
def test_training_with_a_bad_source_fails_in_one_line_before_creating_a_run(root, tmp_path):
    _truncate_half(write_source(root))
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli([*TRAIN, "--dataset", "naturalImages", "--architecture", "tiny16",
                      "--num-batches", "2", "--device", "cpu"], cwd=out,
                     env={**os.environ, "DISENTANGLEMENT_LIB_DATA": str(root)})
    line = one_line_error(result)
    assert f"natural-image patches {ni.patches_path('train', root)} does not exist" in line
    assert (f"source {ni.source_path(root)} is not a readable MAT file (truncated or corrupt?)"
            in line and f"delete it and run {DOWNLOAD_HINT}" in line)
    assert list(out.iterdir()) == []  # no trainedModels/, no logs/


def test_evaluating_a_natural_image_model_says_it_has_no_factors(tmp_path, capsys):
    run = tmp_path / "trainedModels" / "tiny16_lone_beta0_0100_ica0_0100_lat10" / "seed0"
    torch.manual_seed(0)
    model = build_conv_vae("tiny16", im_channels=1, latent_dim=10).eval()
    save_conv_vae(model, run / "representation" / "cache_batch_no100000")
    export_torchscript(model, run)
    (run / "config.json").write_text(json.dumps({"dataset": "naturalImages"}))
    (run / "DONE").write_text("{}")
    # jlonevae-evaluate's entry point, in this process: a subprocess would spend ~3 s on imports.
    with pytest.raises(SystemExit) as exit_info:
        evaluate_cli.main([str(run), "--metrics", "mig"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        f"error: cannot evaluate {run} on 'naturalImages': that dataset has no ground-truth "
        "factors, which the disentanglement metrics need; pass --dataset NAME of one with "
        "factors, or skip such runs with --only-dataset NAME\n")
    assert not (run / "metrics").exists()
    # The three-dots evaluation scripts pass --only-dataset threeDots: such runs are skipped.
    assert evaluate_cli.main([str(run), "--only-dataset", "threeDots"]) == 0
    assert f"skipping {run}: evaluated on naturalImages" in capsys.readouterr().out
