"""The demo checkpoints shipped in the package: two labelled runs, each under 2 MB, that load and
show real Jacobian columns without training (CLI default and the notebook's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from jlonevae_lib.demo_models import DEMO_LABEL, DEMO_MODELS_DIR, demo_run_dirs
from jlonevae_lib.demo_models.build import MAX_RUN_BYTES, folder_bytes
from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.visualize.inputs import example_three_dots_image, load_model_from
from jlonevae_lib.visualize.jacobian_columns import compute_jacobian_columns
from jlonevae_lib.visualize.results import GAMMA0, JL1, our_run_info

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOK = NOTEBOOKS / "ExampleJacobianValues_ThreeDots.ipynb"


def test_a_beta_vae_and_a_jl1_vae_are_shipped_small_and_labelled():
    runs = demo_run_dirs()
    assert [our_run_info(run).method for run in runs] == [GAMMA0, JL1]
    for run in runs:
        assert folder_bytes(run) <= MAX_RUN_BYTES
        assert (run / "DEMO.md").read_text().startswith(f"# {DEMO_LABEL}: ")
        config = TrainConfig.load(run / "config.json")
        assert (config.num_batches, config.dataset) == (8000, "threeDotsCacheSmall")
        assert json.loads((run / "DONE").read_text())["num_batches"] == 8000


def test_demo_models_give_real_columns():
    image = example_three_dots_image()
    for run in demo_run_dirs():
        columns = compute_jacobian_columns(load_model_from(run), image)[0].columns
        assert columns.shape == (10, 1, 64, 64)
        # A trained decoder: its most active column moves pixels visibly.
        assert float(np.abs(columns[0]).max()) > 0.05


def test_cli_without_models_draws_the_demo_columns(tmp_path):
    out = tmp_path / "columns.png"
    done = subprocess.run([sys.executable, "-m", "jlonevae_lib.visualize.cli", "jacobian-columns",
                           "--output", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert DEMO_LABEL in done.stdout
    assert out.stat().st_size > 10_000 and out.with_suffix(".pdf").exists()


@pytest.mark.slow
def test_notebook_shows_the_demo_checkpoints_by_default(tmp_path, monkeypatch):
    """As on a fresh clone: no JLONEVAE_MODELS_DIR, nothing trained."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (test)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.delenv("JLONEVAE_MODELS_DIR", raising=False)
    monkeypatch.setenv("JLONEVAE_FIGURES_DIR", str(tmp_path / "figures"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    printed = "".join(output.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                      for output in cell.outputs)
    assert f"showing the {DEMO_LABEL} checkpoints" in printed
    assert str(DEMO_MODELS_DIR) in printed
    assert (tmp_path / "figures" / "threeDots_jacobian_columns.png").stat().st_size > 10_000
