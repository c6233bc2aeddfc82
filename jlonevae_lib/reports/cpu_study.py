"""The report of a β-VAE vs JL1-VAE study over seeds (``cpu_study``): ``summary.md`` and
``summary.json``.

Its command line is ``python -m jlonevae_lib.cli.study_summary`` (also run as ``python -m
jlonevae_lib.sweep.study_summary``): every run folder ``<models_dir>/<experiment>/<run>/`` is
read (:func:`jlonevae_lib.reports.records.collect_runs`). The summary holds

- one row per run: arm, seed, status, local MIG and local modularity at each locality, global
  MIG and modularity, the reconstruction BCE per image (``NLL/train`` of the last logged batch;
  a baseline's ``reconstruction_loss``) and the training time;
- the mean ± s.d. (ddof 1) of each column per arm;
- Welch t-tests, each γ > 0 arm vs the β-VAE (γ = 0) arm of the same settings, per locality for
  local MIG and local modularity, and for the global MIG and modularity;
- the machine, the compute time, the study's command and notes on anything missing.

Runs that have not started (``--seeds``), are unfinished, failed or lack some metrics are
reported, never fatal. Everything here is a pure function of :class:`RunRecord` lists
(:func:`arm_statistics`, :func:`ttest_table`, :func:`build_summary`) or of the summary's dict
(:func:`render_markdown`, which renders summary.json as written too).

``--from-summary results/cpu_study/summary.json`` needs no run folder: :func:`load_summary`
reads a written summary, :func:`refresh_summary` recomputes the statistics, the t-tests and
the compute time from the per-run values it stores (:func:`records_from_summary`) and keeps the
rest, and :func:`write_summary` writes summary.json and summary.md again. The study's README.md
is written by hand (it records how the study was run and reads the numbers); this report does
not write it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jlonevae_lib.evaluate.statistics import mean_sd, ttest_row
from jlonevae_lib.reports.records import (
    FINISHED,
    RunRecord,
    arms,
    compute_time,
    localities_of,
    mark_missing_values,
    read_summary_json,
    value_keys,
)
from jlonevae_lib.reports.text import (
    column_title,
    command_block,
    finite,
    format_value,
    hours,
    locality_cell,
    machine_lines,
    mean_sd_cell,
    statistic_cell,
    write_report,
)
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.metric_table import LOCAL_SCORES, global_scores, metric_name
from jlonevae_lib.runs.results import GAMMA0, method_from_experiment_name, settings_from_config
from jlonevae_lib.utils.tables import format_markdown_table

#: Training settings shown in the Markdown settings table (keys of ``config.json``).
SETTINGS_SHOWN = ("dataset", "num_batches", "batch_size", "lr", "annealing_batches", "beta",
                  "gamma", "regularization_type", "jacobian_method", "jacobian_batch",
                  "latent_dim", "device")
#: Settings that describe where a run went, not what it computed: left out of the summary.
_SETTINGS_HIDDEN = ("output_dir", "run_id", "seed")


def arm_statistics(runs: Sequence[RunRecord]) -> dict[str, dict[str, dict[str, float]]]:
    """``{arm: {value key: mean_sd of the runs' values}}`` over every run that has the value."""
    keys = value_keys(runs)
    stats = {}
    for arm in arms(runs):
        members = [run for run in runs if run.arm == arm.arm]
        stats[arm.arm] = {key: mean_sd([run.values[key] for run in members if key in run.values])
                          for key in keys}
    return stats


def comparison_pairs(runs: Sequence[RunRecord]) -> tuple[list[tuple[RunRecord, RunRecord]],
                                                          list[str]]:
    """(JL1/JL2 arm, β-VAE arm of the same settings) pairs, and notes on arms without one."""
    pairs, notes = [], []
    all_arms = arms(runs)
    baselines = {arm.settings: arm for arm in all_arms if arm.method == GAMMA0}
    for arm in all_arms:
        if arm.method == GAMMA0:
            continue
        baseline = baselines.get(arm.settings)
        if baseline is None:
            notes.append(f"no β-VAE (γ=0) arm with the settings of {arm.label} ({arm.arm}): "
                         "no t-tests for it")
        else:
            pairs.append((arm, baseline))
    if not any(arm.method != GAMMA0 for arm in all_arms):
        notes.append("no arm with γ > 0: no t-tests")
    return pairs, notes


def ttest_table(runs: Sequence[RunRecord]) -> tuple[list[dict[str, Any]], list[str]]:
    """Welch t-tests of each γ > 0 arm (a) vs its β-VAE arm (b): local MIG and local modularity
    at every locality both arms have, then the global MIG and modularity. Rows as
    :func:`jlonevae_lib.evaluate.statistics.ttest_row` (n, mean, sd of each side, t, p; t and
    p nan below two runs a side) plus ``key``, the value compared. Returns (rows, notes)."""
    pairs, notes = comparison_pairs(runs)
    rows = []
    keys = value_keys(runs)
    for arm_a, arm_b in pairs:
        for metric in (*LOCAL_SCORES, *global_scores()):
            localities: list[float | None] = (
                [None] if metric not in LOCAL_SCORES else list(localities_of(keys, metric)))
            for locality in localities:
                key = metric_name(metric, locality)
                a = [r.values[key] for r in runs if r.arm == arm_a.arm and key in r.values]
                b = [r.values[key] for r in runs if r.arm == arm_b.arm and key in r.values]
                if not a or not b:
                    if a or b:
                        notes.append(f"no t-test of {key}: only {arm_a.label if a else arm_b.label}"
                                     " has values")
                    continue
                rows.append({"key": key,
                             **ttest_row(metric, locality, arm_a.label, a, arm_b.label, b)})
    return rows, notes


def build_summary(runs: Sequence[RunRecord], notes: Sequence[str], *, command: str,
                  machine: Mapping[str, Any], models_dir: str, figures: Sequence[str] = (),
                  generated_at: str = "") -> dict[str, Any]:
    """The JSON-ready summary of ``runs`` (nan becomes null): runs, arms with their settings
    and statistics, t-tests, compute time, machine, command, figures and notes."""
    runs = mark_missing_values(runs)
    ttests, ttest_notes = ttest_table(runs)
    stats = arm_statistics(runs)
    keys = value_keys(runs)
    arm_entries = []
    for arm in arms(runs):
        members = [run for run in runs if run.arm == arm.arm]
        configs = [run.config for run in members if run.config]
        arm_entries.append({
            "arm": arm.arm, "label": arm.label, "method": arm.method, "gamma": arm.gamma,
            "runs": len(members),
            "finished": sum(run.status == FINISHED for run in members),
            "settings": ({k: v for k, v in configs[0].items() if k not in _SETTINGS_HIDDEN}
                         if configs else {}),
            "statistics": stats[arm.arm],
        })
    run_notes = [f"{run.label} {run.run_id}: {run.status}" + (f" ({run.detail})" if run.detail
                                                                else "")
                 for run in runs if run.status != FINISHED or run.detail]
    return finite({
        "generated_at": generated_at,
        "command": command,
        "models_dir": models_dir,
        "value_keys": keys,
        "localities": {score: localities_of(keys, score) for score in LOCAL_SCORES},
        "arms": arm_entries,
        "runs": [{"arm": run.arm, "label": run.label, "gamma": run.gamma, "run_id": run.run_id,
                  "seed": run.seed, "status": run.status, "detail": run.detail,
                  "values": dict(run.values), "evaluation_seconds": run.evaluation_seconds}
                 for run in runs],
        "ttests": ttests,
        "time": compute_time(runs),
        "machine": dict(machine),
        "figures": list(figures),
        "notes": [*run_notes, *notes, *ttest_notes],
    })


def render_markdown(summary: Mapping[str, Any]) -> str:
    """``summary.md`` from the dict :func:`build_summary` returns."""
    keys = summary["value_keys"]
    labels = " vs ".join(arm["label"] for arm in summary["arms"]) or "no runs"
    out = [f"# Study summary: {labels}", ""]
    if summary["generated_at"]:
        out += [f"Generated {summary['generated_at']} from `{summary['models_dir']}`.", ""]
    out += ["Command (resumable: run it again to continue an unfinished study):", "",
            *command_block(summary["command"])]

    out += ["## Settings", ""]
    out.append(format_markdown_table([
        {"arm": arm["label"], "runs": arm["runs"], "finished": arm["finished"],
         **{name: arm["settings"].get(name, "–") for name in SETTINGS_SHOWN}}
        for arm in summary["arms"]]))

    out += ["## Per seed", ""]
    out.append(format_markdown_table([
        {"arm": run["label"], "seed": run["seed"] if run["seed"] is not None else run["run_id"],
         "status": f"{run['status']}: {run['detail']}" if run["detail"] else run["status"],
         **{column_title(key): format_value(key, run["values"].get(key)) for key in keys}}
        for run in summary["runs"]]))

    out += ["## Mean ± s.d. per arm", ""]
    out.append(format_markdown_table([
        {"arm": arm["label"], "finished runs": arm["finished"],
         **{column_title(key): mean_sd_cell(key, arm["statistics"][key], arm["finished"])
            for key in keys}}
        for arm in summary["arms"]]))

    out += ["## Welch t-tests", "",
            "Each arm with γ > 0 (a) against the β-VAE arm (b) of the same settings; one point "
            "per trained model (its score is the mean over local clusters); "
            "`scipy.stats.ttest_ind(a, b, equal_var=False)`, two-sided.", ""]
    out.append(format_markdown_table([
        {"metric": row["metric"], "locality": locality_cell(row["locality"]),
         "a": row["group_a"], "mean ± s.d. (a)": mean_sd_cell(
             row["key"], {"n": row["n_a"], "mean": row["mean_a"], "sd": row["sd_a"]}),
         "b": row["group_b"], "mean ± s.d. (b)": mean_sd_cell(
             row["key"], {"n": row["n_b"], "mean": row["mean_b"], "sd": row["sd_b"]}),
         "t": statistic_cell(row["t"], ".2f"), "p": statistic_cell(row["p"], ".2g")}
        for row in summary["ttests"]]))

    time, machine = summary["time"], summary["machine"]
    out += ["## Time and machine", "",
            f"- training: {hours(time['training_seconds'])}, summed over the finished runs",
            f"- evaluation: {hours(time['evaluation_seconds'])}, summed over the metrics",
            f"- summed run time: {hours(time['total_seconds'])}, training + evaluation "
            "summed over every run and session; not wall clock: runs that overlapped (more "
            "than one job or process) took less wall-clock time than this",
            *machine_lines(machine), ""]

    if summary["figures"]:
        out += ["## Figures", ""]
        out += [f"- [{path}]({path})" for path in summary["figures"]]
        out.append("")
    out += ["## Notes", ""]
    out += [f"- {note}" for note in summary["notes"]] or ["- none: every run finished and "
                                                         "was evaluated"]
    return "\n".join(out) + "\n"


def write_summary(output_dir: str | os.PathLike, summary: Mapping[str, Any]) -> list[Path]:
    """Write ``summary.json`` and ``summary.md`` atomically; returns their paths."""
    return write_report(output_dir, summary, {layout.SUMMARY_MD: render_markdown(summary)})


def records_from_summary(summary: Mapping[str, Any]) -> list[RunRecord]:
    """The runs of a written summary (summary.json's ``runs``) as records: arm, label, method,
    γ, the settings the t-tests pair arms by (from the arm's stored settings, else its
    experiment name), seed, status and per-run values (nulls left out)."""
    arm_of = {arm["arm"]: arm for arm in summary["arms"]}
    records = []
    for run in summary["runs"]:
        arm = arm_of.get(run["arm"], {})
        parsed = (settings_from_config(arm.get("settings") or {})
                  or method_from_experiment_name(run["arm"]))
        records.append(RunRecord(
            arm=run["arm"], label=run["label"], method=arm.get("method") or "",
            gamma=run["gamma"], settings=parsed[2] if parsed else "", run_id=run["run_id"],
            seed=run["seed"], status=run["status"],
            values={k: v for k, v in run["values"].items() if v is not None},
            evaluation_seconds=run.get("evaluation_seconds") or 0.0,
            detail=run.get("detail") or "", config=arm.get("settings") or {}))
    return records


def refresh_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A written summary (summary.json) with the arms' statistics, the t-tests and the compute
    time recomputed from its per-run values (:func:`records_from_summary`); every other entry
    is kept as it is, so rendering needs no run folder."""
    runs = records_from_summary(summary)
    ttests, _ = ttest_table(runs)
    stats = arm_statistics(runs)
    return finite({**summary, "ttests": ttests, "time": compute_time(runs),
                   "arms": [{**arm, "statistics": stats.get(arm["arm"], arm["statistics"])}
                            for arm in summary["arms"]]})


def load_summary(path: str | os.PathLike) -> dict[str, Any]:
    """summary.json as :func:`write_summary` writes it."""
    return read_summary_json(path, ("arms", "runs", "ttests", "value_keys", "models_dir"),
                             "a study summary")
