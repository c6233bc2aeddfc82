"""The report of the seven-arm study (``cpu_seven_arms``): its declaration and what summary.json
holds, assembled.

Its command line is ``python -m jlonevae_lib.cli.seven_arms_summary`` (also run as ``python -m
jlonevae_lib.sweep.seven_arms_summary``)::

    python -m jlonevae_lib.cli.seven_arms_summary --output-dir results/cpu_seven_arms \\
        --run jl1_vae=RUN_DIR --run factor_vae=RUN_DIR ... [--evaluation-seeds 0 1 2] \\
        [--command "..."]
    python -m jlonevae_lib.cli.seven_arms_summary --from-summary \\
        results/cpu_seven_arms/summary.json --output-dir results/cpu_seven_arms

The report is four modules, one concern each:

- reading, :mod:`jlonevae_lib.reports.seven_arms_records`: each ``--run ARM=RUN_DIR`` is one
  member, so exactly the study's runs are read (a folder that does not exist yet is a run not
  started); each finished run's reconstruction BCE on fixed images is measured by
  :mod:`jlonevae_lib.evaluate.reconstruction`; a written summary.json is read back;
- statistics, :mod:`jlonevae_lib.reports.seven_arms_comparisons` (on
  :mod:`jlonevae_lib.evaluate.statistics`): the t-tests with their intervals, Hedges' g and
  Holm-adjusted p, the architecture tests, the ordering against the paper's, the seed spreads;
- assembly, this module: :func:`build_seven_arm_summary` puts the summary together from the
  records, :func:`refresh_summary` recomputes every comparison of a written summary.json from
  the per-run values it stores (``--from-summary``, no run folder needed);
- prose and files, :mod:`jlonevae_lib.reports.seven_arms_text` (summary.md, README.md) with
  the sentences of :mod:`jlonevae_lib.reports.seven_arms_findings`.

The summary holds

- one row per run and the mean ± s.d. (ddof 1) of each value per arm;
- the multi-seed local MIG and local modularity at 0.1 beside the single-seed values;
- Welch t-tests of JL1-VAE against each other arm (:func:`~.seven_arms_comparisons.
  ttests_against`) and disentanglement_lib's β-VAE against our ConvVAE β-VAE;
- the measured ordering of the methods by mean local MIG at 0.1 against the paper's;
- the settings and how they differ from the paper's, read from the runs' configs (each arm's
  share of the paper's training: FactorVAE's 300,000 steps were 150,000 batches);
- wall time (training minutes per run, totals), machine, command, figures and notes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from jlonevae_lib.evaluate.reconstruction import COLLAPSE_FRACTION, is_collapsed
from jlonevae_lib.evaluate.statistics import difference_resolution, mean_sd, median_range
from jlonevae_lib.reports.records import (
    FINISHED,
    HELDOUT_BCE,
    SECONDS_PER_MINUTE,
    TRAIN_MINUTES,
    RunRecord,
    add_evaluation_seed_means,
    compute_time,
    localities_of,
    mark_missing_values,
    seed_mean_key,
    value_keys,
)
from jlonevae_lib.reports.seven_arms_comparisons import (
    RESOLVED_STANDARD_ERRORS,
    TESTS,
    architecture_tests,
    arm_order,
    evaluation_seed_spread,
    paper_ordering,
    pooled_training_seed_sd,
    ttests_against,
)
from jlonevae_lib.reports.seven_arms_records import (
    EVALUATION_IMAGES,
    EVALUATION_IMAGES_SEED,
    records_from_summary,
)
from jlonevae_lib.reports.text import finite
from jlonevae_lib.runs.metric_table import LOCAL_MIG, LOCAL_SCORES, metric_name
from jlonevae_lib.sweep.seven_arms import (
    ARM_LABELS,
    PAPER_ANNEALING_BATCHES,
    PAPER_BATCHES,
    PAPER_LOCAL_MIG_0_1,
    PAPER_NAMES,
    paper_batches,
)

#: The paper's settings the deviations are measured against (docs/method.md).
PAPER_SETTINGS = {"num_batches": PAPER_BATCHES, "lr": 1e-4, "dataset": "threeDotsCache",
                  "jacobian_batch": None, "annealing_batches": PAPER_ANNEALING_BATCHES,
                  "iteration_threshold": PAPER_ANNEALING_BATCHES}


def scale_of(arms: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per arm with settings: its ``num_batches``, the batches of the paper's run of it
    (:func:`~jlonevae_lib.sweep.seven_arms.paper_batches`: FactorVAE's 300,000 global steps
    were 150,000 batches) and the ``fraction`` of those this study trained."""
    out = []
    for arm in arms:
        batches = arm["settings"].get("num_batches")
        if isinstance(batches, int) and not isinstance(batches, bool):
            paper = paper_batches(arm["arm"])
            out.append({"arm": arm["arm"], "label": arm["label"], "num_batches": batches,
                        "paper_batches": paper, "fraction": batches / paper})
    return out


def reconstruction_of(arms: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The held-out reconstruction BCE per image of each arm (mean ± s.d. over its finished
    runs, from its statistics) and whether any of its runs collapsed: the price of each
    method's scores."""
    return {"key": HELDOUT_BCE,
            "arms": [{"arm": arm["arm"], "label": arm["label"], "collapsed": arm["collapsed"],
                      **arm["statistics"][HELDOUT_BCE]}
                     for arm in arms if HELDOUT_BCE in arm["statistics"]]}


def deviations(arms: Sequence[Mapping[str, Any]], seeds: Sequence[int]) -> list[str]:
    """How the arms' settings (their ``settings``, from config.json) differ from the paper's,
    one line each; ``seeds``: the training seeds the study has runs of. The paper's run length
    is each arm's own (:func:`~jlonevae_lib.sweep.seven_arms.paper_batches`: FactorVAE's
    300,000 global steps were 150,000 batches)."""
    lines = []
    paper_text = {"num_batches": f"{PAPER_BATCHES:,}", "lr": "1e-4",
                  "dataset": "threeDotsCache (500,000)", "jacobian_batch": "the whole batch",
                  "annealing_batches": "100,000", "iteration_threshold": "100,000"}
    by_setting: dict[str, dict[tuple[str, str], list[str]]] = {}
    for arm in arms:
        settings = arm["settings"]
        if not settings:
            continue
        params = settings.get("objective_params") or {}
        actual = {**settings, "iteration_threshold": params.get("iteration_threshold")}
        own_batches = paper_batches(arm.get("arm", ""))
        for name, paper in PAPER_SETTINGS.items():
            text = paper_text[name]
            if name == "num_batches" and own_batches != PAPER_BATCHES:
                paper = own_batches
                text = (f"{own_batches:,}, disentanglement_lib's {PAPER_BATCHES:,} global "
                        f"steps at {PAPER_BATCHES // own_batches} per batch")
            value = actual.get(name)
            if name in ("annealing_batches", "iteration_threshold") and not value:
                continue  # the arm has no such schedule
            if name == "jacobian_batch" and settings.get("gamma", 0) == 0:
                continue  # no penalty, no sub-batch
            if value != paper:
                by_setting.setdefault(name, {}).setdefault(
                    (f"{value:g}" if isinstance(value, float) else str(value), text),
                    []).append(arm["label"])
    what = {"num_batches": "batches", "lr": "learning rate", "dataset": "training images",
            "jacobian_batch": "Jacobian penalty sub-batch",
            "annealing_batches": "β/γ ramp (batches)",
            "iteration_threshold": "AnnealedVAE capacity ramp (batches)"}
    for name, values in by_setting.items():
        for (value, text), labels in values.items():
            lines.append(f"{what[name]}: {value} (paper: {text}) for {', '.join(labels)}")
    if seeds:
        lines.append(f"training seeds: {', '.join(map(str, seeds))} (paper: 11-20 for "
                     "JL1-VAE and β-VAE, 0-9 for the baselines)")
    return lines


def build_seven_arm_summary(runs: Sequence[RunRecord], notes: Sequence[str], *,
                            evaluation_seeds: Mapping[str, Sequence[int]], command: str,
                            machine: Mapping[str, Any], figures: Sequence[str] = (),
                            generated_at: str = "",
                            reference_bce: Mapping[str, Mapping[str, float]] | None = None
                            ) -> dict[str, Any]:
    """The JSON-ready summary (nan becomes null) of the members ``runs``.

    ``reference_bce``: dataset -> the BCE per image of the mean image and of a perfect
    reconstruction on the evaluation images
    (:func:`~jlonevae_lib.reports.seven_arms_records.measure_reconstructions`); a finished run
    whose held-out BCE removes almost none of the gap between them is marked collapsed."""
    runs = mark_missing_values(add_evaluation_seed_means(runs))
    reference_bce = {name: dict(values) for name, values in (reference_bce or {}).items()}
    collapsed = {id(run): is_collapsed(run.values[HELDOUT_BCE],
                                       reference_bce[dataset]["mean_image"],
                                       reference_bce[dataset]["perfect"])
                 for run in runs
                 if run.status == FINISHED and HELDOUT_BCE in run.values
                 and (dataset := run.config.get("dataset")) in reference_bce}
    keys = value_keys(runs)
    ttests, ttest_notes = ttests_against(runs)
    arm_entries = []
    for arm in arm_order(runs):
        members = [run for run in runs if run.arm == arm]
        finished = [run for run in members if run.status == FINISHED]
        configs = [run.config for run in members if run.config]
        minutes = [run.values[TRAIN_MINUTES] for run in finished if TRAIN_MINUTES in run.values]
        arm_entries.append({
            "arm": arm, "label": ARM_LABELS.get(arm, arm), "paper_name": PAPER_NAMES.get(arm),
            "paper_local_mig_0_1": PAPER_LOCAL_MIG_0_1.get(arm),
            "runs": len(members), "finished": len(finished),
            "seeds": sorted(run.seed for run in members if run.seed is not None),
            "settings": ({k: v for k, v in configs[0].items()
                          if k not in ("output_dir", "run_id", "seed", "model_num")}
                         if configs else {}),
            "statistics": {key: mean_sd([run.values[key] for run in finished
                                         if key in run.values]) for key in keys},
            "train_minutes_total": math.fsum(minutes),
            "train_minutes_per_run": median_range(minutes),
            "evaluation_minutes_per_run": median_range(
                [run.evaluation_seconds / SECONDS_PER_MINUTE for run in finished
                 if run.evaluation_seconds]),
            "collapsed": sum(bool(collapsed.get(id(run))) for run in finished),
        })
    mig_key = metric_name(LOCAL_MIG, 0.1)
    single = {a["arm"]: a["statistics"].get(mig_key, {}).get("mean") for a in arm_entries}
    multi = {a["arm"]: a["statistics"].get(seed_mean_key(mig_key), {}).get("mean")
             for a in arm_entries}
    seeds = sorted({run.seed for run in runs if run.seed is not None})
    finished = [run for run in runs if run.status == FINISHED]
    orderings = {"single_seed": paper_ordering(single),
                 "evaluation_seed_mean": paper_ordering(multi)}
    statistics = {arm["arm"]: arm["statistics"] for arm in arm_entries}
    reversed_pairs = [
        {"ordering": name, "pair": f"{PAPER_NAMES[low]} above {PAPER_NAMES[high]}",
         **difference_resolution(statistics[low][key], statistics[high][key],
                                 RESOLVED_STANDARD_ERRORS)}
        for name, key in (("single_seed", mig_key),
                          ("evaluation_seed_mean", seed_mean_key(mig_key)))
        for low, high in orderings[name]["reversed_arms"]]
    run_notes = [f"{run.label} {run.run_id}: {run.status}"
                 + (f" ({run.detail})" if run.detail else "")
                 for run in runs if run.status != FINISHED or run.detail]
    return finite({
        "generated_at": generated_at,
        "command": command,
        "value_keys": keys,
        "localities": {score: localities_of(keys, score) for score in LOCAL_SCORES},
        "evaluation_seeds": {k: list(v) for k, v in evaluation_seeds.items()},
        "arms": arm_entries,
        "runs": [{"arm": run.arm, "label": run.label, "run_id": run.run_id, "seed": run.seed,
                  "status": run.status, "detail": run.detail, "values": dict(run.values),
                  "evaluation_seconds": run.evaluation_seconds, "trained_on": run.trained_on,
                  "collapsed": collapsed.get(id(run))}
                 for run in runs],
        "ttests": ttests,
        "tests": TESTS,
        "architecture": architecture_tests(runs),
        "scale": scale_of(arm_entries),
        "reconstruction": reconstruction_of(arm_entries),
        "paper_ordering": orderings,
        "noise": {"key": mig_key,
                  "evaluation_seed": evaluation_seed_spread(finished, mig_key),
                  "training_seed_sd": pooled_training_seed_sd(arm_entries, mig_key),
                  "training_seed_sd_evaluation_seed_mean": pooled_training_seed_sd(
                      arm_entries, seed_mean_key(mig_key)),
                  "resolved_standard_errors": RESOLVED_STANDARD_ERRORS,
                  "reversed_pairs": reversed_pairs},
        "collapse": {"reference_bce": reference_bce, "fraction": COLLAPSE_FRACTION,
                     "evaluation_images": EVALUATION_IMAGES,
                     "evaluation_images_seed": EVALUATION_IMAGES_SEED},
        "deviations": deviations(arm_entries, seeds),
        "time": compute_time(runs),
        "machine": dict(machine),
        "figures": list(figures),
        "notes": [*run_notes, *notes, *ttest_notes],
    })


def refresh_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A written summary (summary.json) with every comparison recomputed from its per-run
    values: the t-tests with their confidence intervals, Hedges' g and Holm-adjusted p, the
    architecture tests, the scale, the reconstruction and the training-seed spreads; and the
    deviations from the arms' stored settings. Every other entry is kept as it is, so
    rendering needs no run folder."""
    runs = records_from_summary(summary)
    arms = summary["arms"]
    ttests, _ = ttests_against(runs)
    key = summary["noise"]["key"]
    seeds = sorted({run.seed for run in runs if run.seed is not None})
    return finite({
        **summary, "deviations": deviations(arms, seeds),
        "ttests": ttests, "tests": TESTS, "architecture": architecture_tests(runs),
        "scale": scale_of(arms), "reconstruction": reconstruction_of(arms),
        "noise": {**summary["noise"], "training_seed_sd_evaluation_seed_mean":
                  pooled_training_seed_sd(arms, seed_mean_key(key))}})
