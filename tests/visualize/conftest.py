"""Session fixtures of the visualisation tests (see :mod:`result_fixtures` for the tree)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.visualize.result_fixtures import JL1_EXPERIMENT, build_results_tree


@pytest.fixture(scope="session")
def results_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root folder holding ``trainedModels/`` and ``trainedStandardModels/``."""
    return build_results_tree(tmp_path_factory.mktemp("results_tree"))


@pytest.fixture(scope="session")
def tiny_run(results_tree: Path) -> Path:
    """A run folder with a saved tiny model (64×64×1, 3 latents)."""
    return results_tree / "trainedModels" / JL1_EXPERIMENT / "seed1"
