"""The seven-arm report's files: summary.md (the tables, :func:`render_markdown`), README.md
(what ran, what the data say, the deviations, the ordering against the paper's, why the results
may differ: :func:`render_readme`) and :func:`write_seven_arm_summary`. Pure functions of the
summary's dict (:func:`jlonevae_lib.reports.seven_arms.build_seven_arm_summary`, or
summary.json as written); the sentences are :mod:`jlonevae_lib.reports.seven_arms_findings`',
the formats :mod:`jlonevae_lib.reports.text`'s."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jlonevae_lib.reports.records import SEED_MEAN_SUFFIX, seed_mean_key
from jlonevae_lib.reports.seven_arms_findings import (
    alpha_of,
    collapse_counts,
    headline_sentences,
    is_significant,
    ordering_sentences,
    tested_rows,
    why_sentences,
)
from jlonevae_lib.reports.text import (
    ci_text,
    column_title,
    command_block,
    format_value,
    hours,
    machine_lines,
    mean_sd_cell,
    median_range_cell,
    p_cell,
    statistic_cell,
    write_report,
)
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.metric_table import (
    LOCAL_MIG,
    LOCAL_MODULARITY,
    metric_name,
    parse_evaluation_seed_name,
)
from jlonevae_lib.sweep.seven_arms import FIGURE_CAPTIONS
from jlonevae_lib.train.objectives import objective_class
from jlonevae_lib.train.objectives.dlib_vae import DlibVAE
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.tables import format_markdown_table


def _cell(key: str, stat: Mapping[str, Any] | None, n_runs: int) -> str:
    return "–" if not stat else mean_sd_cell(key, stat, n_runs)


def _uses_beta(objective: Any) -> bool:
    """Whether the objective named ``objective`` has a β (unknown names: shown as they are)."""
    try:
        return objective_class(str(objective)).uses_beta
    except JLoneVAEError:
        return True


def _has_penalty(objective: Any) -> bool:
    """Whether the objective named ``objective`` has the Jacobian penalty's γ."""
    try:
        return not issubclass(objective_class(str(objective)), DlibVAE)
    except JLoneVAEError:
        return True


def setting_cell(settings: Mapping[str, Any], name: str) -> Any:
    """An arm's setting for the settings table: '–' where the arm has no such setting (β of a
    method without one, γ of a method without the Jacobian penalty, an unset value)."""
    objective = settings.get("objective")
    if (name == "beta" and not _uses_beta(objective)) or (
            name == "gamma" and not _has_penalty(objective)):
        return "–"
    value = settings.get(name)
    return "–" if value is None else value


def comparison_table(summary: Mapping[str, Any], key: str) -> str:
    """JL1-VAE against each arm on ``key``: means, difference with its 95% CI, Hedges' g, raw
    and Holm-adjusted p, and whether it is significant after the correction."""
    alpha = alpha_of(summary)
    return format_markdown_table([
        {"arm": row["group_b"], "JL1-VAE": f"{row['mean_a']:.4f}",
         "arm's mean": f"{row['mean_b']:.4f}",
         "difference (95% CI)": f"{row['difference']:+.4f} ({ci_text(row)})",
         "Hedges' g": statistic_cell(row.get("hedges_g"), ".2f"),
         "p": p_cell(row["p"]), "p (Holm)": p_cell(row.get("p_holm")),
         f"significant (Holm, α = {alpha:g})": "yes" if is_significant(row, alpha) else "no"}
        for row in tested_rows(summary, key)])


def _rendered_line(summary: Mapping[str, Any]) -> list[str]:
    rendered = summary.get("rendered")
    if not rendered:
        return []
    return [f"Rendered from summary.json (`{rendered['command']}`): the "
            "comparisons are recomputed from the per-run values it stores.", ""]


def render_markdown(summary: Mapping[str, Any]) -> str:
    """``summary.md`` from :func:`build_seven_arm_summary`'s dict (or summary.json)."""
    keys = summary["value_keys"]
    out = ["# The seven-arm study at CPU scale", ""]
    if summary["generated_at"]:
        out += [f"Generated {summary['generated_at']}.", ""]
    out += _rendered_line(summary)
    out += ["Command (resumable: run it again to continue an unfinished study):", "",
            *command_block(summary["command"])]
    headline = headline_sentences(summary)
    if headline:
        out += ["## What the data say", "", *headline, ""]
    out += ["## Arms and settings", "",
            "A setting the method does not have is shown as –: β for FactorVAE, the DIP-VAEs "
            "and AnnealedVAE, whose weights are their objective params; γ (the Jacobian "
            "penalty's weight) for disentanglement_lib's methods.", ""]
    out.append(format_markdown_table([
        {"arm": arm["label"], "paper": arm["paper_name"] or "–", "runs": arm["runs"],
         "finished": arm["finished"], "seeds": " ".join(map(str, arm["seeds"])),
         **{name: setting_cell(arm["settings"], name) for name in (
             "architecture", "objective", "dataset", "num_batches", "batch_size", "lr",
             "beta", "gamma", "annealing_batches", "jacobian_batch")},
         "objective params": ", ".join(f"{k}={v:g}" for k, v in (
             arm["settings"].get("objective_params") or {}).items()) or "–"}
        for arm in summary["arms"]]))
    out += ["## Deviations from the paper's settings", ""]
    out += [f"- {line}" for line in summary["deviations"]] or ["- none found"]
    out.append("")
    out += ["## Against the paper's ordering (mean local MIG at locality 0.1)", ""]
    collapsed = collapse_counts(summary)
    out += ordering_sentences(summary["paper_ordering"]["single_seed"],
                              "evaluation seed 0 (the paper's protocol)", collapsed)
    out += ordering_sentences(summary["paper_ordering"]["evaluation_seed_mean"],
                              "mean over evaluation seeds "
                              + ", ".join(map(str, summary["evaluation_seeds"].get(
                                  metric_name(LOCAL_MIG, 0.1), []))), collapsed)
    out += ["", "Our ConvVAE β-VAE (γ = 0) is not in the paper's figure (its β-VAE is "
            "disentanglement_lib's); it is listed in the tables.", ""]
    why = why_sentences(summary)
    if why:
        out += ["## Why the results may differ from the paper's", "", *why, ""]

    out += ["## Mean ± s.d. per arm", ""]
    out.append(format_markdown_table([
        {"arm": arm["label"], "finished runs": arm["finished"],
         **{column_title(key): _cell(key, arm["statistics"].get(key), arm["finished"])
            for key in keys}}
        for arm in summary["arms"]]))
    multi = [key for key in keys if parse_evaluation_seed_name(key) is not None
             or key.endswith(SEED_MEAN_SUFFIX)]
    if multi:
        singles = [metric_name(s, 0.1) for s in (LOCAL_MIG, LOCAL_MODULARITY)]
        shown = [k for k in keys if k in singles or k in multi]
        out += ["## Multi-seed evaluation at locality 0.1", "",
                "Each model evaluated at evaluation seeds "
                + "; ".join(f"{k}: {', '.join(map(str, v))}"
                            for k, v in summary["evaluation_seeds"].items())
                + " (each seed draws other local clusters); the single-seed value beside "
                "the mean. The extra seeds were added while the study ran: the tests on their "
                "mean are exploratory.", ""]
        out.append(format_markdown_table([
            {"arm": arm["label"],
             **{column_title(key): _cell(key, arm["statistics"].get(key), arm["finished"])
                for key in shown}}
            for arm in summary["arms"]]))

    out += ["## Per seed", ""]
    out.append(format_markdown_table([
        {"arm": run["label"], "seed": run["seed"] if run["seed"] is not None else run["run_id"],
         "status": (f"{run['status']}: {run['detail']}" if run["detail"] else run["status"])
         + (" (collapsed)" if run.get("collapsed") else ""),
         **{column_title(key): format_value(key, run["values"].get(key)) for key in keys}}
        for run in summary["runs"]]))

    alpha = alpha_of(summary)
    out += ["## Welch t-tests: JL1-VAE against each other arm", "",
            "One point per trained model (its score is the mean over local clusters; the "
            "multi-seed rows average the evaluation seeds first); "
            "`scipy.stats.ttest_ind(a, b, equal_var=False)`, two-sided. Difference: mean(a) − "
            "mean(b) with its 95% Welch confidence interval; g: Hedges' g (pooled s.d., "
            "small-sample corrected). p (Holm): adjusted over the tests of the same value "
            "against the other arms (one family per score, locality and protocol; no "
            f"correction across them). Significant: p (Holm) ≤ {alpha:g}. The rows on the mean "
            "of evaluation seeds are exploratory.", ""]
    out.append(format_markdown_table([
        {"value": column_title(row["key"]), "b": row["group_b"],
         "mean ± s.d. (a)": mean_sd_cell(row["key"], {"n": row["n_a"], "mean": row["mean_a"],
                                                       "sd": row["sd_a"]}),
         "mean ± s.d. (b)": mean_sd_cell(row["key"], {"n": row["n_b"], "mean": row["mean_b"],
                                                       "sd": row["sd_b"]}),
         "difference (95% CI)": (f"{row['difference']:+.4f} ({ci_text(row)})"
                                 if row.get("difference") is not None else "–"),
         "g": statistic_cell(row.get("hedges_g"), ".2f"),
         "t": statistic_cell(row["t"], ".2f"), "p": statistic_cell(row["p"], ".2g"),
         "p (Holm)": statistic_cell(row.get("p_holm"), ".2g"),
         "significant": "yes" if is_significant(row, alpha) else "no"}
        for row in summary["ttests"]]))
    if summary.get("architecture"):
        out += ["## The architecture alone (exploratory)", "",
                "disentanglement_lib's β-VAE (a) against our ConvVAE β-VAE (b): both β = 4, on "
                "two architectures (and with and without a β ramp). Single tests, not "
                "corrected.", ""]
        out.append(format_markdown_table([
            {"value": column_title(row["key"]),
             "mean ± s.d. (a)": mean_sd_cell(row["key"], {"n": row["n_a"],
                                                           "mean": row["mean_a"],
                                                           "sd": row["sd_a"]}),
             "mean ± s.d. (b)": mean_sd_cell(row["key"], {"n": row["n_b"],
                                                           "mean": row["mean_b"],
                                                           "sd": row["sd_b"]}),
             "difference (95% CI)": f"{row['difference']:+.4f} ({ci_text(row)})",
             "g": statistic_cell(row.get("hedges_g"), ".2f"),
             "t": statistic_cell(row["t"], ".2f"), "p": statistic_cell(row["p"], ".2g")}
            for row in summary["architecture"]]))

    time, machine = summary["time"], summary["machine"]
    out += ["## Time and machine", ""]
    out.append(format_markdown_table([
        {"arm": arm["label"], "finished": arm["finished"],
         "train min per run, median [range]": median_range_cell(arm["train_minutes_per_run"]),
         "train min total": f"{arm['train_minutes_total']:.1f}",
         "evaluation min per run, median [range]":
             median_range_cell(arm["evaluation_minutes_per_run"])}
        for arm in summary["arms"]]))
    out += ["- times are wall clock, summed over a run's sessions; a process that was "
            "suspended (paused, or a machine put to sleep) counts its pause, so the "
            "medians are the typical figures and the sums below are upper bounds",
            f"- training: {hours(time['training_seconds'])}, summed over the finished runs",
            f"- evaluation: {hours(time['evaluation_seconds'])}, summed over the metrics",
            f"- total: {hours(time['total_seconds'])} (run one after another, this is the "
            "wall time without process start-ups and figures)",
            *machine_lines(machine), ""]
    if summary["figures"]:
        out += ["## Figures", ""]
        out += [f"- [{path}]({path})"
                + (f": {FIGURE_CAPTIONS[Path(path).stem]}" if Path(path).stem in FIGURE_CAPTIONS
                   else "") for path in summary["figures"]]
        out.append("")
    out += ["## Notes", ""]
    out += [f"- {note}" for note in summary["notes"]] or ["- none: every run finished and "
                                                         "was evaluated"]
    return "\n".join(out) + "\n"


def render_readme(summary: Mapping[str, Any]) -> str:
    """``README.md``: what ran, what the data say, the deviations and the ordering against the
    paper's, all from the measured data (written by the summary step, or re-rendered from
    summary.json; summary.md has the tables)."""
    finished = {arm["label"]: f"{arm['finished']}/{arm['runs']}" for arm in summary["arms"]}
    out = ["# The paper's seven methods at CPU scale (`cpu_seven_arms`)", "",
           "Written by the study's summary step from the runs on disk; the tables, t-tests "
           "and notes are in [summary.md](summary.md), the data in "
           "[summary.json](summary.json).", "", *_rendered_line(summary),
           "## What ran", "",
           "Finished runs per arm: " + ", ".join(f"{k} {v}" for k, v in finished.items())
           + ".", "", *command_block(summary["command"])]
    headline = headline_sentences(summary)
    if headline:
        out += ["## What the data say", "", *headline, ""]
    out += ["## Deviations from the paper's settings", ""]
    out += [f"- {line}" for line in summary["deviations"]] or ["- none found"]
    out += ["", "## Against the paper's ordering", ""]
    collapsed = collapse_counts(summary)
    out += ordering_sentences(summary["paper_ordering"]["single_seed"],
                              "local MIG at 0.1, evaluation seed 0", collapsed)
    out += ordering_sentences(summary["paper_ordering"]["evaluation_seed_mean"],
                              "local MIG at 0.1, mean over evaluation seeds", collapsed)
    mig_key = metric_name(LOCAL_MIG, 0.1)
    if tested_rows(summary, mig_key):
        out += ["", "An ordering of means is not a set of tested differences: the tables below "
                "say which differences the data resolve."]
    for key, what in ((mig_key, "evaluation seed 0"),
                      (seed_mean_key(mig_key), "mean of evaluation seeds (exploratory)")):
        if tested_rows(summary, key):
            out += ["", f"JL1-VAE against each arm, local MIG at 0.1, {what} (Welch, "
                    "two-sided; Holm over the arms):", "", comparison_table(summary, key)
                    .rstrip("\n")]
    why = why_sentences(summary)
    if why:
        out += ["", "## Why the results may differ from the paper's", "", *why]
    time = summary["time"]
    out += ["", f"Training {hours(time['training_seconds'])}, evaluation "
            f"{hours(time['evaluation_seconds'])}, each summed over the runs (wall clock, "
            "pauses included: an upper bound), on "
            f"{summary['machine'].get('cpu', '?')} "
            f"({summary['machine'].get('nproc', '?')} CPUs usable). Typical training minutes "
            "per run (median): " + ", ".join(
                f"{arm['label']} {arm['train_minutes_per_run']['median']:.0f}"
                for arm in summary["arms"] if arm["train_minutes_per_run"]["n"]) + ".", ""]
    return "\n".join(out)


def write_seven_arm_summary(output_dir: str | Path, summary: Mapping[str, Any]) -> list[Path]:
    """Write summary.json, summary.md and README.md atomically; returns their paths."""
    return write_report(output_dir, summary, {layout.SUMMARY_MD: render_markdown(summary),
                                              layout.README_MD: render_readme(summary)})
