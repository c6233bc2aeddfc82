"""The report of the seven-arm study (``cpu_seven_arms``): what summary.json holds.

Its command line is ``python -m jlonevae_lib.cli.seven_arms_summary`` (also run as ``python -m
jlonevae_lib.sweep.seven_arms_summary``)::

    python -m jlonevae_lib.cli.seven_arms_summary --output-dir results/cpu_seven_arms \\
        --run jl1_vae=RUN_DIR --run factor_vae=RUN_DIR ... [--evaluation-seeds 0 1 2] \\
        [--command "..."]
    python -m jlonevae_lib.cli.seven_arms_summary --from-summary \\
        results/cpu_seven_arms/summary.json --output-dir results/cpu_seven_arms

Each ``--run ARM=RUN_DIR`` is one member: the study's summary step passes every member's run
folder, so exactly the study's runs are read (a folder that does not exist yet is a run not
started; :func:`collect_member_runs`, on :mod:`jlonevae_lib.reports.records`). Each finished
run's reconstruction BCE on fixed images is measured by
:mod:`jlonevae_lib.evaluate.reconstruction` (:func:`measure_reconstructions`).
``--from-summary`` needs no run folder: it recomputes every comparison from the per-run values
a written summary.json stores (:func:`refresh_summary`). The summary holds

- one row per run and the mean ± s.d. (ddof 1) of each value per arm;
- the multi-seed local MIG and local modularity at 0.1 beside the single-seed values;
- Welch t-tests of JL1-VAE against each other arm: local MIG and local modularity at every
  locality, the global MIG and modularity, and the multi-seed means (exploratory: the extra
  evaluation seeds were added while the study ran); each with the difference of the means, its
  95% Welch confidence interval, Hedges' g and the Holm-adjusted p over the other arms (one
  family per value and protocol); only a Holm-adjusted p ≤ :data:`ALPHA` is called
  significant (:mod:`jlonevae_lib.evaluate.statistics`);
- disentanglement_lib's β-VAE against our ConvVAE β-VAE (the architecture's effect);
- the measured ordering of the methods by mean local MIG at 0.1 against the paper's;
- the settings and how they differ from the paper's, read from the runs' configs (each arm's
  share of the paper's training: FactorVAE's 300,000 steps were 150,000 batches);
- wall time (training minutes per run, totals), machine, command, figures and notes.

The statistics are pure functions of :class:`~jlonevae_lib.reports.records.RunRecord` lists
(:func:`ttests_against`, :func:`paper_ordering`, :func:`deviations`,
:func:`build_seven_arm_summary`). The prose and the files are
:mod:`jlonevae_lib.reports.seven_arms_text`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from jlonevae_lib.data.ground_truth import get_named_ground_truth_data
from jlonevae_lib.evaluate.reconstruction import (
    COLLAPSE_FRACTION,
    evaluation_images,
    final_model,
    is_collapsed,
    mean_image_bce,
    perfect_reconstruction_bce,
    reconstruction_bce,
)
from jlonevae_lib.evaluate.statistics import (
    effect_size,
    holm_adjust,
    mean_sd,
    median_range,
    ttest_row,
)
from jlonevae_lib.reports.records import (
    FINISHED,
    HELDOUT_BCE,
    NOT_STARTED,
    SECONDS_PER_MINUTE,
    SEED_MEAN_SUFFIX,
    TRAIN_MINUTES,
    RunRecord,
    add_evaluation_seed_means,
    localities_of,
    mark_missing_values,
    number,
    read_json_object,
    run_scores,
    seed_mean_key,
    seed_of,
    training_state,
    value_keys,
)
from jlonevae_lib.reports.text import finite
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.metric_table import (
    GLOBAL_SCORES,
    LOCAL_MIG,
    LOCAL_SCORES,
    metric_name,
    parse_evaluation_seed_name,
    parse_metric_name,
)
from jlonevae_lib.runs.results import RunInfo
from jlonevae_lib.sweep.seven_arms import (
    ARM_LABELS,
    ARMS,
    BETA_ARM,
    JL1_ARM,
    JL1_GAMMA,
    PAPER_ANNEALING_BATCHES,
    PAPER_BATCHES,
    PAPER_LOCAL_MIG_0_1,
    PAPER_NAMES,
    paper_batches,
)
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError

#: The paper's settings the deviations are measured against (docs/method.md).
PAPER_SETTINGS = {"num_batches": PAPER_BATCHES, "lr": 1e-4, "dataset": "threeDotsCache",
                  "jacobian_batch": None, "annealing_batches": PAPER_ANNEALING_BATCHES,
                  "iteration_threshold": PAPER_ANNEALING_BATCHES}
#: The paper's training seeds: ours 11-20, the baselines 0-9.
PAPER_SEEDS = {"ours": tuple(range(11, 21)), "baselines": tuple(range(10))}
#: The fixed images every run's reconstruction is scored on, and the seed that draws them.
EVALUATION_IMAGES = 2_000
EVALUATION_IMAGES_SEED = 0
#: A difference between two arms' means is resolved when it exceeds this many standard errors.
RESOLVED_STANDARD_ERRORS = 2.0
#: The level a test's Holm-adjusted p must reach to be called significant.
ALPHA = 0.05
#: The confidence of the intervals of the differences.
CONFIDENCE = 0.95
#: The paper's comparator: the β-VAE of its seven-method figure, disentanglement_lib's.
PAPER_COMPARATOR = "beta_vae"
#: How the t-tests are read (summary.json's ``tests``).
TESTS = {"alpha": ALPHA, "confidence": CONFIDENCE,
         "holm_family": "the reference arm's tests against each other arm on one value (one "
                        "score, locality and protocol)",
         "exploratory": "the tests on the mean of evaluation seeds: the extra evaluation seeds "
                        "were added while the study ran"}


# ------------------------------------------------------------------------------ reading



def collect_member_runs(members: Sequence[tuple[str, Path]]
                        ) -> tuple[list[RunRecord], list[str], dict[str, list[int]]]:
    """The study's members (arm, run folder) as records, notes on anything missing or
    unreadable, and the evaluation seeds of each local score that has repeats
    (``{"local_mig_0_1": [0, 1, 2]}``: the seeds its own files name plus the repeats')."""
    notes: list[str] = []
    runs = []
    seeds_of: dict[str, set[int]] = {}
    for arm, run_dir in members:
        run_dir = Path(run_dir)
        label = ARM_LABELS.get(arm, arm)
        gamma = JL1_GAMMA if arm == JL1_ARM else 0.0
        common = {"arm": arm, "label": label, "method": arm, "gamma": gamma, "settings": "",
                  "run_id": run_dir.name}
        if not run_dir.is_dir():
            runs.append(RunRecord(**common, seed=seed_of(run_dir, {}), status=NOT_STARTED))
            continue
        config = {}
        if layout.config_path(run_dir).is_file():
            config = read_json_object(layout.config_path(run_dir), notes) or {}
        status, detail, trained, trained_on = training_state(run_dir, notes)
        info = RunInfo(run_dir=run_dir, group=arm, method=arm, label=label,
                       run_id=run_dir.name)
        scores, seconds, own_seeds = run_scores(run_dir, info, notes)
        for key, seeds in own_seeds.items():
            seeds_of.setdefault(key, set()).update(seeds)
        runs.append(RunRecord(**common, seed=seed_of(run_dir, config), status=status,
                              values={**scores, **trained}, evaluation_seconds=seconds,
                              detail=detail, config=config, trained_on=trained_on))
    for run in runs:
        for key in run.values:
            parsed = parse_evaluation_seed_name(key)
            if parsed is not None:
                seeds_of.setdefault(parsed[0], set()).add(parsed[1])
    repeated = {parsed[0] for run in runs for key in run.values
                if (parsed := parse_evaluation_seed_name(key)) is not None}
    return runs, notes, {key: sorted(seeds_of[key]) for key in sorted(repeated)}

def measure_reconstructions(members: Sequence[tuple[str, Path]], runs: Sequence[RunRecord],
                            num_images: int = EVALUATION_IMAGES,
                            seed: int = EVALUATION_IMAGES_SEED
                            ) -> tuple[list[RunRecord], dict[str, dict[str, float]], list[str]]:
    """Each finished run's reconstruction BCE per image (:data:`HELDOUT_BCE`) on the same
    ``num_images`` images of its dataset drawn with ``seed``
    (:func:`~jlonevae_lib.evaluate.reconstruction.evaluation_images`), and each dataset's
    reference points on them: ``mean_image``, what a model that reconstructs nothing scores,
    and ``perfect``, what an exact reconstruction scores.

    ``runs``: :func:`collect_member_runs`' records of ``members``, in the same order. Returns
    (the runs with the values added, {dataset: {"mean_image", "perfect"}}, notes)."""
    images_of: dict[str, np.ndarray] = {}
    reference: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    measured = []
    for (_, run_dir), run in zip(members, runs, strict=True):
        dataset = run.config.get("dataset")
        if run.status != FINISHED or not isinstance(dataset, str):
            measured.append(run)
            continue
        if dataset not in images_of:
            images = evaluation_images(get_named_ground_truth_data(dataset), num_images, seed)
            images_of[dataset] = images
            reference[dataset] = {
                "mean_image": mean_image_bce(images.mean(axis=0, dtype=np.float64)),
                "perfect": perfect_reconstruction_bce(images)}
        try:
            model = final_model(Path(run_dir))
        except JLoneVAEError as err:  # a note, never fatal: the summary reports what it has
            notes.append(f"{run.label} {run.run_id}: no held-out reconstruction ({err})")
            measured.append(run)
            continue
        bce = reconstruction_bce(model, images_of[dataset])
        measured.append(replace(run, values={**run.values, HELDOUT_BCE: bce}))
    return measured, reference, notes


def arm_order(runs: Sequence[RunRecord]) -> list[str]:
    """The arms present, in the study's order (unknown ones last, by name)."""
    present = {run.arm for run in runs}
    return [arm for arm in ARMS if arm in present] + sorted(present - set(ARMS))


def comparison_keys(keys: Sequence[str]) -> list[str]:
    """The keys the t-tests compare, of ``keys``: each local score at every locality, the
    global scores, then the means over evaluation seeds."""
    chosen = [metric_name(score, x) for score in LOCAL_SCORES for x in localities_of(keys, score)]
    chosen += [metric_name(score, None) for score in GLOBAL_SCORES]
    chosen += [seed_mean_key(metric_name(score, x)) for score in LOCAL_SCORES
               for x in localities_of(keys, score)]
    return [key for key in chosen if key in keys]


def _score_of(key: str) -> tuple[str, float | None]:
    base = key.removesuffix(SEED_MEAN_SUFFIX)
    parsed = parse_metric_name(base)
    if parsed is None:
        raise ValueError(f"{key} is not a score key")
    return parsed


def comparison_row(finished: Sequence[RunRecord], key: str, arm_a: str, arm_b: str
                   ) -> dict[str, Any] | None:
    """Arm ``arm_a`` (a) against ``arm_b`` (b) on ``key``, one value per finished run: the row
    of :func:`jlonevae_lib.evaluate.statistics.ttest_row` plus ``key``, ``arm_b``, the
    difference of the means with its Welch confidence interval and Hedges' g
    (:func:`~jlonevae_lib.evaluate.statistics.effect_size`, at :data:`CONFIDENCE`) and
    ``exploratory`` (a test on the mean of evaluation seeds, added while the study ran);
    None when an arm has no values."""
    a = [r.values[key] for r in finished if r.arm == arm_a and key in r.values]
    b = [r.values[key] for r in finished if r.arm == arm_b and key in r.values]
    if not a or not b:
        return None
    score, locality = _score_of(key)
    return {"key": key, "arm_b": arm_b,
            **ttest_row(score, locality, ARM_LABELS.get(arm_a, arm_a), a,
                        ARM_LABELS.get(arm_b, arm_b), b),
            **effect_size(a, b, CONFIDENCE),
            "exploratory": key.endswith(SEED_MEAN_SUFFIX)}


def add_holm(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows with ``p_holm``, the Holm-adjusted p over the family of the rows that test the
    same ``key`` (one value, one protocol: the reference against each other arm), and
    ``holm_family``, the number of tests in that family with a p-value."""
    out = [dict(row) for row in rows]
    for key in dict.fromkeys(row["key"] for row in out):
        family = [row for row in out if row["key"] == key]
        adjusted = holm_adjust([math.nan if row["p"] is None else row["p"] for row in family])
        size = sum(not math.isnan(p) for p in adjusted)
        for row, p in zip(family, adjusted, strict=True):
            row["p_holm"], row["holm_family"] = p, size
    return out


def ttests_against(runs: Sequence[RunRecord], reference: str = JL1_ARM
                   ) -> tuple[list[dict[str, Any]], list[str]]:
    """Welch t-tests of the ``reference`` arm (a) against each other arm (b) on every key of
    :func:`comparison_keys`, finished runs only. Rows of :func:`comparison_row`, with the
    Holm-adjusted p over the other arms per key (:func:`add_holm`); (rows, notes)."""
    notes: list[str] = []
    finished = [run for run in runs if run.status == FINISHED]
    if not any(run.arm == reference for run in finished):
        return [], [f"no finished {ARM_LABELS.get(reference, reference)} run: no t-tests"]
    keys = comparison_keys(value_keys(finished))
    label_a = ARM_LABELS.get(reference, reference)
    rows = []
    for arm in arm_order(finished):
        if arm == reference:
            continue
        label_b = ARM_LABELS.get(arm, arm)
        for key in keys:
            row = comparison_row(finished, key, reference, arm)
            if row is None:
                has_a = any(r.arm == reference and key in r.values for r in finished)
                notes.append(f"no t-test of {key} for {label_b}: "
                             f"{label_b if has_a else label_a} has no values")
                continue
            rows.append(row)
    return add_holm(rows), notes


def architecture_tests(runs: Sequence[RunRecord]) -> list[dict[str, Any]]:
    """disentanglement_lib's β-VAE (``dlibConv``) against our ConvVAE β-VAE (γ = 0) on local
    MIG at 0.1, evaluation seed 0 and the mean of evaluation seeds: the same loss on two
    architectures, so the difference is the architecture's (and the ramp's). Rows of
    :func:`comparison_row` (single tests, no correction); empty when an arm is missing."""
    finished = [run for run in runs if run.status == FINISHED]
    key = metric_name(LOCAL_MIG, 0.1)
    rows = [comparison_row(finished, name, PAPER_COMPARATOR, BETA_ARM)
            for name in (key, seed_mean_key(key))]
    return [row for row in rows if row is not None]


def difference_resolution(low: Mapping[str, float], high: Mapping[str, float],
                          standard_errors: float = RESOLVED_STANDARD_ERRORS) -> dict[str, Any]:
    """How well two arms' means are told apart: ``low`` and ``high`` are ``{"n", "mean",
    "sd"}`` (:func:`~.study_summary.mean_sd`); the difference low − high, its standard error
    sqrt(sd_low²/n_low + sd_high²/n_high) and whether |difference| > ``standard_errors`` of
    them (None when a standard error cannot be formed: an arm with fewer than two runs)."""
    difference = low["mean"] - high["mean"]
    variance = sum(stat["sd"] ** 2 / stat["n"] for stat in (low, high)
                   if stat["n"] > 1 and math.isfinite(stat["sd"]))
    complete = all(stat["n"] > 1 and math.isfinite(stat["sd"]) for stat in (low, high))
    standard_error = math.sqrt(variance) if complete else math.nan
    return {"difference": difference, "standard_error": standard_error,
            "resolved": (abs(difference) > standard_errors * standard_error) if complete
            else None}


def evaluation_seed_spread(runs: Sequence[RunRecord], key: str) -> dict[str, float | int]:
    """How much one evaluation seed moves a model's ``key`` (a local score): per finished run
    with values at two or more evaluation seeds (``key`` and ``key``'s repeats), the s.d.
    (ddof 1) across them; returns their root mean square ``sd`` and the number of ``models``
    (nan and 0 when none)."""
    spreads = []
    for run in runs:
        if run.status != FINISHED:
            continue
        values = [value for name, value in run.values.items()
                  if name == key or (parse_evaluation_seed_name(name) or ("",))[0] == key]
        if len(values) > 1:
            spreads.append(mean_sd(values)["sd"])
    rms = math.sqrt(math.fsum(sd ** 2 for sd in spreads) / len(spreads)) if spreads else math.nan
    return {"sd": rms, "models": len(spreads)}


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


def pooled_training_seed_sd(arms: Sequence[Mapping[str, Any]], key: str) -> float:
    """The s.d. of ``key`` between the models of one arm (trained with different seeds),
    pooled over the arms (sqrt of Σ (n−1)·sd² / Σ (n−1)); nan when no arm has two values.
    Each model's value carries its evaluation seed's noise too, so this is training-seed and
    evaluation-seed spread together (less of the latter on a mean over evaluation seeds)."""
    stats = [arm["statistics"].get(key) or {} for arm in arms]
    stats = [stat for stat in stats if stat.get("n", 0) > 1
             and (sd := number(stat.get("sd"))) is not None and math.isfinite(sd)]
    degrees = sum(stat["n"] - 1 for stat in stats)
    if not degrees:
        return math.nan
    return math.sqrt(math.fsum((stat["n"] - 1) * stat["sd"] ** 2 for stat in stats) / degrees)


def paper_ordering(means: Mapping[str, float]) -> dict[str, Any]:
    """The arms' measured order by mean local MIG at 0.1 against the paper's.

    ``means``: arm -> measured mean; arms without a paper value (our ConvVAE β-VAE) or without
    a finite mean are left out. Returns the paper's and the measured order (paper names), the
    values, whether the orders match, how many of the pairs agree, and each pair that does
    not ("DIP-VAE-I above JL1-VAE"; as arms in ``reversed_arms``: [lower in the paper, higher]).
    """
    arms = [arm for arm in PAPER_LOCAL_MIG_0_1
            if arm in means and means[arm] is not None and math.isfinite(means[arm])]
    paper = sorted(arms, key=lambda arm: -PAPER_LOCAL_MIG_0_1[arm])
    measured = sorted(arms, key=lambda arm: -means[arm])
    flipped_arms = [(low, high) for i, high in enumerate(paper) for low in paper[i + 1:]
                    if means[low] > means[high]]
    flipped = [f"{PAPER_NAMES[low]} above {PAPER_NAMES[high]}" for low, high in flipped_arms]
    pairs = len(arms) * (len(arms) - 1) // 2
    return {"paper_order": [PAPER_NAMES[arm] for arm in paper],
            "measured_order": [PAPER_NAMES[arm] for arm in measured],
            "paper_values": {PAPER_NAMES[arm]: PAPER_LOCAL_MIG_0_1[arm] for arm in paper},
            "measured_values": {PAPER_NAMES[arm]: means[arm] for arm in measured},
            "methods": len(arms), "matches": len(arms) > 1 and paper == measured,
            "pairs": pairs, "pairs_in_paper_order": pairs - len(flipped),
            "pairs_reversed": flipped,
            "reversed_arms": [list(pair) for pair in flipped_arms],
            "first": PAPER_NAMES[measured[0]] if measured else None}


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
    reconstruction on the evaluation images (:func:`measure_reconstructions`); a finished run
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
         **difference_resolution(statistics[low][key], statistics[high][key])}
        for name, key in (("single_seed", mig_key),
                          ("evaluation_seed_mean", seed_mean_key(mig_key)))
        for low, high in orderings[name]["reversed_arms"]]
    train_seconds = math.fsum(run.values.get(TRAIN_MINUTES, 0.0)
                              for run in finished) * SECONDS_PER_MINUTE
    evaluation_seconds = math.fsum(run.evaluation_seconds for run in runs)
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
        "time": {"training_seconds": train_seconds, "evaluation_seconds": evaluation_seconds,
                 "total_seconds": train_seconds + evaluation_seconds},
        "machine": dict(machine),
        "figures": list(figures),
        "notes": [*run_notes, *notes, *ttest_notes],
    })


def records_from_summary(summary: Mapping[str, Any]) -> list[RunRecord]:
    """The runs of a written summary (summary.json's ``runs``) as records: arm, label, seed,
    status and per-run values (nulls left out), enough for every statistic of the summary."""
    settings = {arm["arm"]: arm.get("settings") or {} for arm in summary["arms"]}
    return [RunRecord(arm=run["arm"], label=run["label"], method=run["arm"],
                      gamma=JL1_GAMMA if run["arm"] == JL1_ARM else 0.0, settings="",
                      run_id=run["run_id"], seed=run["seed"], status=run["status"],
                      values={k: v for k, v in run["values"].items() if v is not None},
                      evaluation_seconds=run.get("evaluation_seconds") or 0.0,
                      detail=run.get("detail") or "", config=settings.get(run["arm"], {}),
                      trained_on=run.get("trained_on") or "")
            for run in summary["runs"]]


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


def load_summary(path: str | Path) -> dict[str, Any]:
    """summary.json as written by :func:`write_seven_arm_summary`."""
    try:
        summary = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataFileError(f"cannot read {path}: {err}") from None
    missing = [name for name in ("arms", "runs", "noise", "paper_ordering")
               if name not in summary]
    if missing:
        raise DataFileError(f"{path} is not a seven-arm summary: no {', '.join(missing)}")
    return summary



