"""The report of the pre-registered penalty study (``cpu_penalty_study``): the primary analysis
against scipy and a hand Holm, a synthetic study of 3 arms × 10 seeds read from fake run
folders (summary.json, a README that opens with the primary result, a byte-identical
``--from-summary`` re-render), and an incomplete study that reports no test."""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from jlonevae_lib.cli import penalty_study_summary as cli
from jlonevae_lib.reports.penalty_study import (
    PRIMARY_KEY,
    load_summary,
    read_run,
    registered_config,
)
from jlonevae_lib.reports.penalty_study_stats import (
    NOT_EVALUATED,
    NOT_FINITE,
    primary_analysis,
    summarise,
)
from jlonevae_lib.reports.penalty_study_text import hypothesis_line, primary_table
from jlonevae_lib.reports.text import p_text
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.results import SEED_KEY
from jlonevae_lib.sweep.penalty_study import (
    ARM_LABELS,
    ARMS,
    BETA_RAMP_ARM,
    BETA_VAE_ARM,
    JL1_ARM,
    SEEDS,
)
from jlonevae_lib.sweep.studies import get_study, plan_study

# ------------------------------------------------------------------------------ statistics


def hand_holm(p1: float, p2: float) -> tuple[float, float]:
    """Holm over two p-values, written out: the smaller times 2, the larger times 1 but never
    below the first, both capped at 1."""
    low, high = sorted((p1, p2))
    first = min(1.0, 2 * low)
    second = max(first, min(1.0, high))
    return (first, second) if p1 <= p2 else (second, first)


def test_primary_analysis_against_scipy_and_a_hand_holm() -> None:
    rng = np.random.default_rng(3)
    values = {JL1_ARM: (0.075 + 0.01 * rng.standard_normal(10)).tolist(),
              BETA_RAMP_ARM: (0.062 + 0.012 * rng.standard_normal(10)).tolist(),
              BETA_VAE_ARM: (0.070 + 0.006 * rng.standard_normal(10)).tolist()}
    result = primary_analysis(values)
    assert set(result) == {"H1", "H2"}
    raw = {}
    for name, other in (("H1", BETA_RAMP_ARM), ("H2", BETA_VAE_ARM)):
        row, a, b = result[name], values[JL1_ARM], values[other]
        expected = scipy.stats.ttest_ind(a, b, equal_var=False)
        assert (row["arm_a"], row["arm_b"], row["n_a"], row["n_b"]) == (JL1_ARM, other, 10, 10)
        assert row["t"] == pytest.approx(expected.statistic, rel=1e-12)
        assert row["p_raw"] == pytest.approx(expected.pvalue, rel=1e-12)
        assert row["diff"] == pytest.approx(np.mean(a) - np.mean(b), abs=1e-15)
        assert (row["mean_a"], row["sd_a"]) == pytest.approx((np.mean(a), np.std(a, ddof=1)))
        assert (row["mean_b"], row["sd_b"]) == pytest.approx((np.mean(b), np.std(b, ddof=1)))
        interval = expected.confidence_interval(0.95)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((interval.low, interval.high))
        pooled = math.sqrt((9 * np.var(a, ddof=1) + 9 * np.var(b, ddof=1)) / 18)
        assert row["g"] == pytest.approx((1 - 3 / (4 * 20 - 9)) * row["diff"] / pooled)
        raw[name] = expected.pvalue
    holm = hand_holm(raw["H1"], raw["H2"])
    assert (result["H1"]["p_holm"], result["H2"]["p_holm"]) == pytest.approx(holm, rel=1e-12)
    for name, p in zip(("H1", "H2"), holm, strict=True):
        assert result[name]["reject"] == (p <= 0.05)


def test_holm_decides_and_a_raw_p_alone_does_not() -> None:
    """Holm doubles the smaller p and keeps the larger (never below the first); only an
    adjusted p ≤ 0.05 rejects."""
    base = np.linspace(-1, 1, 10)
    far = {JL1_ARM: (1.0 + base).tolist(), BETA_RAMP_ARM: (0.0 + base).tolist(),
           BETA_VAE_ARM: (1.0 + base[::-1] * 1.01).tolist()}
    result = primary_analysis(far)
    assert result["H1"]["reject"] and not result["H2"]["reject"]
    assert result["H2"]["p_holm"] == pytest.approx(min(1.0, result["H2"]["p_raw"]))
    assert result["H1"]["p_holm"] == pytest.approx(2 * result["H1"]["p_raw"])


def test_a_test_that_cannot_be_made_still_counts_in_the_family() -> None:
    """JL1 and the β ramp both constant: H1 has no p. H2 is still corrected for two tests,
    as registered, not judged alone."""
    spread = np.linspace(-1, 1, 10)
    values = {JL1_ARM: [0.5] * 10, BETA_RAMP_ARM: [0.5] * 10,
              BETA_VAE_ARM: (0.4 + 0.01 * spread).tolist()}
    result = primary_analysis(values)
    assert math.isnan(result["H1"]["p_raw"]) and math.isnan(result["H1"]["p_holm"])
    assert not result["H1"]["reject"]
    assert result["H2"]["p_holm"] == pytest.approx(min(1.0, 2 * result["H2"]["p_raw"]))


# ------------------------------------------------------------------------------ fake runs

#: The local time every fake run's training log says it started, and its results' times.
START = "2026-12-05T10:00:00"
START_EPOCH = datetime.strptime(START, "%Y-%m-%dT%H:%M:%S").astimezone(timezone.utc).timestamp()
LEVELS = {JL1_ARM: 0.075, BETA_RAMP_ARM: 0.060, BETA_VAE_ARM: 0.068}


def local_json(score: str, locality: float, value: float) -> dict:
    samples = "local_discrete_migs_samples" if score == "local_mig" \
        else "local_modularity_scores_samples"
    return {"evaluation_config.dataset.name": "'threeDots'",
            "evaluation_config.local_sample_factors.locality_proportion": str(locality),
            f"evaluation_results.{samples}": [value], "evaluation_results.elapsed_time": 2.0}


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def run_values(arm: str, seed: int) -> dict[str, float]:
    """The scores of one fake run at the end: local MIG / modularity at 0.1 at evaluation
    seeds 0-2 (``_evalseed<k>``), local MIG at 0.3, MIG."""
    rng = np.random.default_rng(100 * ARMS.index(arm) + seed)
    mig = LEVELS[arm] + 0.006 * float(rng.standard_normal())
    return {"local_mig_0_1": mig + 0.001, "local_mig_0_1_evalseed1": mig,
            "local_mig_0_1_evalseed2": mig - 0.002, "local_modularity_0_1": 0.9 - mig,
            "local_modularity_0_1_evalseed1": 0.91 - mig,
            "local_modularity_0_1_evalseed2": 0.92 - mig, "local_mig_0_3": mig / 2,
            "mig": mig / 5}


#: A kept model's scores: the end's times this factor.
KEPT = {8000: 0.5, 15000: 0.75}


def write_run(run_dir: Path, arm: str, seed: int, output_dir: Path, *, done: bool = True,
              **config_changes) -> Path:
    """A run folder as the trainer, the evaluation and the sweep leave it (no model)."""
    config = {**registered_config(arm, min(seed, SEEDS[-1])), "seed": seed,
              "output_dir": str(output_dir), **config_changes}
    write_json(run_dir / "config.json", config)
    log = layout.sweep_log_path(run_dir, "train")
    log.parent.mkdir(parents=True)
    log.write_text(f"=== {START} jlonevae-train ...\nbatch 1\n=== 2026-12-06T10:00:00 resume\n")
    if not done:
        return run_dir
    write_json(run_dir / "DONE", {"num_batches": config["num_batches"], "train_seconds": 1800.0,
                                  "device": "cpu", "torch": "2.x",
                                  "final_scalars": {"NLL/train": 150.0 + seed}})
    written = [run_dir / "DONE"]
    for name, value in run_values(arm, seed).items():
        base = name.split("_evalseed")[0]
        score = "local_mig" if base.startswith("local_mig") else "local_modularity"
        data = ({"evaluation_results.discrete_mig": value} if name == "mig" else
                local_json(score, 0.3 if base.endswith("0_3") else 0.1, value))
        written.append(layout.evaluation_path(run_dir, name))
        write_json(written[-1], data)
        if name != "mig" and not base.endswith("0_3"):
            for batches, factor in KEPT.items():
                written.append(layout.evaluation_path(
                    run_dir, layout.kept_metric_name(name, batches)))
                write_json(written[-1], local_json(score, 0.1, value * factor))
    for i, path in enumerate(written):  # the last result an hour after the start per seed
        os.utime(path, (START_EPOCH + 3600 * seed, START_EPOCH + 3600 * seed - i))
    return run_dir


def write_study(root: Path, seeds: dict[str, tuple[int, ...]]) -> list[Path]:
    """The study's runs in folders whose names say nothing of their arm."""
    dirs = []
    for arm in ARMS:
        for seed in seeds.get(arm, SEEDS):
            models = layout.STANDARD_MODELS_DIR if arm == BETA_VAE_ARM else \
                layout.TRAINED_MODELS_DIR
            dirs.append(write_run(root / models / f"experiment{len(dirs) % 4}" / f"r{len(dirs)}",
                                  arm, seed, root))
    return dirs


def expected_primary(arm: str, seed: int, factor: float = 1.0) -> float:
    values = run_values(arm, seed)
    return math.fsum(values[k] * factor for k in ("local_mig_0_1", "local_mig_0_1_evalseed1",
                                                  "local_mig_0_1_evalseed2")) / 3


def summarise_folder(root: Path, out: Path, *extra: str) -> dict:
    assert cli.main(["--study-dir", str(root), "--output-dir", str(out), "--command",
                     "jlonevae-sweep run cpu_penalty_study --jobs 2", "--skip-reconstruction",
                     *extra]) == 0
    return json.loads((out / "summary.json").read_text())


def test_a_complete_synthetic_study(tmp_path: Path) -> None:
    root, out = tmp_path / "studies" / "cpu_penalty_study", tmp_path / "results"
    write_study(root, {})
    summary = summarise_folder(root, out)
    assert summary["complete"] and len(summary["runs"]) == 30
    assert not summary["outcomes_withheld"]
    for run in summary["runs"]:
        arm, seed = run["arm"], run["seed"]
        assert run["status"] == "finished"
        assert run["values"][PRIMARY_KEY] == expected_primary(arm, seed)
        assert run["values"]["local_mig_0_1"] == run_values(arm, seed)["local_mig_0_1"]
        assert "local_modularity_0_1_evalseeds_mean" in run["values"]
        assert run["values"]["recon_bce"] == 150.0 + seed
        assert set(run["curve"]) == {"8000", "15000", "30000"}
        for batches, factor in KEPT.items():
            assert run["curve"][str(batches)][PRIMARY_KEY] == pytest.approx(
                expected_primary(arm, seed, factor), rel=1e-12)
        assert run["curve"]["30000"][PRIMARY_KEY] == run["values"][PRIMARY_KEY]
        assert run["setting_differences"] == []
    primary = primary_analysis({arm: [expected_primary(arm, seed) for seed in SEEDS]
                                for arm in ARMS})
    for name in ("H1", "H2"):
        assert summary["primary"][name] == pytest.approx(primary[name])
    assert summary["time"]["wall_clock"]["hours"] == pytest.approx(10.0)
    assert summary["time"]["training_minutes_summed"] == pytest.approx(30 * 30.0)
    # The README opens with the primary result, both tests in words.
    readme = (out / "README.md").read_text().splitlines()
    assert readme[0].startswith("# ") and "INCOMPLETE" not in readme[0]
    assert readme[2] == "## Primary result (pre-registered)"
    h1 = primary["H1"]
    assert readme[4].startswith("- **H1, the penalty alone")
    assert ("JL1-VAE is significantly higher after Holm's correction" if h1["reject"] else
            "no significant difference after Holm's correction") in readme[4]
    assert f"Holm-adjusted p = {p_text(h1['p_holm'], 0.05)}" in readme[4]
    assert readme[5].startswith("- **H2, the paper's comparator")
    text = "\n".join(readme)
    assert "## Secondary results (exploratory: no significance claims)" in text
    assert text.index("## Primary result") < text.index("## Secondary results") < text.index(
        "## Deviations from the registration") < text.index("## How it was run")
    assert "jlonevae-sweep run cpu_penalty_study --jobs 2" in text
    assert "summed over the finished runs' own training times" in text
    assert "wall clock: 10.0 h" in text
    # The figures of a complete study (no model to show Jacobians of: noted, not fatal).
    assert summary["figures"] == ["figures/primary_violins.png", "figures/learning_curves.png"]
    assert (out / "figures" / "primary_violins.png").is_file()
    assert any("jacobian_columns_per_arm.png not drawn" in note for note in summary["notes"])
    # --from-summary gives the same three files, byte for byte, from summary.json alone.
    again = tmp_path / "again"
    assert cli.main(["--from-summary", str(out / "summary.json"), "--output-dir",
                     str(again)]) == 0
    for name in ("summary.json", "summary.md", "README.md"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


@pytest.mark.slow
def test_median_runs_models_jacobians_and_collapse(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """With a model in each arm's median run: its Jacobian columns are drawn, its held-out
    reconstruction measured (an untrained model reconstructs nothing: flagged collapsed, and
    kept in the test); runs without a model are noted."""
    import functools

    import torch

    from jlonevae_lib.architecture.registry import build_architecture
    from jlonevae_lib.architecture.save_model import save_model
    from jlonevae_lib.reports import seven_arms_records
    from jlonevae_lib.reports.penalty_study_figures import median_runs

    root, out = tmp_path / "study", tmp_path / "results"
    dirs = write_study(root, {})
    first = summarise_folder(root, tmp_path / "first", "--no-figures")
    medians = median_runs(first)
    for arm in ARMS:  # the lower middle of the ten
        ordered = sorted(SEEDS, key=lambda seed: expected_primary(arm, seed))
        assert medians[arm] == ordered[4]
    torch.manual_seed(0)
    for arm, seed in medians.items():  # write_study's folders: arm by arm, seed by seed
        run_dir = dirs[ARMS.index(arm) * len(SEEDS) + SEEDS.index(seed)]
        assert json.loads((run_dir / "config.json").read_text())["seed"] == seed
        save_model(build_architecture("dlibConv", 1, 10), layout.saved_model_dir(run_dir, 30000))
    # Fewer held-out images than the report's 2,000: the same code, a tenth of the time.
    monkeypatch.setattr(cli, "measure_reconstructions", functools.partial(
        seven_arms_records.measure_reconstructions, num_images=200))
    assert cli.main(["--study-dir", str(root), "--output-dir", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "figures/jacobian_columns_per_arm.png" in summary["figures"]
    assert (out / "figures" / "jacobian_columns_per_arm.png").is_file()
    measured = {(run["arm"], run["seed"]) for run in summary["runs"]
                if "heldout_bce" in run["values"]}
    assert measured == set(medians.items())
    assert {(run["arm"], run["seed"]) for run in summary["secondary"]["collapsed"]} == measured
    assert summary["primary"]["H1"]["n_a"] == 10  # collapsed runs stay in the test
    readme = (out / "README.md").read_text()
    assert "3 collapsed runs kept and flagged below; whether 27 collapsed is unknown" in readme
    assert "none collapsed" not in readme
    assert "- Collapsed runs (their decoders ignore the latents" in readme
    assert sum("no held-out reconstruction" in note for note in summary["notes"]) == 27


def test_an_incomplete_study_reports_no_test(tmp_path: Path) -> None:
    root, out = tmp_path / "study", tmp_path / "results"
    write_study(root, {BETA_RAMP_ARM: (1, 2, 3, 4, 5, 6, 7)})
    summary = summarise_folder(root, out)
    assert not summary["complete"]
    assert summary["primary"] is None and summary["secondary"] is None
    assert summary["progress"]["evaluated"] == 27
    assert [(w["label"], w["seed"], w["status"]) for w in summary["progress"]["waiting"]] == [
        ("β-VAE (γ=0, ramp)", seed, "not started") for seed in (8, 9, 10)]
    readme = (out / "README.md").read_text()
    lines = readme.splitlines()
    assert "INCOMPLETE" in lines[0]
    assert lines[2].startswith("**This study is INCOMPLETE: 27 of its 30 registered runs")
    assert "The primary test is NOT reported" in lines[2]
    assert "p =" not in readme and "Holm-adjusted" not in readme and "p (Holm)" not in readme
    assert "Primary result" not in readme
    # No outcome value either, in the text or in summary.json: no interim look.
    assert summary["outcomes_withheld"]
    assert all(set(run["values"]) <= {"train_minutes"} and run["curve"] == {}
               for run in summary["runs"])
    assert sum(run["evaluated"] for run in summary["runs"]) == 27
    for arm in ARMS:
        for seed in SEEDS:
            assert f"{expected_primary(arm, seed):.4f}" not in readme
    assert (out / "summary.md").read_text().splitlines()[2].startswith(
        "**This study is INCOMPLETE")
    assert not (out / "figures").exists() and summary["figures"] == []
    again = tmp_path / "again"
    assert cli.main(["--from-summary", str(out / "summary.json"), "--output-dir",
                     str(again)]) == 0
    assert (again / "README.md").read_bytes() == readme.encode()


def test_a_failed_run_is_named_with_how_to_rerun_it(tmp_path: Path) -> None:
    """No run is excluded: a failed one keeps the study incomplete, and the report says so
    and how to rerun it rather than reading as still running."""
    root, out = tmp_path / "study", tmp_path / "results"
    dirs = write_study(root, {BETA_VAE_ARM: (1, 2, 3, 4, 5, 6, 7, 8, 9)})
    failed = write_run(dirs[-1].parent / "seed10", BETA_VAE_ARM, 10, root, done=False)
    write_json(layout.failed_path(failed), {"message": "the loss became NaN", "step": 12})
    summary = summarise_folder(root, out)
    assert not summary["complete"] and summary["primary"] is None
    lines = (out / "README.md").read_text().splitlines()
    assert lines[4].startswith(f"**1 run failed ({ARM_LABELS[BETA_VAE_ARM]} seed 10): ")
    assert "--retry-failed" in lines[4] and "not drop" in lines[4]


def test_a_score_evaluated_at_another_seed_gets_no_seed_mean(tmp_path: Path) -> None:
    """The registered mean is over evaluation seeds 0-2: a run whose own local MIG file
    records another seed gets no mean there (its primary outcome is then missing) and a
    note; a file that records seed 0 is fine."""
    root, out = tmp_path / "study", tmp_path / "results"
    run = write_study(root, {})[0]
    key = "evaluation_config.evaluation.random_seed"
    for name, seed in (("local_mig_0_1", "5"), (layout.kept_metric_name("local_mig_0_1", 8000),
                                                "7"),
                       (layout.kept_metric_name("local_modularity_0_1", 8000), "0")):
        path = layout.evaluation_path(run, name)
        write_json(path, {**json.loads(path.read_text()), key: seed})
    summary = summarise_folder(root, out)
    assert not summary["complete"] and summary["progress"]["evaluated"] == 29
    (waiting,) = summary["progress"]["waiting"]
    assert (waiting["arm"], waiting["seed"]) == (JL1_ARM, 1)
    deviations = [note for note in summary["notes"] if note.startswith("deviation: ")]
    assert [note.split(" has ")[1].split(",")[0] for note in deviations] == [
        "local_mig_0_1 at evaluation seed 5", "local_mig_0_1@8000 at evaluation seed 7"]
    assert all("--overwrite" in note for note in deviations)


def test_the_arm_comes_from_config_json(tmp_path: Path) -> None:
    """A run is of the arm its config.json matches, whatever its folder; other settings that
    differ are deviations; a run of no arm, of another seed or a second run of a member is
    left out with a note; an unfinished run keeps the study incomplete."""
    root = tmp_path / "study"
    models = root / layout.TRAINED_MODELS_DIR
    write_run(models / "beta_vae_looking_name" / "seed1", JL1_ARM, 1, root, num_batches=300)
    write_run(models / "x" / "seed2", JL1_ARM, 2, root, done=False)
    write_run(models / "y" / "seed11", JL1_ARM, 11, root)
    write_run(models / "z" / "again", JL1_ARM, 1, root)
    write_run(models / "w" / "other", JL1_ARM, 3, root, gamma=0.5)
    summary = summarise_folder(root, tmp_path / "out")
    runs = {(run["arm"], run["seed"]): run for run in summary["runs"]}
    assert runs[(JL1_ARM, 1)]["status"] == "finished"
    assert runs[(JL1_ARM, 1)]["setting_differences"] == [["num_batches", 300, 30000]]
    assert runs[(JL1_ARM, 2)]["status"] == "unfinished"
    assert runs[(JL1_ARM, 3)]["status"] == "not started"
    notes = "\n".join(summary["notes"])
    assert "seed 11, not a registered seed" in notes
    assert "is a second run of JL1-VAE (γ=0.1, ramp) seed 1" in notes
    assert "matches no arm of cpu_penalty_study" in notes
    assert summary["deviations"] == [
        "num_batches = 300 (registered: 30000) in 1 run: JL1-VAE (γ=0.1, ramp) seed 1"]
    assert not summary["complete"]


def test_the_study_runs_this_report_as_its_summary_step() -> None:
    plan = plan_study(get_study("cpu_penalty_study"), command="jlonevae-sweep run x")
    (command,) = plan.summary_commands()
    assert command.argv[1:3] == ("-m", "jlonevae_lib.cli.penalty_study_summary")
    runs = [command.argv[i + 1] for i, arg in enumerate(command.argv) if arg == "--run"]
    assert runs == [str(m.run_dir.resolve()) for m in plan.members] and len(runs) == 30
    assert command.argv[-2:] == ("--command", "jlonevae-sweep run x")


def test_a_kept_models_result_it_cannot_read_is_a_note(tmp_path: Path) -> None:
    """A kept model's evaluation file whose scores are not numbers leaves that value out with
    a note, as a final model's does, instead of stopping the report."""
    run = write_run(tmp_path / layout.TRAINED_MODELS_DIR / "e" / "seed1", JL1_ARM, 1, tmp_path)
    bad = layout.evaluation_path(run, layout.kept_metric_name("local_mig_0_1", 8000))
    write_json(bad, {**local_json("local_mig", 0.1, 0.0),
                     "evaluation_results.local_discrete_migs_samples": ["not a number"]})
    notes: list[str] = []
    record = read_run(run, notes)
    assert record is not None
    assert layout.kept_metric_name("local_mig_0_1", 8000) not in record.values
    assert layout.kept_metric_name("local_mig_0_1", 15000) in record.values
    assert [note for note in notes if note.startswith("skipped:")], notes


def test_a_misspelled_study_dir_never_replaces_a_written_summary(tmp_path: Path,
                                                                 capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / layout.SUMMARY_JSON).write_text("{}")
    with pytest.raises(SystemExit) as exited:
        cli.main(["--study-dir", str(tmp_path / "studies" / "cpu_penalty_stdy"),
                  "--output-dir", str(out)])
    assert exited.value.code == 2 and "check the path" in capsys.readouterr().err
    assert (out / layout.SUMMARY_JSON).read_text() == "{}"


def _readme_of(summary: dict) -> str:
    from jlonevae_lib.reports.penalty_study_text import render_readme

    return render_readme(summary)


def test_a_study_where_jl1_vae_is_lower_says_so(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The verdict follows the data's sign: with JL1-VAE below both other arms the README
    says lower (and the difference, interval and g are negative)."""
    monkeypatch.setitem(LEVELS, JL1_ARM, 0.045)
    root, out = tmp_path / "study", tmp_path / "results"
    write_study(root, {})
    summary = summarise_folder(root, out)
    for name in ("H1", "H2"):
        row = summary["primary"][name]
        assert row["reject"] and row["diff"] < 0 and row["ci_high"] < 0 and row["g"] < 0
    readme = (out / "README.md").read_text()
    assert readme.count("JL1-VAE is significantly lower after Holm's correction") == 2
    assert "significantly higher" not in readme


def test_a_test_that_cannot_be_made_is_not_read_as_a_null_result() -> None:
    row = {"arm_a": JL1_ARM, "arm_b": BETA_RAMP_ARM, "n_a": 10, "n_b": 10, "mean_a": 0.5,
           "mean_b": 0.4, "sd_a": 0.0, "sd_b": 0.0, "diff": 0.1, "ci_low": None,
           "ci_high": None, "g": None, "t": None, "p_raw": None, "p_holm": None,
           "reject": False}
    line = hypothesis_line({"primary": {"H1": row}, "alpha": 0.05, "arm_labels": ARM_LABELS},
                           "H1")
    assert "no test could be made" in line and "no significant difference" not in line
    assert line.endswith("difference +0.1000 (no interval, Hedges' g or p without a spread).")
    assert "nan" not in line
    # An arm with no run: no mean, no difference; "–" where a value could not be computed.
    empty = {**row, "n_b": 0, "mean_b": None, "sd_b": None, "diff": None}
    summary = {"primary": {"H1": empty}, "alpha": 0.05, "arm_labels": ARM_LABELS}
    line, table = hypothesis_line(summary, "H1"), primary_table(summary)
    assert "difference – (no interval" in line
    assert "nan" not in line and "nan" not in table and "| – (no interval) | – | – |" in table


def test_a_study_closed_with_a_failed_run(tmp_path: Path, capsys) -> None:
    """A run that failed for good: --close-with-failures reports the tests on the other runs,
    names it in the title, the primary result and the deviations; refused while a run is still
    to train; re-rendered byte for byte from summary.json."""
    root, out = tmp_path / "study", tmp_path / "results"
    dirs = write_study(root, {BETA_VAE_ARM: (1, 2, 3, 4, 5, 6, 7, 8)})
    unfinished = write_run(dirs[-1].parent / "seed10", BETA_VAE_ARM, 10, root, done=False)
    failed = write_run(dirs[-1].parent / "seed9", BETA_VAE_ARM, 9, root, done=False)
    write_json(layout.failed_path(failed), {"message": "the loss became NaN", "step": 12})
    with pytest.raises(SystemExit) as exited:
        summarise_folder(root, out, "--close-with-failures")
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "1 has not" in err and "seed 10: unfinished" in err
    assert not (out / "summary.json").exists()
    write_json(layout.failed_path(unfinished), {"message": "killed twice", "step": 3})
    summary = summarise_folder(root, out, "--close-with-failures")
    assert summary["closed_with_failures"] and summary["reported"]
    assert not summary["complete"] and not summary["outcomes_withheld"]
    h2 = summary["primary"]["H2"]
    assert (h2["n_a"], h2["n_b"]) == (10, 8)
    expected = primary_analysis({arm: [expected_primary(arm, seed) for seed in SEEDS
                                       if arm != BETA_VAE_ARM or seed <= 8] for arm in ARMS})
    assert h2 == pytest.approx(expected["H2"])
    readme = (out / "README.md").read_text()
    lines = readme.splitlines()
    assert lines[0].endswith("(pre-registered; closed with 2 runs without the primary outcome)")
    assert lines[2] == "## Primary result (pre-registered)"
    label = ARM_LABELS[BETA_VAE_ARM]
    assert (f"The study was closed with 2 of its 30 registered runs without the primary "
            f"outcome ({label} seed 9, {label} seed 10;") in readme
    assert "The tests use the other 28" in readme
    assert any(line.startswith(f"{label} seed 9 has no primary outcome (failed: the loss "
                               "became NaN)") for line in summary["deviations"])
    assert "figures/primary_violins.png" in summary["figures"]
    again = tmp_path / "again"
    assert cli.main(["--from-summary", str(out / "summary.json"), "--output-dir",
                     str(again)]) == 0
    for name in ("summary.json", "summary.md", "README.md"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name
    with pytest.raises(SystemExit):
        cli.main(["--from-summary", str(out / "summary.json"), "--close-with-failures"])


def test_gaps_in_the_data_are_deviations(tmp_path: Path) -> None:
    """A value other runs have, missing from some (n drops: the README's table shows it), the
    held-out reconstruction measured for some runs only (collapse unknown for the others, not
    "none collapsed"), and a setting the arm fields do not cover (precision)."""
    root, out = tmp_path / "study", tmp_path / "results"
    dirs = write_study(root, {})
    for run_dir in dirs[:4]:  # JL1-VAE seeds 1-4
        layout.evaluation_path(run_dir, "mig").unlink()
    config = json.loads((dirs[5] / "config.json").read_text())
    write_json(dirs[5] / "config.json", {**config, "precision": "bf16"})
    summary = summarise_folder(root, out)
    label = ARM_LABELS[JL1_ARM]
    assert [line for line in summary["deviations"] if " lacks " in line] == [
        f"{label} seed {seed} lacks mig at the end (other runs have them): fewer runs in "
        "those values' statistics" for seed in (1, 2, 3, 4)]
    assert (f"precision = 'bf16' (registered: 'float32') in 1 run: {label} seed 6"
            in summary["deviations"])
    mig_rows = [row for row in summary["secondary"]["differences"] if row["key"] == "mig"]
    assert {(row["n_a"], row["n_b"]) for row in mig_rows} == {(6, 10)}
    assert "n (JL1-VAE, b)" in (out / "README.md").read_text()
    # The reconstruction measured for one run only.
    data = load_summary(out / "summary.json")
    data["reference_bce"] = {"threeDotsCache": {"mean_image": 400.0, "perfect": 10.0}}
    data["runs"][0]["values"]["heldout_bce"] = 150.0
    data["runs"][1]["values"]["heldout_bce"] = None  # not finite when measured
    partial = summarise(data)
    readme = _readme_of(partial)
    assert "none collapsed" not in readme and "- No run collapsed." not in readme
    assert "whether 29 collapsed is unknown" in readme
    assert "- No measured run collapsed." in readme
    assert any(line.startswith("the held-out reconstruction BCE is missing for 29 of the 30 "
                               "tested runs") for line in partial["deviations"])


def test_a_run_missing_one_evaluation_seed_has_no_primary_outcome(tmp_path: Path) -> None:
    """The mean is over evaluation seeds 0-2: without seed 2's local MIG a run has no primary
    outcome, the study stays incomplete and says which run waits for its evaluation."""
    root, out = tmp_path / "study", tmp_path / "results"
    dirs = write_study(root, {})
    layout.evaluation_path(dirs[12], "local_mig_0_1_evalseed2").unlink()  # β ramp, seed 3
    summary = summarise_folder(root, out)
    assert not summary["complete"] and summary["primary"] is None
    (waiting,) = summary["progress"]["waiting"]
    assert (waiting["arm"], waiting["seed"], waiting["status"]) == (
        BETA_RAMP_ARM, 3, "finished, primary outcome not evaluated")
    assert "--stages evaluate" in (out / "README.md").read_text()


def test_closing_waits_for_evaluations_and_an_arm_may_have_no_run(tmp_path: Path,
                                                                  capsys) -> None:
    """A finished run whose primary outcome is still to be evaluated keeps the study from being
    closed (no interim look); with its evaluation's failure marker it counts as ended. An arm
    none of whose runs has the outcome: no violin, the others drawn. A summary.json from
    before closed_with_failures existed still loads."""
    root, out = tmp_path / "study", tmp_path / "results"
    dirs = write_study(root, {BETA_VAE_ARM: ()})
    for seed in SEEDS:
        failed = write_run(root / layout.STANDARD_MODELS_DIR / "e" / f"seed{seed}",
                           BETA_VAE_ARM, seed, root, done=False)
        write_json(layout.failed_path(failed), {"message": "diverged"})
    layout.evaluation_path(dirs[0], "local_mig_0_1_evalseed2").unlink()  # JL1-VAE seed 1
    with pytest.raises(SystemExit):
        summarise_folder(root, out, "--close-with-failures")
    assert "seed 1: evaluation to do" in capsys.readouterr().err
    write_json(layout.evaluation_failed_path(dirs[0]), {"message": "evaluation failed"})
    summary = summarise_folder(root, out, "--close-with-failures")
    assert summary["reported"] and summary["primary"]["H1"]["n_a"] == 9
    assert summary["primary"]["H2"]["n_b"] == 0 and summary["primary"]["H2"]["p_raw"] is None
    assert "figures/primary_violins.png" in summary["figures"]
    assert "no test could be made" in (out / "README.md").read_text()
    old = json.loads((out / "summary.json").read_text())
    del old["closed_with_failures"]
    write_json(tmp_path / "old.json", old)
    data = load_summary(tmp_path / "old.json")
    assert data["closed_with_failures"] is False


def test_a_raw_p_below_alpha_that_holm_lifts_is_said_in_words() -> None:
    """The unadjusted interval then excludes 0 beside a "no significant difference" verdict:
    the line says why both hold."""
    row = {"arm_a": JL1_ARM, "arm_b": BETA_RAMP_ARM, "n_a": 10, "n_b": 10, "mean_a": 0.5,
           "mean_b": 0.4, "sd_a": 0.1, "sd_b": 0.1, "diff": 0.1, "ci_low": 0.006,
           "ci_high": 0.194, "g": 0.95, "t": 2.2, "p_raw": 0.03, "p_holm": 0.06,
           "reject": False}
    line = hypothesis_line({"primary": {"H1": row}, "alpha": 0.05, "arm_labels": ARM_LABELS},
                           "H1")
    assert "no significant difference after Holm's correction" in line
    assert line.endswith("The raw p is below α, so the unadjusted interval excludes 0; after "
                         "the correction for the two tests it is not significant.")
    # At exactly α the raw p is not below it (and the interval's end touches 0): not said.
    at_alpha = {**row, "p_raw": 0.05, "p_holm": 0.1, "ci_low": 0.0}
    line = hypothesis_line({"primary": {"H1": at_alpha}, "alpha": 0.05,
                            "arm_labels": ARM_LABELS}, "H1")
    assert "no significant difference" in line and "below α" not in line


def test_secondary_local_scores_name_their_evaluation_seed() -> None:
    from jlonevae_lib.reports.penalty_study_text import _value_title

    assert _value_title("local_mig_0_1", PRIMARY_KEY) == "local MIG @0.1 (eval seed 0)"
    assert _value_title("mig", PRIMARY_KEY) == "MIG"
    mean = _value_title("local_modularity_0_1_evalseeds_mean", PRIMARY_KEY)
    assert "(eval seed 0)" not in mean and "primary" not in mean
    # The primary outcome's row among the exploratory differences points to its tests.
    assert _value_title(PRIMARY_KEY, PRIMARY_KEY).endswith(
        "(the primary outcome: its tests are above)")


def write_every_result(run_dir: Path) -> None:
    """A result file for each metric the study evaluates that a fake run lacks (the sweep's
    test of an evaluated run), holding no score."""
    for name in plan_study(get_study("cpu_penalty_study")).metric_names():
        if not layout.evaluation_path(run_dir, name).is_file():
            write_json(layout.evaluation_path(run_dir, name),
                       {"evaluation_results.elapsed_time": 1.0})


def test_a_run_evaluated_without_a_finite_primary_outcome_has_ended(tmp_path: Path,
                                                                     capsys) -> None:
    """Local MIG not a number at one evaluation seed, every result written: evaluating again
    would give the same, so the incomplete report does not ask for it; the run counts as ended
    and a study closed with it names it and why. An unreadable result, or a non-finite one at
    another evaluation seed, may be mended by evaluating again: such a run has not ended."""
    root, out = tmp_path / "study", tmp_path / "results"
    dirs = write_study(root, {})
    part = layout.evaluation_path(dirs[0], "local_mig_0_1_evalseed1")  # JL1-VAE seed 1
    write_json(part, local_json("local_mig", 0.1, float("nan")))
    write_every_result(dirs[0])
    summary = summarise_folder(root, out)
    assert not summary["complete"] and summary["primary"] is None
    (waiting,) = summary["progress"]["waiting"]
    assert (waiting["arm"], waiting["seed"], waiting["status"], waiting["detail"]) == (
        JL1_ARM, 1, NOT_FINITE, "local_mig_0_1_evalseed1 = nan")
    assert [run["ended_without_primary"] for run in summary["runs"]].count(True) == 1
    readme = (out / "README.md").read_text()
    assert "1 run evaluated without a finite primary outcome" in readme
    assert "--stages evaluate" not in readme
    closed = summarise_folder(root, out, "--close-with-failures")
    assert closed["reported"] and closed["primary"]["H1"]["n_a"] == 9
    assert any(line.startswith(f"{ARM_LABELS[JL1_ARM]} seed 1 has no primary outcome ("
                               f"{NOT_FINITE}: local_mig_0_1_evalseed1 = nan)")
               for line in closed["deviations"])
    # Not ended: the file unreadable, or the seed-0 value non-finite at another seed.
    base = layout.evaluation_path(dirs[0], "local_mig_0_1")
    for broken in ("unreadable", "another seed"):
        if broken == "unreadable":
            part.write_text("{not json")
        else:
            write_json(part, local_json("local_mig", 0.1, 0.07))
            write_json(base, {**local_json("local_mig", 0.1, float("nan")), SEED_KEY: 1})
        summary = summarise_folder(root, out)
        (waiting,) = summary["progress"]["waiting"]
        assert waiting["status"] == NOT_EVALUATED, broken
        with pytest.raises(SystemExit):
            summarise_folder(root, out, "--close-with-failures")
        assert f"{ARM_LABELS[JL1_ARM]} seed 1: evaluation to do" in capsys.readouterr().err


def test_the_report_names_the_code_that_wrote_it(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """summary.json's machine entry: this checkout's commit, or "unknown" where git cannot
    say."""
    import re
    import subprocess

    if not (Path(cli.__file__).resolve().parents[2] / ".git").exists():
        pytest.skip("not a git checkout: the commit is unknown here")

    root, out = tmp_path / "study", tmp_path / "results"
    write_study(root, {ARM: () for ARM in ARMS})
    summary = summarise_folder(root, out)
    assert re.fullmatch(r"jlonevae [0-9a-f]{40}( with uncommitted changes to the package)?",
                        summary["machine"][cli.CODE_ENTRY])
    assert f"- {cli.CODE_ENTRY}: jlonevae " in (out / "README.md").read_text()

    def no_git(*args, **kwargs):
        raise subprocess.CalledProcessError(128, "git")

    monkeypatch.setattr(subprocess, "run", no_git)
    assert cli.code_commit() == "unknown (git gave no commit)"
