"""Session fixtures of the visualisation tests (see :mod:`result_fixtures` and
:mod:`dataset_fixtures` for the trees)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from jlonevae_lib.data.mpi3d_conversion import CONVERTED_NAME, FOLDER_NAME
from tests.visualize.dataset_fixtures import build_datasets_tree
from tests.visualize.result_fixtures import JL1_EXPERIMENT, build_results_tree


@pytest.fixture(scope="session")
def results_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root folder holding ``trainedModels/`` and ``trainedStandardModels/``."""
    return build_results_tree(tmp_path_factory.mktemp("results_tree"))


@pytest.fixture(scope="session")
def tiny_run(results_tree: Path) -> Path:
    """A run folder with a saved tiny model (64×64×1, 3 latents)."""
    return results_tree / "trainedModels" / JL1_EXPERIMENT / "seed1"


@pytest.fixture(scope="session")
def datasets_tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The root holding ``trainedModels/`` (MPI3D-multi and natural-image runs) and ``data/``."""
    root = build_datasets_tree(tmp_path_factory.mktemp("datasets_tree"))
    yield root
    # Kept temporary folders would hold a 21 MB IMAGES.mat and a 12.7 GB (sparse) file.
    shutil.rmtree(root / "data", ignore_errors=True)


@pytest.fixture(scope="session")
def mpi3d_data_root(datasets_tree: Path) -> Path:
    """The data root of :func:`datasets_tree`, skipping where the MPI3D file could not be
    written sparse."""
    root = datasets_tree / "data"
    if not (root / FOLDER_NAME / CONVERTED_NAME).is_file():
        pytest.skip("this file system does not keep files sparse")
    return root
