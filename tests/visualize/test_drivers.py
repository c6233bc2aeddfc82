"""The figure drivers in experimentScripts/visualizations/, run on the fixture tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.visualize.dataset_fixtures import (
    MPI3D_BETA_EXPERIMENT,
    NATURAL_JL1_EXPERIMENT,
    NATURAL_RUN,
    THREE_DOTS_DECOY,
)
from tests.visualize.figure_checks import assert_real_png

REPO = Path(__file__).resolve().parents[2]
DRIVERS = REPO / "experimentScripts" / "visualizations"


@pytest.mark.parametrize("script", sorted(p.name for p in DRIVERS.glob("*.bash")))
def test_driver_is_valid_bash(script: str) -> None:
    subprocess.run(["bash", "-n", str(DRIVERS / script)], check=True)


def driver_env(**overrides: str) -> dict[str, str]:
    """The environment of a driver: the entry points of the interpreter running the tests
    first on PATH, no GUI backend, then ``overrides``."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "MPLBACKEND": "Agg", **overrides}


@pytest.mark.slow
def test_plot_all_figures(results_tree: Path, tmp_path: Path) -> None:
    env = driver_env(MODELS_DIR=str(results_tree / "trainedModels"),
                     BASELINES_DIR=str(results_tree / "trainedStandardModels"),
                     OUTPUT_DIR=str(tmp_path), SETTINGS="lat3_batch64_lr0_0010_anneal700",
                     RUN="seed1")
    done = subprocess.run(["bash", str(DRIVERS / "plot_all_figures.bash")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    expected = [
        "threeDots_jacobian_columns",
        "threeDots_local_mig_0_1_compareToStandard",
        "threeDots_local_modularity_0_1_compareToStandard",
        "threeDots_local_mig_varyingRho", "threeDots_local_modularity_varyingRho",
        "threeDots_local_mig_L1vsL2", "threeDots_local_modularity_L1vsL2",
        "threeDots_mig_vs_modularity_0_1", "threeDots_mig_vs_modularity_global",
    ]
    assert sorted(p.stem for p in tmp_path.glob("*.png")) == sorted(expected)
    for stem in expected:
        assert_real_png(tmp_path / f"{stem}.png")


def test_natural_images_driver_draws_one_figure_per_natural_image_run(datasets_tree: Path,
                                                                      tmp_path: Path) -> None:
    # One real tiny16 run (a linked copy) beside runs of other data sets, which must be skipped:
    # their empty representation/ folders would fail if drawn.
    models = tmp_path / "trainedModels"
    (models / NATURAL_JL1_EXPERIMENT).mkdir(parents=True)
    (models / NATURAL_JL1_EXPERIMENT / NATURAL_RUN).symlink_to(
        datasets_tree / "trainedModels" / NATURAL_JL1_EXPERIMENT / NATURAL_RUN)
    for experiment in (MPI3D_BETA_EXPERIMENT, THREE_DOTS_DECOY):
        (models / experiment / "seed1" / "representation").mkdir(parents=True)
    figures = tmp_path / "figures"
    done = subprocess.run(
        ["bash", str(DRIVERS / "createLatentJacobianImages_naturalImages.bash")],
        env=driver_env(MODELS_DIR=str(models), OUTPUT_DIR=str(figures),
                       DISENTANGLEMENT_LIB_DATA=str(datasets_tree / "data")),
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    name = f"naturalImages_jacobians_{NATURAL_JL1_EXPERIMENT}_{NATURAL_RUN}.png"
    assert [p.name for p in figures.glob("*.png")] == [name]
    assert_real_png(figures / name)


def test_natural_images_driver_without_runs_says_so(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(DRIVERS / "createLatentJacobianImages_naturalImages.bash")],
        env=driver_env(MODELS_DIR=str(tmp_path), OUTPUT_DIR=str(tmp_path / "figures")),
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error: no natural-image run (tiny16_*/<run>/representation)")
    assert not (tmp_path / "figures").exists()
