"""Three-dots training caches: round trip, lazy loading, validation, rebuild or refusal, CLI."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from jlonevae_lib.cli import cache as cache_cli
from jlonevae_lib.data import cache, get_named_ground_truth_data
from jlonevae_lib.data.three_dots import ThreeDots, ThreeDotsCache
from jlonevae_lib.data.three_dots_render import levels_to_images, render_three_dots
from jlonevae_lib.utils.errors import DataFileError

N = 300


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def built():
    return cache.build_training_cache(N)


def ours(root):
    return root / "threeDots" / f"trainingCache{N}.npz"


def write_npz(path, **arrays):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)


def good_arrays(built, **overrides):
    return {"factors": built.factors, "imgs": built.imgs, "scale": np.int64(100), **overrides}


def test_built_cache_is_the_seeded_draw_rendered(built):
    factors = ThreeDots().sample_factors(N, np.random.RandomState(0))
    assert built.factors.dtype == np.int64 and np.array_equal(built.factors, factors)
    assert built.imgs.shape == (N, 64, 64, 1) and built.imgs.dtype == np.uint8
    assert np.array_equal(levels_to_images(built.imgs), render_three_dots(factors))


def test_round_trip_through_the_dataset(root, built):
    data = get_named_ground_truth_data("threeDotsCache", num_images=N)
    assert isinstance(data, ThreeDotsCache)
    assert not ours(root).exists()  # constructing is cheap: nothing loaded or built yet
    batch = data.sample_training_batch(32, np.random.default_rng(5))
    assert ours(root).is_file()
    indices = np.random.default_rng(5).integers(0, N, size=32)
    assert batch.shape == (32, 1, 64, 64) and batch.dtype == np.float32
    assert np.array_equal(batch[:, 0], levels_to_images(built.imgs[indices, ..., 0]))
    reread = cache.read_training_cache(ours(root), N)
    assert np.array_equal(reread.imgs, built.imgs) and np.array_equal(reread.factors, built.factors)
    # A second dataset object reuses the file (no rebuild, no warning).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = ThreeDotsCache(N).sample_training_batch(32, np.random.default_rng(5))
    assert np.array_equal(again, batch)
    assert not np.array_equal(batch, data.sample_training_batch(32, np.random.default_rng(6)))


def test_evaluation_renders_fresh_images(root):
    data = ThreeDotsCache(N)
    factors = np.array([[1, 2, 3, 4, 5, 6]])
    rs = np.random.RandomState(0)
    assert np.array_equal(data.sample_observations_from_factors(factors, rs),
                          render_three_dots(factors))
    assert not ours(root).exists()


def test_named_cache_sizes():
    assert get_named_ground_truth_data("threeDotsCache").num_images == 500_000
    assert get_named_ground_truth_data("threeDotsCacheSmall").num_images == 20_000


def test_explicit_data_root_and_path(tmp_path, built):
    data = ThreeDotsCache(N, data_root=tmp_path / "elsewhere")
    data.training_levels()
    assert (tmp_path / "elsewhere" / "threeDots" / f"trainingCache{N}.npz").is_file()
    explicit = tmp_path / "mine.npz"
    cache.save_training_cache(explicit, built)
    assert np.array_equal(ThreeDotsCache(N, cache_path=explicit).training_levels(), built.imgs)


def truncated(path, built):
    cache.save_training_cache(path, built)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flipped_byte(path, built):
    cache.save_training_cache(path, built)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def plain_npy(path, built):
    with open(path, "wb") as f:
        np.save(f, built.imgs)


#: Ways to leave an invalid cache file at a path: name → writer(path, built).
CORRUPTIONS = {
    "truncated": truncated,
    "corrupt": flipped_byte,
    "garbage": lambda path, built: path.write_bytes(b"not a zip file at all"),
    "npy": plain_npy,
    "missing array": lambda path, built: write_npz(path, factors=built.factors, imgs=built.imgs),
    "wrong shape": lambda path, built: write_npz(
        path, **good_arrays(built, imgs=built.imgs[..., 0])),
    "wrong dtype": lambda path, built: write_npz(
        path, **good_arrays(built, imgs=built.imgs.astype(np.float32))),
    "wrong count": lambda path, built: write_npz(
        path, **good_arrays(built, factors=built.factors[:-1], imgs=built.imgs[:-1])),
    "wrong scale": lambda path, built: write_npz(path, **good_arrays(built, scale=np.int64(255))),
    "level too high": lambda path, built: write_npz(
        path, **good_arrays(built, imgs=built.imgs + 101)),
    "factor too high": lambda path, built: write_npz(
        path, **good_arrays(built, factors=built.factors + 64)),
    "images mismatch": lambda path, built: write_npz(
        path, **good_arrays(built, imgs=built.imgs[::-1])),
}


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_bad_explicit_file_is_refused_with_the_fix(kind, tmp_path, built):
    path = tmp_path / "user.npz"
    CORRUPTIONS[kind](path, built)
    with pytest.raises(DataFileError) as info:
        ThreeDotsCache(N, cache_path=path).training_levels()
    message = str(info.value)
    assert str(path) in message and "omit the explicit path" in message, message


@pytest.mark.parametrize("kind", ["truncated", "wrong shape", "images mismatch"])
def test_bad_file_at_our_location_is_rebuilt_with_a_warning(kind, root, built):
    CORRUPTIONS[kind](ours(root), built)
    with pytest.warns(UserWarning, match="rebuilding"):
        levels = ThreeDotsCache(N).training_levels()
    assert np.array_equal(levels, built.imgs)
    assert np.array_equal(cache.read_training_cache(ours(root), N).imgs, built.imgs)


def test_our_cache_must_hold_the_seeded_factors(root, built):
    other = cache.TrainingCache(built.factors[::-1].copy(), built.imgs[::-1].copy())
    cache.save_training_cache(ours(root), other)  # valid, but not what seed 0 draws
    with pytest.warns(UserWarning, match="seed 0"):
        levels = ThreeDotsCache(N).training_levels()
    assert np.array_equal(levels, built.imgs)


def test_cli_builds_then_validates(tmp_path, capsys):
    assert cache_cli.main(["--num-images", "40", "--data-root", str(tmp_path)]) == 0
    path = tmp_path / "threeDots" / "trainingCache40.npz"
    assert path.is_file() and "40 images, valid" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        cache_cli.main(["--num-images", "0"])
    assert info.value.code == 2


def test_cli_runs_as_a_module(tmp_path):
    done = subprocess.run(
        [sys.executable, "-W", "error", "-m", "jlonevae_lib.data.cache", "--num-images", "20",
         "--data-root", str(tmp_path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "threeDots" / "trainingCache20.npz").is_file()


def npz_members(path):
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_streamed_build_writes_what_savez_writes(tmp_path, built):
    streamed, saved, reference = (tmp_path / f"{name}.npz" for name in ("s", "v", "r"))
    cache.write_training_cache(streamed, N)
    cache.save_training_cache(saved, built)
    np.savez(reference, factors=built.factors, imgs=built.imgs, scale=np.int64(100))
    # The same .npy bytes as numpy's own writer, so any npz reader (the reference's) reads it.
    assert npz_members(streamed) == npz_members(saved) == npz_members(reference)
    assert np.array_equal(cache.read_training_cache(streamed, N).imgs, built.imgs)


def test_a_short_stream_never_gets_the_name(tmp_path, monkeypatch):
    path = tmp_path / "short.npz"

    def one_chunk_only(factors, **_):
        levels = cache.render_three_dots_levels(factors[:10])[..., 0]
        yield slice(0, 10), levels

    monkeypatch.setattr(cache, "iter_three_dots_levels", one_chunk_only)
    with pytest.raises(ValueError, match="image bytes"):
        cache.write_training_cache(path, N)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_cli_build_streams_instead_of_holding_the_images(tmp_path):
    # 100,000 images are 410 MB; the streaming build's peak stays well below that. The peak
    # is VmHWM, not ru_maxrss, which also counts the forking parent's (pytest's) pages.
    num_images = 100_000
    report_peak = ("import sys; from jlonevae_lib.cli.cache import main; main(sys.argv[1:]); "
                   "print([line.split()[1] for line in open('/proc/self/status') "
                   "if line.startswith('VmHWM:')][0])")
    done = subprocess.run(
        [sys.executable, "-c", report_peak, "--num-images", str(num_images),
         "--data-root", str(tmp_path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    peak_bytes = int(done.stdout.split()[-1]) * 1024  # Linux reports KiB
    assert peak_bytes < num_images * 64 * 64 * 0.75, peak_bytes
    path = tmp_path / "threeDots" / f"trainingCache{num_images}.npz"
    assert cache.read_training_cache(path, num_images).imgs.shape == (num_images, 64, 64, 1)
