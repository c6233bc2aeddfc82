"""A small tree for the MPI3D-multi and natural-image figures: tiny models and real-shape data.

:func:`build_datasets_tree` writes::

    trainedModels/<MPI3D_*_EXPERIMENT>/seed11/representation/cache_batch_no3/    (3×64×64)
    trainedModels/<NATURAL_*_EXPERIMENT>/seed0/representation/cache_batch_no3/   (1×16×16)
    trainedModels/<THREE_DOTS_DECOY>/seed1/representation/cache_batch_no3/       (1×64×64)
    data/naturalImages/IMAGES.mat              synthetic, the real shape (512, 512, 10)
    data/mpi3d_real/mpi3d_real_images.npy      the real shape, sparse: only the MPI3D-multi
                                               example's four sub-images are written

It is kept apart from :mod:`result_fixtures`' tree: the three-dots notebooks pick the first
γ = 0 run by name, which must stay a three-dots model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from jlonevae_lib.architecture.save_model import save_conv_vae
from jlonevae_lib.architecture.vae import build_conv_vae
from jlonevae_lib.data.mpi3d import MULTI_FIXED_FACTORS
from jlonevae_lib.data.mpi3d_conversion import CONVERTED_NAME, FOLDER_NAME, REAL_LAYOUT
from jlonevae_lib.visualize.inputs import MPI3D_MULTI_EXAMPLE_AXES
from tests.data.test_natural_images import write_source

LATENT_DIM = 3
# The paper's MPI3D-multi and natural-image settings (β = 0.01, γ ∈ {0, 0.01}), 3 latents.
MPI3D_BETA_EXPERIMENT = "defaultConv_lone_beta0_0100_ica0_0000_lat3_batch64_lr0_0001_anneal100000"
MPI3D_JL1_EXPERIMENT = "defaultConv_lone_beta0_0100_ica0_0100_lat3_batch64_lr0_0001_anneal100000"
NATURAL_BETA_EXPERIMENT = "tiny16_lone_beta0_0100_ica0_0000_lat3_batch128_lr0_0010_anneal50000"
NATURAL_JL1_EXPERIMENT = "tiny16_lone_beta0_0100_ica0_0100_lat3_batch128_lr0_0010_anneal50000"
# A three-dots β-VAE whose name sorts before the MPI3D ones: finding "the first γ = 0 run"
# must skip it for its input shape.
THREE_DOTS_DECOY = "defaultConv_lone_beta0_0010_ica0_0000_lat3_batch64_lr0_0010_anneal700"
MPI3D_RUN, NATURAL_RUN = "seed11", "seed0"
# A sparse file keeps only the blocks written (a few MB); more means the file system fills holes.
MAX_SPARSE_BYTES = 100e6


def save_model(run_dir: Path, preset: str, im_channels: int, seed: int) -> Path:
    """A freshly initialised model saved as the run's final checkpoint; returns ``run_dir``."""
    torch.manual_seed(seed)
    model = build_conv_vae(preset, im_channels=im_channels, latent_dim=LATENT_DIM)
    save_conv_vae(model, run_dir / "representation" / "cache_batch_no3")
    return run_dir


def example_sub_image(k: int) -> np.ndarray:
    """uint8 (64, 64, 3) for sub-image k: a disc ("arm") on a coloured background, k's own
    position and colours, so the tiled example has structure and each quarter differs."""
    y, x = np.mgrid[:64, :64]
    disc = (y - 16 - 8 * k) ** 2 + (x - 40 + 6 * k) ** 2 < 100
    image = np.empty((64, 64, 3), dtype=np.uint8)
    image[:] = (200 - 40 * k, 120, 60 + 40 * k)
    image[disc] = (20, 40 * k, 240)
    return image


def multi_sub_image_index(h: int, v: int) -> int:
    """Index in the real archive of the MPI3D-multi sub-image with axes (h, v)."""
    return int(REAL_LAYOUT.image_indices(np.array([[*MULTI_FIXED_FACTORS, h, v]]))[0])


def write_sparse_mpi3d(root: Path) -> Path | None:
    """The real-shape converted MPI3D file under ``root`` holding the example's sub-images
    (:func:`example_sub_image`), zero elsewhere; None if the file system does not keep it
    sparse (the file is then deleted)."""
    path = root / FOLDER_NAME / CONVERTED_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8,
                                      shape=REAL_LAYOUT.array_shape)
    for k, (h, v) in enumerate(MPI3D_MULTI_EXAMPLE_AXES):
        array[multi_sub_image_index(h, v)] = example_sub_image(k)
    array.flush()
    del array
    if path.stat().st_blocks * 512 > MAX_SPARSE_BYTES:
        path.unlink()
        return None
    return path


def build_datasets_tree(root: Path) -> Path:
    """Write the models and data under ``root`` (see the module docstring); returns ``root``."""
    models = root / "trainedModels"
    for seed, experiment in enumerate((MPI3D_BETA_EXPERIMENT, MPI3D_JL1_EXPERIMENT)):
        save_model(models / experiment / MPI3D_RUN, "defaultConv", 3, seed)
    for seed, experiment in enumerate((NATURAL_BETA_EXPERIMENT, NATURAL_JL1_EXPERIMENT)):
        save_model(models / experiment / NATURAL_RUN, "tiny16", 1, seed)
    save_model(models / THREE_DOTS_DECOY / "seed1", "defaultConv", 1, 0)
    write_source(root / "data")  # synthetic whitened-looking IMAGES.mat
    write_sparse_mpi3d(root / "data")
    return root
