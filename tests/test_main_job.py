"""The main job (``make demo``'s exampleScripts/train_jlonevae_threeDots.bash) end to end at toy
scale: it trains, exports, evaluates and plots, and says where everything went."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.visualize.figure_checks import assert_real_png

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "exampleScripts" / "train_jlonevae_threeDots.bash"


@pytest.mark.slow
def test_main_job_at_toy_scale(tmp_path):
    env = {**os.environ, "NUM_BATCHES": "6", "ANNEALING": "2", "JACOBIAN_BATCH": "2",
           "OUTPUT_DIR": str(tmp_path / "out"), "DISENTANGLEMENT_LIB_DATA": str(tmp_path / "data")}
    done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    (run_dir,) = (tmp_path / "out" / "trainedModels").glob("*/seed1")
    assert run_dir.parent.name.startswith("defaultConv_lone_beta4_0000_ica0_1000_lat10")
    assert f"Everything is under {run_dir}" in done.stdout
    assert json.loads((run_dir / "DONE").read_text())["num_batches"] == 6
    assert (run_dir / "representation" / "pytorch_model.pt").is_file()
    for metric in ("small_local_mig", "small_local_modularity"):
        result = json.loads((run_dir / "metrics" / metric / "results" / "aggregate"
                             / "evaluation.json").read_text())
        assert result["evaluation_config.dataset.name"] == "'threeDots'"
    assert_real_png(run_dir / "figures" / "jacobian_columns.png")
    assert_real_png(run_dir / "figures" / "jacobian_columns_vs_demo.png")
    assert "compare the Jacobian columns of the shipped demo checkpoints" in done.stdout
    assert list((tmp_path / "out" / "logs").glob("*/seed1/events.out.tfevents.*"))
    assert (tmp_path / "data" / "threeDots" / "trainingCache20000.npz").is_file()
