"""The natural-image report's prose: summary.md (:func:`render_markdown`) and README.md
(:func:`render_readme`, with what the numbers show), pure functions of the summary's dict
(:func:`jlonevae_lib.reports.natural_images.write_natural_images_summary`, or summary.json as
written: its keys come back sorted, so the settings are shown in :data:`SETTINGS_SHOWN`'s order,
and a summary written before the compactness measure is rendered without its columns)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jlonevae_lib.evaluate.natural_image_measures import TOP_FRACTION
from jlonevae_lib.utils.tables import format_markdown_table

#: Settings shown for the runs (keys of their config.json), in this order.
SETTINGS_SHOWN = ("dataset", "architecture", "beta", "latent_dim", "batch_size", "lr",
                  "num_batches", "annealing_batches", "jacobian_batch", "jacobian_method",
                  "regularization_type", "device")
#: A run's shares of columns in each state of the compactness measure.
_STATE_KEYS = ("columns_structured", "columns_no_structure", "columns_no_signal")


def ordered_settings(settings: Mapping[str, Any]) -> list[str]:
    """The keys of ``settings`` in :data:`SETTINGS_SHOWN`'s order, any other after them by
    name."""
    return ([key for key in SETTINGS_SHOWN if key in settings]
            + sorted(key for key in settings if key not in SETTINGS_SHOWN))


def has_compactness(rows: Sequence[Mapping[str, Any]]) -> bool:
    """Whether rows (runs, arms or linear models) carry the compactness measure: a summary
    written before it has none, and is rendered without its columns."""
    return any("compactness" in row for row in rows)


def noise_reference(summary: Mapping[str, Any], folder: str
                    ) -> tuple[str, list[dict[str, Any]]]:
    """What :func:`render_readme` cites as the localisation measure's score of noise when its
    own summary has no collapsed run: another summary's folder, labelled with its run length
    ("results/natural_images (4,000 batches)"), and its collapsed runs
    (:func:`collapsed_localisation`)."""
    batches = (summary.get("settings") or {}).get("num_batches")
    label = f"{folder} ({batches:,} batches)" if isinstance(batches, int) else folder
    return label, collapsed_localisation(summary)


def folder_name(results_dir: str | Path) -> str:
    """A results folder named by itself and its parent (results/natural_images), wherever it
    lies: the README's title."""
    return "/".join(Path(results_dir).resolve().parts[-2:])


def gap_removed(bce: float, reference: Mapping[str, float]) -> float:
    """The share of the gap between the mean patch's BCE and a perfect reconstruction's that a
    reconstruction with this BCE removes (0: nothing learned, 1: exact)."""
    return (reference["mean_image"] - bce) / (reference["mean_image"] - reference["perfect"])


def _states(run: Mapping[str, Any]) -> str | None:
    """A run's shares of structured, noise-like and no-signal columns, as "0.80 / 0.15 / 0.05"."""
    if not all(key in run for key in _STATE_KEYS):
        return None  # a summary written before the compactness measure
    return " / ".join(f"{run[key]:.2f}" for key in _STATE_KEYS)


def _fmt(stat: Mapping[str, Any]) -> str:
    sd = stat["sd"]
    return f"{stat['mean']:.4f}" + ("" if math.isnan(sd) else f" ± {sd:.4f}")


def render_markdown(summary: Mapping[str, Any]) -> str:
    """summary.md: the data source, settings and every table of ``summary``."""
    lines = ["# Natural images at CPU scale: results", ""]
    if summary["offline_fallback"]:
        lines += [f"**Data: the OFFLINE FALLBACK, not IMAGES.mat** — {summary['data_source']}.",
                  ""]
    else:
        lines += [f"Data: {summary['data_source']}.", ""]
    patches = summary["patches"]
    lines += [f"Patches: {patches['train']} training, {patches['test']} held-out test; linear "
              f"models fitted on {patches['linear_fit']}; localisation on the first "
              f"{patches['localisation']} test patches.", ""]
    lines += ["## Settings (every run)", "",
              format_markdown_table([{"setting": k, "value": summary["settings"][k]}
                                     for k in ordered_settings(summary["settings"])]), ""]
    finished = [r for r in summary["runs"] if r["status"] == "finished"]
    compact = has_compactness(finished)
    lines += ["## Per run", "", format_markdown_table([
        {"arm": r["arm"], "seed": r["seed"], "held-out MSE": r["heldout_mse"],
         "held-out BCE": r["heldout_bce"], "top-10% mass": r["localisation"],
         "top-10% mass (activity-weighted)": r["localisation_weighted"],
         **({"compactness": r.get("compactness"),
             "compactness (activity-weighted)": r.get("compactness_weighted"),
             "columns structured / noise-like / no signal": _states(r)} if compact else {}),
         "mean Σ J² per column": r["mean_column_activity"],
         "final KL (nats)": r["final_train_kld"], "BCE gap removed": r["bce_gap_removed"],
         "collapsed": r["collapsed"],
         "train s": r["train_seconds"], "figure": r["figure"]} for r in finished]), ""]
    for run in summary["runs"]:
        if run["status"] != "finished":
            lines.append(f"- not finished: {run['run_dir']}")
    lines += kl_table(finished, summary["settings"].get("num_batches"))
    compact = has_compactness(summary["arms"])
    lines += ["## Mean ± s.d. per arm", "", format_markdown_table([
        {"arm": a["arm"], "seeds": " ".join(map(str, a["seeds"])),
         "held-out MSE": _fmt(a["heldout_mse"]), "held-out BCE": _fmt(a["heldout_bce"]),
         "top-10% mass": _fmt(a["localisation"]),
         "top-10% mass (weighted)": _fmt(a["localisation_weighted"]),
         **({"compactness": (None if "compactness" not in a else _fmt(a["compactness"])
                             if a["compactness"]["n"] else "no structured column")}
            if compact else {})}
        for a in summary["arms"]]), ""]
    compact = has_compactness(summary["linear_baselines"])
    lines += ["## PCA and FastICA on the same patches", "", format_markdown_table([
        {"model": r["model"], "components": r["num_components"],
         "held-out MSE": r["heldout_mse"], "held-out BCE": r["heldout_bce"],
         "top-10% mass": r["localisation"], "top-10% mass (weighted)":
         r["localisation_weighted"],
         **({"compactness": r.get("compactness"),
             "filters structured": r.get("columns_structured")} if compact else {}),
         "converged": r["converged"]}
        for r in summary["linear_baselines"]]),
        f"The mean training patch as every reconstruction: held-out MSE "
        f"{summary['mean_patch_error']['mse']:.4f}, BCE {summary['mean_patch_error']['bce']:.4f}.",
        ""]
    lines += ["## Definitions", "", f"- Held-out error: {summary['measures']['heldout_error']}.",
              f"- Top-10% mass: {summary['measures']['localisation']}.",
              *([f"- Compactness: {summary['measures']['compactness']}."]
                if "compactness" in summary["measures"] else []), "",
              "## Figures", "", *[f"- [{f}]({f})" for f in summary["figures"]], "",
              "## Command", "", f"`{summary['command'] or '(not recorded)'}`", "",
              f"Generated {summary['generated_at']} on {summary['machine']['platform']}.", ""]
    return "\n".join(lines)


#: The training scalar of the KL term (docs/formats.md, TensorBoard tags).
KL_SCALAR = "KLD/train"
#: Where in training the KL table looks: these fractions of the run's length.
KL_TABLE_FRACTIONS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


def kl_at(trajectory: Sequence[Sequence[float]], batch: float) -> tuple[int, float]:
    """The logged (batch, KL) of ``trajectory`` ([[batch, KL], ...]) nearest to ``batch``
    (the earlier one on a tie)."""
    step, value = min(trajectory, key=lambda point: (abs(point[0] - batch), point[0]))
    return int(step), value


def kl_table(finished: Sequence[Mapping[str, Any]], num_batches: int | None) -> list[str]:
    """summary.md's section on the KL term over training: per run, the logged KL nearest to
    each of :data:`KL_TABLE_FRACTIONS` of ``num_batches``, and its lowest value with its
    batch. No section when no run has a trajectory (a summary written before they were
    stored) or the length is unknown."""
    runs = [run for run in finished if run.get("kl_trajectory")]
    if not runs or not num_batches:
        return []
    rows = []
    for run in runs:
        trajectory = run["kl_trajectory"]
        row: dict[str, Any] = {"arm": run["arm"], "seed": run["seed"]}
        for fraction in KL_TABLE_FRACTIONS:
            _, value = kl_at(trajectory, fraction * num_batches)
            row[f"batch {round(fraction * num_batches):,}"] = f"{value:.3g}"
        low_step, low = min(trajectory, key=lambda point: (point[1], point[0]))
        row["lowest (batch)"] = f"{low:.3g} ({int(low_step):,})"
        rows.append(row)
    return ["## KL term over training (nats, training batch)", "",
            f"Logged in training (TensorBoard's `{KL_SCALAR}`), at the logged batch nearest to "
            + ", ".join(f"{fraction:.1%}".replace(".0%", "%") for fraction in KL_TABLE_FRACTIONS)
            + " of the run; every logged value is in summary.json (`kl_trajectory`).", "",
            format_markdown_table(rows), ""]


def collapsed_localisation(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The collapsed runs of a summary with their top-10 % mass: ``arm``, ``seed``,
    ``localisation``. Their decoders ignore the latents, so their Jacobian columns are
    numerical noise: what the localisation measure gives noise."""
    return [{"arm": r["arm"], "seed": r["seed"], "localisation": r["localisation"]}
            for r in summary["runs"] if r.get("collapsed") and r.get("localisation") is not None]


def _measure_caveat(summary: Mapping[str, Any],
                    noise_reference: tuple[str, Sequence[Mapping[str, Any]]] | None) -> str:
    """The localisation measure's weakness, with the scores of collapsed (noise) runs: this
    summary's own, else those of ``noise_reference`` (its folder, :func:`collapsed_localisation`
    of its summary)."""
    own = collapsed_localisation(summary)
    where, examples = ("here", own) if own else (noise_reference or ("", []))
    text = ("- **The localisation measure does not tell learned columns from noise.** The "
            "columns of a collapsed run are numerical noise, yet they score as high as learned "
            "columns")
    if examples:
        text += (f" ({'here' if where == 'here' else 'in ' + where}: " + ", ".join(
            f"{r['arm']} seed {r['seed']} {r['localisation']:.3f}" for r in examples) + ")")
    text += ". A top-10% mass, alone, therefore shows no localisation."
    if has_compactness(summary["runs"]):
        return text + " The compactness score (next point) is the measure to read."
    return text + (" A measure that is robust to noise is being built, and these runs will be "
                   "scored again with it.")


def _score(value: Any) -> str:
    """A compactness value, or "none" for a run without one (no structured column)."""
    return "none" if value is None or math.isnan(value) else f"{value:.3f}"


def _compactness_finding(summary: Mapping[str, Any], arms: Sequence[Mapping[str, Any]]
                         ) -> list[str]:
    """The compactness of the β-VAE and JL1-VAE arms, per run with its shares of structured
    and no-signal columns, the two means side by side and the linear filters' scores; no
    verdict with two runs per arm. Empty for a summary without the measure."""
    finished = [r for r in summary["runs"] if r["status"] == "finished"]
    if not has_compactness(finished) or not all("compactness" in arm for arm in arms):
        return []

    def describe(arm: Mapping[str, Any]) -> str:
        runs = [r for r in finished if r["arm"] == arm["arm"]]
        per_run = "; ".join(
            f"seed {r['seed']} {_score(r['compactness'])} ({r['columns_structured']:.0%} of "
            f"columns structured, {r['columns_no_signal']:.0%} no signal)" for r in runs)
        return (f"{arm['arm']} {_score(arm['compactness']['mean'])}, activity-weighted "
                f"{_score(arm['compactness_weighted']['mean'])} (runs: {per_run})")

    text = ("- **Compactness** (the localisation score that noise cannot fake; "
            "docs/natural_images.md): " + "; ".join(describe(arm) for arm in arms) + ".")
    silent = [r for r in finished if r.get("collapsed") and r["columns_no_signal"] >= 0.99]
    if silent:
        text += (" The collapsed run" + ("s' " if len(silent) > 1 else "'s ") + "columns are "
                 "called \"no signal\" (below the forward difference's resolution) and get no "
                 "score, as noise should.")
    sparse = [r for r in finished if not r.get("collapsed") and r["columns_structured"] < 0.5]
    if sparse:
        text += (" " + ", ".join(f"{r['arm']} seed {r['seed']}" for r in sparse)
                 + ": most columns have no score, so its mean rests on "
                 + ", ".join(f"{r['columns_structured']:.0%}" for r in sparse)
                 + " of its columns.")
    scored = [int(arm["compactness"]["n"]) for arm in arms]
    means = [(arm["compactness"]["mean"], arm["compactness_weighted"]["mean"]) for arm in arms]
    if len(arms) == 2 and all(math.isfinite(v) for pair in means for v in pair):
        plain, weighted = (means[1][i] - means[0][i] for i in (0, 1))
        if plain * weighted < 0:
            text += (f" The two means point different ways ({arms[1]['arm']} "
                     f"{'higher' if plain > 0 else 'lower'} unweighted, "
                     f"{'higher' if weighted > 0 else 'lower'} activity-weighted).")
    text += (f" With {' vs '.join(map(str, scored))} runs with a score no test is made: which "
             "arm's columns are more compact is not established.")
    linear = [row for row in summary["linear_baselines"]
              if row["num_components"] == 10 and "compactness" in row]
    if linear:
        text += (" For comparison, 10-component filters: " + ", ".join(
            f"{row['model']} {row['compactness']:.3f}" for row in linear) + ".")
    return [text]


def _findings(summary: Mapping[str, Any],
              noise_reference: tuple[str, Sequence[Mapping[str, Any]]] | None = None
              ) -> list[str]:
    """Plain sentences on the data source, the arms' and the linear filters' localisation and
    the measure's weakness; ``noise_reference``: (folder, collapsed runs' scores) of another
    summary, cited when this one has no collapsed run."""
    arms = {a["arm"]: a for a in summary["arms"]}
    beta = next((a for label, a in arms.items() if label.startswith("β-VAE")), None)
    jl1 = next((a for label, a in arms.items() if label.startswith("JL1-VAE")), None)
    lines = []
    if summary.get("offline_fallback"):
        lines.append("- **Data: the offline fallback** (two photographs that ship with "
                     "scikit-learn, whitened), not the paper's IMAGES.mat. Nothing here tests "
                     "the paper's natural-image claim.")
    collapsed = [r for r in summary["runs"] if r.get("collapsed")]
    if collapsed:
        reference = summary["collapse"]
        lines.append(
            "- **Collapsed runs**: " + ", ".join(
                f"{r['arm']} seed {r['seed']} ({r['bce_gap_removed']:.1%} of the gap removed, "
                f"final KL {r['final_train_kld']:.2g} nats)" for r in collapsed)
            + f". Between predicting the test patches' mean patch (held-out BCE "
            f"{reference['mean_image']:.2f}) and reconstructing them exactly "
            f"({reference['perfect']:.2f}, the grey pixels' own entropy), these runs remove "
            f"less than {1 - reference['fraction']:.0%} of the gap: their decoders ignore the "
            "latents, so their Jacobian columns are near zero and their localisation numbers "
            "describe numerical noise, not learned filters. An arm with collapsed runs says "
            "nothing about the paper's claim at this training length.")
    every_run_collapsed = [arm["arm"] for arm in (beta, jl1) if arm is not None and all(
        run.get("collapsed") for run in summary["runs"]
        if run["status"] == "finished" and run["arm"] == arm["arm"])]
    if every_run_collapsed:
        lines.append(f"- Localisation not compared: every {' and every '.join(every_run_collapsed)}"
                     " run collapsed, so its Jacobian columns are noise, not filters (their "
                     "numbers are in the tables below).")
    elif beta is not None and jl1 is not None:
        loc_b, loc_j = beta["localisation"]["mean"], jl1["localisation"]["mean"]
        word = ("higher" if loc_j > loc_b else "lower" if loc_j < loc_b else "equal")

        def per_run(arm: Mapping[str, Any]) -> str:
            return ", ".join(f"{r['localisation']:.3f}" for r in summary["runs"]
                             if r["status"] == "finished" and r["arm"] == arm["arm"])

        lines.append(
            f"- Localisation (top-10% L1 mass of the Jacobian columns): JL1-VAE {loc_j:.3f} "
            f"(runs: {per_run(jl1)}), β-VAE {loc_b:.3f} (runs: {per_run(beta)}); "
            f"activity-weighted {jl1['localisation_weighted']['mean']:.3f} vs "
            f"{beta['localisation_weighted']['mean']:.3f}. The JL1-VAE mean is {word}"
            + (" (collapsed runs included)" if collapsed else "") + f". With "
            f"n = {jl1['localisation']['n']} vs {beta['localisation']['n']} runs no test is "
            "made, and the measure cannot separate learned columns from noise (below): that "
            "the JL1-VAE columns are more localised is not established.")
    lines.append(_measure_caveat(summary, noise_reference))
    lines += _compactness_finding(summary, [arm for arm in (beta, jl1) if arm is not None])
    if beta is not None and jl1 is not None:
        mse_b, mse_j = beta["heldout_mse"]["mean"], jl1["heldout_mse"]["mean"]
        lines.append(f"- Held-out MSE per patch: JL1-VAE {mse_j:.3f}, β-VAE {mse_b:.3f}; "
                     "predicting the mean training patch for every patch gives "
                     f"{summary['mean_patch_error']['mse']:.3f}.")
    baseline_mse = summary["mean_patch_error"]["mse"]
    finished = [r for r in summary["runs"] if r["status"] == "finished"]
    if finished and baseline_mse > 0:
        lines.append(
            "- Share of the mean patch's held-out MSE that each model removes: " + ", ".join(
                f"{r['arm']} seed {r['seed']} {1 - r['heldout_mse'] / baseline_mse:.1%}"
                for r in finished) + ", " + ", ".join(
            f"{r['model']} {r['num_components']} {1 - r['heldout_mse'] / baseline_mse:.1%}"
            for r in summary["linear_baselines"]) + " (near 0 %: the model has learned "
            "little beyond the average patch, and its Jacobian columns say little).")
    for row in summary["linear_baselines"]:
        if row["num_components"] == 10:
            lines.append(f"- {row['model']} with 10 components: top-10% mass "
                         f"{row['localisation']:.3f}, held-out MSE {row['heldout_mse']:.3f}.")
            for arm in (beta, jl1):
                if arm is not None and arm["arm"] not in every_run_collapsed:
                    loc = arm["localisation"]["mean"]
                    side = "above" if loc > row["localisation"] else "at or below"
                    lines.append(f"  - {arm['arm']}'s columns ({loc:.3f}) score {side} "
                                 f"these {row['model']} filters.")
    lines.append(f"- A uniform column would score {TOP_FRACTION}, one confined to a single "
                 "pixel 1.0.")
    return lines


def render_readme(summary: Mapping[str, Any], markdown: str, folder: str,
                  noise_reference: tuple[str, Sequence[Mapping[str, Any]]] | None = None
                  ) -> str:
    """README.md of the results folder ``folder``: what ran, on which data, the deviations
    from the paper and what the localisation numbers show, then summary.md.
    ``noise_reference``: (folder, :func:`collapsed_localisation`) of another summary, whose
    collapsed runs show what the measure gives noise when this one has none."""
    settings, paper = summary["settings"], summary["paper_settings"]
    finished = [r for r in summary["runs"] if r["status"] == "finished"]
    head = [f"# {folder}", "",
            "Generated by the summary step of `jlonevae-sweep run natural_images_cpu` "
            "(jlonevae_lib/reports/natural_images.py) from the runs and patches; "
            "every number below is measured.", ""]
    if summary["offline_fallback"]:
        head += ["> **These results are on the OFFLINE FALLBACK data, not the paper's "
                 "IMAGES.mat**: " + summary["data_source"] + ". Run "
                 "data/download_natural_image_data.sh, delete data/naturalImages/{train,test} "
                 "and studies/natural_images_cpu, and run the study again for the paper's "
                 "data.", ""]
    counts = sorted({row["num_components"] for row in summary["linear_baselines"]})
    head += [f"What ran: {len(finished)} VAE runs ("
             + ", ".join(f"{r['arm']} seed {r['seed']}" for r in finished)
             + f") and PCA / FastICA at {', '.join(map(str, counts))} components, fitted on "
             f"{summary['patches']['linear_fit']} training patches of the same data.", ""]
    seeds = sorted({r["seed"] for r in finished})
    diffs = [f"{key}: {settings.get(key)} here, {paper[key]} in the paper"
             for key in ordered_settings(settings)
             if key in paper and settings.get(key) != paper[key]]
    if "seeds" in paper and seeds != list(paper["seeds"]):
        diffs.append(f"seeds {seeds} here, {list(paper['seeds'])} in the paper")
    if diffs:
        head += ["Deviations from the paper's setting: " + "; ".join(diffs) + ".", ""]
    head += ["## What the numbers show", "", *_findings(summary, noise_reference), ""]
    return "\n".join(head) + "\n" + markdown
