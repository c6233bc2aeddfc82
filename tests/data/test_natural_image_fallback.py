"""The natural-image offline fallback: whitening, the photographs, labels, and when it is used."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jlonevae_lib.cli import natural_images as natural_images_cli
from jlonevae_lib.cli.train import main as train_main
from jlonevae_lib.data import natural_images as ni
from jlonevae_lib.utils.errors import DataFileError
from tests.data.test_natural_images import expected_patches, source_images, write_source

REPO = Path(__file__).resolve().parents[2]
FALLBACK_SHAPE = (427, 640, 2)


@pytest.fixture
def root(tmp_path, monkeypatch):
    """An empty data root, also set as $DISENTANGLEMENT_LIB_DATA; emptied afterwards (MBs)."""
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path / "data"))
    yield tmp_path / "data"
    shutil.rmtree(tmp_path / "data", ignore_errors=True)


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to reach the network fails loudly."""
    def refuse(*args, **kwargs):
        raise AssertionError("the natural-image fallback tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def fallback_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "offline fallback" in line]


def band_amplitudes(images: np.ndarray, edges: list[float]) -> np.ndarray:
    """Mean FFT amplitude of images (H, W, K) in each radial band [edges[i], edges[i+1])."""
    height, width, _ = images.shape
    f = np.hypot(np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :])
    amplitude = np.abs(np.fft.fft2(images, axes=(0, 1))).mean(axis=2)
    return np.array([amplitude[(low <= f) & (f < high)].mean()
                     for low, high in zip(edges[:-1], edges[1:], strict=True)])


# --------------------------------------------------------------------------- whitening
def test_whitening_filter_is_f_times_a_steep_roll_off_in_cycles_per_pixel():
    gain = ni.whitening_filter((64, 128))
    assert gain.shape == (64, 128) and gain[0, 0] == 0
    # Radial in cycles/pixel: 3 cycles over 64 rows is 6 over 128 columns.
    assert gain[3, 0] == pytest.approx(gain[0, 6], rel=1e-12)
    assert gain[0, 2] == pytest.approx(2 / 128, rel=1e-5)  # ≈ f well below f₀
    profile = ni.whitening_filter((1, 2000))[0, :1000]  # f = k / 2000
    peak = np.argmax(profile) / 2000
    assert peak == pytest.approx(ni.WHITENING_CUTOFF / np.sqrt(2), abs=1e-3)
    at_cutoff = int(ni.WHITENING_CUTOFF * 2000)
    assert profile[at_cutoff] == pytest.approx(ni.WHITENING_CUTOFF / np.e, rel=1e-9)
    assert profile[999] < 0.2 * profile.max()  # near Nyquist: mostly cut


def test_whitened_images_have_zero_mean_and_unit_average_variance():
    rng = np.random.default_rng(0)
    images = rng.standard_normal((20, 30, 3)) * [1, 5, 0.2] + [3, -40, 100]
    whitened = ni.whiten(images)
    assert whitened.shape == images.shape and whitened.dtype == np.float64
    np.testing.assert_allclose(whitened.mean(axis=(0, 1)), 0, atol=1e-12)
    assert whitened.var(axis=(0, 1)).mean() == pytest.approx(1, rel=1e-12)
    # One number scales all images: their contrasts keep their order.
    assert np.argsort(whitened.std(axis=(0, 1))).tolist() == [2, 0, 1]
    assert ni.whiten(images[..., :1]).var() == pytest.approx(1, rel=1e-12)


def test_whitening_flattens_a_one_over_f_spectrum():
    rng = np.random.default_rng(1)
    side = 64
    f = np.hypot(np.fft.fftfreq(side)[:, None], np.fft.fftfreq(side)[None, :])
    amplitude = np.divide(1, f, out=np.zeros_like(f), where=f > 0)
    images = np.stack([np.fft.ifft2(amplitude * np.exp(2j * np.pi * rng.random(f.shape))).real
                       for _ in range(2)], axis=2)
    edges = [1 / 32, 2 / 32, 3 / 32, 4 / 32, 6 / 32, 8 / 32]  # up to 0.25 cycles/pixel
    before = band_amplitudes(images, edges)
    after = band_amplitudes(ni.whiten(images), edges)
    assert before[-1] / before[0] < 0.3  # the input falls as 1/f
    np.testing.assert_allclose(after / after[0], 1, atol=0.12)  # the output is flat


def test_whitening_adds_no_lines_along_the_borders():
    # A brightness ramp: periodic filtering would see a jump between the left and right edges.
    rows, cols = np.mgrid[:48, :64]
    ramp = (cols / 6.4 + 0.1 * np.random.default_rng(2).standard_normal(rows.shape))[..., None]
    whitened = np.abs(ni.whiten(ramp)[..., 0])
    border = max(whitened[:, :2].max(), whitened[:, -2:].max())
    assert border < 2.5 * whitened[:, 4:-4].max()


def test_luminance_is_pillows_grey_without_its_rounding():
    rgb = np.random.default_rng(3).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    grey = ni.luminance(rgb)
    assert grey.shape == (5, 7) and grey.dtype == np.float64
    np.testing.assert_allclose(grey, np.asarray(Image.fromarray(rgb).convert("L")), atol=0.6)
    assert ni.luminance(np.array([[[255, 0, 0]]])) == pytest.approx(0.299 * 255)


# --------------------------------------------------------------------------- the fallback
def test_fallback_images_are_whitened_photographs_from_the_installed_package(offline):
    images = ni.fallback_images()
    assert images.shape == FALLBACK_SHAPE and images.dtype == np.float64
    assert np.isfinite(images).all()
    assert images.var(axis=(0, 1)).mean() == pytest.approx(1, rel=1e-9)
    np.testing.assert_allclose(images.mean(axis=(0, 1)), 0, atol=1e-9)
    assert images[..., 0].std() > 0.5 and images[..., 1].std() > 0.3  # two real photographs
    assert not np.allclose(images[..., 0], images[..., 1])


def test_figure_crops_without_images_mat_come_from_the_fallback(root, offline, capsys):
    figure = ni.figure_crops(root)
    crops = figure.images
    assert crops.shape == (10, 1, 16, 16) and crops.dtype == np.float32
    assert 0 <= crops.min() and crops.max() <= 1
    # Not the paper's place (flat sky in this photograph) but the temple's roof.
    assert (figure.xs, figure.y, figure.source) == (tuple(range(256, 266)), 224,
                                                    ni.FALLBACK_LABEL)
    expected = ni.rescale(ni.fallback_images())[256:281, 224:240, 0]
    np.testing.assert_allclose(crops[:, 0], [expected[i:i + 16] for i in range(10)], atol=1e-6)
    assert crops.std(axis=(1, 2, 3)).min() > 0.1
    (line,) = fallback_lines(capsys.readouterr().err)
    assert line.startswith("warning: using the natural-image offline fallback")
    assert f"{ni.source_path(root)} is absent; run {ni.DOWNLOAD_SCRIPT}" in line


def test_sampling_script_without_images_mat_writes_patches_labelled_as_the_fallback(tmp_path):
    script = REPO / "data" / "sampleNatualImagePatches.py"
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(script, folder)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("DISENTANGLEMENT_LIB_DATA", None)
    result = subprocess.run(["./sampleNatualImagePatches.py", "--train-per-image", "3",
                             "--test-per-image", "1"], cwd=folder, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    (line,) = fallback_lines(result.stderr)
    assert "data/download_natural_image_data.sh to fetch IMAGES.mat" in line
    assert f"source {ni.FALLBACK_LABEL}" in result.stdout
    for split, count in (("train", 6), ("test", 2)):  # two photographs
        path = folder / "naturalImages" / split / "data.npz"
        patches, source = ni.read_patch_file(path)
        assert source == ni.FALLBACK_LABEL and len(patches) == count
        with np.load(path, allow_pickle=False) as archive:
            assert str(archive["source"]) == ni.FALLBACK_LABEL
    assert not (folder / "naturalImages" / "IMAGES.mat").exists()
    shutil.rmtree(folder)


def test_present_images_mat_is_the_source_and_no_fallback_is_mentioned(root, offline, capsys):
    images = source_images()
    write_source(root, images)
    assert natural_images_cli.main(["--train-per-image", "2", "--test-per-image", "1"]) == 0
    patches, source = ni.read_patch_file(ni.patches_path("train", root))
    assert source == ni.SOURCE_LABEL == "IMAGES.mat"
    assert np.array_equal(patches, expected_patches(images, 2, ni.DEFAULT_SEED, "train"))
    captured = capsys.readouterr()
    assert "fallback" not in captured.err + captured.out


def test_bad_images_mat_is_refused_not_replaced_by_the_fallback(root):
    write_source(root).write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(DataFileError, match="not a readable MAT file"):
        ni.write_patch_files(root, patches_per_image={"train": 2, "test": 1})
    assert not ni.patches_path("train", root).exists()


# --------------------------------------------------------------------------- patch labels
def test_fallback_patches_are_reused_while_there_is_no_images_mat(root, capsys):
    written, source = ni.write_patch_files(root, patches_per_image={"train": 4, "test": 1})
    assert source == ni.FALLBACK_LABEL
    capsys.readouterr()
    data = ni.NaturalImagePatches(data_root=root)
    assert data.data_source == ni.FALLBACK_LABEL
    assert np.array_equal(data.patches, written["train"])  # not sampled again
    (line,) = fallback_lines(capsys.readouterr().err)
    assert line.startswith(f"warning: {ni.patches_path('train', root)} holds patches of the "
                           "natural-image offline fallback")


def test_fallback_patches_are_sampled_again_once_images_mat_is_there(root, monkeypatch):
    monkeypatch.setitem(ni.DEFAULT_PATCHES_PER_IMAGE, "train", 3)
    ni.write_patch_files(root, patches_per_image={"train": 4, "test": 1})
    images = source_images()
    write_source(root, images)
    with pytest.warns(UserWarning) as caught:
        data = ni.NaturalImagePatches(data_root=root)
    (message,) = [str(w.message) for w in caught]
    assert "holds patches of the offline fallback" in message
    assert f"IMAGES.mat is now there; sampling them again from {ni.source_path(root)}" in message
    assert data.data_source == ni.SOURCE_LABEL
    expected = expected_patches(images, 3, ni.DEFAULT_SEED, "train")
    assert np.array_equal(data.patches, expected)
    assert ni.read_patch_file(ni.patches_path("train", root))[1] == ni.SOURCE_LABEL


def test_unlabelled_patch_file_predates_the_fallback_and_counts_as_images_mat(root, capsys):
    path = ni.patches_path("train", root)
    path.parent.mkdir(parents=True)
    patches = np.random.default_rng(4).random((12, 1, 16, 16), dtype=np.float32)
    np.savez(path, images=patches)  # what the patch files held before the label
    data = ni.NaturalImagePatches(data_root=root)  # no IMAGES.mat: used as it is
    assert data.data_source == ni.SOURCE_LABEL and np.array_equal(data.patches, patches)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("label", [np.array("someone else's photos"), np.array(3),
                                   np.array([ni.SOURCE_LABEL])])
def test_patch_file_with_an_unknown_label_is_bad(tmp_path, label):
    path = tmp_path / "data.npz"
    np.savez(path, images=np.zeros((2, 1, 16, 16), dtype=np.float32), source=label)
    with pytest.raises(DataFileError, match="has an unknown 'source' label"):
        ni.read_patch_file(path)


# --------------------------------------------------------------------------- training runs
def test_training_without_images_mat_records_the_fallback_and_keeps_it_apart(
        root, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(ni.DEFAULT_PATCHES_PER_IMAGE, "train", 50)
    out = tmp_path / "out"
    argv = ["--dataset", "naturalImages", "--architecture", "tiny16", "--batch-size", "16",
            "--num-batches", "20", "--device", "cpu", "--seed", "0", "--output-dir", str(out)]
    assert train_main(argv) == 0
    (run,) = (out / "trainedModels").glob("*/*")
    config = json.loads((run / "config.json").read_text())
    assert config["dataset"] == "naturalImages" and config["data_source"] == ni.FALLBACK_LABEL
    assert json.loads((run / "DONE").read_text())["num_batches"] == 20
    assert ni.read_patch_file(ni.patches_path("train", root))[1] == ni.FALLBACK_LABEL
    assert fallback_lines(capsys.readouterr().err)
    # Once IMAGES.mat is there the data differ: the same command refuses to reuse the run.
    write_source(root)
    with pytest.warns(UserWarning, match="sampling them again"), \
            pytest.raises(SystemExit) as exit_info:
        train_main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"data_source: {ni.FALLBACK_LABEL!r} there vs 'IMAGES.mat' now" in err
    assert "--run-id NAME" in err
