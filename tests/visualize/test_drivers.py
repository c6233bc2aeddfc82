"""The figure drivers in experimentScripts/visualizations/, run on the fixture tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.visualize.figure_checks import assert_real_png

REPO = Path(__file__).resolve().parents[2]
DRIVERS = REPO / "experimentScripts" / "visualizations"


@pytest.mark.parametrize("script", sorted(p.name for p in DRIVERS.glob("*.bash")))
def test_driver_is_valid_bash(script: str) -> None:
    subprocess.run(["bash", "-n", str(DRIVERS / script)], check=True)


@pytest.mark.slow
def test_plot_all_figures(results_tree: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        # The entry point of the interpreter running the tests comes first.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MPLBACKEND": "Agg",
        "MODELS_DIR": str(results_tree / "trainedModels"),
        "BASELINES_DIR": str(results_tree / "trainedStandardModels"),
        "OUTPUT_DIR": str(tmp_path),
        "SETTINGS": "lat3_batch64_lr0_0010_anneal700",
        "RUN": "seed1",
    }
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
