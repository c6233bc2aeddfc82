"""The figures of the penalty study (``cpu_penalty_study``) from per-run values: one violin per
arm of the primary outcome (:func:`plot_outcome_violins`) and the learning curves over the
kept models (:func:`plot_learning_curves`). Pure plotting: arrays in, a ``Figure`` out; the
report (:mod:`jlonevae_lib.reports.penalty_study_figures`) chooses the values and saves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from jlonevae_lib.visualize.comparisons import BLUE, GRAY, GREEN, RED, plot_violins

#: The arms' colours, in the study's order: JL1-VAE red as in every figure of ours.
ARM_COLOURS = (RED, BLUE, GREEN, GRAY)
_JITTER = 0.12


@dataclass(frozen=True)
class ArmValues:
    """One arm's values: one per run, and which runs collapsed."""

    label: str
    values: Sequence[float]
    collapsed: Sequence[bool] = ()


def plot_outcome_violins(arms: Sequence[ArmValues], ylabel: str) -> Figure:
    """One violin per arm, every run a point at the jitter :func:`~jlonevae_lib.visualize.
    comparisons.plot_violins` gives it, the median a bar; a collapsed run is also marked ×."""
    groups = [(arm.label, arm.values, ARM_COLOURS[i % len(ARM_COLOURS)])
              for i, arm in enumerate(arms)]
    fig = plot_violins(groups, ylabel)
    ax = fig.axes[0]
    for x, arm in enumerate(arms):
        flags = np.asarray(arm.collapsed, dtype=bool)
        if not flags.any():
            continue
        values = np.asarray(arm.values, dtype=float)
        jitter = np.linspace(-_JITTER, _JITTER, len(values)) if len(values) > 1 else np.zeros(1)
        ax.scatter((x + jitter)[flags], values[flags], s=60, marker="x", color="black",
                   zorder=5, label="collapsed run")
    if any(np.asarray(arm.collapsed, dtype=bool).any() for arm in arms):
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[:1], labels[:1], fontsize=8)
    return fig


@dataclass(frozen=True)
class Curves:
    """One arm's learning curve: the batch counts (B,) and one row per run (R, B), NaN where a
    run has no value at that point."""

    label: str
    batches: Sequence[int]
    runs: Any


def plot_learning_curves(panels: Sequence[tuple[str, Sequence[Curves]]]) -> Figure:
    """One panel per (y label, arms): per arm its mean over runs (a line with points), the
    range of its runs shaded and every run a thin line."""
    if not panels:
        raise ValueError("plot_learning_curves needs at least one panel")
    fig = Figure(figsize=(5.0 * len(panels), 4.0), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (ylabel, arms) in zip(axes, panels, strict=True):
        for i, arm in enumerate(arms):
            colour = ARM_COLOURS[i % len(ARM_COLOURS)]
            batches = np.asarray(arm.batches, dtype=float)
            runs = np.asarray(arm.runs, dtype=float).reshape(-1, len(batches))
            present = ~np.isnan(runs)
            counts = present.sum(axis=0)
            keep = counts > 0
            if not keep.any():
                continue
            filled = np.where(present, runs, 0.0)
            mean = filled.sum(axis=0)[keep] / counts[keep]
            low = np.where(present, runs, np.inf).min(axis=0)[keep]
            high = np.where(present, runs, -np.inf).max(axis=0)[keep]
            for row in runs:
                ax.plot(batches, row, color=colour, alpha=0.25, linewidth=0.7)
            ax.fill_between(batches[keep], low, high, color=colour, alpha=0.15, linewidth=0)
            ax.plot(batches[keep], mean, color=colour, marker="o", linewidth=2,
                    label=arm.label)
        ax.set_xlabel("batches")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig
