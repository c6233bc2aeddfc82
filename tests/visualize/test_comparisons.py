"""Comparison figures and their t-tests, on the fixture results."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib.collections import PathCollection, PolyCollection

from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.visualize.comparisons import (
    BETA_VS_JL1,
    L1_VS_L2,
    all_metrics,
    compare_to_baselines,
    distinct_colors,
    metric_vs_locality,
    mig_modularity_scatter,
)
from jlonevae_lib.visualize.results import Results, discover_results
from tests.runs.test_dlib_suite_results import FILES as DLIB_SUITE_FILES
from tests.visualize.result_fixtures import (
    BETA_EXPERIMENT,
    JL1_EXPERIMENT,
    LOCALITIES,
    write_evaluation,
)


@pytest.fixture(scope="module")
def results(results_tree: Path) -> Results:
    return discover_results(results_tree / "trainedModels",
                            results_tree / "trainedStandardModels")


def _collections(fig, kind) -> int:
    return sum(isinstance(c, kind) for ax in fig.axes for c in ax.collections)


def test_compare_to_baselines(results: Results, tmp_path: Path) -> None:
    out = compare_to_baselines(results, gamma=0.1, locality=0.1)
    assert set(out.figures) == {"local_mig_0_1_compareToStandard",
                                "local_modularity_0_1_compareToStandard"}
    fig = out.figures["local_mig_0_1_compareToStandard"]
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == ["JL1-VAE (γ=0.1)", "β-VAE (γ=0)", "β-VAE (dlib)", "FactorVAE"]
    assert _collections(fig, PolyCollection) == 4  # one violin body per method
    assert _collections(fig, PathCollection) == 4  # the seed points
    # One row per metric and compared method; JL1-VAE is group a and scores higher.
    assert len(out.table) == 2 * 3
    for row in out.table:
        assert row["group_a"] == "JL1-VAE (γ=0.1)" and row["mean_a"] > row["mean_b"]
        assert row["p"] < 0.05
    paths = out.save(tmp_path, "threeDots")
    names = sorted(p.name for p in paths)
    assert "threeDots_local_mig_0_1_compareToStandard.pdf" in names
    assert "threeDots_compareToStandard_0_1_ttests.md" in names
    csv = (tmp_path / "threeDots_compareToStandard_0_1_ttests.csv").read_text().splitlines()
    assert csv[0].startswith("metric,locality,group_a,n_a") and len(csv) == 1 + 6

    without = compare_to_baselines(results, with_gamma0=False)
    assert len(without.table) == 2 * 2
    with pytest.raises(JLoneVAEError, match="no JL1-VAE"):
        compare_to_baselines(results, gamma=0.4)


def test_a_plug_in_objectives_runs_are_compared_as_a_method_of_their_own(
        results_tree: Path, tmp_path: Path) -> None:
    """Runs of an objective neither ours nor disentanglement_lib's (a plug-in's, named in
    their config.json) form their own arm after the baselines, not an unknown folder."""
    models = tmp_path / "trainedModels"
    shutil.copytree(results_tree / "trainedModels" / JL1_EXPERIMENT, models / JL1_EXPERIMENT)
    plug_in = models / "defaultConv_code_spread_vae_lat3_batch64_lr0_0010"
    shutil.copytree(results_tree / "trainedModels" / BETA_EXPERIMENT, plug_in)
    for config in plug_in.glob("*/config.json"):
        config.write_text(json.dumps({"objective": "code_spread_vae", "gamma": 0.0}))
    results = discover_results(models)
    assert {run.method for run in results.runs()} == {"jlone", "code_spread_vae"}
    out = compare_to_baselines(results, gamma=0.1, locality=0.1)
    ticks = [t.get_text() for t in out.figures["local_mig_0_1_compareToStandard"].axes[0]
             .get_xticklabels()]
    assert ticks == ["JL1-VAE (γ=0.1)", "code_spread_vae"]
    assert {row["group_b"] for row in out.table} == {"code_spread_vae"}


@pytest.mark.parametrize(("comparison", "name", "labels"), [
    (BETA_VS_JL1, "varyingRho", ("β-VAE (γ=0)", "JL1-VAE (γ=0.1)")),
    (L1_VS_L2, "L1vsL2", ("JL1-VAE (γ=0.1)", "JL2-VAE (γ=0.1)")),
])
def test_metric_vs_locality(results: Results, comparison: str, name: str,
                            labels: tuple[str, str]) -> None:
    out = metric_vs_locality(results, comparison, gamma=0.1)
    assert out.notes == []
    assert set(out.figures) == {f"local_mig_{name}", f"local_modularity_{name}"}
    ax = out.figures[f"local_mig_{name}"].axes[0]
    assert [line.get_label() for line in ax.get_lines()] == [
        f"{label} (mean ± 1 s.d.)" for label in labels]
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), LOCALITIES)
    assert len(ax.texts) == len(LOCALITIES)  # a p-value per locality
    assert [(row["locality"], row["group_a"]) for row in out.table[:5]] == [
        (x, labels[0]) for x in LOCALITIES]


def test_metric_vs_locality_notes_a_missing_pair(results_tree: Path, tmp_path: Path) -> None:
    models = tmp_path / "trainedModels"
    shutil.copytree(results_tree / "trainedModels" / JL1_EXPERIMENT, models / JL1_EXPERIMENT)
    out = metric_vs_locality(discover_results(models), BETA_VS_JL1)
    assert out.figures == {} and "no results of both methods" in out.notes[0]
    with pytest.raises(JLoneVAEError, match="unknown comparison"):
        metric_vs_locality(discover_results(models), "l1-vs-l3")


def test_ambiguous_settings_ask_for_include(results_tree: Path, tmp_path: Path) -> None:
    models = tmp_path / "trainedModels"
    for experiment in (JL1_EXPERIMENT, BETA_EXPERIMENT):
        for lr in ("0_0010", "0_0001"):
            shutil.copytree(results_tree / "trainedModels" / experiment,
                            models / experiment.replace("lr0_0010", f"lr{lr}"))
    with pytest.raises(JLoneVAEError, match="--include"):
        metric_vs_locality(discover_results(models), BETA_VS_JL1)
    narrowed = discover_results(models, include=["*_lr0_0001_*"])
    assert metric_vs_locality(narrowed, BETA_VS_JL1).figures


@pytest.mark.parametrize(("locality", "name"), [(0.1, "mig_vs_modularity_0_1"),
                                                (None, "mig_vs_modularity_global")])
def test_scatter_across_gamma(results: Results, locality: float | None, name: str) -> None:
    out = mig_modularity_scatter(results, locality=locality)
    ax = out.figures[name].axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["γ=0", "γ=0.1", "γ=0.2"]  # JL1 at two γ and the β-VAE; JL2 not
    assert [row["n"] for row in out.table] == [3, 3, 2]
    # Each γ: the runs' points plus the mean marker.
    assert _collections(out.figures[name], PathCollection) == 2 * 3


def test_all_metrics_has_one_panel_per_score_found(results_tree: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(results_tree, tree)
    # disentanglement_lib's suite on two JL1-VAE runs: its scores get panels of their own.
    for seed in (1, 2):
        for folder, data in DLIB_SUITE_FILES.items():
            if folder not in ("mig", "local_mig_0_1"):  # the fixture has the paper's metrics
                write_evaluation(tree / "trainedModels" / JL1_EXPERIMENT / f"seed{seed}",
                                 folder, data)
    results = discover_results(tree / "trainedModels", tree / "trainedStandardModels")
    out = all_metrics(results, locality=0.1)
    fig = out.figures["allMetrics_0_1"]
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles[:4] == ["local MIG (0.1)", "local modularity (0.1)",
                          "local DCI disentanglement (0.1)", "local DCI completeness (0.1)"]
    assert {"MIG", "modularity", "β-VAE score", "FactorVAE score", "SAP",
            "DCI disentanglement"} <= set(titles)
    assert len(titles) == len({row["score"] for row in out.table})
    dci = [row for row in out.table if row["score"] == "DCI disentanglement"]
    assert [(row["experiment"], row["n"], row["mean"]) for row in dci] == [
        ("JL1-VAE (γ=0.1)", 2, pytest.approx(0.3))]
    # Only global scores with locality None; the table and figure are saved.
    global_only = all_metrics(results, locality=None).figures["allMetrics_global"]
    assert {ax.get_title() for ax in global_only.axes if ax.get_visible()} == \
        {title for title in titles if not title.endswith("(0.1)")}
    names = {path.name for path in out.save(tmp_path / "figs", "threeDots")}
    assert {"threeDots_allMetrics_0_1.png", "threeDots_allMetrics_0_1.csv"} <= names
    with pytest.raises(JLoneVAEError, match="no metric results"):
        all_metrics(Results(), locality=0.1)


@pytest.mark.parametrize("count", [1, 9, 10, 11, 20, 21, 40])
def test_distinct_colors_never_repeat(count):
    colors = distinct_colors(count)
    assert len(colors) == count and len(set(colors)) == count
    red = colormaps["tab10"](3)
    without_red = distinct_colors(count, exclude=(3,))
    assert len(set(without_red)) == count
    if count <= 18:  # tab10 and tab20 without red's hue
        assert red not in without_red and colormaps["tab20"](6) not in without_red
