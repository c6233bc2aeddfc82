"""Natural-image patches (Olshausen & Field 1996): the source images, the patch files, the dataset.

Source: ``<data root>/naturalImages/IMAGES.mat``, Olshausen's ten whitened 512×512 natural
images as the MATLAB array ``IMAGES`` (512, 512, 10), fetched by
``data/download_natural_image_data.sh``. The published file is a MAT v5 file (public code
reads it with ``scipy.io.loadmat``, which cannot read v7.3), read here with ``loadmat``, which
only parses data; a MAT v7.3 (HDF5) file holding the same array is read with h5py. The source
is validated (readable, ``IMAGES`` present, real floats of that shape, finite, not constant); a
bad source is refused with :class:`DataFileError`, never replaced, since it cannot be rebuilt
here. MAT v5 stores the doubles uncompressed without a checksum: a flipped bit inside the image
data goes unnoticed unless it makes a value non-finite.

Offline fallback: only when there is no IMAGES.mat at all (a fresh or offline machine cannot
fetch it), the source is two real photographs that ship inside scikit-learn
(``sklearn.datasets.load_sample_images``: china.jpg and flower.jpg, 427×640 colour JPEGs read
from the installed package by Pillow, no network), made grey and whitened the way Olshausen &
Field prepared IMAGES.mat (:func:`luminance`, :func:`whiten`), as a (427, 640, 2) array in
IMAGES.mat's layout; the rest of the pipeline is unchanged. Each use prints one warning line on
stderr saying so and how to fetch IMAGES.mat, and everything cut from it is labelled
:data:`FALLBACK_LABEL` (patch files, and a training run's ``config.json`` as ``data_source``).
It is a stand-in to run the pipeline end to end, not the paper's data.

Patches: the images are rescaled with one global min/max (over all of them) to [0, 1], and 16×16
patches are cut at uniformly random top-left corners (0..496 in each axis for IMAGES.mat, with
replacement, as the reference's ``extract_patches_2d``), ``patches_per_image`` per image, image
by image (so the fallback's two photographs give a fifth as many patches).
Positions come from a numpy Generator seeded with ``SeedSequence(seed).spawn(2)`` — one stream
per split, so the test patches do not depend on the number of training patches (the reference
drew them without a seed). Defaults: seed 0, 10,000 training and 1,000 test patches per image.

Files: ``<data root>/naturalImages/{train,test}/data.npz``, an uncompressed ``.npz`` with the
array ``images``, float32 (N, 1, 16, 16) in [0, 1] (the reference's name and layout; it stored
float64, compressed), and ``source``, a 0-d string array: :data:`SOURCE_LABEL` or
:data:`FALLBACK_LABEL` (a file without it predates the fallback, so it was cut from
IMAGES.mat). Written atomically. Every load checks that the file is a zip archive whose members
pass their CRC, holds ``images`` of that dtype and shape with N ≥ 1, that every value is finite
and in [0, 1], and that ``source``, if there, is one of the two labels; pickled objects are
refused (``allow_pickle=False``). A bad or missing patch file is ours to rebuild: it is sampled
again from IMAGES.mat (or the fallback, when there is no IMAGES.mat) with the default seed and
count (with a warning if it was bad). Patches of the fallback count as stale once IMAGES.mat is
there, and are sampled again from it with a warning, so real data is never silently replaced
by the stand-in; patches of IMAGES.mat are used even if IMAGES.mat has since been deleted.

Figure crops: :func:`figure_crops` gives the paper's ten neighbouring 16×16 crops of the
rescaled image 0 (docs/method.md; of the fallback's china.jpg when there is no IMAGES.mat) and
their place: the default input of ``jlonevae-plot``'s model figures for a 16×16 model.

Why uncompressed: compression saved little of the size in our measurement and made writing and
loading many times slower; every step of sampling, loading and drawing batches is
a small fraction of training (figures in benchmarks/README.md).

``python -m jlonevae_lib.data.natural_images`` (or ``data/sampleNatualImagePatches.py``) samples
both files; training on ``naturalImages`` builds a missing training file by itself. The package
does not import this module (``python -m`` would then run it twice); the registry imports it on
the first lookup of a dataset name.
"""

from __future__ import annotations

if __name__ == "__main__":
    # ``python -m`` of this module: run its command line as the program, by name (the library
    # never imports jlonevae_lib.cli), before this copy defines anything (the command
    # imports the module as usual; this copy would run beside it).
    import runpy

    runpy.run_module("jlonevae_lib.cli.natural_images", run_name="__main__", alter_sys=True)

import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jlonevae_lib.data.ground_truth import TrainingData, register_training_data
from jlonevae_lib.data.ground_truth import data_root as default_data_root
from jlonevae_lib.data.npz import read_npz_arrays
from jlonevae_lib.utils.atomic import atomic_path
from jlonevae_lib.utils.errors import DataFileError

#: Dataset name, and the folder under the data root.
NATURAL_IMAGES = "naturalImages"
SOURCE_FILE = "IMAGES.mat"
SOURCE_VARIABLE = "IMAGES"
#: (rows, columns, images) of the MATLAB array.
SOURCE_SHAPE = (512, 512, 10)
PATCH_SIDE = 16
SPLITS = ("train", "test")
DEFAULT_PATCHES_PER_IMAGE = {"train": 10_000, "test": 1_000}
DEFAULT_SEED = 0
PATCH_ARRAY = "images"
#: The patch files' label array, and its two values.
SOURCE_ARRAY = "source"
SOURCE_LABEL = SOURCE_FILE
FALLBACK_LABEL = ("offline fallback (scikit-learn's sample photos china.jpg and flower.jpg, "
                  "grey, whitened; not IMAGES.mat)")
#: Whitening cut-off f₀ in cycles/pixel. Olshausen & Field used f₀ = 200 cycles/picture on their
#: 512-pixel images (``f_0 = 0.4*N`` in their make-your-own-images code): 0.4 cycles/pixel, 0.8
#: of the Nyquist frequency (0.5 cycles/pixel). Given per pixel, it scales with the size of the
#: picture at hand and means the same along both axes of a non-square one.
WHITENING_CUTOFF = 0.4
#: ITU-R BT.601 luma weights of (R, G, B), those of Pillow's ``convert("L")``.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
DOWNLOAD_SCRIPT = "data/download_natural_image_data.sh"
#: The paper's sequence of neighbouring crops for its Jacobian figure (docs/method.md): image 0,
#: x = 40..49, y = 100 (x the first array axis, see :func:`neighbouring_crops`).
PAPER_CROP_IMAGE = 0
PAPER_CROP_XS = tuple(range(40, 50))
PAPER_CROP_Y = 100
#: Where the figure's crops lie in the offline fallback's image 0 (china.jpg, 427×640): the
#: paper's place falls on its sky, flat at the scale of a patch; these ten cross the temple's
#: lower roof, the most textured place of the photograph at that scale.
FALLBACK_CROP_XS = tuple(range(256, 266))
FALLBACK_CROP_Y = 224

_MAT_V73 = (2, 0)  # scipy's matfile_version of a MAT v7.3 (HDF5) file


# --------------------------------------------------------------------------- paths
def source_path(root: str | os.PathLike | None = None) -> Path:
    """``<root>/naturalImages/IMAGES.mat``; root defaults to :func:`data_root`."""
    return default_data_root(root) / NATURAL_IMAGES / SOURCE_FILE


def patches_path(split: str, root: str | os.PathLike | None = None) -> Path:
    """``<root>/naturalImages/<split>/data.npz``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return default_data_root(root) / NATURAL_IMAGES / split / "data.npz"


# --------------------------------------------------------------------------- source images
def _read_mat_v73(path: Path) -> object:
    """The ``IMAGES`` dataset of a MAT v7.3 (HDF5) file, as (512, 512, 10) in MATLAB's order."""
    import h5py

    with h5py.File(path, "r") as f:
        if SOURCE_VARIABLE not in f:
            raise DataFileError(f"has no variable {SOURCE_VARIABLE!r}")
        dataset = f[SOURCE_VARIABLE]
        if not isinstance(dataset, h5py.Dataset):
            raise DataFileError(f"has {SOURCE_VARIABLE!r} as a MATLAB struct or cell, "
                                "not a numeric array")
        # HDF5 stores MATLAB's column-major array with its axes reversed.
        return np.asarray(dataset[()]).transpose()


def _read_mat(path: Path) -> object:
    """The ``IMAGES`` variable of a MAT file (v4/v5 by scipy, v7.3 by h5py), unchecked."""
    import scipy.io

    with open(path, "rb") as f:
        head = f.read(128)
    if head.lstrip().startswith(b"<"):
        raise DataFileError("is an HTML/XML page, not a MAT file (a failed download?)")
    if scipy.io.matlab.matfile_version(path) == _MAT_V73:
        return _read_mat_v73(path)
    variables = scipy.io.loadmat(path, variable_names=[SOURCE_VARIABLE])
    if SOURCE_VARIABLE not in variables:
        raise DataFileError(f"has no variable {SOURCE_VARIABLE!r}")
    return variables[SOURCE_VARIABLE]


def read_source_images(path: str | os.PathLike) -> np.ndarray:
    """The validated source array (512, 512, 10) float64 of a MAT file.

    Raises DataFileError with the problem only (the caller names the file and the fix).
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError("does not exist")
    try:
        images = _read_mat(path)
    except DataFileError:
        raise
    except Exception as err:  # the MAT parsers raise many types on truncated or garbled bytes
        raise DataFileError(f"is not a readable MAT file (truncated or corrupt?): "
                            f"{type(err).__name__}: {str(err)[:200]}") from None
    if not isinstance(images, np.ndarray) or images.dtype.kind != "f":
        kind = images.dtype if isinstance(images, np.ndarray) else type(images).__name__
        raise DataFileError(f"has {SOURCE_VARIABLE!r} of type {kind}, expected real floats")
    if images.shape != SOURCE_SHAPE:
        raise DataFileError(f"has {SOURCE_VARIABLE!r} of shape {images.shape}, "
                            f"expected {SOURCE_SHAPE}")
    images = images.astype(np.float64, copy=False)
    low, high = images.min(), images.max()  # NaN propagates through both
    if not (np.isfinite(low) and np.isfinite(high)):
        raise DataFileError(f"has non-finite values (NaN or infinity) in {SOURCE_VARIABLE!r}")
    if low == high:
        raise DataFileError(f"has a constant {SOURCE_VARIABLE!r} ({low}), nothing to rescale")
    return images


def load_source_images(root: str | os.PathLike | None = None) -> np.ndarray:
    """The validated IMAGES.mat under ``root``, (512, 512, 10) float64; DataFileError if bad."""
    path = source_path(root)
    try:
        return read_source_images(path)
    except DataFileError as err:
        fix = (f"run {DOWNLOAD_SCRIPT} to fetch it" if not path.exists() else
               f"delete it and run {DOWNLOAD_SCRIPT} to fetch it again")
        raise DataFileError(f"natural-image source {path} {err}; {fix} "
                            "(Olshausen's sparsenet IMAGES.mat)") from None


# --------------------------------------------------------------------------- offline fallback
def luminance(rgb: np.ndarray) -> np.ndarray:
    """Grey float64 (H, W) of an RGB image (H, W, 3), in the image's own units.

    ITU-R BT.601 luma, 0.299 R + 0.587 G + 0.114 B (:data:`LUMA_WEIGHTS`), taken on the stored
    gamma-encoded values: what Pillow's ``convert("L")`` computes, without its rounding.
    """
    return np.asarray(rgb, dtype=np.float64) @ np.asarray(LUMA_WEIGHTS)


def whitening_filter(shape: tuple[int, int], cutoff: float = WHITENING_CUTOFF) -> np.ndarray:
    """Olshausen & Field's whitening filter f·exp(−(f/f₀)⁴) on the FFT grid of (H, W) images.

    f is the radial spatial frequency in cycles/pixel on ``np.fft.fftfreq``'s grid (DC at
    [0, 0]), f₀ = ``cutoff`` cycles/pixel. Returns float64 (H, W): 0 at DC, ≈ f well below f₀
    (which flattens a 1/f amplitude spectrum), largest at f = f₀/√2, and falling fast above f₀
    (against noise and aliasing near the Nyquist frequency).
    """
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.fftfreq(shape[1])[None, :]
    f = np.hypot(fy, fx)
    return f * np.exp(-((f / cutoff) ** 4))


def whiten(images: np.ndarray, cutoff: float = WHITENING_CUTOFF) -> np.ndarray:
    """Whitened float64 (H, W, K) of grey images (H, W, K), as IMAGES.mat was prepared.

    Each image's spectrum is multiplied by :func:`whitening_filter`; then all images are divided
    by one number so that their variance, averaged over the K images, is 1 (Olshausen scaled to
    0.1; the scale is immaterial here, the patches are rescaled to [0, 1]). Each image comes
    out with mean 0 (up to rounding). The filter is applied to the image mirrored into a (2H, 2W)
    tile, whose wrap-around is smooth, rather than to the image itself: the FFT treats its input
    as periodic, and the jump between opposite edges of a photograph would come out as bright
    lines along its borders. The tile's four quadrants are mirror images of each other, so the
    image's quadrant keeps the tile's zero mean.
    """
    height, width, _ = images.shape
    tile = np.concatenate([images, images[::-1]], axis=0)
    tile = np.concatenate([tile, tile[:, ::-1]], axis=1)
    gain = whitening_filter(tile.shape[:2], cutoff)[..., None]
    spectrum = np.fft.fft2(tile, axes=(0, 1)) * gain
    whitened = np.fft.ifft2(spectrum, axes=(0, 1)).real[:height, :width]
    return whitened / np.sqrt(whitened.var(axis=(0, 1)).mean())


def fallback_images() -> np.ndarray:
    """The offline fallback source, float64 (427, 640, 2) in IMAGES.mat's layout (rows, columns,
    images): scikit-learn's sample photographs china.jpg and flower.jpg, in that order, grey
    (:func:`luminance`) and whitened (:func:`whiten`)."""
    from sklearn.datasets import load_sample_images  # JPEGs inside the installed package

    photos = load_sample_images().images
    return whiten(np.stack([luminance(photo) for photo in photos], axis=2))


def _announce_fallback(what: str, root: str | os.PathLike | None) -> None:
    """One warning line on stderr: ``what`` the fallback, and how to get IMAGES.mat."""
    print(f"warning: {what} the natural-image {FALLBACK_LABEL}, as {source_path(root)} is "
          f"absent; run {DOWNLOAD_SCRIPT} to fetch IMAGES.mat", file=sys.stderr, flush=True)


def load_images_or_fallback(root: str | os.PathLike | None = None
                            ) -> tuple[np.ndarray, str]:
    """The source images (H, W, K) float64 and their label.

    The validated IMAGES.mat under ``root``, (512, 512, 10) with :data:`SOURCE_LABEL`; only when
    no file of that name exists, :func:`fallback_images`, (427, 640, 2) with
    :data:`FALLBACK_LABEL`, announced on stderr. A present but bad IMAGES.mat is refused with
    DataFileError, as by :func:`load_source_images`, never stood in for.
    """
    if source_path(root).exists():
        return load_source_images(root), SOURCE_LABEL
    _announce_fallback("using", root)
    return fallback_images(), FALLBACK_LABEL


# --------------------------------------------------------------------------- patches
def rescale(images: np.ndarray) -> np.ndarray:
    """Global min/max rescaling of any array to [0, 1] as float32 (same shape)."""
    low, high = images.min(), images.max()
    return ((images - low) / (high - low)).astype(np.float32)


def split_rng(seed: int, split: str) -> np.random.Generator:
    """The Generator of one split: an independent child of ``SeedSequence(seed)``."""
    children = np.random.SeedSequence(seed).spawn(len(SPLITS))
    return np.random.default_rng(children[SPLITS.index(split)])


def patch_corners(num_images: int, patches_per_image: int, image_shape: tuple[int, int],
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random top-left corners (rows, cols), each int64 (num_images, patches_per_image).

    Uniform over every position where a full patch fits; rows are drawn before columns.
    """
    height, width = image_shape
    size = (num_images, patches_per_image)
    rows = rng.integers(0, height - PATCH_SIDE + 1, size=size)
    cols = rng.integers(0, width - PATCH_SIDE + 1, size=size)
    return rows, cols


def cut_patches(images: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Patches (K·P, 1, 16, 16) of images (H, W, K) at corners rows, cols (K, P), image-major.

    Patch ``k·P + p`` is ``images[rows[k, p]:+16, cols[k, p]:+16, k]``.
    """
    by_image = np.ascontiguousarray(np.moveaxis(images, 2, 0))  # (K, H, W): rows contiguous
    windows = np.lib.stride_tricks.sliding_window_view(by_image, (PATCH_SIDE, PATCH_SIDE),
                                                       axis=(1, 2))
    image_index = np.arange(len(rows))[:, None]
    patches = windows[image_index, rows, cols]  # (K, P, 16, 16), a copy
    return patches.reshape(-1, 1, PATCH_SIDE, PATCH_SIDE)


def sample_patches(images: np.ndarray, patches_per_image: int, seed: int, split: str
                   ) -> np.ndarray:
    """The seeded patches of one split: source (H, W, K) → float32 (K·P, 1, 16, 16)."""
    scaled = rescale(images)
    rows, cols = patch_corners(images.shape[2], patches_per_image, images.shape[:2],
                               split_rng(seed, split))
    return cut_patches(scaled, rows, cols)


def save_patches(path: str | os.PathLike, patches: np.ndarray, source: str) -> None:
    """Write patches (N, 1, 16, 16) float32 and their source label (a 0-d string array) to an
    uncompressed .npz atomically."""
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **{PATCH_ARRAY: patches, SOURCE_ARRAY: np.array(source)})


def read_patch_file(path: str | os.PathLike) -> tuple[np.ndarray, str]:
    """The validated patches float32 (N, 1, 16, 16) of a patch file, and their source label.

    The reference's files (float64, compressed) are read too, as float32. A file without a
    label predates the fallback: :data:`SOURCE_LABEL`. Raises DataFileError
    with the problem only (the caller names the file and the fix).
    """
    arrays = read_npz_arrays(path, (PATCH_ARRAY,), optional=(SOURCE_ARRAY,))
    label = arrays.get(SOURCE_ARRAY, np.array(SOURCE_LABEL))
    if label.shape != () or label.dtype.kind != "U" or str(label) not in (SOURCE_LABEL,
                                                                          FALLBACK_LABEL):
        raise DataFileError(f"has an unknown {SOURCE_ARRAY!r} label "
                            f"{str(label)[:80]!r}, expected {SOURCE_LABEL!r} or the fallback's")
    patches = arrays[PATCH_ARRAY]
    expected = (1, PATCH_SIDE, PATCH_SIDE)
    # float64: the reference's own patch files, which are the user's data and are read as
    # they are (their patches were drawn without a seed: they could not be cut again).
    if (patches.dtype not in (np.float32, np.float64) or patches.ndim != 4
            or patches.shape[1:] != expected):
        raise DataFileError(f"has {PATCH_ARRAY!r} of shape {patches.shape} and dtype "
                            f"{patches.dtype}, expected (N, {', '.join(map(str, expected))}) "
                            "float32 (or the reference's float64)")
    if len(patches) == 0:
        raise DataFileError("holds no patches")
    low, high = patches.min(), patches.max()  # NaN propagates through both
    if not (0 <= low and high <= 1):
        raise DataFileError(f"has values outside [0, 1] or non-finite (min {low}, max {high})")
    return patches.astype(np.float32, copy=False), str(label)


def write_patch_files(root: str | os.PathLike | None = None, seed: int = DEFAULT_SEED,
                      patches_per_image: dict[str, int] | None = None,
                      splits: tuple[str, ...] = SPLITS
                      ) -> tuple[dict[str, np.ndarray], str]:
    """Sample and save the patch files of ``splits`` from IMAGES.mat, or the fallback.

    ``patches_per_image`` maps split → count (default 10,000 train, 1,000 test). Returns the
    patches by split and their source label (see :func:`load_images_or_fallback`). Raises
    DataFileError if IMAGES.mat is bad.
    """
    counts = {**DEFAULT_PATCHES_PER_IMAGE, **(patches_per_image or {})}
    images, source = load_images_or_fallback(root)
    written = {}
    for split in splits:
        written[split] = sample_patches(images, counts[split], seed, split)
        save_patches(patches_path(split, root), written[split], source)
    return written, source


def load_labelled_patches(split: str = "train", root: str | os.PathLike | None = None
                          ) -> tuple[np.ndarray, str]:
    """The validated patches of ``split`` under ``root``, float32 (N, 1, 16, 16), and their
    source label (:data:`SOURCE_LABEL` or :data:`FALLBACK_LABEL`).

    A missing file is sampled (seed 0, default count) from IMAGES.mat, or from the fallback when
    there is no IMAGES.mat. A bad file, and a file of the fallback's patches once IMAGES.mat is
    there, is sampled again the same way, with a warning. Using the fallback's patches prints a
    warning line. DataFileError if sampling needs IMAGES.mat and it is bad.
    """
    path = patches_path(split, root)
    try:
        patches, source = read_patch_file(path)
    except DataFileError as err:
        problem = str(err)
    else:
        if source == SOURCE_LABEL:
            return patches, source
        if not source_path(root).exists():
            _announce_fallback(f"{path} holds patches of", root)
            return patches, source
        problem = f"holds patches of the {FALLBACK_LABEL}, and {SOURCE_FILE} is now there"
    try:
        images, source = load_images_or_fallback(root)
    except DataFileError as err:
        raise DataFileError(f"natural-image patches {path} {problem}, and cannot be sampled: "
                            f"{err}") from None
    origin = source_path(root) if source == SOURCE_LABEL else "the offline fallback"
    if path.exists():
        warnings.warn(f"natural-image patches {path} {problem}; sampling them again from "
                      f"{origin} (seed {DEFAULT_SEED})", stacklevel=2)
    else:
        print(f"Sampling the natural-image {split} patches {path} from {origin} "
              "(once; a few seconds)", file=sys.stderr, flush=True)
    patches = sample_patches(images, DEFAULT_PATCHES_PER_IMAGE[split], DEFAULT_SEED, split)
    save_patches(path, patches, source)
    return patches, source


def load_patches(split: str = "train", root: str | os.PathLike | None = None) -> np.ndarray:
    """The validated patches of ``split`` under ``root``, float32 (N, 1, 16, 16) (see
    :func:`load_labelled_patches`)."""
    return load_labelled_patches(split, root)[0]


# --------------------------------------------------------------------------- figure crops
def neighbouring_crops(images: np.ndarray, image_index: int, xs: Sequence[int], y: int,
                       side: int = PATCH_SIDE) -> np.ndarray:
    """Crops float32 (len(xs), 1, side, side) of ``images`` (H, W, K), one per x in ``xs``.

    The reference's convention (``large_images[x:x+16, y:y+16, imageId]``): x indexes the first
    axis (rows of the MATLAB array, top to bottom on screen), y the second (columns), and
    (x, y) is a crop's top-left corner. Crop i is ``images[xs[i]:xs[i]+side, y:y+side,
    image_index]``, so consecutive x move the window one pixel down. ValueError if a crop does
    not lie inside the image (a negative index would silently wrap around).
    """
    height, width, num_images = images.shape
    xs = list(xs)
    if not 0 <= image_index < num_images:
        raise ValueError(f"image_index must be in 0..{num_images - 1}, got {image_index}")
    if not xs or min(xs) < 0 or max(xs) + side > height or not 0 <= y <= width - side:
        raise ValueError(f"crops of {side}×{side} at x = {xs}, y = {y} do not fit in "
                         f"{height}×{width} images")
    crops = [images[x:x + side, y:y + side, image_index] for x in xs]
    return np.stack(crops)[:, None].astype(np.float32)


@dataclass(frozen=True)
class FigureCrops:
    """The natural-image figure's inputs and where they were cut."""

    images: np.ndarray  # float32 (10, 1, 16, 16) in [0, 1]
    image_index: int
    xs: tuple[int, ...]
    y: int
    source: str  # SOURCE_LABEL or FALLBACK_LABEL


def figure_crops(root: str | os.PathLike | None = None) -> FigureCrops:
    """The natural-image figure's ten neighbouring crops (docs/method.md) and their place.

    From the validated, globally rescaled IMAGES.mat under ``root``: the paper's, image
    :data:`PAPER_CROP_IMAGE`, x = 40..49 (:data:`PAPER_CROP_XS`), y = 100 (see
    :func:`neighbouring_crops` for which axis is which). From the offline fallback when there is
    no IMAGES.mat (:func:`load_images_or_fallback`): the same image index at
    :data:`FALLBACK_CROP_XS`, :data:`FALLBACK_CROP_Y`, since the paper's place is flat sky
    there. DataFileError if IMAGES.mat is bad.
    """
    images, source = load_images_or_fallback(root)
    xs, y = ((PAPER_CROP_XS, PAPER_CROP_Y) if source == SOURCE_LABEL
             else (FALLBACK_CROP_XS, FALLBACK_CROP_Y))
    crops = neighbouring_crops(rescale(images), PAPER_CROP_IMAGE, xs, y)
    return FigureCrops(crops, PAPER_CROP_IMAGE, xs, y, source)


# --------------------------------------------------------------------------- dataset
@register_training_data(NATURAL_IMAGES)
class NaturalImagePatches(TrainingData):
    """16×16 natural-image patches to train on; no ground-truth factors.

    The patches of ``split`` are loaded (or sampled, see :func:`load_labelled_patches`) on
    construction, so a bad source fails before a training run creates anything. ``data_source``
    is their label (:data:`SOURCE_LABEL` or :data:`FALLBACK_LABEL`); training records it in the
    run's ``config.json``.
    """

    def __init__(self, data_root: str | os.PathLike | None = None, split: str = "train") -> None:
        self.patches, self.data_source = load_labelled_patches(split, data_root)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (1, PATCH_SIDE, PATCH_SIDE)

    def sample_training_batch(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """Patches drawn uniformly with replacement: float32 (B, 1, 16, 16) in [0, 1]."""
        return self.patches[rng.integers(0, len(self.patches), size=batch_size)]
