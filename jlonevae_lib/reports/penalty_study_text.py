"""The prose and files of ``cpu_penalty_study``'s report: README.md (the primary result first,
whatever it is, then the exploratory results, the deviations, the command, the times and the
machine), summary.md (the tables) and :func:`write_penalty_summary`. Pure functions of
:func:`jlonevae_lib.reports.penalty_study_stats.summarise`'s dict, with no time stamp, so
rendering a summary.json again gives the same bytes.

Until every arm has its 10 seeds finished and evaluated, both files open by saying the study is
incomplete and that the primary test is not reported, and show progress only: no outcome
value, mean, interval or p-value. A study closed with runs that failed for good
(``closed_with_failures``) is reported like a complete one, its title and primary result naming
the runs without the primary outcome.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jlonevae_lib.reports.penalty_study_stats import NOT_EVALUATED, NOT_FINITE, runs_text
from jlonevae_lib.reports.records import (
    FAILED,
    HELDOUT_BCE,
    RECON_BCE,
    TRAIN_MINUTES,
    seed_mean_key,
)
from jlonevae_lib.reports.text import (
    ci_text,
    column_title,
    command_block,
    format_value,
    machine_lines,
    mean_sd_cell,
    median_range_cell,
    p_text,
    statistic_cell,
    write_report,
)
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.metric_table import (
    LOCAL_MIG,
    LOCAL_MODULARITY,
    MIG,
    MODULARITY,
    metric_name,
    parse_metric_name,
)
from jlonevae_lib.sweep.penalty_study import NAME
from jlonevae_lib.utils.tables import format_markdown_table

TITLE = "`cpu_penalty_study`: the Jacobian L1 penalty on disentanglement_lib's architecture"
#: What each hypothesis asks.
QUESTIONS = {"H1": "the penalty alone (the same objective and ramp at γ = 0)",
             "H2": "the paper's comparator (disentanglement_lib's β-VAE)"}
PRIMARY_TEXT = ("local MIG at locality 0.1, mean over evaluation seeds 0–2, at the end of "
                "training (30,000 batches)")
#: The figures the summary draws (under figures/), and what each shows.
FIGURE_CAPTIONS = {
    f"{layout.FIGURES_DIR}/primary_violins.png":
        "the primary outcome per arm at the end of training, one point per run (collapsed runs "
        "marked ×)",
    f"{layout.FIGURES_DIR}/learning_curves.png":
        "local MIG and local modularity at 0.1 (mean of evaluation seeds 0–2) at 8,000, 15,000 "
        "and 30,000 batches: each arm's mean, its runs' range shaded, every run a thin line",
    f"{layout.FIGURES_DIR}/jacobian_columns_per_arm.png":
        "decoder Jacobian columns of each arm's median run by the primary outcome (of an even "
        "count the lower middle run; of equal values the earlier seed), at the paper's example "
        "image",
}


def _label(summary: Mapping[str, Any], arm: str) -> str:
    return summary["arm_labels"].get(arm, arm)


def _pm(key: str, mean: float | None, sd: float | None) -> str:
    text = format_value(key, mean)
    return text if sd is None else f"{text} ± {format_value(key, sd)}"


def _cell(value: float | None, spec: str) -> str:
    """A statistic as text; "–" where it could not be computed (no spread, an empty arm)."""
    return "–" if value is None or not math.isfinite(value) else statistic_cell(value, spec)


def _batches(value: int) -> str:
    return f"{value:,}"


# ------------------------------------------------------------------------------ incomplete


def incomplete_lines(summary: Mapping[str, Any]) -> list[str]:
    """The opening of an incomplete study's files: it is incomplete, the primary test is not
    reported, and how far each arm is."""
    state = summary["progress"]
    per_arm = ", ".join(f"{arm['label']} {arm['evaluated']}/{arm['registered']}"
                        for arm in state["arms"])
    lines = [f"**This study is INCOMPLETE: {state['evaluated']} of its {state['registered']} "
             f"registered runs are finished and evaluated ({per_arm}). The primary test is NOT "
             f"reported until every arm has all {state['expected_per_arm']} seeds; interim "
             "looks change nothing, and the study runs to the end as registered. This render "
             "shows progress only: no outcome value, mean or test.**", ""]
    failed = [run for run in state["waiting"] if run["status"] == FAILED]
    if failed:
        runs = ", ".join(f"{run['label']} seed {run['seed']}" for run in failed)
        lines += [f"**{len(failed)} run{'s' if len(failed) != 1 else ''} failed ({runs}): "
                  "the registration excludes no run, so the study cannot end until "
                  f"{'they are' if len(failed) != 1 else 'it is'} rerun "
                  f"(`jlonevae-sweep run {NAME} --retry-failed`, the same settings "
                  "and seed); a run that fails again is a deviation to report, not "
                  "drop: once every run has ended, `python -m "
                  "jlonevae_lib.cli.penalty_study_summary --close-with-failures` reports the "
                  "tests on the other runs and names it.**", ""]
    ended = [run for run in state["waiting"] if run["status"] == NOT_FINITE]
    if ended:
        runs = ", ".join(f"{run['label']} seed {run['seed']}" for run in ended)
        lines += [f"**{len(ended)} run{'s' if len(ended) != 1 else ''} evaluated without a "
                  f"finite primary outcome ({runs}): evaluating again would give the same "
                  "(the evaluation is seeded). The registration excludes no run, so this is a "
                  "deviation to report: once every run has ended, `python -m "
                  "jlonevae_lib.cli.penalty_study_summary --close-with-failures` reports the "
                  f"tests on the other runs and names {'them' if len(ended) != 1 else 'it'}.**",
                  ""]
    unevaluated = [run for run in state["waiting"] if run["status"] == NOT_EVALUATED]
    if unevaluated:
        count = len(unevaluated)
        lines += [f"{count} finished run{'s' if count != 1 else ''} without the primary outcome: "
                  f"`jlonevae-sweep run {NAME} --stages evaluate` evaluates "
                  f"{'them' if count != 1 else 'it'} (`jlonevae-sweep status {NAME}` shows a "
                  "failed evaluation and why; `--retry-failed` runs it again). A result that "
                  "is there but cannot be used (unreadable, or at another evaluation seed: the "
                  "notes say which) is computed again only with `jlonevae-evaluate RUN "
                  "--overwrite`, as its note says.", ""]
    return lines


def progress_table(summary: Mapping[str, Any]) -> str:
    state = summary["progress"]
    names = sorted({name for arm in state["arms"] for name in arm["states"]})
    return format_markdown_table([
        {"arm": arm["label"], "registered runs": arm["registered"],
         "finished and evaluated": arm["evaluated"],
         **{name: arm["states"].get(name, 0) for name in names}}
        for arm in state["arms"]])


def waiting_lines(summary: Mapping[str, Any]) -> list[str]:
    return [f"- {run['label']} seed {run['seed']}: {run['status']}"
            + (f" ({run['detail']})" if run["detail"] else "")
            for run in summary["progress"]["waiting"]]


# ------------------------------------------------------------------------------ primary


def hypothesis_line(summary: Mapping[str, Any], name: str) -> str:
    """One pre-registered test in words: its verdict after Holm's correction first, then the
    means, the difference with its interval, Hedges' g, raw and Holm-adjusted p."""
    row, alpha = summary["primary"][name], summary["alpha"]
    a, b = _label(summary, row["arm_a"]), _label(summary, row["arm_b"])
    if row["p_raw"] is None:
        verdict = ("no test could be made (within each arm the runs all have one value, or an "
                   "arm has fewer than two runs: there is no spread to test a difference "
                   "against)")
    elif row["reject"]:
        verdict = (f"JL1-VAE is significantly {'higher' if row['diff'] > 0 else 'lower'} "
                   "after Holm's correction")
    else:
        verdict = ("no significant difference after Holm's correction (this study does not "
                   "show one)")
    sd_a, sd_b = row["sd_a"], row["sd_b"]
    text = (f"- **{name}, {QUESTIONS.get(name, name)}: {verdict}.** {a} "
            f"{_pm('', row['mean_a'], sd_a)} vs {b} {_pm('', row['mean_b'], sd_b)} "
            f"(n = {row['n_a']} and {row['n_b']}); difference "
            f"{_cell(row['diff'], '+.4f')}")
    if row["p_raw"] is None:
        return text + " (no interval, Hedges' g or p without a spread)."
    text += (f" (95% CI {ci_text(row)}), Hedges' g {_cell(row['g'], '.2f')}; Welch "
             f"p = {p_text(row['p_raw'], alpha)}, Holm-adjusted p = "
             f"{p_text(row['p_holm'], alpha)} (α = {alpha:g}).")
    if not row["reject"] and row["p_raw"] < alpha:
        text += (" The raw p is below α, so the unadjusted interval excludes 0; after the "
                 "correction for the two tests it is not significant.")
    return text


def primary_table(summary: Mapping[str, Any]) -> str:
    return format_markdown_table([
        {"test": name, "a": _label(summary, row["arm_a"]), "b": _label(summary, row["arm_b"]),
         "n (a, b)": f"{row['n_a']}, {row['n_b']}",
         "mean ± s.d. (a)": _pm("", row["mean_a"], row["sd_a"]),
         "mean ± s.d. (b)": _pm("", row["mean_b"], row["sd_b"]),
         "difference (95% CI)": f"{_cell(row['diff'], '+.4f')} ({ci_text(row)})",
         "Hedges' g": _cell(row["g"], ".2f"), "t": _cell(row["t"], ".2f"),
         "p": p_text(row["p_raw"], summary["alpha"]),
         "p (Holm)": p_text(row["p_holm"], summary["alpha"]),
         f"significant (Holm, α = {summary['alpha']:g})": "yes" if row["reject"] else "no"}
        for name, row in summary["primary"].items()])


def _collapse_text(summary: Mapping[str, Any]) -> str:
    """What is known of collapsed runs among those tested, ending the sentence."""
    collapsed = summary["secondary"]["collapsed"]
    unmeasured = summary["secondary"]["unmeasured_reconstructions"]
    if not summary["reference_bce"]:
        return (" (whether any collapsed is unknown: the held-out reconstruction was not "
                "measured).")
    parts = []
    if collapsed:
        parts.append(f"{len(collapsed)} collapsed run{'s' if len(collapsed) != 1 else ''} "
                     "kept and flagged below")
    if unmeasured:
        parts.append(f"whether {len(unmeasured)} collapsed is unknown: "
                     f"{'their' if len(unmeasured) != 1 else 'its'} held-out reconstruction "
                     f"was not measured ({runs_text(unmeasured)})")
    return f" ({'; '.join(parts)})." if parts else " and none collapsed."


def _tested_text(summary: Mapping[str, Any]) -> str:
    """Which runs the tests use: all registered ones, or (closed with failures) those with the
    primary outcome, the others named."""
    state = summary["progress"]
    n = state["evaluated"]
    if n == state["registered"]:
        return f"All {n} registered runs are in them; none is excluded{_collapse_text(summary)}"
    missing = [run for run in summary["runs"] if not run["evaluated"]]
    one = len(missing) == 1
    return (f"The study was closed with {len(missing)} of its {state['registered']} registered "
            f"runs without the primary outcome ({runs_text(missing)}; "
            f"{'its state is' if one else 'their states are'} under Deviations): the "
            f"registration excludes no run, {'it has' if one else 'these have'} no value to "
            f"test. The tests use the other {n}; none of those is "
            f"excluded{_collapse_text(summary)}")


def primary_lines(summary: Mapping[str, Any]) -> list[str]:
    """The primary result: both tests in words, how they were made and the runs they used."""
    return ["## Primary result (pre-registered)", "",
            *(hypothesis_line(summary, name) for name in summary["primary"]), "",
            f"The outcome is {PRIMARY_TEXT}, one value per run. The tests are two-sided Welch "
            f"t-tests of JL1-VAE against each other arm, Holm-corrected over the two at "
            f"α = {summary['alpha']:g}, as registered in docs/studies.md before any run "
            f"started. {_tested_text(summary)} Each "
            "difference's 95% interval is Welch's (Welch–Satterthwaite degrees of freedom) and "
            "is not adjusted for the two tests: the Holm-adjusted p decides. Hedges' g is the "
            "difference over the pooled s.d., times the small-sample factor "
            "1 − 3/(4(n₁ + n₂) − 9).", "",
            primary_table(summary).rstrip("\n"), ""]


# ------------------------------------------------------------------------------ secondary


def _stat(summary: Mapping[str, Any], arm: str, key: str) -> Mapping[str, Any]:
    entry = next(a for a in summary["secondary"]["arms"] if a["arm"] == arm)
    return entry["statistics"].get(key) or {"n": 0, "mean": None, "sd": None}


def _gaps(summary: Mapping[str, Any], key: str, arm: str) -> list[Mapping[str, Any]]:
    return [g for g in summary["curves"]["gaps"] if g["key"] == key and g["arm_b"] == arm]


def curve_lines(summary: Mapping[str, Any]) -> list[str]:
    """Per other arm, JL1-VAE's difference on the primary outcome at each kept model and the
    end, with 95% intervals: whether the gap grows with training (exploratory)."""
    key = summary["primary_key"]
    out = []
    means = summary["curves"]["arms"].get(key, {})
    for arm in summary["arms"]:
        if means.get(arm):
            out.append(f"- {_label(summary, arm)}: " + "; ".join(
                f"{_pm(key, p['mean'], p['sd'])} at {_batches(p['batches'])}"
                for p in means[arm]) + " batches.")
    for arm in summary["arms"][1:]:
        gaps = _gaps(summary, key, arm)
        if gaps:
            out.append(f"- JL1-VAE − {_label(summary, arm)}: " + "; ".join(
                f"{_cell(g['diff'], '+.4f')} (95% CI {ci_text(g)}) at "
                f"{_batches(g['batches'])}" for g in gaps) + " batches.")
    return out


#: The values the README compares (summary.md has them all).
def readme_keys(summary: Mapping[str, Any]) -> list[str]:
    keys = []
    stats = summary["secondary"]["arms"][0]["statistics"]
    for key in stats:
        parsed = parse_metric_name(key)
        if parsed is not None and parsed[0] == LOCAL_MIG:
            keys.append(key)
    keys.sort(key=lambda k: parse_metric_name(k)[1] or 0.0)  # type: ignore[index]
    keys += [seed_mean_key(metric_name(LOCAL_MODULARITY, 0.1)), metric_name(MIG, None),
             metric_name(MODULARITY, None), HELDOUT_BCE]
    return [key for key in keys if key in stats]


def _difference_cell(row: Mapping[str, Any]) -> str:
    """``+0.0101 (+0.0042 to +0.0160)``; BCE with one decimal."""
    digits = 1 if row["key"] in (HELDOUT_BCE, RECON_BCE) else 4
    return f"{_cell(row['diff'], f'+.{digits}f')} ({ci_text(row, digits)})"


def _value_title(key: str, primary_key: str) -> str:
    """A secondary value's name; a local score at evaluation seed 0 says so, and the primary
    outcome (the mean over seeds 0–2) that it is tested above, not here."""
    if key == primary_key:
        return f"{column_title(key)} (the primary outcome: its tests are above)"
    parsed = parse_metric_name(key)
    local = parsed is not None and parsed[1] is not None
    return f"{column_title(key)} (eval seed 0)" if local else column_title(key)


def differences_table(summary: Mapping[str, Any], keys: list[str] | None = None) -> str:
    rows = summary["secondary"]["differences"]
    if keys is not None:
        rows = sorted((r for r in rows if r["key"] in keys),
                      key=lambda r: (keys.index(r["key"]), summary["arms"].index(r["arm_b"])))
    return format_markdown_table([
        {"value": _value_title(row["key"], summary["primary_key"]),
         "b": _label(summary, row["arm_b"]),
         "n (JL1-VAE, b)": f"{row['n_a']}, {row['n_b']}",
         "JL1-VAE": format_value(row["key"], row["mean_a"]),
         "b's mean": format_value(row["key"], row["mean_b"]),
         "difference (95% CI)": _difference_cell(row),
         "Hedges' g": _cell(row["g"], ".2f")}
        for row in rows])


def reconstruction_lines(summary: Mapping[str, Any]) -> list[str]:
    out = []
    if any(_stat(summary, arm, HELDOUT_BCE)["n"] for arm in summary["arms"]):
        out.append("- Held-out reconstruction BCE per image (lower is better): " + "; ".join(
            f"{_label(summary, arm)} {_pm(HELDOUT_BCE, s['mean'], s['sd'])}"
            for arm in summary["arms"] if (s := _stat(summary, arm, HELDOUT_BCE))["n"]) + ".")
    collapsed = summary["secondary"]["collapsed"]
    unmeasured = summary["secondary"]["unmeasured_reconstructions"]
    if not summary["reference_bce"]:
        return [*out, "- The held-out reconstruction BCE was not measured, so collapsed runs "
                      "could not be flagged."]
    if collapsed:
        out.append("- Collapsed runs (their decoders ignore the latents: the held-out BCE "
                   f"keeps over {summary['collapse_fraction']:.0%} of the mean image's excess "
                   "over a perfect reconstruction), kept in every statistic: " + "; ".join(
                       f"{run['label']} seed {run['seed']} "
                       f"({format_value(HELDOUT_BCE, run[HELDOUT_BCE])})" for run in collapsed)
                   + ".")
    else:
        out.append(f"- No {'measured ' if unmeasured else ''}run collapsed.")
    if unmeasured:
        out.append(f"- Held-out reconstruction not measured, so whether they collapsed is "
                   f"unknown: {runs_text(unmeasured)}.")
    return out


def secondary_lines(summary: Mapping[str, Any]) -> list[str]:
    return ["## Secondary results (exploratory: no significance claims)", "",
            "Not part of the registered test: differences with 95% Welch intervals and "
            "Hedges' g, no p-values, no correction; an interval that excludes 0 here is not a "
            "finding.", "",
            "**Does the gap grow with training?** The primary outcome at the models kept at "
            "8,000 and 15,000 batches and at the end:", "", *curve_lines(summary), "",
            "**Other localities, modularity, reconstruction** (JL1-VAE − each arm, at the "
            "end):", "", differences_table(summary, readme_keys(summary)).rstrip("\n"), "",
            *reconstruction_lines(summary), ""]


# ------------------------------------------------------------------------------ the rest


def deviation_lines(summary: Mapping[str, Any]) -> list[str]:
    lines = [f"- {line}" for line in summary["deviations"]]
    return ["## Deviations from the registration", "",
            *(lines or ["- none: every run has its arm's registered settings"]), ""]


def time_lines(summary: Mapping[str, Any]) -> list[str]:
    time = summary["time"]
    wall = time["wall_clock"]
    out = [f"- training: {time['training_minutes_summed'] / 60:.2f} h summed over the finished "
           "runs' own training times (runs overlap when the sweep trains several at once: this "
           "is not the study's duration)",
           f"- evaluation: {time['evaluation_minutes_summed'] / 60:.2f} h summed over the "
           "metrics"]
    if not summary["reported"]:
        out.append("- wall clock: the study has not finished")
    elif wall is not None:
        out.append(f"- wall clock: {wall['hours']:.1f} h, from the first training start "
                   f"({wall['first_start']}, the sweep's training log, read in the time zone "
                   f"of the machine writing the summary) to the last result written "
                   f"({wall['last_result']}, the files' times), every pause and stop in "
                   "between included")
    else:
        out.append("- wall clock: not derivable (a finished run has no sweep training log "
                   "or no result file time)")
    return out


def run_lines(summary: Mapping[str, Any]) -> list[str]:
    """The command, the times and the machine. The machine lines describe the one that wrote
    the summary; the runs may have trained elsewhere (docs/studies.md records where), and
    ``trained with`` is what each run recorded when its training finished."""
    return ["## How it was run", "", *command_block(summary["command"]),
            *time_lines(summary),
            "- the machine that wrote this summary (the runs trained where docs/studies.md "
            "says; \"trained with\" is what each run recorded when its training finished):",
            *(f"  {line}" for line in machine_lines(summary["machine"])), ""]


def figure_lines(summary: Mapping[str, Any]) -> list[str]:
    if not summary["figures"]:
        return []
    return ["## Figures", "", *(f"- [{path}]({path})"
                                + (f": {FIGURE_CAPTIONS[path]}" if path in FIGURE_CAPTIONS
                                   else "") for path in summary["figures"]), ""]


def render_readme(summary: Mapping[str, Any]) -> str:
    """README.md: the primary result first (or, before the study is complete, that it is
    not), then the exploratory results, deviations, command, times and machine."""
    out = [f"# {TITLE} (pre-registered)", ""]
    missing = summary["progress"]["registered"] - summary["progress"]["evaluated"]
    if summary["closed_with_failures"]:
        out[0] = (f"# {TITLE} (pre-registered; closed with {missing} run"
                  f"{'s' if missing != 1 else ''} without the primary outcome)")
    if not summary["reported"]:
        out[0] = f"# {TITLE} (pre-registered): INCOMPLETE, no result yet"
        out += [*incomplete_lines(summary), "## Progress", "",
                progress_table(summary).rstrip("\n"), "", "Waiting for:", "",
                *waiting_lines(summary), ""]
    else:
        out += [*primary_lines(summary), *secondary_lines(summary)]
    out += [*deviation_lines(summary), *run_lines(summary)]
    if summary["reported"]:
        out += figure_lines(summary)
    out += ["The tables are in [summary.md](summary.md), the per-run data in "
            "[summary.json](summary.json); both are written by "
            "`python -m jlonevae_lib.cli.penalty_study_summary`, and again from summary.json "
            "alone with `--from-summary`.", ""]
    return "\n".join(out)


def _run_table(summary: Mapping[str, Any], keys: list[str]) -> str:
    return format_markdown_table([
        {"arm": run["label"], "seed": run["seed"],
         "status": run["status"] + (f": {run['detail']}" if run["detail"] else ""),
         **{column_title(key): format_value(key, run["values"].get(key)) for key in keys},
         **{f"{column_title(summary['primary_key'])} @{_batches(int(b))}":
            format_value(summary["primary_key"], run["curve"].get(b, {}).get(
                summary["primary_key"]))
            for b in map(str, summary["curves"]["batches"])}}
        for run in summary["runs"]])


#: The registered settings summary.md shows per arm.
SETTINGS_SHOWN = ("objective", "architecture", "beta", "gamma", "annealing_batches",
                  "jacobian_batch", "dataset", "num_batches", "keep_models_at", "batch_size", "lr")


def settings_lines(summary: Mapping[str, Any]) -> list[str]:
    return ["## Arms as registered", "", format_markdown_table([
        {"arm": _label(summary, arm), **{name: str(summary["registered"][arm].get(name, "–"))
                                         for name in SETTINGS_SHOWN}}
        for arm in summary["arms"]]).rstrip("\n"), ""]


def render_markdown(summary: Mapping[str, Any]) -> str:
    """summary.md: every table (progress only while the study is incomplete)."""
    out = [f"# {TITLE}: tables", ""]
    if not summary["reported"]:
        out += [*incomplete_lines(summary), "## Progress", "",
                progress_table(summary).rstrip("\n"), "", "## Runs", "",
                format_markdown_table([
                    {"arm": run["label"], "seed": run["seed"], "status": run["status"],
                     "detail": run["detail"] or "–"} for run in summary["runs"]]).rstrip("\n"),
                ""]
    else:
        keys = list(summary["secondary"]["arms"][0]["statistics"])
        out += ["## Primary tests (pre-registered)", "", primary_table(summary).rstrip("\n"),
                "", "## Mean ± s.d. per arm at the end", "",
                f"Only {column_title(summary['primary_key'])} is tested (above); every other "
                "column is exploratory.", "", format_markdown_table([
                    {"arm": arm["label"], "finished runs": arm["finished"],
                     **{column_title(key): mean_sd_cell(key, arm["statistics"][key],
                                                        arm["finished"]) for key in keys}}
                    for arm in summary["secondary"]["arms"]]).rstrip("\n"), "",
                "## JL1-VAE − each arm at the end (exploratory: no tests)", "",
                differences_table(summary).rstrip("\n"), "",
                "## Learning curves (exploratory)", ""]
        for key, by_arm in summary["curves"]["arms"].items():
            out += [f"{column_title(key)}:", "", format_markdown_table([
                {"arm": _label(summary, arm), "batches": _batches(p["batches"]), "n": p["n"],
                 "mean ± s.d.": _pm(key, p["mean"], p["sd"]),
                 "range": f"{format_value(key, p['min'])}–{format_value(key, p['max'])}"}
                for arm, points in by_arm.items() for p in points]).rstrip("\n"), ""]
        out += ["JL1-VAE − each arm along the curves:", "", format_markdown_table([
            {"value": column_title(g["key"]), "b": _label(summary, g["arm_b"]),
             "batches": _batches(g["batches"]), "n (a, b)": f"{g['n_a']}, {g['n_b']}",
             "difference (95% CI)": _difference_cell(g)}
            for g in summary["curves"]["gaps"]]).rstrip("\n"), "",
            "## Per run", "", _run_table(summary, keys).rstrip("\n"), "",
            "## Time per arm", "", format_markdown_table([
                {"arm": arm["label"], "finished": arm["finished"],
                 "train min per run, median [range]": median_range_cell(
                     arm["train_minutes_per_run"]),
                 "train min total": format_value(TRAIN_MINUTES, arm["train_minutes_total"]),
                 "evaluation min per run, median [range]": median_range_cell(
                     arm["evaluation_minutes_per_run"])}
                for arm in summary["secondary"]["arms"]]).rstrip("\n"), ""]
    out += [*settings_lines(summary), *deviation_lines(summary), *run_lines(summary)]
    if summary["reported"]:
        out += figure_lines(summary)
    out += ["## Notes", "", *([f"- {note}" for note in summary["notes"]] or ["- none"]), ""]
    return "\n".join(out)


def write_penalty_summary(output_dir: str | Path, summary: Mapping[str, Any]) -> list[Path]:
    """Write summary.json, summary.md and README.md atomically; returns their paths."""
    return write_report(output_dir, summary, {layout.SUMMARY_MD: render_markdown(summary),
                                              layout.README_MD: render_readme(summary)})
