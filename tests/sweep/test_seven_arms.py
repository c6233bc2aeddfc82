"""The study cpu_seven_arms: its members, the scaled schedules, the figures' runs, and (slow) the
whole study at toy scale through experimentScripts/reproduce/cpu_seven_arms.bash. Its report's
statistics and prose are tests/reports/test_seven_arms.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jlonevae_lib.cli import train as train_cli
from jlonevae_lib.reports.records import FINISHED
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.study_numbering import METHODS, model_number
from jlonevae_lib.sweep import seven_arms
from jlonevae_lib.sweep.members import train_arguments
from jlonevae_lib.sweep.seven_arms import (
    ARMS,
    BETA_ARM,
    JL1_ARM,
    median_index,
    representative_runs,
    scaled_schedule,
)
from jlonevae_lib.sweep.studies import get_study, plan_study
from tests.sweep.test_cpu_study import TINY_LOCALITIES, tiny_metric_configs
from tests.visualize.figure_checks import assert_real_png

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "experimentScripts" / "reproduce" / "cpu_seven_arms.bash"


def plan(**kwargs):
    return plan_study(get_study("cpu_seven_arms"), **kwargs)


# ------------------------------------------------------------------------------ the study


def test_forty_members_seed_outermost() -> None:
    members = plan().members
    assert len(members) == 40 == 5 * len(ARMS)
    assert len(ARMS) == 8 and ARMS[:2] == (JL1_ARM, BETA_ARM) and ARMS[2:] == METHODS
    assert [m.index for m in members] == list(range(40))
    assert [(m.point["seed"], m.point["arm"]) for m in members[:9]] == [
        *((1, arm) for arm in ARMS), (2, JL1_ARM)]
    assert len({m.run_dir for m in members}) == 40


def test_convvae_arms_are_cpu_study_members() -> None:
    ours = {(m.point["seed"], m.point["arm"]): m for m in plan().members}
    for member in plan_study(get_study("cpu_study")).members:
        arm = JL1_ARM if member.point["gamma"] > 0 else BETA_ARM
        twin = ours[(member.point["seed"], arm)]
        assert twin.config == member.config
        assert twin.run_dir == member.run_dir
        assert str(twin.run_dir).startswith("studies/cpu_study/trainedModels/")


def test_baselines_on_the_cpu_budget() -> None:
    for member in plan().members:
        config = member.config
        assert (config.num_batches, config.batch_size, config.lr, config.dataset) == (
            8000, 64, 1e-3, "threeDotsCacheSmall")
        assert train_cli.config_from_args(train_cli.build_parser().parse_args(
            train_arguments(config))) == config
        if member.point["arm"] in METHODS:
            method, seed = member.point["arm"], member.point["seed"]
            assert config.model_num == model_number(method, 2, seed)
            assert (config.architecture, config.annealing_batches) == ("dlibConv", 0)
            assert member.run_dir.parts[:3] == ("studies", "cpu_seven_arms",
                                                layout.STANDARD_MODELS_DIR)
        else:
            assert config.annealing_batches == 2667 and config.jacobian_batch == 16
    annealed = next(m.config for m in plan().members if m.point["arm"] == "annealed_vae")
    assert annealed.objective_params == {"c_max": 25.0, "gamma": 1000.0,
                                         "iteration_threshold": 2667.0}


def test_schedules_scale_with_the_run_length() -> None:
    assert scaled_schedule(100_000, 8000) == 2667
    assert scaled_schedule(100_000, 300_000) == 100_000
    short = plan(overrides={"num_batches": 30, "hp_index": 3}, axes={"seed": (7,)}).members
    by_arm = {m.point["arm"]: m.config for m in short}
    assert by_arm["annealed_vae"].objective_params["iteration_threshold"] == 10.0
    assert by_arm["annealed_vae"].objective_params["c_max"] == 50.0  # hp index 3
    assert by_arm[JL1_ARM].annealing_batches == 10
    assert {c.num_batches for c in by_arm.values()} == {30}
    moved = plan(overrides={"output_dir": "/tmp/x"}).members
    assert {str(m.run_dir.parents[2]) for m in moved} == {"/tmp/x"}


def test_summary_commands_name_every_run_explicitly() -> None:
    commands = plan().summary_commands()
    summary = commands[-1].argv
    assert summary[1:3] == ("-m", "jlonevae_lib.cli.seven_arms_summary")
    assert sum(arg == "--run" for arg in summary) == 40
    figures = [command.argv for command in commands[:-1]]
    compare = next(argv for argv in figures if "compare-baselines" in argv)
    assert str(Path("studies/cpu_seven_arms/trainedStandardModels").resolve()) in compare
    assert any("all-arms" in argv for argv in figures)


def test_median_index() -> None:
    assert median_index([0.3, 0.1, 0.2]) == 2
    assert median_index([0.4, 0.1, 0.3, 0.2]) == 3  # the lower of the two middle values
    assert median_index([0.5]) == 0 and median_index([0.2, 0.2, 0.2]) == 1
    with pytest.raises(ValueError):
        median_index([])


def test_the_jacobian_figure_shows_each_arms_median_run(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    scores = {"a1": 0.3, "a2": 0.1, "a3": 0.2, "b1": None, "b2": None}
    runs = [(name[0], tmp_path / name) for name in scores] + [("c", tmp_path / "c1")]
    monkeypatch.setattr(seven_arms.layout, "is_finished", lambda run: run.name != "c1")
    monkeypatch.setattr(seven_arms, "_local_mig_0_1", lambda run: scores[run.name])
    # a: the median of 0.3, 0.1, 0.2; b: nothing evaluated, the first finished; c: none.
    assert representative_runs(runs) == {"a": tmp_path / "a3", "b": tmp_path / "b1"}




# ------------------------------------------------------------------------------ end to end


def test_script_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


FIGURES = ("jacobian_columns_per_arm", "threeDots_local_mig_0_1_compareToStandard",
           "threeDots_local_modularity_0_1_compareToStandard",
           "threeDots_local_mig_allArms_varyingRho",
           "threeDots_local_modularity_allArms_varyingRho")


@pytest.mark.slow
def test_seven_arms_at_toy_scale(tmp_path: Path) -> None:
    metrics = tiny_metric_configs(tmp_path / "metrics")
    for metric in ("mig", "modularity"):
        for seed in (1, 2):
            source = tmp_path / "metrics" / f"tiny_local_{metric}_0_1.gin"
            repeat = tmp_path / "metrics" / f"tiny_local_{metric}_0_1_evalseed{seed}.gin"
            repeat.write_text(source.read_text())
            metrics.append(repeat)
    runs_dir, output_dir = tmp_path / "runs", tmp_path / "results"
    env = {**os.environ,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "DISENTANGLEMENT_LIB_DATA": str(tmp_path / "data"), "OMP_NUM_THREADS": "1",
           "NUM_BATCHES": "12", "CHECKPOINT_EVERY": "6", "SEEDS": "1",
           "METRICS": " ".join(map(str, metrics)),
           "RUNS_DIR": str(runs_dir), "OUTPUT_DIR": str(output_dir)}
    # Two members at once (the script passes --jobs on to the sweep): CI machines have two cores.
    done = subprocess.run(["bash", str(SCRIPT), "--jobs", "2"], env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    assert done.stdout.count("Trained 12 batches.") == 8

    summary = json.loads((output_dir / "summary.json").read_text())
    assert [arm["arm"] for arm in summary["arms"]] == list(ARMS)
    assert all((arm["finished"], arm["seeds"]) == (1, [1]) for arm in summary["arms"])
    assert summary["evaluation_seeds"] == {"local_mig_0_1": [0, 1, 2],
                                           "local_modularity_0_1": [0, 1, 2]}
    for run in summary["runs"]:
        assert run["status"] == FINISHED, run
        values = run["values"]
        for score in ("local_mig", "local_modularity"):
            seeds = [values[f"{score}_0_1"], values[f"{score}_0_1_evalseed1"],
                     values[f"{score}_0_1_evalseed2"]]
            assert values[f"{score}_0_1_evalseeds_mean"] == pytest.approx(sum(seeds) / 3)
        assert {"recon_bce", "train_minutes", "mig", "modularity_explicitness"} <= set(values)
    keys = {f"local_{m}_{x}" for m in ("mig", "modularity") for x in TINY_LOCALITIES}
    keys |= {"mig", "modularity_explicitness", "local_mig_0_1_evalseeds_mean",
             "local_modularity_0_1_evalseeds_mean"}
    assert {(row["arm_b"], row["key"]) for row in summary["ttests"]} == {
        (arm, key) for arm in ARMS[1:] for key in keys}
    assert summary["paper_ordering"]["single_seed"]["methods"] == 7
    assert "NUM_BATCHES=12" in summary["command"] and summary["command"].endswith(" --jobs 2")
    assert any(line.startswith("batches: 12 (paper: 300,000)") for line in summary["deviations"])
    assert sorted(summary["figures"]) == sorted(f"figures/{name}.png" for name in FIGURES)
    for name in FIGURES:
        assert_real_png(output_dir / "figures" / f"{name}.png")
    for name in ("summary.md", "README.md"):
        text = (output_dir / name).read_text()
        assert "Against the paper's ordering" in text
        assert "## Why the results may differ from the paper's" in text
    # 12 batches: the mean image's BCE is the yardstick every run is judged collapsed by.
    reference = summary["collapse"]["reference_bce"]["threeDotsCacheSmall"]
    assert 0 <= reference["perfect"] < 100 < reference["mean_image"] < 2000
    assert all(isinstance(run["collapsed"], bool) for run in summary["runs"])
    assert all(reference["perfect"] < run["values"]["heldout_bce"] < 2 * reference["mean_image"]
               for run in summary["runs"])
