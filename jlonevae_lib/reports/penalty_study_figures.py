"""The figures of ``cpu_penalty_study``'s report, under ``<output>/figures/``: the primary
outcome per arm (violins), the learning curves over the kept models, and the Jacobian columns
of each arm's median run by the primary outcome. Drawn only once the outcomes are reported
(the study complete, or closed with failures; an incomplete study shows no outcome); the
plotting is :mod:`jlonevae_lib.visualize`'s."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from jlonevae_lib.reports.penalty_study_stats import CURVE_KEYS, collapsed_runs
from jlonevae_lib.reports.penalty_study_text import FIGURE_CAPTIONS
from jlonevae_lib.reports.records import FINISHED
from jlonevae_lib.reports.text import column_title
from jlonevae_lib.sweep.seven_arms import median_index
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.visualize.figure_io import save_figure
from jlonevae_lib.visualize.penalty_study import (
    ArmValues,
    Curves,
    plot_learning_curves,
    plot_outcome_violins,
)

VIOLINS, CURVES, JACOBIANS = FIGURE_CAPTIONS  # the three figures' paths, in that order


def median_runs(summary: Mapping[str, Any]) -> dict[str, int]:
    """Per arm, the seed of its finished run whose primary outcome is the arm's median (the
    lower of the two middle ones for an even count)."""
    key, chosen = summary["primary_key"], {}
    for arm in summary["arms"]:
        runs = [run for run in summary["runs"] if run["arm"] == arm
                and run["status"] == FINISHED and key in run["values"]]
        if runs:
            chosen[arm] = runs[median_index([run["values"][key] for run in runs])]["seed"]
    return chosen


def _violins(summary: Mapping[str, Any]) -> Any:
    key = summary["primary_key"]
    collapsed = {(run["arm"], run["seed"]) for run in collapsed_runs(summary)}
    arms = []
    for arm in summary["arms"]:
        runs = [run for run in summary["runs"] if run["arm"] == arm
                and run["status"] == FINISHED and key in run["values"]]
        if not runs:  # closed with every run of the arm failed: no violin to draw
            continue
        arms.append(ArmValues(summary["arm_labels"][arm], [run["values"][key] for run in runs],
                              [(arm, run["seed"]) in collapsed for run in runs]))
    return plot_outcome_violins(arms, f"{column_title(key)}, end of training")


def _curves(summary: Mapping[str, Any]) -> Any:
    batches = summary["curves"]["batches"]
    panels = []
    for key in CURVE_KEYS[:2]:
        arms = []
        for arm in summary["arms"]:
            runs = [run for run in summary["runs"] if run["arm"] == arm
                    and run["status"] == FINISHED]
            matrix = np.array([[run["curve"].get(str(b), {}).get(key, np.nan) for b in batches]
                               for run in runs], dtype=float).reshape(len(runs), len(batches))
            arms.append(Curves(summary["arm_labels"][arm], batches, matrix))
        panels.append((column_title(key), arms))
    return plot_learning_curves(panels)


def _jacobians(summary: Mapping[str, Any], run_dirs: Mapping[tuple[str, int], Path]) -> Any:
    from jlonevae_lib.visualize.inputs import example_three_dots_image, load_model_from
    from jlonevae_lib.visualize.jacobian_columns import (
        compute_jacobian_columns,
        plot_jacobian_columns,
    )

    image, rows = example_three_dots_image(), []
    for arm, seed in median_runs(summary).items():
        model = load_model_from(run_dirs[(arm, seed)])
        (result,) = compute_jacobian_columns(model, image)
        rows.append((f"{summary['arm_labels'][arm]}\nseed {seed}", result))
    return plot_jacobian_columns(rows)


def draw_figures(summary: Mapping[str, Any], output_dir: str | Path,
                 run_dirs: Mapping[tuple[str, int], Path] | None = None
                 ) -> tuple[list[str], list[str]]:
    """Draw the figures of a complete study under ``<output_dir>/figures/``: (their paths
    relative to ``output_dir``, notes on any that could not be drawn). The Jacobian figure
    needs the median runs' folders (``run_dirs``: (arm, seed) -> folder); nothing is drawn
    for an incomplete study."""
    if not summary["reported"]:
        return [], []
    output_dir = Path(output_dir)
    drawn, notes = [], []
    makers = [(VIOLINS, lambda: _violins(summary)), (CURVES, lambda: _curves(summary))]
    if run_dirs is not None:
        makers.append((JACOBIANS, lambda: _jacobians(summary, run_dirs)))
    for path, make in makers:
        try:
            save_figure(make(), output_dir / path)
        except (JLoneVAEError, KeyError, ValueError) as err:
            notes.append(f"figure {path} not drawn: {err}")
            continue
        drawn.append(path)
    return drawn, notes
