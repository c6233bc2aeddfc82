"""The natural-image report's figures: a VAE's Jacobian columns on neighbouring crops beside
the FastICA and PCA filters (:func:`plot_run_figure`), every linear model's filters
(:func:`plot_linear_filters`), and the runs' KL term over training
(:func:`plot_kl_trajectories`). The report is :mod:`jlonevae_lib.reports.natural_images`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from jlonevae_lib.evaluate.linear_baselines import LinearBaseline
from jlonevae_lib.evaluate.natural_image_measures import filter_images
from jlonevae_lib.visualize.comparisons import BLUE, RED
from jlonevae_lib.visualize.figure_io import show_image
from jlonevae_lib.visualize.jacobian_columns import JacobianColumns, columns_to_display


def _show_filter_grid(fig: Any, filters: np.ndarray, title: str, per_row: int) -> None:
    rows = math.ceil(len(filters) / per_row)
    axes = fig.subplots(rows, per_row, squeeze=False)
    shown = columns_to_display(filters)
    for i, ax in enumerate(axes.flat):
        if i < len(filters):
            show_image(ax, shown[i], str(i))
        else:
            ax.set_axis_off()
    fig.suptitle(title, fontsize=8)


def plot_run_figure(label: str, rows: Sequence[JacobianColumns], ica: LinearBaseline | None,
                    pca: LinearBaseline | None) -> Figure:
    """The Jacobian-crops figure of one VAE (one row per crop: input, recon(μ), columns)
    beside the FastICA and PCA filters."""
    num_columns = len(rows[0].columns) + 2
    fig = Figure(figsize=(1.0 * num_columns + 3.2, 1.05 * len(rows) + 0.6),
                 layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[num_columns, 3.2])
    axes = left.subplots(len(rows), num_columns, squeeze=False)
    for r, result in enumerate(rows):
        show_image(axes[r, 0], result.image, "crop" if r == 0 else "")
        show_image(axes[r, 1], result.reconstruction, "recon(μ)" if r == 0 else "")
        for c, (gray, k) in enumerate(zip(columns_to_display(result.columns),
                                          result.latent_indices, strict=True)):
            show_image(axes[r, c + 2], gray, f"z{k}" if r == 0 else "")
    left.suptitle(f"{label}: Jacobian columns on neighbouring crops", fontsize=9)
    linear = [b for b in (ica, pca) if b is not None]
    if linear:
        parts = right.subfigures(len(linear), 1)
        for part, baseline in zip(np.atleast_1d(parts), linear, strict=True):
            name = "FastICA" if baseline.model == "ICA" else "PCA"
            _show_filter_grid(part, filter_images(baseline),
                              f"{name} filters ({baseline.num_components})", per_row=3)
    return fig


def plot_linear_filters(baselines: Sequence[LinearBaseline]) -> Figure:
    """Every linear model's filters, one row per model (PCA and FastICA, each k)."""
    most = max(b.num_components for b in baselines)
    fig = Figure(figsize=(0.55 * most + 1.5, 0.75 * len(baselines) + 0.3), layout="constrained")
    axes = fig.subplots(len(baselines), most, squeeze=False)
    for r, baseline in enumerate(baselines):
        shown = columns_to_display(filter_images(baseline))
        for c in range(most):
            if c < len(shown):
                show_image(axes[r, c], shown[c])
            else:
                axes[r, c].set_axis_off()
        axes[r, 0].set_ylabel(f"{baseline.model} {baseline.num_components}", fontsize=7)
    return fig


#: Line styles of an arm's first, second, ... run.
RUN_LINE_STYLES = ("-", "--", ":", "-.")
#: Below this many nats the KL axis is linear (symlog): a collapsed run's KL of 1e-5 shows
#: as zero rather than stretching the axis.
KL_LINEAR_BELOW = 1e-2


@dataclass(frozen=True)
class KLTrajectory:
    """One run's KL term over training: ``points`` are (batch, KL in nats)."""

    arm: str
    seed: int
    #: Trained with the Jacobian penalty (drawn red) or without it (blue).
    penalised: bool
    points: Sequence[tuple[int, float]]


def plot_kl_trajectories(runs: Sequence[KLTrajectory]) -> Figure:
    """The KL term logged in training against the batch, one line per run labelled
    "<arm>, seed <k>": JL1-VAE runs red and β-VAE runs blue (the colours of every comparison
    figure), an arm's runs told apart by line style."""
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.subplots()
    runs_per_arm: dict[str, int] = {}
    for run in runs:
        index = runs_per_arm[run.arm] = runs_per_arm.get(run.arm, -1) + 1
        steps, values = zip(*run.points, strict=True)
        ax.plot(steps, values, color=RED if run.penalised else BLUE, linewidth=1.2,
                label=f"{run.arm}, seed {run.seed}",
                linestyle=RUN_LINE_STYLES[index % len(RUN_LINE_STYLES)])
    ax.set_yscale("symlog", linthresh=KL_LINEAR_BELOW)
    ax.set_xlabel("batch")
    ax.set_ylabel("KL term (nats, training batch)")
    ax.legend(fontsize=7)
    return fig
