"""experimentScripts/reproduce/cpu_study.bash (the study cpu_study through jlonevae-sweep) end
to end at toy scale, run twice: the second run must skip every finished step and still redraw
the summary and figures."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.visualize.figure_checks import assert_real_png

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "experimentScripts" / "reproduce" / "cpu_study.bash"

# Tiny metric configs: global MIG and modularity on a few hundred points, local MIG and local
# modularity at two localities on 2 clusters of 200 points (the paper's: 20 of 10,000).
TINY_GLOBAL = {
    "tiny_mig": ("evaluation.evaluation_fn = @mig\nmig.num_train = 300\n"),
    "tiny_modularity": ("evaluation.evaluation_fn = @modularity_explicitness\n"
                        "modularity_explicitness.num_train = 200\n"
                        "modularity_explicitness.num_test = 100\n"),
}
TINY_LOCALITIES = ("0_1", "0_6")
FIGURES = ("jacobian_columns", "threeDots_local_mig_0_1_compareToStandard",
           "threeDots_local_modularity_0_1_compareToStandard", "threeDots_local_mig_varyingRho",
           "threeDots_local_modularity_varyingRho")


def tiny_metric_configs(folder: Path) -> list[Path]:
    folder.mkdir()
    paths = []
    for name, body in TINY_GLOBAL.items():
        paths.append(folder / f"{name}.gin")
        paths[-1].write_text(body + "evaluation.random_seed = 0\n"
                             "discretizer.discretizer_fn = @histogram_discretizer\n"
                             "discretizer.num_bins = 20\n")
    for metric in ("mig", "modularity"):
        for token in TINY_LOCALITIES:
            paths.append(folder / f"tiny_local_{metric}_{token}.gin")
            paths[-1].write_text(
                f"include 'local_{metric}_base.gin'\nlocal_{metric}.num_train = 200\n"
                f"local_{metric}.num_local_clusters = 2\n"
                f"local_sample_factors.locality_proportion = {token.replace('_', '.')}\n")
    return paths


def run_study(env: dict[str, str]) -> tuple[str, float]:
    start = time.perf_counter()
    # Two members at once (the script passes --jobs on to the sweep): CI machines have two cores.
    done = subprocess.run(["bash", str(SCRIPT), "--jobs", "2"], env=env, capture_output=True,
                          text=True, timeout=600)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout, elapsed


def outputs_of_finished_work(runs_dir: Path) -> dict[Path, int]:
    """Modification times of what training and evaluation write."""
    patterns = ("*/*/DONE", "*/*/checkpoints/checkpoint.pt", "*/*/representation/*.pt",
                "*/*/representation/*/*.pt", "*/*/metrics/*/results/aggregate/evaluation.json")
    return {path: path.stat().st_mtime_ns for pattern in patterns
            for path in (runs_dir / "trainedModels").glob(pattern)}


def test_script_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


@pytest.mark.slow
def test_cpu_study_at_toy_scale_resumes(tmp_path: Path) -> None:
    metrics = tiny_metric_configs(tmp_path / "metrics")
    runs_dir, output_dir = tmp_path / "runs", tmp_path / "results"
    env = {
        **os.environ,
        # The entry points of the interpreter running the tests come first.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DISENTANGLEMENT_LIB_DATA": str(tmp_path / "data"),
        # One thread: on a busy shared machine torch's two threads stall each other (steps
        # 5-10x slower); alone, two threads would gain little on these tiny runs.
        "OMP_NUM_THREADS": "1",
        "NUM_BATCHES": "20", "ANNEALING": "6", "CHECKPOINT_EVERY": "10", "SEEDS": "1 2",
        "METRICS": " ".join(map(str, metrics)),
        "RUNS_DIR": str(runs_dir), "OUTPUT_DIR": str(output_dir),
    }
    first, first_seconds = run_study(env)
    assert first.count("Trained 20 batches.") == 4
    finished = outputs_of_finished_work(runs_dir)
    assert len(finished) == 4 * (4 + len(metrics))

    second, second_seconds = run_study(env)
    print(f"toy study: first run {first_seconds:.1f} s, second run {second_seconds:.1f} s")
    # The runner reads each member's state from its folder and starts no process for it.
    assert len(re.findall(r"^\[\d\] seed=[12] gamma=0\.1?0?: done$", second, re.M)) == 4, second
    assert "Trained" not in second
    assert "== training" not in second and "== evaluating" not in second
    assert "(computed)" not in second
    assert outputs_of_finished_work(runs_dir) == finished

    summary = json.loads((output_dir / "summary.json").read_text())
    assert [(arm["label"], arm["finished"]) for arm in summary["arms"]] == [
        ("β-VAE (γ=0)", 2), ("JL1-VAE (γ=0.1)", 2)]
    assert [arm["settings"]["num_batches"] for arm in summary["arms"]] == [20, 20]
    assert [arm["settings"]["jacobian_batch"] for arm in summary["arms"]] == [16, 16]
    assert sorted((run["label"], run["seed"], run["status"]) for run in summary["runs"]) == [
        (label, seed, "finished") for label in ("JL1-VAE (γ=0.1)", "β-VAE (γ=0)")
        for seed in (1, 2)]
    expected_keys = {f"local_{m}_{x}" for m in ("mig", "modularity") for x in TINY_LOCALITIES}
    expected_keys |= {"mig", "modularity_explicitness"}
    assert {row["key"] for row in summary["ttests"]} == expected_keys
    for row in summary["ttests"]:
        assert (row["group_a"], row["group_b"]) == ("JL1-VAE (γ=0.1)", "β-VAE (γ=0)")
        assert (row["n_a"], row["n_b"]) == (2, 2)
        assert {"t", "p", "mean_a", "sd_a", "mean_b", "sd_b"} <= set(row)
    for run in summary["runs"]:
        assert {"recon_bce", "train_minutes", "local_mig_0_1", "mig"} <= set(run["values"])
    assert "NUM_BATCHES=20" in summary["command"]
    assert summary["command"].endswith("bash experimentScripts/reproduce/cpu_study.bash --jobs 2")
    assert summary["time"]["training_seconds"] > 0
    assert summary["machine"]["nproc"] >= 1
    assert sorted(summary["figures"]) == sorted(f"figures/{name}.png" for name in FIGURES)

    markdown = (output_dir / "summary.md").read_text()
    for heading in ("## Per seed", "## Mean ± s.d. per arm", "## Welch t-tests",
                    "## Time and machine", "## Figures"):
        assert heading in markdown
    assert summary["command"] in markdown
    assert "| local MIG | 0.6 | JL1-VAE (γ=0.1) |" in markdown
    for name in FIGURES:
        assert_real_png(output_dir / "figures" / f"{name}.png")
