"""The statistics of ``cpu_penalty_study``'s report: pure functions of the data summary.json
stores (:func:`jlonevae_lib.reports.penalty_study.study_data`), so a written summary.json is
re-analysed without a run folder.

- :func:`primary_analysis`, the pre-registered test on arrays: Welch t-tests of ``jl1_dlib``
  against ``beta_ramp_dlib`` (H1) and ``beta_vae_dlib`` (H2), two-sided, Holm over the two at
  α = 0.05, each with the difference of the means, its 95% Welch interval and Hedges' g;
- :func:`progress`: which registered runs are finished and evaluated. The primary test is made
  only when every arm has all its seeds (:func:`summarise`), or when the study was closed with
  runs that failed for good (``closed_with_failures``: every run has ended; the tests use the
  runs with the primary outcome and the others are deviations): until then nothing about the
  outcome is computed, interim looks change nothing;
- the secondary results, all exploratory (no p-values): each arm's mean ± s.d. of every value,
  JL1-VAE's differences from the other arms with 95% intervals, the learning curves at the kept
  models (8,000, 15,000 batches) and the end, the held-out reconstruction and collapsed runs;
- the deviations from the registration, and the times.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from jlonevae_lib.evaluate.reconstruction import COLLAPSE_FRACTION, is_collapsed
from jlonevae_lib.evaluate.statistics import (
    effect_size,
    holm_adjust,
    mean_sd,
    median_range,
    sample_sd,
    welch_ttest,
)
from jlonevae_lib.reports.penalty_study import KEPT_BASES, PRIMARY_KEY, TIME_FORMAT
from jlonevae_lib.reports.records import (
    FINISHED,
    HELDOUT_BCE,
    SECONDS_PER_MINUTE,
    TRAIN_MINUTES,
    RunRecord,
    seed_mean_key,
    value_keys,
)
from jlonevae_lib.reports.text import finite
from jlonevae_lib.runs.metric_table import parse_evaluation_seed_name
from jlonevae_lib.sweep.penalty_study import BETA_RAMP_ARM, BETA_VAE_ARM, JL1_ARM

#: The pre-registered level of the Holm-adjusted tests and the confidence of the intervals
#: (docs/studies.md): this study's own, fixed before it ran, not shared with other studies.
ALPHA = 0.05
CONFIDENCE = 0.95
#: The progress status of a finished run whose primary outcome is not (all) there.
NOT_EVALUATED = "finished, primary outcome not evaluated"
#: ... and of one whose evaluation gave it as a number that is not finite (it has ended).
NOT_FINITE = "finished, evaluated without a finite primary outcome"
#: The pre-registered hypotheses: (name, arm a, arm b); each tests mean(a) = mean(b).
HYPOTHESES = (("H1", JL1_ARM, BETA_RAMP_ARM), ("H2", JL1_ARM, BETA_VAE_ARM))
#: The values of the learning curves: the kept scores, their evaluation-seed means first.
CURVE_KEYS = (*(seed_mean_key(base) for base in KEPT_BASES), *KEPT_BASES)


def primary_analysis(values: Mapping[str, Sequence[float]], alpha: float = ALPHA,
                     confidence: float = CONFIDENCE) -> dict[str, dict[str, Any]]:
    """The pre-registered primary tests on ``values`` (arm -> one primary outcome per run).

    Returns {"H1": row, "H2": row}; a row: ``arm_a``, ``arm_b``, ``n_a``, ``n_b``,
    ``mean_a``, ``mean_b``, ``sd_a``, ``sd_b`` (ddof 1), ``diff`` = mean(a) − mean(b),
    ``ci_low``, ``ci_high`` (its ``confidence`` Welch interval), ``g`` (Hedges' g), ``t``,
    ``p_raw`` (Welch, two-sided), ``p_holm`` (Holm over the two) and ``reject`` (``p_holm`` ≤
    ``alpha``)."""
    rows: dict[str, dict[str, Any]] = {}
    for name, arm_a, arm_b in HYPOTHESES:
        a, b = [float(v) for v in values[arm_a]], [float(v) for v in values[arm_b]]
        t, p = welch_ttest(a, b)
        size = effect_size(a, b, confidence)
        rows[name] = {"arm_a": arm_a, "arm_b": arm_b, "n_a": len(a), "n_b": len(b),
                      "mean_a": mean_sd(a)["mean"], "mean_b": mean_sd(b)["mean"],
                      "sd_a": sample_sd(a), "sd_b": sample_sd(b),
                      "diff": size["difference"], "ci_low": size["ci_low"],
                      "ci_high": size["ci_high"], "g": size["hedges_g"], "t": t, "p_raw": p}
    # The registered family is both tests: one that cannot be made (both arms constant)
    # still counts, so the other is never judged uncorrected.
    adjusted = holm_adjust([row["p_raw"] for row in rows.values()], count_untested=True)
    for row, p in zip(rows.values(), adjusted, strict=True):
        row["p_holm"] = p
        row["reject"] = bool(not math.isnan(p) and p <= alpha)
    return rows


def _evaluated(run: Mapping[str, Any]) -> bool:
    return bool(run["evaluated"])


def waiting_state(run: Mapping[str, Any]) -> str:
    """The state of a run without the primary outcome: its training status, else (finished)
    :data:`NOT_FINITE` or :data:`NOT_EVALUATED`. A summary.json written before
    ``ended_without_primary`` existed lacks it (False)."""
    if run["status"] != FINISHED:
        return str(run["status"])
    return NOT_FINITE if run.get("ended_without_primary") else NOT_EVALUATED


def progress(data: Mapping[str, Any]) -> dict[str, Any]:
    """Per arm: registered runs, how many are finished with the primary outcome evaluated,
    finished, and in each other state; ``complete`` when every arm has all its seeds finished
    and evaluated; ``waiting``: the runs that are not, with their state."""
    arms = []
    for arm in data["arms"]:
        runs = [run for run in data["runs"] if run["arm"] == arm]
        states: dict[str, int] = {}
        for run in runs:
            states[run["status"]] = states.get(run["status"], 0) + 1
        arms.append({"arm": arm, "label": data["arm_labels"][arm], "registered": len(runs),
                     "evaluated": sum(_evaluated(run) for run in runs), "states": states})
    waiting = [{"arm": run["arm"], "label": run["label"], "seed": run["seed"],
                "status": waiting_state(run),
                "detail": run["detail"]}
               for run in data["runs"] if not _evaluated(run)]
    expected = len(data["seeds"])
    complete = (all(arm["evaluated"] == expected for arm in arms) and bool(arms)
                and not data["outcomes_withheld"])
    return {"arms": arms, "waiting": waiting, "expected_per_arm": expected,
            "evaluated": sum(arm["evaluated"] for arm in arms),
            "registered": sum(arm["registered"] for arm in arms), "complete": complete}


def records_of(data: Mapping[str, Any]) -> list[RunRecord]:
    """The finished runs as records (arm, seed, values at the end)."""
    return [RunRecord(arm=run["arm"], label=run["label"], method=run["arm"], gamma=0.0,
                      settings="", run_id=run["run_id"], seed=run["seed"], status=run["status"],
                      values={k: v for k, v in run["values"].items() if v is not None})
            for run in data["runs"] if run["status"] == FINISHED]


def collapsed_runs(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The finished runs whose held-out reconstruction is collapsed (``is_collapsed``: it
    removes less than 1 − :data:`COLLAPSE_FRACTION` of the gap between predicting the mean
    image and a perfect reconstruction): kept in every statistic and flagged."""
    out = []
    for run in data["runs"]:
        reference = data["reference_bce"].get(run.get("dataset") or "")
        bce = run["values"].get(HELDOUT_BCE)
        if run["status"] == FINISHED and reference and bce is not None and is_collapsed(
                bce, reference["mean_image"], reference["perfect"]):
            out.append({"arm": run["arm"], "label": run["label"], "seed": run["seed"],
                        HELDOUT_BCE: bce})
    return out


def unmeasured_reconstructions(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The runs in the primary test without a held-out reconstruction BCE (none, or null: not
    a finite number) although it was measured (its reference points exist): whether they
    collapsed is unknown."""
    if not data["reference_bce"]:
        return []
    return [{"arm": run["arm"], "label": run["label"], "seed": run["seed"]}
            for run in data["runs"]
            if run["evaluated"] and run["values"].get(HELDOUT_BCE) is None]


def _values(records: Sequence[RunRecord], arm: str, key: str) -> list[float]:
    return [r.values[key] for r in records if r.arm == arm and key in r.values]


def secondary_keys(records: Sequence[RunRecord]) -> list[str]:
    """The values compared between the arms: every score at the end but the single
    evaluation-seed repeats, and the reconstruction BCEs (not the training time)."""
    return [key for key in value_keys(records)
            if key != TRAIN_MINUTES and parse_evaluation_seed_name(key) is None]


def arm_statistics(data: Mapping[str, Any], records: Sequence[RunRecord]) -> list[dict[str, Any]]:
    """Per arm: mean ± s.d. of every value at the end (finished runs), collapsed runs, training
    and evaluation minutes per run (median and range) and in total."""
    keys = value_keys(records)
    collapsed = collapsed_runs(data)
    out = []
    for arm in data["arms"]:
        finished = [r for r in records if r.arm == arm]
        minutes = [r.values[TRAIN_MINUTES] for r in finished if TRAIN_MINUTES in r.values]
        evaluation = [run["evaluation_seconds"] / SECONDS_PER_MINUTE for run in data["runs"]
                      if run["arm"] == arm and run["status"] == FINISHED
                      and run["evaluation_seconds"]]
        out.append({"arm": arm, "label": data["arm_labels"][arm], "finished": len(finished),
                    "statistics": {key: mean_sd(_values(records, arm, key)) for key in keys},
                    "collapsed": sum(run["arm"] == arm for run in collapsed),
                    "train_minutes_per_run": median_range(minutes),
                    "train_minutes_total": math.fsum(minutes),
                    "evaluation_minutes_per_run": median_range(evaluation)})
    return out


def differences(records: Sequence[RunRecord], keys: Sequence[str], arms: Sequence[str],
                reference: str = JL1_ARM) -> list[dict[str, Any]]:
    """``reference`` against each other arm on each of ``keys``: n, means, the difference with
    its 95% Welch interval and Hedges' g. Exploratory: no p-value, no test."""
    rows = []
    for key in keys:
        a = _values(records, reference, key)
        for arm in arms:
            b = _values(records, arm, key)
            if arm == reference or not a or not b:
                continue
            size = effect_size(a, b, CONFIDENCE)
            rows.append({"key": key, "arm_b": arm, "n_a": len(a), "n_b": len(b),
                         "mean_a": mean_sd(a)["mean"], "mean_b": mean_sd(b)["mean"],
                         "diff": size["difference"], "ci_low": size["ci_low"],
                         "ci_high": size["ci_high"], "g": size["hedges_g"]})
    return rows


def curves(data: Mapping[str, Any]) -> dict[str, Any]:
    """The learning curves: per value of :data:`CURVE_KEYS` and arm, at each batch count a
    finished run has a value for, n, mean, s.d., smallest and largest; and JL1-VAE's
    difference from each other arm there, with its 95% Welch interval (exploratory)."""
    finished = [run for run in data["runs"] if run["status"] == FINISHED]
    points = sorted({int(b) for run in finished for b in run["curve"]})
    out: dict[str, Any] = {"batches": points, "arms": {}, "gaps": []}
    for key in CURVE_KEYS:
        by_arm: dict[str, list[dict[str, Any]]] = {}
        for arm in data["arms"]:
            rows = []
            for batches in points:
                values = [run["curve"][str(batches)][key] for run in finished
                          if run["arm"] == arm and key in run["curve"].get(str(batches), {})]
                if values:
                    rows.append({"batches": batches, **mean_sd(values),
                                 "min": min(values), "max": max(values)})
            by_arm[arm] = rows
        out["arms"][key] = by_arm
        for batches in points:
            per_arm = {arm: [run["curve"][str(batches)][key] for run in finished
                             if run["arm"] == arm and key in run["curve"].get(str(batches), {})]
                       for arm in data["arms"]}
            for arm in data["arms"]:
                a, b = per_arm[JL1_ARM], per_arm[arm]
                if arm == JL1_ARM or not a or not b:
                    continue
                size = effect_size(a, b, CONFIDENCE)
                out["gaps"].append({"key": key, "batches": batches, "arm_b": arm,
                                    "n_a": len(a), "n_b": len(b), "diff": size["difference"],
                                    "ci_low": size["ci_low"], "ci_high": size["ci_high"]})
    return out


def runs_text(runs: Sequence[Mapping[str, Any]]) -> str:
    """``label seed k, label seed m`` of run entries, for the report's sentences."""
    return ", ".join(f"{run['label']} seed {run['seed']}" for run in runs)


def deviations(data: Mapping[str, Any], complete: bool) -> list[str]:
    """How the runs differ from the registration, one line each: settings that differ, and,
    once the outcomes are reported (``complete``), what the data lack: runs without the primary
    outcome (a study closed with failures), the held-out reconstruction not measured (for
    every run or some), values that other runs have missing at the end or at a kept
    model."""
    lines = []
    by_setting: dict[tuple[str, str, str], list[str]] = {}
    for run in data["runs"]:
        for name, value, registered in run["setting_differences"]:
            by_setting.setdefault((name, repr(value), repr(registered)), []).append(
                f"{run['label']} seed {run['seed']}")
    for (name, value, registered), runs in by_setting.items():
        lines.append(f"{name} = {value} (registered: {registered}) in {len(runs)} run"
                     f"{'s' if len(runs) != 1 else ''}: {', '.join(runs)}")
    finished = [run for run in data["runs"] if run["status"] == FINISHED]
    if not complete:
        return lines
    for run in data["runs"]:
        if not run["evaluated"]:
            state = waiting_state(run)
            lines.append(f"{run['label']} seed {run['seed']} has no primary outcome ({state}"
                         + (f": {run['detail']}" if run["detail"] else "")
                         + "): the study was closed without it (--close-with-failures), the "
                         "tests use the other runs")
    evaluated = [run for run in finished if run["evaluated"]]
    if finished and not data["reference_bce"]:
        lines.append("the held-out reconstruction BCE was not measured, so collapsed runs "
                     "could not be flagged")
    elif unmeasured := unmeasured_reconstructions(data):
        lines.append(f"the held-out reconstruction BCE is missing for {len(unmeasured)} of "
                     f"the {len(evaluated)} tested runs ({runs_text(unmeasured)}): whether "
                     f"{'they' if len(unmeasured) != 1 else 'it'} collapsed is unknown")
    # A value stored as null (not finite when written) is as missing as one never written.
    present = {key for run in evaluated for key, value in run["values"].items()
               if value is not None} - {TRAIN_MINUTES, HELDOUT_BCE}
    for run in evaluated:
        lacking = sorted(key for key in present if run["values"].get(key) is None)
        if lacking:
            lines.append(f"{run['label']} seed {run['seed']} lacks {', '.join(lacking)} at "
                         "the end (other runs have them): fewer runs in those values' "
                         "statistics")
    kept = sorted({b for run in finished for b in run["curve"]}, key=int)
    for run in finished:
        lacking = [b for b in kept if not set(CURVE_KEYS[:1]) <= set(run["curve"].get(b, {}))]
        if lacking:
            lines.append(f"{run['label']} seed {run['seed']} has no "
                         f"{CURVE_KEYS[0]} at {', '.join(lacking)} batches: its learning "
                         "curve misses those points")
    return lines


def _parse(moment: str | None) -> datetime | None:
    return None if moment is None else datetime.strptime(moment, TIME_FORMAT)


def times(data: Mapping[str, Any]) -> dict[str, Any]:
    """Training minutes summed over the finished runs (wall clock of each run, summed: not the
    study's duration), evaluation minutes summed, and the study's wall clock from the first
    start to the last result written when every finished run says both."""
    finished = [run for run in data["runs"] if run["status"] == FINISHED]
    training = math.fsum(run["values"].get(TRAIN_MINUTES, 0.0) for run in finished)
    evaluation = math.fsum(run["evaluation_seconds"] for run in data["runs"]) / SECONDS_PER_MINUTE
    starts = [_parse(run["first_start"]) for run in finished]
    ends = [_parse(run["last_result"]) for run in finished]
    wall = None
    if finished and None not in starts and None not in ends:
        first, last = min(starts), max(ends)  # type: ignore[type-var]
        wall = {"first_start": first.strftime(TIME_FORMAT),
                "last_result": last.strftime(TIME_FORMAT),
                "hours": (last - first).total_seconds() / 3600}
    return {"training_minutes_summed": training, "evaluation_minutes_summed": evaluation,
            "wall_clock": wall}


def summarise(data: Mapping[str, Any]) -> dict[str, Any]:
    """The whole summary: ``data`` with the progress and, when the study is complete (or
    closed with failures: ``reported``), the primary tests, the secondary (exploratory)
    results and the learning curves; before that only progress, deviations and times (no
    outcome value is summarised)."""
    state = progress(data)
    complete = state["complete"]
    reported = complete or bool(data["closed_with_failures"])
    summary: dict[str, Any] = {**data, "progress": state, "complete": complete,
                               "reported": reported,
                               "alpha": ALPHA, "confidence": CONFIDENCE,
                               "hypotheses": [list(h) for h in HYPOTHESES],
                               "collapse_fraction": COLLAPSE_FRACTION,
                               "deviations": deviations(data, reported), "time": times(data),
                               "primary": None, "secondary": None, "curves": None}
    if reported:
        records = records_of(data)
        summary["primary"] = primary_analysis(
            {arm: _values(records, arm, PRIMARY_KEY) for arm in data["arms"]})
        summary["secondary"] = {
            "arms": arm_statistics(data, records),
            "differences": differences(records, secondary_keys(records), data["arms"]),
            "collapsed": collapsed_runs(data),
            "unmeasured_reconstructions": unmeasured_reconstructions(data)}
        summary["curves"] = curves(data)
    return finite(summary)
