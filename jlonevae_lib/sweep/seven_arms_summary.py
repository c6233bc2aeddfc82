"""The summary of the seven-arm study (``cpu_seven_arms``): summary.md, summary.json, README.md.

Usage::

    python -m jlonevae_lib.sweep.seven_arms_summary --output-dir results/cpu_seven_arms \\
        --run jl1_vae=RUN_DIR --run factor_vae=RUN_DIR ... [--evaluation-seeds 0 1 2] \\
        [--command "..."]
    python -m jlonevae_lib.cli.seven_arms_summary --from-summary \\
        results/cpu_seven_arms/summary.json --output-dir results/cpu_seven_arms

Each ``--run ARM=RUN_DIR`` is one member: the study's summary step passes every member's run
folder, so exactly the study's runs are read (a folder that does not exist yet is a run not
started). Per run: ``config.json``, ``DONE`` (training time, the reconstruction BCE per image
``NLL/train`` of the last logged batch, a baseline's ``reconstruction_loss``) or ``FAILED``,
the metrics' results keyed by metric name (``local_mig_0_1``), and the repeats at extra
evaluation seeds (``metrics/<metric>_evalseed<k>/``) keyed ``local_mig_0_1_evalseed<k>``, with
their mean ``local_mig_0_1_evalseeds_mean``. ``--from-summary`` needs no run folder: it
recomputes every comparison from the per-run values a written summary.json stores
(:func:`refresh_summary`) and renders the three files again. The summary holds

- one row per run and the mean ± s.d. (ddof 1) of each value per arm;
- the multi-seed local MIG and local modularity at 0.1 beside the single-seed values;
- Welch t-tests of JL1-VAE against each other arm: local MIG and local modularity at every
  locality, the global MIG and modularity, and the multi-seed means (exploratory: the extra
  evaluation seeds were added while the study ran); each with the difference of the means, its
  95% Welch confidence interval, Hedges' g and the Holm-adjusted p over the other arms (one
  family per value and protocol); only a Holm-adjusted p ≤ :data:`ALPHA` is called
  significant;
- disentanglement_lib's β-VAE against our ConvVAE β-VAE (the architecture's effect);
- what the data say: JL1-VAE against the paper's comparator, what survives the correction,
  the architecture confound and the reconstruction trade-off;
- the measured ordering of the methods by mean local MIG at 0.1 against the paper's;
- the settings and how they differ from the paper's, read from the runs' configs (each arm's
  share of the paper's training: FactorVAE's 300,000 steps were 150,000 batches);
- wall time (training minutes per run, totals), machine, command, figures and notes.

The statistics are pure functions of :class:`~.study_summary.RunRecord` lists
(:func:`ttests_against`, :func:`paper_ordering`, :func:`deviations`,
:func:`build_seven_arm_summary`), the rendering pure functions of the summary's dict, as
written to summary.json (:func:`render_markdown`, :func:`render_readme`);
:func:`collect_member_runs` does the reading. Its command line is
:mod:`jlonevae_lib.cli.seven_arms_summary`.
"""

from __future__ import annotations

if __name__ == "__main__":
    # ``python -m`` runs the command line in jlonevae_lib.cli, which imports this module as
    # usual (one copy of its state).
    from jlonevae_lib.cli.seven_arms_summary import main

    raise SystemExit(main())

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import torch

from jlonevae_lib.architecture.load_model import load_model
from jlonevae_lib.data.ground_truth import get_named_ground_truth_data
from jlonevae_lib.evaluate.reconstruction import (
    COLLAPSE_FRACTION,
    evaluation_images,
    is_collapsed,
    mean_image_bce,
    perfect_reconstruction_bce,
    reconstruction_bce,
)
from jlonevae_lib.evaluate.statistics import effect_size, holm_adjust, ttest_row
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.metric_table import (
    ELAPSED_TIME,
    GLOBAL_SCORES,
    LOCAL_MIG,
    LOCAL_MODULARITY,
    LOCAL_SCORES,
    evaluation_seed_name,
    metric_name,
    parse_evaluation_seed_name,
    parse_metric_name,
)
from jlonevae_lib.runs.results import RunInfo, evaluation_records
from jlonevae_lib.sweep.seven_arms import (
    ARM_LABELS,
    ARMS,
    BETA_ARM,
    FIGURE_CAPTIONS,
    JL1_ARM,
    JL1_GAMMA,
    PAPER_ANNEALING_BATCHES,
    PAPER_BATCHES,
    PAPER_LOCAL_MIG_0_1,
    PAPER_NAMES,
    paper_batches,
)
from jlonevae_lib.sweep.study_summary import (
    FINISHED,
    HELDOUT_BCE,
    NOT_STARTED,
    SEED_MEAN_SUFFIX,
    TRAIN_MINUTES,
    RunRecord,
    _finite,
    _hours,
    _mean_sd_cell,
    _read_json_object,
    _statistic_cell,
    _training_state,
    add_evaluation_seed_means,
    column_title,
    format_value,
    localities_of,
    mark_missing_values,
    mean_sd,
    seed_mean_key,
    value_keys,
)
from jlonevae_lib.train.objectives import objective_class
from jlonevae_lib.train.objectives.dlib_vae import DlibVAE
from jlonevae_lib.utils.atomic import atomic_write_json, atomic_write_text
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError
from jlonevae_lib.utils.tables import format_markdown_table

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
README_MD = "README.md"

#: The paper's settings the deviations are measured against (docs/method.md).
PAPER_SETTINGS = {"num_batches": PAPER_BATCHES, "lr": 1e-4, "dataset": "threeDotsCache",
                  "jacobian_batch": None, "annealing_batches": PAPER_ANNEALING_BATCHES,
                  "iteration_threshold": PAPER_ANNEALING_BATCHES}
#: The paper's training seeds: ours 11-20, the baselines 0-9.
PAPER_SEEDS = {"ours": tuple(range(11, 21)), "baselines": tuple(range(10))}
_SEED_RUN_ID = re.compile(r"^seed(\d+)$")
_SEED_BINDING = "evaluation_config.evaluation.random_seed"
_SECONDS_PER_MINUTE = 60.0
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


def _seed_of(run_dir: Path, config: Mapping[str, Any]) -> int | None:
    seed = config.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        return seed
    match = _SEED_RUN_ID.match(run_dir.name)
    return int(match[1]) if match else None


def _run_scores(run_dir: Path, info: RunInfo, notes: list[str]
                ) -> tuple[dict[str, float], float, dict[str, set[int]]]:
    """(values by key, evaluation seconds, {base key: evaluation seeds of its own file}) of one
    run's results, the repeats at extra seeds included."""
    values: dict[str, float] = {}
    seconds = 0.0
    own_seeds: dict[str, set[int]] = {}
    files = [(path, None) for path in layout.evaluation_files(run_dir)]
    for path in layout.evaluation_seed_repeat_files(run_dir):
        parsed = parse_evaluation_seed_name(layout.metric_of_evaluation(path))
        files.append((path, None if parsed is None else parsed[1]))
    for path, seed in files:
        data = _read_json_object(path, notes)
        if data is None:
            continue
        elapsed = data.get(f"evaluation_results.{ELAPSED_TIME}")
        if isinstance(elapsed, int | float):
            seconds += float(elapsed)
        try:
            records = evaluation_records(data, info, path)
        except Exception as err:  # noqa: BLE001 - a bad file is a note, never fatal
            notes.append(f"skipped: {err}")
            continue
        for record in records:
            key = record.name if seed is None else evaluation_seed_name(record.name, seed)
            if not math.isfinite(record.value):
                notes.append(f"skipped: {path} gives {key} = {record.value}")
            elif key in values:
                notes.append(f"duplicate: {run_dir} has {key} in more than one metrics "
                             "folder; the first is used")
            else:
                values[key] = record.value
                own = data.get(_SEED_BINDING)
                if seed is None and isinstance(own, int | str) and str(own).isdigit():
                    own_seeds.setdefault(key, set()).add(int(own))
    return values, seconds, own_seeds


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
            runs.append(RunRecord(**common, seed=_seed_of(run_dir, {}), status=NOT_STARTED))
            continue
        config = {}
        if layout.config_path(run_dir).is_file():
            config = _read_json_object(layout.config_path(run_dir), notes) or {}
        status, detail, trained, trained_on = _training_state(run_dir, notes)
        info = RunInfo(run_dir=run_dir, group=arm, method=arm, label=label,
                       run_id=run_dir.name)
        scores, seconds, own_seeds = _run_scores(run_dir, info, notes)
        for key, seeds in own_seeds.items():
            seeds_of.setdefault(key, set()).update(seeds)
        runs.append(RunRecord(**common, seed=_seed_of(run_dir, config), status=status,
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


def _final_model(run_dir: Path) -> torch.nn.Module:
    folder = layout.find_saved_model(run_dir)
    if folder is None:
        raise DataFileError(f"no saved model under {run_dir}")
    return load_model(folder)


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
            model = _final_model(Path(run_dir))
        except JLoneVAEError as err:  # a note, never fatal: the summary reports what it has
            notes.append(f"{run.label} {run.run_id}: no held-out reconstruction ({err})")
            measured.append(run)
            continue
        bce = reconstruction_bce(model, images_of[dataset])
        measured.append(replace(run, values={**run.values, HELDOUT_BCE: bce}))
    return measured, reference, notes


# ------------------------------------------------------------------------------ statistics


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
             and math.isfinite(_number(stat.get("sd")))]
    degrees = sum(stat["n"] - 1 for stat in stats)
    if not degrees:
        return math.nan
    return math.sqrt(math.fsum((stat["n"] - 1) * stat["sd"] ** 2 for stat in stats) / degrees)


def median_range(values: Sequence[float]) -> dict[str, float | int]:
    """Median, smallest and largest of ``values`` (any length; NaN when empty) and their
    count. Per-run times are wall clock, so a run whose process was suspended counts the
    pause; the median stays the typical figure where a mean ± s.d. would not."""
    if not values:
        return {"n": 0, "median": math.nan, "min": math.nan, "max": math.nan}
    return {"n": len(values), "median": median(values), "min": min(values),
            "max": max(values)}


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
                [run.evaluation_seconds / _SECONDS_PER_MINUTE for run in finished
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
                              for run in finished) * _SECONDS_PER_MINUTE
    evaluation_seconds = math.fsum(run.evaluation_seconds for run in runs)
    run_notes = [f"{run.label} {run.run_id}: {run.status}"
                 + (f" ({run.detail})" if run.detail else "")
                 for run in runs if run.status != FINISHED or run.detail]
    return _finite({
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
    return _finite({
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


# ------------------------------------------------------------------------------ Markdown


def collapse_counts(summary: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """Paper name -> (collapsed, finished) runs of each arm the paper has."""
    return {arm["paper_name"]: (arm["collapsed"], arm["finished"])
            for arm in summary["arms"] if arm["paper_name"]}


def _median_range_cell(stat: Mapping[str, Any]) -> str:
    if not stat["n"]:
        return "–"
    return f"{stat['median']:.1f} [{stat['min']:.1f}–{stat['max']:.1f}]"


def _cell(key: str, stat: Mapping[str, Any] | None, n_runs: int) -> str:
    return "–" if not stat else _mean_sd_cell(key, stat, n_runs)


def ordering_sentences(ordering: Mapping[str, Any], what: str,
                       collapsed: Mapping[str, tuple[int, int]] | None = None) -> list[str]:
    """Plain sentences on one measured ordering against the paper's; ``collapsed``: paper
    name -> (collapsed, finished) runs, marked beside the arm's value when any collapsed.
    The orders come from ``measured_order`` and ``paper_order`` (summary.json sorts the keys
    of the value dicts)."""
    if ordering["methods"] < 2:
        return [f"- {what}: fewer than two of the paper's methods have values; no ordering."]
    counts = collapsed or {}
    values = ordering["measured_values"]
    measured = " > ".join(
        f"{name} {values[name]:.3f}" + (f" ({counts[name][0]} of {counts[name][1]} runs "
                                        "collapsed)" if counts.get(name, (0, 0))[0] else "")
        for name in ordering["measured_order"])
    paper = " > ".join(f"{name} {ordering['paper_values'][name]:.3f}"
                       for name in ordering["paper_order"])
    verdict = ("matches the paper's ordering" if ordering["matches"] else
               f"does not match the paper's ordering: {ordering['pairs_in_paper_order']} of "
               f"{ordering['pairs']} pairs are in the paper's order; reversed: "
               f"{'; '.join(ordering['pairs_reversed'])}")
    return [f"- {what}: {measured}", f"  - paper (300,000 batches): {paper}",
            f"  - the measured ordering {verdict}. First: {ordering['first']}."]


def _span(values: Sequence[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.1f}" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}–{high:.1f}"


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


_NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
#: The machine's entries in the order machine_info writes them (summary.json sorts keys).
_MACHINE_ORDER = ("platform", "nproc", "cpu", "python", "torch", "trained with")


def _p_cell(value: Any) -> str:
    return "–" if value is None else f"{value:.2g}"


def _ci_text(row: Mapping[str, Any], digits: int = 4) -> str:
    if row.get("ci_low") is None or row.get("ci_high") is None:
        return "no interval"
    return f"{row['ci_low']:+.{digits}f} to {row['ci_high']:+.{digits}f}"


def _alpha(summary: Mapping[str, Any]) -> float:
    return _number((summary.get("tests") or {}).get("alpha", ALPHA))


def is_significant(row: Mapping[str, Any], alpha: float = ALPHA) -> bool:
    """Whether a t-test row is significant after Holm's correction (``p_holm`` ≤ ``alpha``);
    a raw p below ``alpha`` alone never is."""
    return row.get("p_holm") is not None and row["p_holm"] <= alpha


def _uses_beta(objective: Any) -> bool:
    """Whether the objective named ``objective`` has a β (unknown names: shown as they are)."""
    try:
        return bool(getattr(objective_class(str(objective)), "uses_beta", True))
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


def _rows_of(summary: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    return [row for row in summary["ttests"] if row["key"] == key and row["p"] is not None]


def _collapsed_note(summary: Mapping[str, Any], arm: str) -> str:
    entry = next((a for a in summary["arms"] if a["arm"] == arm), None)
    if not entry or not entry["collapsed"]:
        return ""
    return f"; {entry['collapsed']} of its {entry['finished']} runs collapsed"


def comparator_sentence(summary: Mapping[str, Any]) -> str | None:
    """JL1-VAE against the paper's comparator, disentanglement_lib's β-VAE: local MIG at 0.1
    with the difference, its interval, Hedges' g, raw and Holm-adjusted p, on both protocols,
    and every locality where that β-VAE is ahead. None without that test."""
    mig = metric_name(LOCAL_MIG, 0.1)
    rows = {(row["arm_b"], row["key"]): row for row in summary["ttests"]}
    row = rows.get((PAPER_COMPARATOR, mig))
    if row is None or row["p"] is None:
        return None
    alpha = _alpha(summary)
    ahead = row["difference"] > 0
    verdict = ("JL1-VAE is ahead, significantly after Holm's correction"
               if ahead and is_significant(row, alpha) else
               "JL1-VAE's lead is small and not significant" if ahead else
               "JL1-VAE is not ahead")
    paper_a, paper_b = PAPER_LOCAL_MIG_0_1[JL1_ARM], PAPER_LOCAL_MIG_0_1[PAPER_COMPARATOR]
    text = (f"- **Against the paper's comparator, disentanglement_lib's β-VAE, {verdict}.** "
            f"Local MIG at 0.1, evaluation seed 0: {row['mean_a']:.3f} vs {row['mean_b']:.3f}"
            + (f" ({row['mean_a'] / row['mean_b']:.2f}×" if row["mean_b"] > 0 else " (")
            + f"; the paper's: {paper_a:.3f} vs {paper_b:.3f}, {paper_a / paper_b:.1f}×); "
            f"difference {row['difference']:+.4f} "
            f"(95% CI {_ci_text(row)}), Hedges' g {_number(row['hedges_g']):.2f}, Welch "
            f"p = {_p_cell(row['p'])}, Holm-adjusted {_p_cell(row['p_holm'])}.")
    mean_row = rows.get((PAPER_COMPARATOR, seed_mean_key(mig)))
    if mean_row is not None and mean_row["p"] is not None:
        text += (f" On the mean of evaluation seeds (exploratory): {mean_row['mean_a']:.3f} vs "
                 f"{mean_row['mean_b']:.3f}, p = {_p_cell(mean_row['p'])}, Holm-adjusted "
                 f"{_p_cell(mean_row['p_holm'])}.")
    behind = []
    for other in summary["ttests"]:
        parsed = None if other["exploratory"] else parse_metric_name(other["key"])
        if (other["arm_b"] == PAPER_COMPARATOR and other["key"] != mig and parsed is not None
                and parsed[0] == LOCAL_MIG and other["mean_b"] > other["mean_a"]):
            behind.append(other)
    if behind:
        text += (f" At localit{'y' if len(behind) == 1 else 'ies'} "
                 + _and([f"{other['locality']:g}" for other in behind])
                 + " that β-VAE is ahead: " + "; ".join(
                     f"{other['mean_b']:.4f} vs JL1-VAE's {other['mean_a']:.4f} at "
                     f"{other['locality']:g} (p = {_p_cell(other['p'])})" for other in behind))
        text += "."
        if not any(is_significant(other, alpha) for other in behind):
            text += (" None of these differences is significant." if len(behind) > 1
                     else " The difference is not significant.")
    return text


def correction_sentences(summary: Mapping[str, Any]) -> list[str]:
    """Which of JL1-VAE's tests against the other arms on local MIG at 0.1 are significant
    after Holm's correction over the arms, per protocol, and which only before it."""
    alpha, out = _alpha(summary), []
    mig = metric_name(LOCAL_MIG, 0.1)
    for key, what in ((mig, "evaluation seed 0"),
                      (seed_mean_key(mig), "mean of evaluation seeds, exploratory")):
        rows = _rows_of(summary, key)
        if not rows:
            continue
        kept = [row for row in rows if is_significant(row, alpha)]
        raw_only = [row for row in rows if row["p"] <= alpha and not is_significant(row, alpha)]
        family = rows[0]["holm_family"]
        text = (f"- **Corrected for the {family} comparisons** (Holm, α = {alpha:g})"
                if family > 1 else f"- **One comparison, nothing to correct** (α = {alpha:g})")
        text += f", local MIG at 0.1, {what}: "
        if kept:
            text += ("only " if len(kept) < len(rows) else "") + _and([
                f"{row['group_b']} (JL1-VAE {'above' if row['difference'] > 0 else 'below'} "
                f"it, Holm-adjusted p = {_p_cell(row['p_holm'])}"
                f"{_collapsed_note(summary, row['arm_b'])})" for row in kept]) + (
                " differs" if len(kept) == 1 else " differ") + " significantly from JL1-VAE"
        else:
            text += "no arm differs significantly from JL1-VAE"
        if raw_only:
            text += (f". Below {alpha:g} before the correction but not after: " + "; ".join(
                f"{row['group_b']} (p = {_p_cell(row['p'])}, Holm-adjusted "
                f"{_p_cell(row['p_holm'])})" for row in raw_only))
        out.append(text + ".")
    if any(row.get("exploratory") for row in summary["ttests"]):
        seeds = summary["evaluation_seeds"].get(mig, [])
        extra = len(seeds) - 1
        out.append(
            "- **The tests on the mean of evaluation seeds are exploratory.** The "
            f"{_NUMBER_WORDS.get(extra, str(extra))} extra evaluation seed"
            f"{'s' if extra != 1 else ''} "
            f"({_NUMBER_WORDS.get(len(seeds), str(len(seeds)))} in all: "
            f"{', '.join(map(str, seeds))}) and the tests on their mean were added while the "
            "study ran. Evaluation seed 0 is the paper's protocol. No correction is made across "
            "metrics, localities or protocols.")
    return out


def architecture_sentence(summary: Mapping[str, Any]) -> str | None:
    """How much the architecture alone moves local MIG at 0.1 (disentanglement_lib's β-VAE
    against our ConvVAE β-VAE) beside JL1-VAE's gain over the ConvVAE β-VAE. None without
    both tests."""
    mig = metric_name(LOCAL_MIG, 0.1)
    architecture = next((row for row in summary.get("architecture") or []
                         if row["key"] == mig and row["p"] is not None), None)
    penalty = next((row for row in _rows_of(summary, mig) if row["arm_b"] == BETA_ARM), None)
    if architecture is None or penalty is None:
        return None
    return (f"- **The architecture alone moves the score.** disentanglement_lib's β-VAE (β = 4 "
            f"on its own architecture, no β ramp) is "
            f"{'above' if architecture['difference'] > 0 else 'below'} our ConvVAE β-VAE "
            f"(γ = 0; β = 4, ramped) by "
            f"{architecture['difference']:+.4f} at local MIG 0.1 (95% CI "
            f"{_ci_text(architecture)}, p = {_p_cell(architecture['p'])}: one exploratory "
            f"test, not corrected), against JL1-VAE's {penalty['difference']:+.4f} over the "
            f"{penalty['group_b']} that shares its architecture (p = {_p_cell(penalty['p'])}, "
            f"Holm-adjusted {_p_cell(penalty['p_holm'])}). This design cannot tell the "
            "penalty's effect from the architecture's; the pre-registered study "
            "`cpu_penalty_study` (docs/studies.md) puts every arm on disentanglement_lib's "
            "architecture to do so.")


def reconstruction_sentence(summary: Mapping[str, Any]) -> str | None:
    """JL1-VAE's held-out reconstruction BCE against the arms with no collapsed run."""
    arms = (summary.get("reconstruction") or {}).get("arms") or []
    jl1 = next((arm for arm in arms if arm["arm"] == JL1_ARM and arm["n"]), None)
    others = [arm for arm in arms if arm["arm"] != JL1_ARM and arm["n"] and not arm["collapsed"]]
    if jl1 is None or not others:
        return None
    means = [arm["mean"] for arm in others]
    place = ("the highest (worst)" if jl1["mean"] > max(means) else
             "the lowest (best)" if jl1["mean"] < min(means) else "within the range")
    twin = next((arm for arm in others if arm["arm"] == BETA_ARM), None)
    left_out = [arm["label"] for arm in arms if arm["collapsed"]]
    def mean_sd(arm: Mapping[str, Any]) -> str:
        sd = _number(arm.get("sd"))
        return f"{arm['mean']:.1f}" + (f" ± {sd:.1f}" if math.isfinite(sd) else "")

    text = (f"- **Reconstruction.** JL1-VAE's held-out reconstruction BCE is {mean_sd(jl1)} per "
            f"image, {place} of the arms with no collapsed run (the others: {_span(means)}"
            + (f"; the {twin['label']} that shares its architecture: {mean_sd(twin)}"
               if twin else "") + ")")
    mig = metric_name(LOCAL_MIG, 0.1)
    twin_test = next((row for row in summary["ttests"]
                      if row["key"] == mig and row["arm_b"] == BETA_ARM), None)
    if (twin and jl1["mean"] > twin["mean"] and twin_test and twin_test["p"] is not None
            and twin_test["difference"] > 0):
        text += (": at this budget its higher local MIG than the β-VAE on the same "
                 "architecture comes with worse reconstructions")
    text += "."
    if left_out:
        one = len(left_out) == 1
        text += (f" {_and(left_out)} {'has' if one else 'have'} collapsed runs and "
                 f"{'is' if one else 'are'} left out (below).")
    return text


def headline_sentences(summary: Mapping[str, Any]) -> list[str]:
    """What the data say, in order of what a reader needs first: the comparison with the
    paper's comparator, what survives Holm's correction, the architecture confound and the
    reconstruction trade-off. Every number from ``summary``; only Holm-surviving differences
    are called significant."""
    return [line for line in (comparator_sentence(summary), *correction_sentences(summary),
                              architecture_sentence(summary), reconstruction_sentence(summary))
            if line]


def comparison_table(summary: Mapping[str, Any], key: str) -> str:
    """JL1-VAE against each arm on ``key``: means, difference with its 95% CI, Hedges' g, raw
    and Holm-adjusted p, and whether it is significant after the correction."""
    alpha = _alpha(summary)
    return format_markdown_table([
        {"arm": row["group_b"], "JL1-VAE": f"{row['mean_a']:.4f}",
         "arm's mean": f"{row['mean_b']:.4f}",
         "difference (95% CI)": f"{row['difference']:+.4f} ({_ci_text(row)})",
         "Hedges' g": _statistic_cell(row.get("hedges_g"), ".2f"),
         "p": _p_cell(row["p"]), "p (Holm)": _p_cell(row.get("p_holm")),
         f"significant (Holm, α = {alpha:g})": "yes" if is_significant(row, alpha) else "no"}
        for row in _rows_of(summary, key)])


def scale_sentence(summary: Mapping[str, Any]) -> str | None:
    """How much of the paper's training each arm had (from summary.json's ``scale``): one
    fraction for the arms whose paper runs were 300,000 batches, one for each arm whose were
    not (FactorVAE: 150,000); None when every arm trained the paper's length or the lengths
    differ."""
    scale = summary.get("scale") or []
    if not scale or len({row["num_batches"] for row in scale}) != 1 or (
            scale[0]["num_batches"] == PAPER_BATCHES):
        return None
    settings = next((arm["settings"] for arm in summary["arms"] if arm["settings"]), {})
    text = (f"- **Scale.** Every arm trained {scale[0]['num_batches']:,} batches, with its "
            "schedules shortened by the same factor")
    if isinstance(settings.get("lr"), float) and settings["lr"] != PAPER_SETTINGS["lr"]:
        text += f" and a learning rate of {settings['lr']:g} (the paper's: 1e-4)"
    common = [row for row in scale if row["paper_batches"] == PAPER_BATCHES]
    others = [row for row in scale if row["paper_batches"] != PAPER_BATCHES]
    if common:
        text += (f". That is {100 * common[0]['fraction']:.1f}% of the paper's "
                 f"{PAPER_BATCHES:,} batches" + (" for every arm but " + _and(
                     [row["label"] for row in others]) if others else ""))
    for row in others:
        steps = PAPER_BATCHES // row["paper_batches"]
        text += (f"; {row['label']} had {100 * row['fraction']:.1f}% of its training in the "
                 f"paper, since disentanglement_lib counts {steps} global steps per "
                 f"{row['label']} batch (a VAE and a discriminator update), so the paper's "
                 f"{PAPER_BATCHES:,} steps were about {row['paper_batches']:,} batches")
    return text + "."


def why_sentences(summary: Mapping[str, Any]) -> list[str]:
    """Plain sentences on what may make the measured ordering differ from the paper's: the
    run length, the evaluation and training-seed noise against each reversed pair's
    difference, and the collapsed runs; every number from ``summary``."""
    out = []
    sentence = scale_sentence(summary)
    if sentence:
        jl1 = next((arm for arm in summary["arms"] if arm["arm"] == JL1_ARM), None)
        mean = _number(((jl1 or {}).get("statistics") or {}).get(
            summary["noise"]["key"], {}).get("mean"))
        if math.isfinite(mean):
            sentence += (f" JL1-VAE's local MIG at 0.1 is {mean:.3f} here, the paper's "
                         f"{PAPER_LOCAL_MIG_0_1[JL1_ARM]:.3f}: these are models early in "
                         "training.")
        sentence += (" Terms that need many steps to act (FactorVAE's discriminator, the "
                     "DIP-VAEs' covariance penalties, AnnealedVAE's capacity ramp) may rank "
                     "differently after the paper's full training; this study cannot tell "
                     "which.")
        out.append(sentence)
    noise = summary["noise"]
    spread, pooled = noise["evaluation_seed"], _number(noise["training_seed_sd"])
    if spread["models"]:
        text = (f"- **Noise.** One evaluation seed moves a model's local MIG at 0.1 by "
                f"{_number(spread['sd']):.4f} (s.d. over its evaluation seeds, root mean "
                f"square over {spread['models']} models). The models of one arm differ by "
                f"{pooled:.4f} on evaluation seed 0 (s.d. pooled over the arms): the spread of "
                "the training seeds and the evaluation-seed noise together")
        on_mean = _number(noise.get("training_seed_sd_evaluation_seed_mean"))
        if math.isfinite(on_mean):
            text += f"; on the mean of the evaluation seeds they differ by {on_mean:.4f}"
        out.append(text + ".")
    if noise["reversed_pairs"]:
        k = noise["resolved_standard_errors"]
        out.append(f"- **Reversed pairs**, difference of the means ± its standard error "
                   f"(resolved: more than {k:g} standard errors apart):")
        what = {"single_seed": "evaluation seed 0",
                "evaluation_seed_mean": "mean of evaluation seeds"}
        for row in noise["reversed_pairs"]:
            difference = f"{_number(row['difference']):+.4f}"
            if row["resolved"] is None:
                verdict = f"{difference}, too few runs to tell"
            else:
                verdict = (f"{difference} ± {_number(row['standard_error']):.4f}, "
                           + ("resolved" if row["resolved"] else "within the noise"))
            out.append(f"  - {row['pair']} ({what[row['ordering']]}): {verdict}")
    collapse = summary["collapse"]
    collapsed = [run for run in summary["runs"] if run.get("collapsed")]
    references = ", ".join(f"{_number(value['mean_image']):.1f} (a perfect reconstruction: "
                           f"{_number(value['perfect']):.1f}; {name})"
                           for name, value in collapse["reference_bce"].items())
    removes = f"{1 - collapse['fraction']:.0%}"
    if collapsed:
        per_arm = []
        for arm in summary["arms"]:
            runs = [run for run in collapsed if run["arm"] == arm["arm"]]
            if runs:
                bce = [_number(run["values"].get(HELDOUT_BCE)) for run in runs]
                per_arm.append(
                    f"{arm['label']} {len(runs)} of {arm['finished']} (seed"
                    f"{'s' if len(runs) > 1 else ''} "
                    f"{', '.join(str(run['seed']) for run in runs)}; held-out reconstruction "
                    f"BCE {_span(bce)} per image)")
        mostly = [arm["label"] for arm in summary["arms"]
                  if arm["finished"] and 2 * arm["collapsed"] > arm["finished"]]
        out.append("- **Collapsed runs**: " + "; ".join(per_arm)
                   + f". Predicting the mean image for every one of the same "
                   f"{collapse['evaluation_images']:,} images scores {references}; these runs "
                   f"remove less than {removes} of that gap: they reconstruct nothing, their "
                   "decoders ignore the latents. Their scores stay in every mean and test "
                   "(this is what the method produced on this budget), but they describe no "
                   "representation"
                   + (f": {_and(mostly)} "
                      + ("owes its place" if len(mostly) == 1 else "owe their places")
                      + " in the ordering mostly to such runs." if mostly else "."))
    elif references:
        out.append(f"- No run collapsed: every run removes at least {removes} of the gap "
                   f"between the mean image's held-out BCE and a perfect reconstruction's, "
                   f"{references}.")
    return out


def _machine_lines(machine: Mapping[str, Any]) -> list[str]:
    names = [n for n in _MACHINE_ORDER if n in machine] + sorted(set(machine) - set(
        _MACHINE_ORDER))
    return [f"- {name}: {machine[name]}" for name in names]


def _rendered_line(summary: Mapping[str, Any]) -> list[str]:
    rendered = summary.get("rendered")
    if not rendered:
        return []
    return [f"Rendered from summary.json {rendered['at']} (`{rendered['command']}`): the "
            "comparisons are recomputed from the per-run values it stores.", ""]


def render_markdown(summary: Mapping[str, Any]) -> str:
    """``summary.md`` from :func:`build_seven_arm_summary`'s dict (or summary.json)."""
    keys = summary["value_keys"]
    out = ["# The seven-arm study at CPU scale", ""]
    if summary["generated_at"]:
        out += [f"Generated {summary['generated_at']}.", ""]
    out += _rendered_line(summary)
    out += ["Command (resumable: run it again to continue an unfinished study):", "",
            "```bash", summary["command"], "```", ""]
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

    alpha = _alpha(summary)
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
         "mean ± s.d. (a)": _mean_sd_cell(row["key"], {"n": row["n_a"], "mean": row["mean_a"],
                                                       "sd": row["sd_a"]}),
         "mean ± s.d. (b)": _mean_sd_cell(row["key"], {"n": row["n_b"], "mean": row["mean_b"],
                                                       "sd": row["sd_b"]}),
         "difference (95% CI)": (f"{row['difference']:+.4f} ({_ci_text(row)})"
                                 if row.get("difference") is not None else "–"),
         "g": _statistic_cell(row.get("hedges_g"), ".2f"),
         "t": _statistic_cell(row["t"], ".2f"), "p": _statistic_cell(row["p"], ".2g"),
         "p (Holm)": _statistic_cell(row.get("p_holm"), ".2g"),
         "significant": "yes" if is_significant(row, alpha) else "no"}
        for row in summary["ttests"]]))
    if summary.get("architecture"):
        out += ["## The architecture alone (exploratory)", "",
                "disentanglement_lib's β-VAE (a) against our ConvVAE β-VAE (b): both β = 4, on "
                "two architectures (and with and without a β ramp). Single tests, not "
                "corrected.", ""]
        out.append(format_markdown_table([
            {"value": column_title(row["key"]),
             "mean ± s.d. (a)": _mean_sd_cell(row["key"], {"n": row["n_a"],
                                                           "mean": row["mean_a"],
                                                           "sd": row["sd_a"]}),
             "mean ± s.d. (b)": _mean_sd_cell(row["key"], {"n": row["n_b"],
                                                           "mean": row["mean_b"],
                                                           "sd": row["sd_b"]}),
             "difference (95% CI)": f"{row['difference']:+.4f} ({_ci_text(row)})",
             "g": _statistic_cell(row.get("hedges_g"), ".2f"),
             "t": _statistic_cell(row["t"], ".2f"), "p": _statistic_cell(row["p"], ".2g")}
            for row in summary["architecture"]]))

    time, machine = summary["time"], summary["machine"]
    out += ["## Time and machine", ""]
    out.append(format_markdown_table([
        {"arm": arm["label"], "finished": arm["finished"],
         "train min per run, median [range]": _median_range_cell(arm["train_minutes_per_run"]),
         "train min total": f"{arm['train_minutes_total']:.1f}",
         "evaluation min per run, median [range]":
             _median_range_cell(arm["evaluation_minutes_per_run"])}
        for arm in summary["arms"]]))
    out += ["- times are wall clock, summed over a run's sessions; a process that was "
            "suspended (paused, or a machine put to sleep) counts its pause, so the "
            "medians are the typical figures and the sums below are upper bounds",
            f"- training: {_hours(time['training_seconds'])}, summed over the finished runs",
            f"- evaluation: {_hours(time['evaluation_seconds'])}, summed over the metrics",
            f"- total: {_hours(time['total_seconds'])} (run one after another, this is the "
            "wall time without process start-ups and figures)",
            *_machine_lines(machine), ""]
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
           + ".", "", "```bash", summary["command"], "```", ""]
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
    if _rows_of(summary, mig_key):
        out += ["", "An ordering of means is not a set of tested differences: the tables below "
                "say which differences the data resolve."]
    for key, what in ((mig_key, "evaluation seed 0"),
                      (seed_mean_key(mig_key), "mean of evaluation seeds (exploratory)")):
        if _rows_of(summary, key):
            out += ["", f"JL1-VAE against each arm, local MIG at 0.1, {what} (Welch, "
                    "two-sided; Holm over the arms):", "", comparison_table(summary, key)
                    .rstrip("\n")]
    why = why_sentences(summary)
    if why:
        out += ["", "## Why the results may differ from the paper's", "", *why]
    time = summary["time"]
    out += ["", f"Training {_hours(time['training_seconds'])}, evaluation "
            f"{_hours(time['evaluation_seconds'])}, each summed over the runs (wall clock, "
            "pauses included: an upper bound), on "
            f"{summary['machine'].get('cpu', '?')} "
            f"({summary['machine'].get('nproc', '?')} CPUs usable). Typical training minutes "
            "per run (median): " + ", ".join(
                f"{arm['label']} {arm['train_minutes_per_run']['median']:.0f}"
                for arm in summary["arms"] if arm["train_minutes_per_run"]["n"]) + ".", ""]
    return "\n".join(out)


def write_seven_arm_summary(output_dir: str | Path, summary: Mapping[str, Any]) -> list[Path]:
    """Write summary.json, summary.md and README.md atomically; returns their paths."""
    output_dir = Path(output_dir)
    paths = [output_dir / SUMMARY_JSON, output_dir / SUMMARY_MD, output_dir / README_MD]
    atomic_write_json(paths[0], summary)
    atomic_write_text(paths[1], render_markdown(summary))
    atomic_write_text(paths[2], render_readme(summary))
    return paths
