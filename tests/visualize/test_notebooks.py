"""Every notebook runs headlessly against the fixture tree and draws its figures."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbclient import NotebookClient

from tests.visualize.dataset_fixtures import (
    MPI3D_BETA_EXPERIMENT,
    MPI3D_JL1_EXPERIMENT,
    MPI3D_RUN,
    THREE_DOTS_DECOY,
)
from tests.visualize.figure_checks import assert_real_png
from tests.visualize.result_fixtures import BETA_EXPERIMENT, JL1_EXPERIMENT

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"

# notebook -> the figures it must write (PNG names; a PDF is written beside each).
EXPECTED_FIGURES = {
    "ExampleJacobianValues_ThreeDots.ipynb": [
        "threeDots_jacobian_columns.png",
        f"threeDots_traversals_{BETA_EXPERIMENT}_seed1.png",
        f"threeDots_traversals_{JL1_EXPERIMENT}_seed1.png",
    ],
    "ExampleJacobianValues-Mpi3d-multi.ipynb": [
        "mpi3dMulti_jacobian_columns.png",
        f"mpi3dMulti_traversals_{MPI3D_BETA_EXPERIMENT}_{MPI3D_RUN}.png",
        f"mpi3dMulti_traversals_{MPI3D_JL1_EXPERIMENT}_{MPI3D_RUN}.png",
    ],
    "LocalDisentanglementComparedToBaseline.ipynb": [
        "threeDots_local_mig_0_1_compareToStandard.png",
        "threeDots_local_modularity_0_1_compareToStandard.png",
    ],
    "ScatterplotMIGandModularity_VaryingRho.ipynb": [
        "threeDots_local_mig_varyingRho.png",
        "threeDots_local_modularity_varyingRho.png",
        "threeDots_local_mig_L1vsL2.png",
        "threeDots_local_modularity_L1vsL2.png",
        "threeDots_mig_vs_modularity_0_1.png",
    ],
}
# Notebooks that read a data set (their first cell takes its root from DISENTANGLEMENT_LIB_DATA):
# they run against the datasets tree, with its MPI3D-multi models.
DATASET_NOTEBOOKS = {"ExampleJacobianValues-Mpi3d-multi.ipynb"}


def test_every_notebook_is_tested_and_stored_without_outputs() -> None:
    assert sorted(p.name for p in NOTEBOOKS_DIR.glob("*.ipynb")) == sorted(EXPECTED_FIGURES)
    for name in EXPECTED_FIGURES:
        nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
        nbformat.validate(nb)
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        assert all(cell.outputs == [] and cell.execution_count is None for cell in code), name
        # The first cell points at the models folder, overridable for these tests.
        assert nb.cells[0].cell_type == "code" and "JLONEVAE_MODELS_DIR" in nb.cells[0].source
        if name in DATASET_NOTEBOOKS:
            assert "DISENTANGLEMENT_LIB_DATA" in nb.cells[0].source, name


FOLDER_VARIABLES = ("JLONEVAE_MODELS_DIR", "JLONEVAE_BASELINES_DIR", "JLONEVAE_FIGURES_DIR",
                    "DISENTANGLEMENT_LIB_DATA")


def _folders_of_first_cell(settings: list[str], value: str | None) -> dict[str, Path]:
    """The folders the first cell's settings lines give with every folder variable set to
    ``value`` (None: unset)."""
    environ = {key: val for key, val in os.environ.items() if key not in FOLDER_VARIABLES}
    if value is not None:
        environ.update(dict.fromkeys(FOLDER_VARIABLES, value))
    namespace: dict = {"DEMO_MODELS_DIR": Path("demo"), "Path": Path,
                       "check_models_dir": Path, "os": SimpleNamespace(environ=environ)}
    exec("\n".join(settings), namespace)
    return {key: value for key, value in namespace.items() if isinstance(value, Path)
            and key not in ("DEMO_MODELS_DIR", "Path")}


def test_an_empty_folder_variable_counts_as_unset() -> None:
    """``JLONEVAE_MODELS_DIR=`` (set, empty) must not make a notebook read the working
    folder: each first cell falls back to its default as when the variable is unset."""
    for name in EXPECTED_FIGURES:
        source = nbformat.read(NOTEBOOKS_DIR / name, as_version=4).cells[0].source
        settings = [line for line in source.splitlines()
                    if " = Path(os.environ.get(" in line
                    or " = check_models_dir(os.environ.get(" in line]
        # Every variable the cell reads is among those lines and those variables.
        assert source.count("os.environ") == len(settings), name
        assert all(any(variable in line for variable in FOLDER_VARIABLES)
                   for line in settings), name
        unset = _folders_of_first_cell(settings, None)
        assert unset and all(folder != Path() for folder in unset.values()), name
        assert _folders_of_first_cell(settings, "") == unset, name


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, results_tree: Path) -> Path:
    """A ``python3`` kernel that runs this interpreter (the venv's), found first on
    JUPYTER_PATH whatever the user has installed, and the fixture folders in the environment.
    Returns the figures folder."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (test)", "language": "python"}))
    figures = tmp_path / "figures"
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JLONEVAE_MODELS_DIR", str(results_tree / "trainedModels"))
    monkeypatch.setenv("JLONEVAE_BASELINES_DIR", str(results_tree / "trainedStandardModels"))
    monkeypatch.setenv("JLONEVAE_FIGURES_DIR", str(figures))
    return figures


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED_FIGURES))
def test_notebook_runs_and_draws(name: str, kernel_env: Path, request: pytest.FixtureRequest,
                                 monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if name in DATASET_NOTEBOOKS:
        data_root = request.getfixturevalue("mpi3d_data_root")
        monkeypatch.setenv("JLONEVAE_MODELS_DIR", str(data_root.parent / "trainedModels"))
        monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(data_root))
    elif name == "ExampleJacobianValues_ThreeDots.ipynb":
        # MPI3D-multi models (colour images; β = 0.01 sorts before β = 4) beside the three-dots
        # runs, as in a shared trainedModels/: the notebook draws the three-dots ones only.
        mixed = tmp_path / "mixedModels"
        mixed.mkdir()
        for models in (request.getfixturevalue("results_tree") / "trainedModels",
                       request.getfixturevalue("datasets_tree") / "trainedModels"):
            for experiment in models.iterdir():
                if experiment.name != THREE_DOTS_DECOY:  # a three-dots run, drawn if found
                    (mixed / experiment.name).symlink_to(experiment)
        monkeypatch.setenv("JLONEVAE_MODELS_DIR", str(mixed))
    nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})
    client.execute()  # raises CellExecutionError, with the cell's traceback, on any error
    # Exactly these: no other run (the datasets tree's three-dots decoy) is drawn.
    assert sorted(p.name for p in kernel_env.glob("*.png")) == sorted(EXPECTED_FIGURES[name])
    for png in EXPECTED_FIGURES[name]:
        assert_real_png(kernel_env / png)
    # The figures are also shown inline, as images.
    shown = [output for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs
             if "image/png" in output.get("data", {})]
    assert len(shown) >= len(EXPECTED_FIGURES[name])
