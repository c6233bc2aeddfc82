"""The paper's quantitative figures (docs/method.md, Figures) from discovered results, with t-tests.

- :func:`compare_to_baselines`: local MIG and local modularity at one locality (0.1), one
  violin per method: JL1-VAE vs every baseline present (and our γ = 0 β-VAE).
- :func:`metric_vs_locality`: local MIG and local modularity against the locality radius,
  mean ± 1 s.d. over seeds and every seed as a point: β-VAE (γ = 0) vs JL1-VAE, or L1 vs L2.
- :func:`all_arms_vs_locality`: the same against locality for every arm of
  :func:`compare_to_baselines` at once, JL1-VAE t-tested against each.
- :func:`mig_modularity_scatter`: MIG against modularity per run, coloured by γ.
- :func:`all_metrics`: every score the runs have (the paper's, disentanglement_lib's nine
  configs' and their local versions), one panel per score, one column of points per experiment.

Each returns a :class:`FigureSet` (figures + a table + notes) that the CLI and the notebooks
save with :meth:`FigureSet.save`. One point is one trained model (a run's value is the mean
over its local clusters); the t-tests are :mod:`jlonevae_lib.evaluate.statistics`'s.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from jlonevae_lib.evaluate.statistics import sample_sd, ttest_row
from jlonevae_lib.runs.metric_table import (
    LOCAL_MIG,
    LOCAL_MODULARITY,
    MIG,
    MODULARITY,
    describe,
    scores,
)
from jlonevae_lib.runs.results import (
    BASELINE_METHODS,
    GAMMA0,
    JL1,
    JL2,
    OUR_METHOD_LABELS,
    UNKNOWN_METHOD,
    Results,
    RunInfo,
)
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.visualize.figure_io import save_figure, save_table

#: The reference notebooks' colours: ours red, baselines blue, plus gray and green.
RED = (179 / 255, 27 / 255, 27 / 255)
BLUE = (0.0, 47 / 255, 108 / 255)
GRAY = (0.45, 0.45, 0.45)
GREEN = (0.1, 0.5, 0.2)



def distinct_colors(count: int, exclude: Sequence[int] = ()) -> list[tuple[float, ...]]:
    """``count`` colours, no two alike: tab10's while they suffice, then tab20's (its pairs
    are tab10's hues, dark and light), then evenly spaced samples of turbo, so experiments
    beyond the tenth never share a colour with an earlier one. ``exclude``: tab10 indices of
    hues kept for something else (JL1-VAE's red, 3), left out of tab10 and tab20."""
    tab10 = [colormaps["tab10"](i) for i in range(10) if i not in exclude]
    tab20 = [colormaps["tab20"](i) for i in range(20) if i // 2 not in exclude]
    for colors in (tab10, tab20):
        if count <= len(colors):
            return colors[:count]
    turbo = colormaps["turbo"]
    return [turbo(i / max(1, count - 1)) for i in range(count)]


#: The comparisons :func:`metric_vs_locality` knows.
BETA_VS_JL1 = "beta-vs-jl1"
L1_VS_L2 = "l1-vs-l2"
VS_LOCALITY_COMPARISONS = (BETA_VS_JL1, L1_VS_L2)
#: Every arm of a comparison with the baselines against locality (:func:`all_arms_vs_locality`;
#: not part of ``all``, which keeps the paper's two pairs).
ALL_ARMS = "all-arms"

# Deterministic horizontal jitter of the seed points in a violin, as a fraction of a slot.
_JITTER_WIDTH = 0.12
_GAMMA_TOLERANCE = 1e-9


@dataclass
class FigureSet:
    """Figures by name, one table (rows of dicts) and notes on what was missing."""

    figures: dict[str, Figure] = field(default_factory=dict)
    table: list[dict[str, Any]] = field(default_factory=list)
    table_name: str = "table"
    notes: list[str] = field(default_factory=list)

    def save(self, output_dir: str | os.PathLike, prefix: str = "") -> list[Path]:
        """Write ``<prefix>_<name>.png`` + ``.pdf`` per figure and ``<prefix>_<table_name>``
        ``.csv`` + ``.md``; returns the paths written."""
        output_dir = Path(output_dir)
        stem = f"{prefix}_" if prefix else ""
        paths = []
        for name, fig in self.figures.items():
            paths += save_figure(fig, output_dir / f"{stem}{name}.png")
        if self.table:
            paths += save_table(self.table, output_dir / f"{stem}{self.table_name}.csv")
        return paths


def figure_locality_token(locality: float | None) -> str:
    """0.1 -> ``0_1``, 1.0 -> ``1``, None -> ``global``: a locality in figure and table file
    names (which keep the reference's form; metric names write 1.0 as ``1_0``)."""
    return "global" if locality is None else f"{locality:g}".replace(".", "_")


# ------------------------------------------------------------------------------- plotting


def plot_violins(groups: Sequence[tuple[str, Sequence[float], Any]], ylabel: str) -> Figure:
    """One violin per (label, values, colour), every value as a point, the median as a bar.

    Groups with fewer than two distinct values get points and median only (a violin needs
    a spread to estimate a density).
    """
    fig = Figure(figsize=(1.2 * len(groups) + 2.0, 4.5), layout="constrained")
    ax = fig.subplots()
    for x, (_, values, color) in enumerate(groups):
        values = np.asarray(values, dtype=float)
        if len(np.unique(values)) > 1:
            parts = ax.violinplot(values, [x], widths=0.6, showextrema=True, showmedians=False)
            for body in parts["bodies"]:
                body.set_facecolor(color)
                body.set_edgecolor(color)
                body.set_alpha(0.35)
            for name in ("cbars", "cmins", "cmaxes"):
                parts[name].set_edgecolor(color)
        jitter = np.linspace(-_JITTER_WIDTH, _JITTER_WIDTH, len(values)) if len(values) > 1 \
            else np.zeros(1)
        ax.scatter(x + jitter, values, s=18, color=color, zorder=3)
        ax.hlines(np.median(values), x - 0.25, x + 0.25, color=color, linewidth=2.5, zorder=4)
    ax.set_xticks(range(len(groups)), [label for label, _, _ in groups], rotation=30,
                  ha="right")
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_metric_vs_locality(series: Sequence[tuple[str, Mapping[float, Sequence[float]], Any]],
                            ylabel: str,
                            pvalues: Mapping[float, float] | None = None) -> Figure:
    """Metric against locality radius: per (label, {locality: values}, colour) every value
    as a point and the mean ± 1 s.d. over seeds as a line and band. ``pvalues`` are written
    above each locality."""
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.subplots()
    markers = ("+", "x", "o", "s")
    for i, (label, by_locality, color) in enumerate(series):
        localities = sorted(by_locality)
        means = np.array([np.mean(by_locality[x]) for x in localities])
        sds = np.array([np.std(by_locality[x], ddof=1) if len(by_locality[x]) > 1 else 0.0
                        for x in localities])
        for x in localities:
            ax.scatter([x] * len(by_locality[x]), by_locality[x], marker=markers[i % 4],
                       color=color, s=40, linewidths=1.2,
                       facecolors="none" if markers[i % 4] in "os" else color)
        ax.plot(localities, means, color=color, label=f"{label} (mean ± 1 s.d.)")
        ax.fill_between(localities, means - sds, means + sds, color=color, alpha=0.15,
                        linewidth=0)
    if pvalues:
        for x, p in sorted(pvalues.items()):
            if math.isfinite(p):
                ax.annotate(f"p={p:.1g}", (x, 1.0), xycoords=("data", "axes fraction"),
                            xytext=(0, 3), textcoords="offset points", ha="center",
                            fontsize=7)
    ax.set_xlabel("locality radius (fraction of factor range)")
    ax.set_ylabel(ylabel)
    ax.set_xlim(-0.05, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_metric_scatter(points: Sequence[tuple[str, Sequence[float], Sequence[float], Any]],
                        xlabel: str, ylabel: str) -> Figure:
    """A scatter per (label, xs, ys, colour), with each group's mean as a large outlined
    marker."""
    fig = Figure(figsize=(6.0, 4.8), layout="constrained")
    ax = fig.subplots()
    for label, xs, ys, color in points:
        ax.scatter(xs, ys, color=color, s=30, alpha=0.8, label=label)
        ax.scatter([np.mean(xs)], [np.mean(ys)], color=color, s=160, marker="*",
                   edgecolors="black", linewidths=0.8, zorder=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="★ = mean")
    return fig


# ------------------------------------------------------------------------------- selection


#: Why a JL1-VAE comparison has nothing to draw, and what else compares other methods.
_NO_JL1 = ("no JL1-VAE (γ={gamma:g}) results found; train and evaluate those runs, or give the "
           "γ you trained with (--gamma; GAMMA in the notebooks); to compare other methods "
           "without JL1-VAE, all-metrics draws every arm found")


def _other_methods(results: Results) -> list[str]:
    """The methods compared with JL1-VAE besides our β-VAE: disentanglement_lib's, in their
    order, then any other found (a plug-in objective's), by name; not those with the Jacobian
    penalty added (``factor_vae+jlone``) nor runs of no known method."""
    found = {run.method for run in results.runs()}
    extra = found - set(BASELINE_METHODS) - {JL1, JL2, GAMMA0, UNKNOWN_METHOD}
    return [*BASELINE_METHODS, *sorted(m for m in extra if "+" not in m)]


def _groups(results: Results, method: str, gamma: float | None = None) -> dict[str, RunInfo]:
    """{group: a run of it} of one method (and γ, if given)."""
    found = {}
    for run in results.runs():
        if run.method != method:
            continue
        if gamma is not None and (run.gamma is None
                                  or not math.isclose(run.gamma, gamma,
                                                      abs_tol=_GAMMA_TOLERANCE)):
            continue
        found.setdefault(run.group, run)
    return found


def _one_settings(candidates: set[str], what: str) -> str:
    if len(candidates) > 1:
        raise JLoneVAEError(
            f"{what}: several experiment settings match ({', '.join(sorted(candidates))}); "
            "keep one with include patterns (--include '<experiment name glob>')")
    return next(iter(candidates))


def _pair(results: Results, method_a: str, gamma_a: float | None, method_b: str,
          gamma_b: float | None, what: str) -> tuple[str, str] | str:
    """(group a, group b) of two methods trained with the same settings, or a note saying
    why there is none."""
    a = {run.settings: group for group, run in _groups(results, method_a, gamma_a).items()}
    b = {run.settings: group for group, run in _groups(results, method_b, gamma_b).items()}
    common = set(a) & set(b)
    if not common:
        found = ", ".join(sorted(set(a.values()) | set(b.values()))) or "none"
        return (f"{what}: no results of both methods with the same settings (experiments "
                f"found: {found})")
    settings = _one_settings(common, what)
    return a[settings], b[settings]


# ------------------------------------------------------------------------------- figures


def compare_to_baselines(results: Results, gamma: float = 0.1, locality: float = 0.1,
                         with_gamma0: bool = True) -> FigureSet:
    """Violins of local MIG and local modularity at ``locality``: JL1-VAE (γ = ``gamma``)
    first, then our β-VAE (γ = 0, same settings; if ``with_gamma0``), then each
    disentanglement_lib baseline present. Table: Welch t-tests JL1-VAE vs each other group.

    Raises JLoneVAEError when there is no JL1-VAE result to compare.
    """
    out = FigureSet(table_name=f"compareToStandard_{figure_locality_token(locality)}_ttests")
    ours = _groups(results, JL1, gamma)
    if not ours:
        raise JLoneVAEError(_NO_JL1.format(gamma=gamma))
    others: list[tuple[str, Any]] = []
    if with_gamma0:
        settings = {run.settings for run in ours.values()}
        others += [(group, GRAY) for group, run in _groups(results, GAMMA0).items()
                   if run.settings in settings]
    for method in _other_methods(results):
        others += [(group, BLUE) for group in _groups(results, method)]
    if len(others) == 0:
        out.notes.append("no baseline or β-VAE (γ=0) results found: the figures show "
                         "JL1-VAE alone")
    labels = results.labels()
    for metric in (LOCAL_MIG, LOCAL_MODULARITY):
        values = results.values_by_group(metric, locality)
        violins = []
        for group, color in [(g, RED) for g in ours] + others:
            if group in values:
                violins.append((labels[group], values[group], color))
            else:
                out.notes.append(f"{labels[group]} has no {describe(metric, None)} at "
                                 f"locality {locality:g}")
        if not any(group in values for group in ours):
            continue
        ylabel = f"{describe(metric, None)} (locality {locality:g})"
        out.figures[f"{metric}_{figure_locality_token(locality)}_compareToStandard"] = \
            plot_violins(violins, ylabel)
        for group_a in (g for g in ours if g in values):
            for group_b, _ in others:
                if group_b in values:
                    out.table.append(ttest_row(metric, locality, labels[group_a],
                                               values[group_a], labels[group_b],
                                               values[group_b]))
    if not out.figures:
        raise JLoneVAEError(f"no local MIG or local modularity results at locality "
                            f"{locality:g} for JL1-VAE (γ={gamma:g})")
    return out


def metric_vs_locality(results: Results, comparison: str = BETA_VS_JL1, gamma: float = 0.1,
                       l2_gamma: float | None = None) -> FigureSet:
    """Local MIG and local modularity against locality for two methods trained with the same
    settings, with a Welch t-test per locality.

    comparison ``beta-vs-jl1``: β-VAE (γ = 0) vs JL1-VAE (γ = ``gamma``); ``l1-vs-l2``:
    JL1-VAE (γ = ``gamma``) vs JL2-VAE (γ = ``l2_gamma``, default ``gamma``). When the pair
    is missing the FigureSet is empty and its note says why.
    """
    if comparison == BETA_VS_JL1:
        name = "varyingRho"
        pair = _pair(results, GAMMA0, None, JL1, gamma, f"β-VAE vs JL1-VAE (γ={gamma:g})")
        colors = (BLUE, RED)
    elif comparison == L1_VS_L2:
        name = "L1vsL2"
        l2_gamma = gamma if l2_gamma is None else l2_gamma
        pair = _pair(results, JL1, gamma, JL2, l2_gamma,
                     f"JL1-VAE (γ={gamma:g}) vs JL2-VAE (γ={l2_gamma:g})")
        colors = (RED, GREEN)
    else:
        raise JLoneVAEError(f"unknown comparison '{comparison}'; choose one of "
                            f"{', '.join(VS_LOCALITY_COMPARISONS)}")
    out = FigureSet(table_name=f"{name}_ttests")
    if isinstance(pair, str):
        out.notes.append(pair)
        return out
    labels = results.labels()
    for metric in (LOCAL_MIG, LOCAL_MODULARITY):
        per_group = []  # per group of the pair: {locality: per-run values}
        for group in pair:
            by_locality = {x: results.values_by_group(metric, x, [group]).get(group, [])
                           for x in results.localities(metric)}
            per_group.append({x: v for x, v in by_locality.items() if v})
        missing = [labels[g] for g, v in zip(pair, per_group, strict=True) if not v]
        if missing:
            out.notes.append(f"{describe(metric, None)}: no results for {' and '.join(missing)}")
            continue
        pvalues = {}
        for x in sorted(set(per_group[0]) & set(per_group[1])):
            row = ttest_row(metric, x, labels[pair[0]], per_group[0][x], labels[pair[1]],
                            per_group[1][x])
            out.table.append(row)
            pvalues[x] = row["p"]
        series = [(labels[g], v, c) for g, v, c in zip(pair, per_group, colors, strict=True)]
        out.figures[f"{metric}_{name}"] = plot_metric_vs_locality(
            series, describe(metric, None), pvalues)
    return out


def _comparison_groups(results: Results, gamma: float) -> list[str]:
    """JL1-VAE (γ = ``gamma``) groups, our β-VAE (γ = 0) groups of the same settings, then
    each baseline's: the order of :func:`compare_to_baselines`."""
    ours = _groups(results, JL1, gamma)
    settings = {run.settings for run in ours.values()}
    groups = [*ours, *(group for group, run in _groups(results, GAMMA0).items()
                       if run.settings in settings)]
    for method in _other_methods(results):
        groups += list(_groups(results, method))
    return groups


def all_arms_vs_locality(results: Results, gamma: float = 0.1) -> FigureSet:
    """Local MIG and local modularity against locality for every arm of
    :func:`compare_to_baselines` (JL1-VAE, our β-VAE, each baseline present), mean ± 1 s.d.
    over seeds; table: Welch t-tests of JL1-VAE against each other arm at every locality.

    Raises JLoneVAEError when there is no JL1-VAE result.
    """
    out = FigureSet(table_name="allArms_varyingRho_ttests")
    groups = _comparison_groups(results, gamma)
    ours = list(_groups(results, JL1, gamma))
    if not ours:
        raise JLoneVAEError(_NO_JL1.format(gamma=gamma))
    labels = results.labels()
    # JL1-VAE red as in every figure; the others tab10's colours but its red (index 3).
    others = [group for group in groups if group not in ours]
    colors = {group: RED for group in ours} | dict(
        zip(others, distinct_colors(len(others), exclude=(3,)), strict=True))
    for metric in (LOCAL_MIG, LOCAL_MODULARITY):
        per_group = {}
        for group in groups:
            by_locality = {x: results.values_by_group(metric, x, [group]).get(group, [])
                           for x in results.localities(metric)}
            by_locality = {x: v for x, v in by_locality.items() if v}
            if by_locality:
                per_group[group] = by_locality
            else:
                out.notes.append(f"{labels.get(group, group)}: no {describe(metric, None)} "
                                 "results")
        if not any(group in per_group for group in ours):
            continue
        for group_a in (g for g in ours if g in per_group):
            for group_b in (g for g in groups if g not in ours and g in per_group):
                for x in sorted(set(per_group[group_a]) & set(per_group[group_b])):
                    out.table.append(ttest_row(metric, x, labels[group_a],
                                               per_group[group_a][x], labels[group_b],
                                               per_group[group_b][x]))
        series = [(labels[g], per_group[g], colors[g]) for g in groups if g in per_group]
        out.figures[f"{metric}_allArms_varyingRho"] = plot_metric_vs_locality(
            series, describe(metric, None))
    if not out.figures:
        raise JLoneVAEError(f"no local MIG or local modularity results for JL1-VAE "
                            f"(γ={gamma:g})")
    return out


def mig_modularity_scatter(results: Results, locality: float | None = 0.1,
                           regularization: str = JL1) -> FigureSet:
    """MIG (x) against modularity (y), one point per run, coloured by γ: the runs of
    ``regularization`` (``jlone`` or ``jltwo``) at every γ and the β-VAE runs (γ = 0) of the
    same settings. ``locality`` None uses the global MIG and modularity.

    Raises JLoneVAEError when no run has both metrics.
    """
    if regularization not in (JL1, JL2):
        raise JLoneVAEError(f"regularization must be {JL1} or {JL2}, got '{regularization}'")
    token = figure_locality_token(locality)
    out = FigureSet(table_name=f"mig_vs_modularity_{token}_summary")
    groups = _groups(results, regularization)
    if not groups:
        raise JLoneVAEError(f"no {OUR_METHOD_LABELS[regularization]} ({regularization}) "
                            "results found for the scatter plot: train and evaluate such runs "
                            "(jlonevae-evaluate RUN --metrics ...)")
    settings = _one_settings({run.settings for run in groups.values()},
                             "MIG vs modularity scatter")
    groups.update({g: run for g, run in _groups(results, GAMMA0).items()
                   if run.settings == settings})
    groups = {g: run for g, run in groups.items() if run.settings == settings}
    x_metric, y_metric = (MIG, MODULARITY) if locality is None else (LOCAL_MIG,
                                                                   LOCAL_MODULARITY)
    xs = {r.run.run_dir: r.value for r in results.select(x_metric, locality, groups)}
    ys = {r.run.run_dir: r.value for r in results.select(y_metric, locality, groups)}
    by_gamma: dict[float, tuple[list[float], list[float]]] = {}
    for run in results.runs():
        if run.group not in groups:
            continue
        if run.run_dir not in xs or run.run_dir not in ys:
            out.notes.append(f"{run.run_dir} lacks {describe(x_metric, None)} or "
                             f"{describe(y_metric, None)} at {token}; not in the scatter")
            continue
        pair = by_gamma.setdefault(run.gamma, ([], []))
        pair[0].append(xs[run.run_dir])
        pair[1].append(ys[run.run_dir])
    if not by_gamma:
        raise JLoneVAEError(f"no run has both {describe(x_metric, None)} and "
                            f"{describe(y_metric, None)} ({token}); evaluate both metrics")
    colormap = colormaps["viridis"]
    gammas = sorted(by_gamma)
    points = []
    for i, gamma in enumerate(gammas):
        color = colormap(i / max(1, len(gammas) - 1))
        points.append((f"γ={gamma:g}", *by_gamma[gamma], color))
        x_values, y_values = by_gamma[gamma]
        out.table.append({
            "gamma": gamma, "n": len(x_values),
            f"mean_{x_metric}": float(np.mean(x_values)), f"sd_{x_metric}": sample_sd(x_values),
            f"mean_{y_metric}": float(np.mean(y_values)), f"sd_{y_metric}": sample_sd(y_values),
        })
    where = "global" if locality is None else f"locality {locality:g}"
    out.figures[f"mig_vs_modularity_{token}"] = plot_metric_scatter(
        points, f"{describe(x_metric, None)} ({where})", f"{describe(y_metric, None)} ({where})")
    return out


# Panels per row of :func:`all_metrics`' figure.
_PANELS_PER_ROW = 4


def plot_metric_panels(panels: Sequence[tuple[str, Mapping[str, Sequence[float]]]],
                       colors: Mapping[str, Any], labels: Mapping[str, str]) -> Figure:
    """One panel per (title, {group: per-run values}): per group a column of points (one per
    run) and its median as a bar, the groups in ``colors``' order at fixed x positions, one
    legend (``labels``) for the figure."""
    if not panels:
        raise ValueError("plot_metric_panels needs at least one panel")
    columns = min(_PANELS_PER_ROW, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig = Figure(figsize=(3.2 * columns, 2.8 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    position = {group: x for x, group in enumerate(colors)}
    for ax, (title, values) in zip(axes, panels, strict=False):
        for group, runs in values.items():
            x, runs = position[group], np.asarray(runs, dtype=float)
            jitter = (np.linspace(-_JITTER_WIDTH, _JITTER_WIDTH, len(runs)) if len(runs) > 1
                      else np.zeros(1))
            ax.scatter(x + jitter, runs, s=14, color=colors[group], zorder=3)
            ax.hlines(np.median(runs), x - 0.3, x + 0.3, color=colors[group], linewidth=2.0)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_xlim(-0.6, len(colors) - 0.4)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    handles = [axes[0].scatter([], [], s=14, color=colors[group]) for group in colors]
    fig.legend(handles, [labels[group] for group in colors], loc="outside lower center",
               ncols=min(len(colors), 4), fontsize=8, frameon=False)
    return fig


def all_metrics(results: Results, locality: float | None = 0.1) -> FigureSet:
    """Every score found in ``results``, one panel each: the global scores, and the local ones
    at ``locality`` (None: global only), in the metric table's order; one column of points per
    experiment (each point a run, its value the run's mean over clusters for a local score).
    Table: per score and experiment, n, mean and s.d. of the runs.

    Raises JLoneVAEError when no score is found.
    """
    token = figure_locality_token(locality)
    out = FigureSet(table_name=f"allMetrics_{token}")
    labels = results.labels()
    panels = []
    for key, score in scores().items():
        if score.local and locality is None:
            continue
        values = results.values_by_group(key, locality if score.local else None)
        if not values:
            continue
        title = score.label + (f" ({locality:g})" if score.local else "")
        panels.append((title, values))
        for group, runs in values.items():
            out.table.append({"score": score.label, "locality": locality if score.local
                              else "global", "experiment": labels[group], "n": len(runs),
                              "mean": float(np.mean(runs)), "sd": sample_sd(runs)})
    if not panels:
        where = "" if locality is None else f" (global, or local at {locality:g})"
        raise JLoneVAEError(f"no metric results found{where}; evaluate the runs first "
                            "(jlonevae-evaluate RUN --metrics ...)")
    groups = sorted({group for _, values in panels for group in values})
    colors = dict(zip(groups, distinct_colors(len(groups)), strict=True))
    out.figures[f"allMetrics_{token}"] = plot_metric_panels(panels, colors, labels)
    return out
