"""The natural-image summary's findings on hand-made numbers: collapsed runs are named, and an
arm whose every run collapsed is not compared by localisation; the compactness measure of a
collapsed and of a working decoder; a written summary.json recomputed and rendered again."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
import torch

from jlonevae_lib.architecture.vae import build_conv_vae
from jlonevae_lib.evaluate.natural_image_measures import measure_vae
from jlonevae_lib.reports.natural_images import (
    load_summary,
    refresh_summary,
    write_natural_images_summary,
    write_summary_files,
)
from jlonevae_lib.reports.natural_images_text import (
    _findings,
    kl_at,
    kl_table,
    noise_reference,
    render_markdown,
    render_readme,
)
from jlonevae_lib.runs import layout
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.visualize.comparisons import BLUE, RED
from jlonevae_lib.visualize.natural_images import KLTrajectory, plot_kl_trajectories


def _summary(jl1_collapsed: tuple[bool, bool]) -> dict[str, Any]:
    def run(arm: str, seed: int, collapsed: bool, localisation: float) -> dict[str, Any]:
        return {"status": "finished", "arm": arm, "seed": seed, "collapsed": collapsed,
                "bce_gap_removed": 0.002 if collapsed else 0.18, "final_train_kld": 0.5,
                "heldout_mse": 0.77 if collapsed else 0.63, "localisation": localisation}

    def stat(mean: float) -> dict[str, float]:
        return {"n": 2, "mean": mean, "sd": 0.01}

    beta, jl1 = "β-VAE (γ=0)", "JL1-VAE (γ=0.01)"
    return {
        "runs": [run(beta, 0, False, 0.30), run(jl1, 0, jl1_collapsed[0], 0.34),
                 run(beta, 1, False, 0.31), run(jl1, 1, jl1_collapsed[1], 0.33)],
        "arms": [{"arm": beta, "localisation": stat(0.305), "localisation_weighted": stat(0.32),
                  "heldout_mse": stat(0.63)},
                 {"arm": jl1, "localisation": stat(0.335), "localisation_weighted": stat(0.33),
                  "heldout_mse": stat(0.70)}],
        "collapse": {"mean_image": 177.38, "perfect": 175.78, "fraction": 0.95},
        "mean_patch_error": {"mse": 0.775},
        "linear_baselines": [{"model": "PCA", "num_components": 10, "localisation": 0.225,
                              "heldout_mse": 0.589}],
    }


def test_an_arm_whose_every_run_collapsed_is_not_compared() -> None:
    text = "\n".join(_findings(_summary((True, True))))
    assert "**Collapsed runs**: JL1-VAE (γ=0.01) seed 0 (0.2% of the gap removed" in text
    assert "Localisation not compared: every JL1-VAE (γ=0.01) run collapsed" in text
    assert "JL1-VAE columns are more localised" not in text
    assert "JL1-VAE (γ=0.01)'s columns" not in text  # no comparison with the PCA filters
    assert "β-VAE (γ=0)'s columns (0.305) score above these PCA filters" in text


def test_arms_with_a_working_run_are_compared() -> None:
    text = "\n".join(_findings(_summary((True, False))))
    assert "JL1-VAE 0.335 (runs: 0.340, 0.330), β-VAE 0.305 (runs: 0.300, 0.310)" in text
    assert "The JL1-VAE mean is higher (collapsed runs included). With n = 2 vs 2 runs no " \
           "test is made" in text
    assert "that the JL1-VAE columns are more localised is not established" in text
    assert "columns are more localised by this measure" not in text  # the old flat claim
    assert "JL1-VAE (γ=0.01)'s columns (0.335) score above these PCA filters" in text
    assert "not compared" not in text


def test_the_measures_weakness_against_noise_is_stated() -> None:
    # This summary's own collapsed run is the example of what noise scores.
    text = "\n".join(_findings(_summary((True, False))))
    assert "- **The localisation measure does not tell learned columns from noise.**" in text
    assert "(here: JL1-VAE (γ=0.01) seed 0 0.340)" in text
    assert "A measure that is robust to noise is being built" in text
    # No collapsed run here: another summary's collapsed runs are cited.
    reference = ("results/natural_images (4,000 batches)",
                 [{"arm": "JL1-VAE (γ=0.01)", "seed": 0, "localisation": 0.338}])
    text = "\n".join(_findings(_summary((False, False)), reference))
    assert "(in results/natural_images (4,000 batches): JL1-VAE (γ=0.01) seed 0 0.338)" in text
    assert "is not established" in text
    # The offline fallback is said where the findings are.
    assert "**Data: the offline fallback**" not in text
    text = "\n".join(_findings({**_summary((False, False)), "offline_fallback": True}))
    assert "- **Data: the offline fallback** (two photographs that ship with scikit-learn, " \
           "whitened), not the paper's IMAGES.mat." in text


def _with_compactness(summary: dict[str, Any]) -> dict[str, Any]:
    """``summary`` with compactness values: β-VAE's columns all structured; JL1-VAE seed 0
    collapsed (every column below the noise floor), seed 1 with few structured columns."""
    values = {("β-VAE (γ=0)", 0): (0.17, 0.13, 1.0, 0.0),
              ("β-VAE (γ=0)", 1): (0.19, 0.15, 1.0, 0.0),
              ("JL1-VAE (γ=0.01)", 0): (math.nan, math.nan, 0.0, 1.0),
              ("JL1-VAE (γ=0.01)", 1): (0.36, 0.09, 0.14, 0.86)}
    for run in summary["runs"]:
        plain, weighted, structured, silent = values[run["arm"], run["seed"]]
        run.update({"compactness": plain, "compactness_weighted": weighted,
                    "columns_structured": structured, "columns_no_signal": silent,
                    "columns_no_structure": 1.0 - structured - silent})
    arm_values = {"β-VAE (γ=0)": ((0.18, 2), (0.14, 2)), "JL1-VAE (γ=0.01)": ((0.36, 1), (0.09, 1))}
    for arm in summary["arms"]:
        (plain, n), (weighted, _) = arm_values[arm["arm"]]
        arm["compactness"] = {"mean": plain, "sd": math.nan, "n": n}
        arm["compactness_weighted"] = {"mean": weighted, "sd": math.nan, "n": n}
    summary["linear_baselines"][0]["compactness"] = 0.017
    return summary


def test_compactness_is_reported_per_run_without_a_verdict() -> None:
    text = "\n".join(_findings(_with_compactness(_summary((True, False)))))
    assert "The compactness score (next point) is the measure to read." in text
    assert "is being built" not in text
    assert ("JL1-VAE (γ=0.01) 0.360, activity-weighted 0.090 (runs: seed 0 none (0% of columns "
            "structured, 100% no signal); seed 1 0.360 (14% of columns structured, 86% no "
            "signal))") in text
    assert "The collapsed run's columns are called \"no signal\"" in text
    assert "JL1-VAE (γ=0.01) seed 1: most columns have no score, so its mean rests on 14%" in text
    assert ("The two means point different ways (JL1-VAE (γ=0.01) higher unweighted, lower "
            "activity-weighted).") in text
    assert "With 2 vs 1 runs with a score no test is made" in text
    assert "10-component filters: PCA 0.017." in text
    # A summary written before the measure keeps its old wording and has no such point.
    text = "\n".join(_findings(_summary((True, False))))
    assert "**Compactness**" not in text and "is being built" in text


@pytest.mark.parametrize("collapsed", [True, False])
def test_measure_vae_scores_compactness_and_calls_a_collapsed_decoder_no_signal(
        collapsed: bool) -> None:
    torch.manual_seed(0)
    model = build_conv_vae("tiny16", 1, 10).eval()
    if collapsed:  # a decoder that ignores its latents: the weights from z scaled down
        with torch.no_grad():
            model.gen_fcs[0].weight.mul_(1e-6)
    patches = np.random.default_rng(0).random((12, 1, 16, 16)).astype(np.float32)
    measures = measure_vae(model, patches, num_localisation=6)
    shares = (measures.columns_structured, measures.columns_no_structure,
              measures.columns_no_signal)
    assert sum(shares) == pytest.approx(1.0)
    if collapsed:
        # the old measure still gives its columns a number; the new one says "no signal"
        assert measures.localisation > 0.1
        assert measures.columns_no_signal == 1.0 and math.isnan(measures.compactness)
    else:
        assert measures.columns_no_signal == 0.0


def test_markdown_shows_the_compactness_and_the_column_states() -> None:
    run = {"status": "finished", "arm": "JL1-VAE (γ=0.01)", "seed": 0, "heldout_mse": 0.6,
           "heldout_bce": 176.0, "localisation": 0.34, "localisation_weighted": 0.33,
           "compactness": math.nan, "columns_structured": 0.0, "columns_no_structure": 0.25,
           "columns_no_signal": 0.75, "mean_column_activity": 1e-8, "final_train_kld": 1e-4,
           "bce_gap_removed": 0.0, "collapsed": True, "train_seconds": 1.0, "figure": "f.png"}
    stat = {"mean": 0.34, "sd": math.nan, "n": 1}
    summary = {
        "offline_fallback": False, "data_source": "IMAGES.mat",
        "patches": {"train": 10, "test": 5, "linear_fit": 10, "localisation": 5},
        "settings": {"gamma": 0.01}, "runs": [run],
        "arms": [{"arm": run["arm"], "seeds": [0], "heldout_mse": stat, "heldout_bce": stat,
                  "localisation": stat, "localisation_weighted": stat,
                  "compactness": {"mean": math.nan, "sd": math.nan, "n": 0},
                  "columns_structured": stat}],
        "linear_baselines": [{"model": "ICA", "num_components": 10, "heldout_mse": 0.6,
                              "heldout_bce": 176.0, "localisation": 0.24,
                              "localisation_weighted": 0.25, "compactness": 0.09,
                              "columns_structured": 1.0, "converged": True}],
        "mean_patch_error": {"mse": 0.77, "bce": 177.4},
        "measures": {"heldout_error": "e", "localisation": "l", "compactness": "c"},
        "figures": [], "command": "", "generated_at": "now", "machine": {"platform": "x"}}
    text = render_markdown(summary)
    assert "columns structured / noise-like / no signal" in text
    assert "0.00 / 0.25 / 0.75" in text and "no structured column" in text
    assert "- Compactness: c." in text


def _written_summary(compactness: bool) -> dict[str, Any]:
    """A summary as summary.json holds it (keys sorted), with or without the compactness
    measure (a summary written before it has none)."""
    def run(arm: str, gamma: float, seed: int, bce: float, mse: float) -> dict[str, Any]:
        entry = {"status": "finished", "arm": arm, "gamma": gamma, "seed": seed,
                 "heldout_bce": bce, "heldout_mse": mse, "localisation": 0.3 + seed / 100,
                 "localisation_weighted": 0.31, "mean_column_activity": 0.01,
                 "final_train_kld": 3.0, "train_seconds": 10.0, "figure": f"f{seed}.png",
                 "bce_gap_removed": None, "collapsed": None}
        if compactness:
            entry.update({"compactness": 0.1 * (seed + 1), "compactness_weighted": 0.2,
                          "columns_structured": 0.5, "columns_no_structure": 0.5,
                          "columns_no_signal": 0.0})
        return entry

    beta, jl1 = "β-VAE (γ=0)", "JL1-VAE (γ=0.01)"
    summary = {
        "offline_fallback": False, "data_source": "IMAGES.mat",
        "patches": {"train": 10, "test": 5, "linear_fit": 10, "localisation": 5},
        "settings": {"device": "cpu", "num_batches": 4000, "dataset": "naturalImages",
                     "annealing_batches": 2000, "beta": 0.01},
        "paper_settings": {"annealing_batches": 50000, "device": "GPU", "num_batches": 100000,
                           "seeds": [0]},
        "runs": [run(beta, 0.0, 0, 177.0, 0.63), run(jl1, 0.01, 0, 177.37, 0.77),
                 run(beta, 0.0, 1, 177.1, 0.62), {"status": "not finished", "run_dir": "r"}],
        "arms": [], "linear_baselines": [
            {"model": "PCA", "num_components": 10, "heldout_mse": 0.59, "heldout_bce": 177.0,
             "localisation": 0.22, "localisation_weighted": 0.22, "converged": True,
             **({"compactness": 0.02, "columns_structured": 1.0} if compactness else {})}],
        "mean_patch_error": {"mse": 0.775, "bce": 177.4},
        "collapse": {"mean_image": 177.38, "perfect": 175.78, "fraction": 0.95},
        "measures": {"heldout_error": "e", "localisation": "l"}, "figures": [],
        "command": "c", "generated_at": "then", "machine": {"platform": "x"}}
    return json.loads(json.dumps(summary, sort_keys=True))


@pytest.mark.parametrize("compactness", [True, False])
def test_refresh_recomputes_the_verdicts_and_the_arms(compactness: bool) -> None:
    refreshed = refresh_summary(_written_summary(compactness))
    runs = [run for run in refreshed["runs"] if run["status"] == "finished"]
    assert [run["collapsed"] for run in runs] == [False, True, False]
    assert runs[0]["bce_gap_removed"] == pytest.approx((177.38 - 177.0) / (177.38 - 175.78))
    beta, jl1 = refreshed["arms"]
    assert (beta["seeds"], jl1["seeds"]) == ([0, 1], [0])
    assert beta["heldout_bce"]["mean"] == pytest.approx(177.05) and beta["heldout_bce"]["n"] == 2
    assert ("compactness" in beta) is compactness
    if compactness:
        assert beta["compactness"]["mean"] == pytest.approx(0.15)
    # Every measurement is kept.
    assert refreshed["linear_baselines"] == _written_summary(compactness)["linear_baselines"]


def test_a_written_summary_renders_in_the_settings_order_and_without_absent_measures() -> None:
    old = refresh_summary(_written_summary(compactness=False))
    markdown = render_markdown(old)
    settings = [line.split(" | ")[0][2:] for line in markdown.splitlines()
                if line.startswith("| ") and line.count("|") == 3][1:]
    # SETTINGS_SHOWN's order, not summary.json's sorted keys.
    assert settings == ["dataset", "beta", "num_batches", "annealing_batches", "device"]
    assert "compactness" not in markdown and "None" not in markdown
    assert "compactness" in render_markdown(refresh_summary(_written_summary(True)))
    readme = render_readme(old, markdown, "results/x")
    assert "Deviations from the paper's setting: num_batches: 4000 here, 100000 in the paper; " \
           "annealing_batches: 2000 here, 50000 in the paper; device: cpu here, GPU in the " \
           "paper; seeds [0, 1] here, [0] in the paper." in readme


def test_the_noise_reference_is_labelled_with_its_run_length() -> None:
    reference = refresh_summary(_written_summary(compactness=False))
    label, runs = noise_reference(reference, "results/natural_images")
    assert label == "results/natural_images (4,000 batches)"
    assert runs == [{"arm": "JL1-VAE (γ=0.01)", "seed": 0, "localisation": 0.3}]


def test_a_run_without_compactness_round_trips_through_strict_json(tmp_path) -> None:
    """A run none of whose columns has a score has NaN compactness: summary.json holds null
    there (strict JSON, readable by any parser) and reading it back gives NaN again, so the
    re-rendered texts are the ones first written."""
    summary = _written_summary(compactness=True)
    summary["runs"][1].update(compactness=math.nan, compactness_weighted=math.nan,
                              columns_structured=0.0, columns_no_signal=1.0)
    first = refresh_summary(summary)
    write_summary_files(tmp_path / "a", first)
    text = (tmp_path / "a" / "summary.json").read_text()

    def no_constants(name: str) -> None:
        raise AssertionError(f"summary.json holds {name}, which JSON does not have")

    written = json.loads(text, parse_constant=no_constants)
    assert written["runs"][1]["compactness"] is None
    again = refresh_summary(load_summary(tmp_path / "a" / "summary.json"))
    assert math.isnan(again["runs"][1]["compactness"])
    write_summary_files(tmp_path / "b", again)
    for name in ("summary.json", "summary.md"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()


def test_the_kl_table_reads_the_logged_kl_at_fractions_of_the_run() -> None:
    trajectory = [[step, 10.0 / step] for step in range(100, 4001, 100)]
    trajectory[5][1] = 1e-5  # batch 600: the run's lowest KL
    runs = [{"arm": "JL1-VAE (γ=0.01)", "seed": 1, "kl_trajectory": trajectory},
            {"arm": "β-VAE (γ=0)", "seed": 0}]  # no trajectory: not a row
    lines = kl_table(runs, 4000)
    table = "\n".join(lines)
    assert lines[0] == "## KL term over training (nats, training batch)"
    assert "2.5%, 5%, 10%, 25%, 50%, 100% of the run" in table
    header, _, row = [line for line in table.splitlines() if line.startswith("|")]
    assert [cell.strip() for cell in header.strip("|").split("|")] == [
        "arm", "seed", "batch 100", "batch 200", "batch 400", "batch 1,000", "batch 2,000",
        "batch 4,000", "lowest (batch)"]
    assert [cell.strip() for cell in row.strip("|").split("|")] == [
        "JL1-VAE (γ=0.01)", "1", "0.1", "0.05", "0.025", "0.01", "0.005", "0.0025",
        "1e-05 (600)"]
    assert kl_at(trajectory, 150) == (100, 0.1)  # a tie goes to the earlier batch
    assert kl_table(runs[1:], 4000) == [] and kl_table(runs, None) == []


def test_the_kl_figure_draws_one_line_per_run() -> None:
    fig = plot_kl_trajectories([
        KLTrajectory("β-VAE (γ=0)", 0, False, [(100, 8.0), (200, 0.1), (300, 2.0)]),
        KLTrajectory("JL1-VAE (γ=0.01)", 0, True, [(100, 8.0), (200, 1e-5)]),
        KLTrajectory("β-VAE (γ=0)", 1, False, [(100, 7.0), (200, 0.2)])])
    lines = fig.axes[0].get_lines()
    assert [line.get_color() for line in lines] == [BLUE, RED, BLUE]
    assert [line.get_linestyle() for line in lines] == ["-", "-", "--"]
    assert list(lines[1].get_xdata()) == [100, 200]
    assert [line.get_label() for line in lines] == [
        "β-VAE (γ=0), seed 0", "JL1-VAE (γ=0.01), seed 0", "β-VAE (γ=0), seed 1"]
    assert fig.axes[0].get_yscale() == "symlog"


def test_a_run_on_other_images_is_refused_before_anything_is_written(tmp_path) -> None:
    run = tmp_path / "trainedModels" / "experiment" / "seed1"
    run.mkdir(parents=True)
    layout.config_path(run).write_text(json.dumps({"dataset": "threeDots"}))
    layout.done_path(run).write_text("{}")
    results = tmp_path / "results"
    with pytest.raises(JLoneVAEError, match="trained on 'threeDots', not 'naturalImages'"):
        write_natural_images_summary([str(run)], str(results))
    assert not results.exists()
