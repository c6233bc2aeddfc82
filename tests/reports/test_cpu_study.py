"""The study summary: statistics on hand-made runs, reading a hand-made run tree, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from jlonevae_lib.cli.study_summary import main
from jlonevae_lib.evaluate.statistics import mean_sd
from jlonevae_lib.reports.cpu_study import (
    arm_statistics,
    build_summary,
    refresh_summary,
    render_markdown,
    ttest_table,
)
from jlonevae_lib.reports.records import (
    FAILED,
    FINISHED,
    NOT_STARTED,
    RECON_BCE,
    TRAIN_MINUTES,
    UNFINISHED,
    RunRecord,
    add_missing_seeds,
    collect_runs,
    localities_of,
    mark_missing_values,
    value_keys,
)
from jlonevae_lib.reports.text import column_title
from jlonevae_lib.runs.metric_table import LOCAL_MIG, LOCAL_MODULARITY, MIG
from jlonevae_lib.runs.results import GAMMA0, JL1
from tests.visualize.result_fixtures import BETA_EXPERIMENT, JL1_EXPERIMENT, write_all_metrics

SETTINGS = "defaultConv_beta4_0000_lat10_batch64_lr0_0010_anneal2667"
BETA_LABEL, JL1_LABEL = "β-VAE (γ=0)", "JL1-VAE (γ=0.1)"


def record(method: str, seed: int, values: dict[str, float], status: str = FINISHED,
           settings: str = SETTINGS) -> RunRecord:
    """A run of the β-VAE (``gamma0``) or JL1-VAE (``jlone``) arm."""
    gamma, label = (0.0, BETA_LABEL) if method == GAMMA0 else (0.1, JL1_LABEL)
    return RunRecord(arm=f"{method}_{settings}", label=label, method=method, gamma=gamma,
                     settings=settings, run_id=f"seed{seed}", seed=seed, status=status,
                     values=values)


def study() -> list[RunRecord]:
    """Three seeds per arm; JL1's local MIG at 0.1 is 0.03 higher, one β run lacks 0.6."""
    runs = []
    for i, seed in enumerate((1, 2, 3)):
        runs.append(record(JL1, seed, {
            "local_mig_0_1": (0.07, 0.08, 0.09)[i], "local_mig_0_6": 0.05,
            "local_modularity_0_1": 0.91, MIG: 0.01, RECON_BCE: 220.0 + i,
            TRAIN_MINUTES: 20.0}))
        beta_values = {"local_mig_0_1": (0.04, 0.05, 0.06)[i], "local_modularity_0_1": 0.9,
                       MIG: 0.01, RECON_BCE: 150.0, TRAIN_MINUTES: 8.0}
        if seed != 3:
            beta_values["local_mig_0_6"] = (0.03, 0.04)[i]
        runs.append(record(GAMMA0, seed, beta_values))
    return runs


def test_mean_sd() -> None:
    assert mean_sd([1.0, 2.0, 3.0]) == {"n": 3, "mean": 2.0, "sd": 1.0}
    one = mean_sd([5.0])
    assert one["n"] == 1 and one["mean"] == 5.0 and math.isnan(one["sd"])
    empty = mean_sd([])
    assert empty["n"] == 0 and math.isnan(empty["mean"]) and math.isnan(empty["sd"])


def test_keys_and_titles() -> None:
    keys = ["local_modularity_0_6", "local_mig_1_0", "local_mig_0_1", "mig"]
    assert localities_of(keys, LOCAL_MIG) == [0.1, 1.0]
    assert localities_of(keys, LOCAL_MODULARITY) == [0.6]
    assert value_keys(study()) == ["local_mig_0_1", "local_mig_0_6", "local_modularity_0_1",
                                   "mig", RECON_BCE, TRAIN_MINUTES]
    assert column_title("local_modularity_0_6") == "local modularity @0.6"
    assert column_title("mig") == "MIG"
    assert column_title("modularity_explicitness") == "modularity"
    assert column_title("local_mig_1_0") == "local MIG @1"
    assert column_title(RECON_BCE) == "recon BCE / image"


def test_arm_statistics_use_the_runs_that_have_each_value() -> None:
    stats = arm_statistics(study())
    jl1, beta = stats[f"jlone_{SETTINGS}"], stats[f"gamma0_{SETTINGS}"]
    assert jl1["local_mig_0_1"]["mean"] == pytest.approx(0.08)
    assert jl1["local_mig_0_1"]["sd"] == pytest.approx(0.01)
    assert beta["local_mig_0_1"]["mean"] == pytest.approx(0.05)
    assert beta["local_mig_0_6"]["n"] == 2
    assert beta["local_mig_0_6"]["mean"] == pytest.approx(0.035)
    assert jl1[RECON_BCE]["mean"] == pytest.approx(221.0)


def test_welch_ttests_per_locality() -> None:
    rows, notes = ttest_table(study())
    by_key = {row["key"]: row for row in rows}
    assert list(by_key) == ["local_mig_0_1", "local_mig_0_6", "local_modularity_0_1", "mig"]
    row = by_key["local_mig_0_1"]
    assert (row["group_a"], row["group_b"]) == (JL1_LABEL, BETA_LABEL)
    assert (row["n_a"], row["n_b"], row["locality"]) == (3, 3, 0.1)
    # Equal variances (0.01²) and n: t = 0.03 / sqrt(2 · 0.01² / 3) = 3 / sqrt(2/3), df = 4.
    assert row["t"] == pytest.approx(3 / math.sqrt(2 / 3))
    assert row["p"] == pytest.approx(0.0213116411, rel=1e-6)
    assert by_key["local_mig_0_6"]["n_b"] == 2
    assert by_key["mig"]["locality"] == "global"
    # Two constant samples: no variance, an honest nan.
    assert math.isnan(by_key["mig"]["t"])
    assert notes == []


def test_ttests_need_a_beta_vae_arm_of_the_same_settings() -> None:
    runs = [record(JL1, 1, {"local_mig_0_1": 0.1}), record(JL1, 2, {"local_mig_0_1": 0.2}),
            record(GAMMA0, 1, {"local_mig_0_1": 0.1}, settings="other_settings")]
    rows, notes = ttest_table(runs)
    assert rows == []
    assert any("no β-VAE (γ=0) arm with the settings of JL1-VAE" in note for note in notes)
    rows, notes = ttest_table([r for r in runs if r.method == GAMMA0])
    assert rows == [] and notes == ["no arm with γ > 0: no t-tests"]


def test_missing_values_and_seeds_are_marked() -> None:
    runs = study() + [record(JL1, 4, {TRAIN_MINUTES: 20.0})]
    runs.append(record(GAMMA0, 5, {}, status=UNFINISHED))
    marked = {(r.method, r.seed): r for r in mark_missing_values(runs)}
    assert marked[(GAMMA0, 3)].detail == "missing local_mig_0_6"
    assert marked[(JL1, 4)].detail == "not evaluated"
    assert marked[(GAMMA0, 5)].detail == ""  # unfinished: nothing to evaluate yet
    assert marked[(JL1, 1)].detail == ""
    added = add_missing_seeds(runs, [1, 2, 3, 4, 5, 6])
    assert [(r.method, r.seed) for r in added if r.status == NOT_STARTED] == [
        (GAMMA0, 4), (GAMMA0, 6), (JL1, 5), (JL1, 6)]
    assert [r.seed for r in added if r.method == GAMMA0] == [1, 2, 3, 4, 5, 6]


def test_summary_and_markdown() -> None:
    runs = add_missing_seeds(study(), [1, 2, 3, 4])
    summary = build_summary(runs, ["a note"], command="bash study.bash",
                            machine={"nproc": 2}, models_dir="models",
                            figures=["figures/a.png"], generated_at="now")
    # Strict JSON: nan became null.
    text = json.dumps(summary, allow_nan=False)
    assert json.loads(text)["ttests"][-1]["t"] is None
    assert [arm["label"] for arm in summary["arms"]] == [BETA_LABEL, JL1_LABEL]
    assert [arm["finished"] for arm in summary["arms"]] == [3, 3]
    assert summary["time"]["training_seconds"] == pytest.approx(3 * (20 + 8) * 60)
    assert summary["localities"] == {LOCAL_MIG: [0.1, 0.6], LOCAL_MODULARITY: [0.1]}
    assert summary["notes"][:3] == [f"{BETA_LABEL} seed3: finished (missing local_mig_0_6)",
                                    f"{BETA_LABEL} seed4: not started",
                                    f"{JL1_LABEL} seed4: not started"]
    assert "a note" in summary["notes"]
    markdown = render_markdown(summary)
    assert "```bash\nbash study.bash\n```" in markdown
    assert "| β-VAE (γ=0) | 3 | finished: missing local_mig_0_6 | 0.0600 | – |" in markdown
    assert "| JL1-VAE (γ=0.1) | 3 | 0.0800 ± 0.0100 | 0.0500 ± 0.0000 |" in markdown
    assert ("| local MIG | 0.1 | JL1-VAE (γ=0.1) | 0.0800 ± 0.0100 (n=3) | β-VAE (γ=0) | "
            "0.0500 ± 0.0100 (n=3) | 3.67 | 0.021 |") in markdown
    assert "0.0350 ± 0.0071 (n=2)" in markdown  # β's local MIG @0.6: 2 of 3 runs
    assert "- [figures/a.png](figures/a.png)" in markdown


# ------------------------------------------------------------------------------ run trees


def write_run(models_dir: Path, experiment: str, seed: int, offset: float,
              done: bool = True) -> Path:
    """A run folder as the trainer and the evaluation leave it (tiny: no model)."""
    run_dir = models_dir / experiment / f"seed{seed}"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps(
        {"seed": seed, "dataset": "threeDotsCacheSmall", "num_batches": 8000,
         "device": "cpu", "output_dir": "/somewhere", "run_id": None}))
    if done:
        (run_dir / "DONE").write_text(json.dumps(
            {"num_batches": 8000, "train_seconds": 600.0, "device": "cpu", "torch": "2.13.0",
             "final_scalars": {"NLL/train": 150.0 + seed, "KLD/train": 20.0}}))
        write_all_metrics(run_dir, offset, np.random.default_rng(seed))
    return run_dir


@pytest.fixture
def run_tree(tmp_path: Path) -> Path:
    """β-VAE seeds 1-2 and JL1-VAE seeds 1-2 finished; JL1 seed 3 interrupted, seed 4 failed,
    β seed 3 with an unreadable DONE; a folder that is not one of our experiments."""
    models = tmp_path / "trainedModels"
    for seed in (1, 2):
        write_run(models, BETA_EXPERIMENT, seed, 0.0)
        write_run(models, JL1_EXPERIMENT, seed, 0.06)
    interrupted = write_run(models, JL1_EXPERIMENT, 3, 0.06, done=False)
    (interrupted / "checkpoints").mkdir()
    (interrupted / "checkpoints" / "checkpoint.pt").write_bytes(b"x")
    failed = write_run(models, JL1_EXPERIMENT, 4, 0.06, done=False)
    (failed / "FAILED").write_text(json.dumps({"reason": "non-finite loss",
                                               "message": "the loss became nan"}))
    broken = write_run(models, BETA_EXPERIMENT, 3, 0.0, done=False)
    (broken / "DONE").write_text("{not json")
    (models / "notAnExperiment" / "seed1").mkdir(parents=True)
    return models


def test_collect_runs(run_tree: Path) -> None:
    runs, notes = collect_runs(run_tree)
    by_id = {(r.method, r.run_id): r for r in runs}
    assert len(runs) == 7
    jl1 = by_id[(JL1, "seed1")]
    assert (jl1.status, jl1.seed, jl1.gamma, jl1.label) == (FINISHED, 1, 0.1, "JL1-VAE (γ=0.1)")
    assert jl1.values[RECON_BCE] == 151.0
    assert jl1.values[TRAIN_MINUTES] == 10.0
    assert jl1.values["local_mig_0_1"] == pytest.approx(0.05 + 0.06, abs=0.05)
    assert sorted(k for k in jl1.values if k.startswith("local_mig")) == [
        "local_mig_0_1", "local_mig_0_2", "local_mig_0_3", "local_mig_0_6", "local_mig_1_0"]
    assert jl1.evaluation_seconds == pytest.approx(12 * 1.5)  # the fixture's elapsed_time
    assert jl1.trained_on == "cpu, torch 2.13.0"
    assert jl1.config["num_batches"] == 8000
    assert by_id[(JL1, "seed3")].status == UNFINISHED
    assert "resumes from its checkpoint" in by_id[(JL1, "seed3")].detail
    assert (by_id[(JL1, "seed4")].status, by_id[(JL1, "seed4")].detail) == (
        FAILED, "the loss became nan")
    # An unreadable DONE still means finished; its values are missing and a note says why.
    assert by_id[(GAMMA0, "seed3")].status == FINISHED
    assert any("unreadable" in n and "seed3/DONE" in n for n in notes)
    assert any("notAnExperiment is not named like one of our experiments" in n for n in notes)


def test_collect_runs_without_a_folder(tmp_path: Path) -> None:
    assert collect_runs(tmp_path / "nothing") == ([], [f"{tmp_path / 'nothing'} does not "
                                                       "exist: no runs yet"])


def test_cli_writes_both_files(run_tree: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "results"
    (output / "figures").mkdir(parents=True)
    (output / "figures" / "jacobian_columns.png").write_bytes(b"png")
    assert main(["--models-dir", str(run_tree), "--output-dir", str(output),
                 "--seeds", "1", "2", "3", "--command", "bash study.bash"]) == 0
    assert "summary.md" in capsys.readouterr().out
    summary = json.loads((output / "summary.json").read_text())
    assert summary["command"] == "bash study.bash"
    assert summary["figures"] == ["figures/jacobian_columns.png"]
    assert {row["key"] for row in summary["ttests"]} == {
        *(f"local_mig_{x}" for x in ("0_1", "0_2", "0_3", "0_6", "1_0")),
        *(f"local_modularity_{x}" for x in ("0_1", "0_2", "0_3", "0_6", "1_0")),
        "mig", "modularity_explicitness"}
    statuses = sorted((run["label"], run["run_id"], run["status"]) for run in summary["runs"])
    assert (JL1_LABEL, "seed4", FAILED) in statuses
    assert len(statuses) == 7  # every seed of 1-3 exists in both arms, plus JL1's seed 4
    assert summary["machine"]["nproc"] >= 1 and summary["machine"]["torch"]
    markdown = (output / "summary.md").read_text()
    assert "## Welch t-tests" in markdown and "bash study.bash" in markdown
    # Its default command is itself.
    main(["--models-dir", str(run_tree), "--output-dir", str(output)])
    assert json.loads((output / "summary.json").read_text())["command"].startswith(
        "python -m jlonevae_lib.cli.study_summary --models-dir ")


def test_cli_reads_only_the_runs_given(run_tree: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A study's members among other runs in its folders (another sweep's seeds)."""
    members = [run_tree / experiment / "seed1" for experiment in (BETA_EXPERIMENT,
                                                                  JL1_EXPERIMENT)]
    output = tmp_path / "results"
    flags = [flag for run in members for flag in ("--run", str(run))]
    assert main(["--models-dir", str(run_tree), "--output-dir", str(output), *flags,
                 "--seeds", "1", "2"]) == 0
    summary = json.loads((output / "summary.json").read_text())
    assert sorted((run["label"], run["run_id"]) for run in summary["runs"]
                  if run["status"] != "not started") == [("JL1-VAE (γ=0.1)", "seed1"),
                                                         ("β-VAE (γ=0)", "seed1")]
    assert not any("notAnExperiment" in note for note in summary["notes"])
    with pytest.raises(SystemExit) as exited:
        main(["--from-summary", str(output / "summary.json"), "--output-dir", str(output),
              *flags])
    assert exited.value.code == 2
    assert "--run picks run folders under --models-dir" in capsys.readouterr().err


def test_cli_reports_an_empty_study(tmp_path: Path) -> None:
    assert main(["--models-dir", str(tmp_path / "none"), "--output-dir", str(tmp_path / "out"),
                 "--seeds", "1"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["runs"] == [] and summary["ttests"] == []
    assert any("no arm has a run" in note for note in summary["notes"])
    assert "# Study summary: no runs" in (tmp_path / "out" / "summary.md").read_text()


def test_a_misspelled_models_dir_never_replaces_a_written_summary(run_tree: Path,
                                                                 tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["--models-dir", str(run_tree), "--output-dir", str(out), "--seeds", "1"]) == 0
    before = (out / "summary.json").read_bytes()
    with pytest.raises(SystemExit) as exited:
        main(["--models-dir", str(run_tree) + "x", "--output-dir", str(out), "--seeds", "1"])
    assert exited.value.code == 2 and "check the path" in capsys.readouterr().err
    assert (out / "summary.json").read_bytes() == before


def test_from_summary_renders_the_same_files_without_the_runs(run_tree: Path,
                                                              tmp_path: Path) -> None:
    first = tmp_path / "first"
    assert main(["--models-dir", str(run_tree), "--output-dir", str(first),
                 "--seeds", "1", "2", "3", "--command", "bash study.bash"]) == 0
    again = tmp_path / "again"
    assert main(["--from-summary", str(first / "summary.json"), "--output-dir",
                 str(again)]) == 0
    # Statistics, t-tests and times recomputed from the stored per-run values: the same
    # bytes (the time stamp and the command are the summary's own).
    for name in ("summary.json", "summary.md"):
        assert (again / name).read_bytes() == (first / name).read_bytes(), name
    assert not (again / "README.md").exists()  # the study's README is written by hand
    with pytest.raises(SystemExit):  # neither --models-dir nor --from-summary
        main(["--output-dir", str(again)])
    with pytest.raises(SystemExit):  # both
        main(["--models-dir", str(run_tree), "--from-summary", str(first / "summary.json"),
              "--output-dir", str(again)])
    (tmp_path / "bad.json").write_text('{"runs": []}')
    with pytest.raises(SystemExit) as exit_info:  # not a study summary: one line, no trace
        main(["--from-summary", str(tmp_path / "bad.json"), "--output-dir", str(again)])
    assert exit_info.value.code != 0


def test_refresh_recomputes_what_the_runs_give() -> None:
    summary = json.loads(json.dumps(build_summary(
        study(), [], command="c", machine={}, models_dir="m"), sort_keys=True))
    stale = {**summary, "ttests": [], "time": {}, "arms": [
        {**arm, "statistics": {}} for arm in summary["arms"]]}
    assert refresh_summary(stale) == summary


def test_a_written_summary_with_a_value_of_the_wrong_kind_is_one_line(tmp_path: Path,
                                                                      capsys) -> None:
    summary = json.loads((Path(__file__).parents[2] / "results" / "cpu_study" /
                          "summary.json").read_text())
    run = summary["runs"][0]
    run["values"][next(iter(run["values"]))] = "0.5"
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    with pytest.raises(SystemExit) as exited:
        main(["--from-summary", str(path), "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1
    assert "holds a value this version cannot use" in err
    assert not (tmp_path / "out").exists()
