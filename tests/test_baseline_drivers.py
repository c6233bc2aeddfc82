"""The seed's baseline drivers at toy scale: train_standard_models.bash trains each of the six
methods, evaluate_baseline.bash evaluates them, and the comparison figure shows all seven
methods (with our JL1-VAE and β-VAE runs) and their t-tests."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jlonevae_lib.runs import study_numbering
from tests.visualize.figure_checks import assert_real_png

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "experimentScripts" / "train_baseline" / "train_standard_models.bash"
EVALUATE = ROOT / "experimentScripts" / "evaluate_baseline" / "evaluate_baseline.bash"
TOY = ["--steps", "24", "--batch-size", "8", "--latent-dim", "3", "--device", "cpu",
       "--checkpoint-every", "12"]
SMALL_METRICS = ["--metrics", "small_local_mig", "small_local_modularity", "--device", "cpu"]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_six_baselines_trained_evaluated_and_compared_with_ours(tmp_path):
    env = {**os.environ, "OUTPUT_DIR": str(tmp_path), "SEEDS": "0 1", "DATASET": "threeDots",
           "DISENTANGLEMENT_LIB_DATA": str(tmp_path / "data"), "OMP_NUM_THREADS": "2"}
    # Two members at once, one thread each (the script passes --jobs on to the sweep).
    trained = run(["bash", str(TRAIN), *TOY, "--jobs", "2"], {**env, "OMP_NUM_THREADS": "1"})
    assert trained.stdout.count("Trained 24 batches.") == 12
    runs = sorted((tmp_path / "trainedStandardModels").glob("*/seed*"))
    assert len(runs) == 12
    configs = [json.loads((r / "config.json").read_text()) for r in runs]
    assert {(c["objective"], c["seed"]) for c in configs} == {
        (m, s) for m in study_numbering.METHODS for s in (0, 1)}
    for c in configs:  # the paper's members: hyperparameter index 2
        assert c["model_num"] == study_numbering.model_number(c["objective"], 2, c["seed"])
        assert c["architecture"] == "dlibConv" and c["dataset"] == "threeDots"
    for r in runs:
        assert (r / "representation" / "pytorch_model.pt").is_file()

    run(["bash", str(EVALUATE), *SMALL_METRICS], env)
    for r in runs:
        assert (r / "metrics" / "small_local_mig" / "results" / "aggregate"
                / "evaluation.json").is_file()

    # Our own two arms, as the paper's comparison has them.
    for seed in ("0", "1"):
        for gamma in ("0", "0.1"):
            run([sys.executable, "-m", "jlonevae_lib.train.train_jlonevae_models",
                 "--dataset", "threeDots", "--beta", "4", "--gamma", gamma, "--num-batches",
                 "24", "--batch-size", "8", "--latent-dim", "3", "--jacobian-batch", "2",
                 "--seed", seed, "--device", "cpu", "--output-dir", str(tmp_path)], env)
    ours = [str(p) for p in (tmp_path / "trainedModels").glob("*/seed*")]
    run([sys.executable, "-m", "jlonevae_lib.evaluate.evaluation", *ours, *SMALL_METRICS], env)

    figures = tmp_path / "figures"

    def plot(command: str) -> None:
        run([sys.executable, "-m", "jlonevae_lib.visualize.cli", command,
             "--models-dir", str(tmp_path / "trainedModels"),
             "--baselines-dir", str(tmp_path / "trainedStandardModels"),
             "--output-dir", str(figures)], env)

    plot("compare-baselines")
    assert_real_png(figures / "threeDots_local_mig_0_1_compareToStandard.png")
    with open(figures / "threeDots_compareToStandard_0_1_ttests.csv") as f:
        rows = list(csv.DictReader(f))
    compared = {row["group_b"] for row in rows if row["metric"] == "local MIG"}
    assert compared == {"β-VAE (γ=0)", "β-VAE (dlib)", "FactorVAE", "DIP-VAE-I", "DIP-VAE-II",
                        "β-TCVAE", "AnnealedVAE"}
    assert all(row["group_a"] == "JL1-VAE (γ=0.1)" and row["n_b"] == "2" for row in rows)

    # One of disentanglement_lib's configs through the same driver (its file included
    # unchanged, sizes made small), and every score in one figure.
    tiny_sap = tmp_path / "tiny_sap_score.gin"
    tiny_sap.write_text("include 'sap_score.gin'\nsap_score.num_train = 200\n"
                        "sap_score.num_test = 100\n")
    run(["bash", str(EVALUATE), "--metrics", str(tiny_sap), "--device", "cpu"], env)
    plot("all-metrics")
    assert_real_png(figures / "threeDots_allMetrics_0_1.png")
    with open(figures / "threeDots_allMetrics_0_1.csv") as f:
        table = list(csv.DictReader(f))
    sap = {row["experiment"]: row["n"] for row in table if row["score"] == "SAP"}
    assert sap == {label: "2" for label in ("β-VAE (dlib)", "FactorVAE", "DIP-VAE-I",
                                            "DIP-VAE-II", "β-TCVAE", "AnnealedVAE")}
    assert {"local MIG (0.1)", "local modularity (0.1)"} <= {
        row["score"] + (f" ({row['locality']})" if row["locality"] != "global" else "")
        for row in table}
