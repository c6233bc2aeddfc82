"""The study natural_images_cpu: its members and settings, and one toy run end to end through
the runner (the driver experimentScripts/reproduce/natural_images_cpu.bash) with its summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jlonevae_lib.cli import train as train_cli
from jlonevae_lib.data import natural_images
from jlonevae_lib.sweep.members import train_arguments
from jlonevae_lib.sweep.natural_images_study import STUDY_NAME, summary_arguments
from jlonevae_lib.sweep.studies import available_studies, get_study, plan_study
from tests.visualize.figure_checks import assert_real_png

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "experimentScripts" / "reproduce" / "natural_images_cpu.bash"


def test_study_is_registered_with_four_members_in_their_folders() -> None:
    assert STUDY_NAME in available_studies()
    plan = plan_study(get_study(STUDY_NAME))
    assert [(m.index, dict(m.point)) for m in plan.members] == [
        (0, {"seed": 0, "gamma": 0.0}), (1, {"seed": 0, "gamma": 0.01}),
        (2, {"seed": 1, "gamma": 0.0}), (3, {"seed": 1, "gamma": 0.01})]
    for member in plan.members:
        config = member.config
        assert (config.dataset, config.architecture, config.objective) == (
            "naturalImages", "tiny16", "jlonevae")
        assert (config.beta, config.latent_dim, config.batch_size, config.lr) == (
            0.01, 10, 128, 1e-3)
        assert (config.num_batches, config.annealing_batches, config.jacobian_batch) == (
            4000, 2000, 16)
        assert config.device == "cpu"
        assert member.run_dir.parts[:3] == ("studies", "natural_images_cpu", "trainedModels")
        assert member.run_dir.name == f"seed{config.seed}"
        # The flags the runner gives jlonevae-train build exactly this config.
        flags = train_arguments(config)
        assert train_cli.config_from_args(train_cli.build_parser().parse_args(flags)) == config
    assert len({m.run_dir for m in plan.members}) == 4
    assert plan.results_dir == Path("results/natural_images")
    assert plan.metrics == ()  # no ground-truth factors: nothing for jlonevae-evaluate


def test_summary_step_runs_the_summary_command_on_every_member(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    plan = plan_study(get_study(STUDY_NAME), overrides={"num_batches": 10},
                      axes={"seed": (3,)}, results_dir="somewhere", command="the command")
    (command,) = plan.summary_commands()
    assert command.argv[:3] == (sys.executable, "-m", "jlonevae_lib.cli.natural_images_summary")
    assert command.required
    arguments = list(command.argv[3:])
    assert arguments == summary_arguments(plan)
    runs = [arguments[i + 1] for i, arg in enumerate(arguments) if arg == "--run"]
    assert runs == [str(m.run_dir.resolve()) for m in plan.members] and len(runs) == 2
    assert arguments[arguments.index("--results-dir") + 1] == str(Path("somewhere").resolve())
    assert arguments[arguments.index("--command") + 1] == "the command"
    # Written elsewhere (a longer variant): the committed 4,000-batch summary is the noise
    # reference its README cites.
    reference = arguments[arguments.index("--noise-reference") + 1]
    assert reference == str((REPO / "results" / "natural_images" / "summary.json").resolve())


def test_the_default_results_have_no_noise_reference(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.chdir(REPO)
    default = plan_study(get_study(STUDY_NAME))
    assert "--noise-reference" not in summary_arguments(default)
    monkeypatch.chdir(tmp_path)  # no committed summary here: nothing to cite
    elsewhere = plan_study(get_study(STUDY_NAME), results_dir="results/natural_images_20k")
    assert "--noise-reference" not in summary_arguments(elsewhere)


def test_script_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


@pytest.mark.slow
def test_natural_images_study_at_toy_scale(tmp_path: Path) -> None:
    data_root = tmp_path / "data"
    # A small patch file of the offline fallback (there is no IMAGES.mat here).
    _, source = natural_images.write_patch_files(
        data_root, patches_per_image={"train": 150, "test": 40})
    assert source == natural_images.FALLBACK_LABEL
    runs_dir, results_dir = tmp_path / "runs", tmp_path / "results"
    env = {**os.environ, "DISENTANGLEMENT_LIB_DATA": str(data_root), "OMP_NUM_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    done = subprocess.run(
        ["bash", str(SCRIPT), "--seeds", "0", "--jobs", "2", "--set", "num_batches=6",
         "--set", "annealing_batches=2", "--set", "checkpoint_every=3",
         "--output-dir", str(runs_dir), "--results-dir", str(results_dir)],
        env=env, capture_output=True, text=True, timeout=300)
    print(f"toy natural-image study: {time.perf_counter() - start:.1f} s")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("Trained 6 batches.") == 2

    summary = json.loads((results_dir / "summary.json").read_text())
    assert summary["offline_fallback"] is True
    assert summary["data_source"] == natural_images.FALLBACK_LABEL
    assert summary["run_data_sources"] == [natural_images.FALLBACK_LABEL]
    assert summary["patches"] == {"train": 300, "test": 80, "linear_fit": 300,
                                  "localisation": 80}
    assert [(r["arm"], r["seed"], r["status"]) for r in summary["runs"]] == [
        ("β-VAE (γ=0)", 0, "finished"), ("JL1-VAE (γ=0.01)", 0, "finished")]
    for run in summary["runs"]:
        assert run["data_source"] == natural_images.FALLBACK_LABEL
        assert 0.1 <= run["localisation"] <= 1 and 0.1 <= run["localisation_weighted"] <= 1
        assert run["heldout_mse"] > 0 and run["heldout_bce"] > 0
        assert run["mean_column_activity"] >= 0 and isinstance(run["collapsed"], bool)
        reference = summary["collapse"]
        assert reference["perfect"] < reference["mean_image"]
        removed = (reference["mean_image"] - run["heldout_bce"]) / (
            reference["mean_image"] - reference["perfect"])
        assert run["bce_gap_removed"] == pytest.approx(removed)
        assert run["collapsed"] == (removed <= 1 - reference["fraction"])
        # The KL term as logged in training, read back from the run's TensorBoard events:
        # its last point is the last batch, whose value done.json keeps as the final KL.
        steps = [step for step, _ in run["kl_trajectory"]]
        assert steps == sorted(set(steps)) and steps[-1] == 6
        assert run["kl_trajectory"][-1][1] == pytest.approx(run["final_train_kld"], rel=1e-6)
    assert [(r["model"], r["num_components"]) for r in summary["linear_baselines"]] == [
        (model, k) for k in (5, 10, 25) for model in ("PCA", "ICA")]
    for row in summary["linear_baselines"]:
        assert 0.1 <= row["localisation"] <= 1 and row["heldout_mse"] > 0
    assert summary["settings"]["num_batches"] == 6
    assert summary["mean_patch_error"]["mse"] > 0
    assert "natural_images_cpu.bash" in summary["command"]
    assert sorted(summary["figures"]) == [
        "figures/jacobian_crops_betavae_seed0.png",
        "figures/jacobian_crops_jl1vae_gamma0_01_seed0.png", "figures/kl_trajectories.png",
        "figures/linear_filters.png"]
    for figure in summary["figures"]:
        assert_real_png(results_dir / figure)
    assert (results_dir / "linear_baselines" / "ICA_lat25.npz").is_file()
    readme = (results_dir / "README.md").read_text()
    assert readme.startswith("# " + "/".join(results_dir.resolve().parts[-2:]) + "\n")
    assert "OFFLINE FALLBACK" in readme and "## What the numbers show" in readme
    assert "num_batches: 6 here, 100000 in the paper" in readme
    markdown = (results_dir / "summary.md").read_text()
    assert "OFFLINE FALLBACK" in markdown and "## PCA and FastICA" in markdown
    assert "## KL term over training" in markdown
