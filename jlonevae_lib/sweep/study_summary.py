"""The summary of a β-VAE vs JL1-VAE study over seeds: ``summary.md`` and ``summary.json``.

Usage::

    python -m jlonevae_lib.sweep.study_summary --models-dir studies/cpu_study/trainedModels \\
        --output-dir results/cpu_study [--seeds 1 2 3 4 5] [--command "..."]

Every run folder ``<models_dir>/<experiment>/<run>/`` is read: ``config.json`` (the settings
and seed), ``DONE`` (training time, the last logged scalars) or ``FAILED``, and its evaluation
results, found by :func:`jlonevae_lib.runs.results.discover_results`. Values are keyed by
metric name (:func:`jlonevae_lib.runs.metric_table.metric_name`: ``local_mig_0_1``, ``mig``,
``modularity_explicitness``). The summary holds

- one row per run: arm, seed, status, local MIG and local modularity at each locality, global
  MIG and modularity, the reconstruction BCE per image (``NLL/train`` of the last logged batch;
  a baseline's ``reconstruction_loss``)
  and the training time;
- the mean ± s.d. (ddof 1) of each column per arm;
- Welch t-tests, each γ > 0 arm vs the β-VAE (γ = 0) arm of the same settings, per locality for
  local MIG and local modularity, and for the global MIG and modularity;
- the machine, the compute time, the study's command and notes on anything missing.

Runs that have not started (``--seeds``), are unfinished, failed or lack some metrics are
reported, never fatal. The statistics are pure functions of :class:`RunRecord` lists
(:func:`arm_statistics`, :func:`ttest_table`, :func:`mark_missing_values`, :func:`build_summary`,
:func:`render_markdown`); :func:`collect_runs` and :func:`machine_info` do the reading.
"""

from __future__ import annotations

if __name__ == "__main__":
    # ``python -m jlonevae_lib.sweep.study_summary`` runs the command line in jlonevae_lib.cli,
    # which imports this module as usual. Run on, this file would execute as a second module
    # (``__main__``) beside that one: two copies of its state.
    from jlonevae_lib.cli.study_summary import main

    raise SystemExit(main())

import importlib.metadata
import json
import math
import os
import platform
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jlonevae_lib.evaluate.statistics import ttest_row
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.metric_table import (
    ELAPSED_TIME,
    GLOBAL_SCORES,
    LOCAL_SCORES,
    describe,
    evaluation_seed_name,
    metric_name,
    parse_evaluation_seed_name,
    parse_metric_name,
)
from jlonevae_lib.runs.results import GAMMA0, discover_results, our_run_info
from jlonevae_lib.utils.atomic import atomic_write_json, atomic_write_text
from jlonevae_lib.utils.tables import format_markdown_table

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"

#: Run statuses.
FINISHED, UNFINISHED, FAILED, NOT_STARTED = "finished", "unfinished", "failed", "not started"

#: Value keys besides the scores (which are keyed by metric name).
RECON_BCE = "recon_bce"
#: The reconstruction BCE per image on fixed evaluation images, the same for every run.
HELDOUT_BCE = "heldout_bce"
TRAIN_MINUTES = "train_minutes"
#: The scalar of ``DONE``'s ``final_scalars`` that is the reconstruction BCE per image.
RECON_SCALAR = "NLL/train"
#: The same quantity as disentanglement_lib's objectives log it (the per-image sum of sigmoid
#: cross-entropies, averaged over the batch).
DLIB_RECON_SCALAR = "reconstruction_loss"
#: A local score's mean over its evaluation seeds: ``local_mig_0_1_evalseeds_mean`` (the
#: values at the extra seeds are keyed ``local_mig_0_1_evalseed<k>``).
SEED_MEAN_SUFFIX = "_evalseeds_mean"

#: Training settings shown in the Markdown settings table (keys of ``config.json``).
SETTINGS_SHOWN = ("dataset", "num_batches", "batch_size", "lr", "annealing_batches", "beta",
                  "gamma", "regularization_type", "jacobian_method", "jacobian_batch",
                  "latent_dim", "device")
#: Settings that describe where a run went, not what it computed: left out of the summary.
_SETTINGS_HIDDEN = ("output_dir", "run_id", "seed")

_SEED_RUN_ID = re.compile(r"^seed(\d+)$")
_SECONDS_PER_MINUTE = 60.0


@dataclass(frozen=True)
class RunRecord:
    """One run of the study as the summary sees it.

    Attributes:
        arm: the experiment name (runs of an arm differ only in their seed).
        label: the arm's display name, e.g. ``JL1-VAE (γ=0.1)``.
        method: ``gamma0`` (a β-VAE), ``jlone`` or ``jltwo`` (see :mod:`..runs.results`).
        gamma: the Jacobian penalty weight.
        settings: the experiment name without regulariser and γ: arms with equal settings are
            compared by the t-tests.
        run_id: the run folder's name (``seed3``).
        seed: the training seed (None when unknown).
        status: :data:`FINISHED`, :data:`UNFINISHED`, :data:`FAILED` or :data:`NOT_STARTED`.
        values: scores by metric name, plus :data:`RECON_BCE`, :data:`TRAIN_MINUTES` and
            (where measured) :data:`HELDOUT_BCE`.
        evaluation_seconds: the summed ``elapsed_time`` of the run's evaluation results.
        detail: what is wrong or missing, for the status column ("" when nothing).
        config: the run's ``config.json`` (empty when unreadable or not started).
        trained_on: device and torch version from ``DONE`` ("" when unfinished).
    """

    arm: str
    label: str
    method: str
    gamma: float
    settings: str
    run_id: str
    seed: int | None
    status: str
    values: Mapping[str, float] = field(default_factory=dict)
    evaluation_seconds: float = 0.0
    detail: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)
    trained_on: str = ""


# ------------------------------------------------------------------------------ statistics


def mean_sd(values: Sequence[float]) -> dict[str, float]:
    """``{"n", "mean", "sd"}`` of ``values``; sd with ddof 1 (nan below two values), mean nan
    when empty."""
    n = len(values)
    mean = math.fsum(values) / n if n else math.nan
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else math.nan
    return {"n": n, "mean": mean, "sd": sd}


def arms(runs: Iterable[RunRecord]) -> list[RunRecord]:
    """One run per arm (the first), ordered by γ then arm name."""
    first: dict[str, RunRecord] = {}
    for run in runs:
        first.setdefault(run.arm, run)
    return sorted(first.values(), key=lambda r: (r.gamma, r.arm))


def seed_mean_key(key: str) -> str:
    """``local_mig_0_1`` -> ``local_mig_0_1_evalseeds_mean``: the key of its mean over
    evaluation seeds."""
    return f"{key}{SEED_MEAN_SUFFIX}"


def value_keys(runs: Iterable[RunRecord]) -> list[str]:
    """Every value key present in some run, in table order: local MIG by locality, local
    modularity by locality (each followed by its values at extra evaluation seeds and their
    mean, when there are some), MIG, modularity, reconstruction BCE, training time."""
    present = {key for run in runs for key in run.values}
    ordered = []
    for score in LOCAL_SCORES:
        for x in localities_of(present, score):
            key = metric_name(score, x)
            repeats = sorted((parsed[1], name) for name in present
                             if (parsed := parse_evaluation_seed_name(name)) is not None
                             and parsed[0] == key)
            ordered += [key, *(name for _, name in repeats), seed_mean_key(key)]
    ordered += [*(metric_name(score, None) for score in GLOBAL_SCORES), RECON_BCE,
                HELDOUT_BCE, TRAIN_MINUTES]
    return [key for key in ordered if key in present]


def localities_of(keys: Iterable[str], score: str) -> list[float]:
    """The localities of a local score among value keys (``local_mig_0_1`` -> 0.1),
    ascending."""
    parsed = [parse_metric_name(key) for key in keys]
    return sorted({p[1] for p in parsed if p is not None and p[0] == score and p[1] is not None})


def add_evaluation_seed_means(runs: Sequence[RunRecord]) -> list[RunRecord]:
    """The runs, each with the mean of a local score over its evaluation seeds
    (:func:`seed_mean_key`) when it has the score at its own seed and at every extra seed some
    run of ``runs`` has for it; a run missing one gets no mean (and
    :func:`mark_missing_values` names the missing seed)."""
    extra: dict[str, set[int]] = {}
    for run in runs:
        for key in run.values:
            parsed = parse_evaluation_seed_name(key)
            if parsed is not None:
                extra.setdefault(parsed[0], set()).add(parsed[1])
    with_means = []
    for run in runs:
        means = {}
        for base, seeds in sorted(extra.items()):
            keys = [base, *(evaluation_seed_name(base, seed) for seed in sorted(seeds))]
            if all(key in run.values for key in keys):
                means[seed_mean_key(base)] = math.fsum(run.values[k] for k in keys) / len(keys)
        with_means.append(replace(run, values={**run.values, **means}) if means else run)
    return with_means


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
        for metric in (*LOCAL_SCORES, *GLOBAL_SCORES):
            localities: list[float | None] = (
                [None] if metric in GLOBAL_SCORES else list(localities_of(keys, metric)))
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


def mark_missing_values(runs: Sequence[RunRecord]) -> list[RunRecord]:
    """The runs, each finished one whose scores lack a key that another run of the study has
    getting it named in ``detail`` (the study's evaluation is partial there)."""
    expected = {key for run in runs for key in run.values
                if key not in (RECON_BCE, HELDOUT_BCE, TRAIN_MINUTES)}
    marked = []
    for run in runs:
        missing = [key for key in value_keys(runs) if key in expected and key not in run.values]
        if run.status == FINISHED and missing:
            what = ("not evaluated" if len(missing) == len(expected)
                    else f"missing {', '.join(missing)}")
            run = replace(run, detail="; ".join(filter(None, [run.detail, what])))
        marked.append(run)
    return marked


def add_missing_seeds(runs: Sequence[RunRecord], seeds: Sequence[int]) -> list[RunRecord]:
    """The runs plus a :data:`NOT_STARTED` record for each seed of ``seeds`` an arm lacks;
    sorted by γ, arm and seed."""
    added = list(runs)
    for arm in arms(runs):
        have = {run.seed for run in runs if run.arm == arm.arm}
        added += [replace(arm, run_id=f"seed{seed}", seed=seed, status=NOT_STARTED, values={},
                          evaluation_seconds=0.0, detail="", config={}, trained_on="")
                  for seed in seeds if seed not in have]
    return sorted(added, key=lambda r: (r.gamma, r.arm, -1 if r.seed is None else r.seed,
                                        r.run_id))


def _finite(value: Any) -> Any:
    """nan/inf -> None, recursively (JSON has no nan)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


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
    finished = [run for run in runs if run.status == FINISHED]
    train_seconds = math.fsum(run.values.get(TRAIN_MINUTES, 0.0) for run in finished) \
        * _SECONDS_PER_MINUTE
    evaluation_seconds = math.fsum(run.evaluation_seconds for run in runs)
    return _finite({
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
        "time": {"training_seconds": train_seconds, "evaluation_seconds": evaluation_seconds,
                 "total_seconds": train_seconds + evaluation_seconds},
        "machine": dict(machine),
        "figures": list(figures),
        "notes": [*run_notes, *notes, *ttest_notes],
    })


# ------------------------------------------------------------------------------ Markdown


def column_title(key: str) -> str:
    """``local_mig_0_1`` -> ``local MIG @0.1``; ``recon_bce`` -> ``recon BCE / image``."""
    if key == RECON_BCE:
        return "recon BCE / image"
    if key == HELDOUT_BCE:
        return "held-out BCE / image"
    if key == TRAIN_MINUTES:
        return "train min"
    if key.endswith(SEED_MEAN_SUFFIX):
        return f"{column_title(key[:-len(SEED_MEAN_SUFFIX)])} mean of eval seeds"
    repeat = parse_evaluation_seed_name(key)
    if repeat is not None:
        return f"{column_title(repeat[0])} eval seed {repeat[1]}"
    parsed = parse_metric_name(key)
    return describe(*parsed) if parsed is not None else key


def format_value(key: str, value: float | None) -> str:
    """A value for a table: scores with 4 decimals, BCE and minutes with 1, '–' when None."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.1f}" if key in (RECON_BCE, HELDOUT_BCE, TRAIN_MINUTES) else f"{value:.4f}"


def _mean_sd_cell(key: str, stat: Mapping[str, Any], n_runs: int | None = None) -> str:
    """``mean ± sd``, with ``(n=…)`` appended unless n equals ``n_runs``."""
    if not stat["n"]:
        return "–"
    text = format_value(key, stat["mean"])
    if stat["sd"] is not None:
        text += f" ± {format_value(key, stat['sd'])}"
    return text if stat["n"] == n_runs else f"{text} (n={stat['n']})"


def _locality_cell(locality: float | str) -> str:
    return f"{locality:g}" if isinstance(locality, float) else str(locality)


def _statistic_cell(value: float | None, spec: str) -> str:
    return "nan" if value is None else format(value, spec)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h ({seconds / 60:.0f} min)"


def render_markdown(summary: Mapping[str, Any]) -> str:
    """``summary.md`` from the dict :func:`build_summary` returns."""
    keys = summary["value_keys"]
    labels = " vs ".join(arm["label"] for arm in summary["arms"]) or "no runs"
    out = [f"# Study summary: {labels}", ""]
    if summary["generated_at"]:
        out += [f"Generated {summary['generated_at']} from `{summary['models_dir']}`.", ""]
    out += ["Command (resumable: run it again to continue an unfinished study):", "",
            "```bash", summary["command"], "```", ""]

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
         **{column_title(key): _mean_sd_cell(key, arm["statistics"][key], arm["finished"])
            for key in keys}}
        for arm in summary["arms"]]))

    out += ["## Welch t-tests", "",
            "Each arm with γ > 0 (a) against the β-VAE arm (b) of the same settings; one point "
            "per trained model (its score is the mean over local clusters); "
            "`scipy.stats.ttest_ind(a, b, equal_var=False)`, two-sided.", ""]
    out.append(format_markdown_table([
        {"metric": row["metric"], "locality": _locality_cell(row["locality"]),
         "a": row["group_a"], "mean ± s.d. (a)": _mean_sd_cell(
             row["key"], {"n": row["n_a"], "mean": row["mean_a"], "sd": row["sd_a"]}),
         "b": row["group_b"], "mean ± s.d. (b)": _mean_sd_cell(
             row["key"], {"n": row["n_b"], "mean": row["mean_b"], "sd": row["sd_b"]}),
         "t": _statistic_cell(row["t"], ".2f"), "p": _statistic_cell(row["p"], ".2g")}
        for row in summary["ttests"]]))

    time, machine = summary["time"], summary["machine"]
    out += ["## Time and machine", "",
            f"- training: {_hours(time['training_seconds'])}, summed over the finished runs",
            f"- evaluation: {_hours(time['evaluation_seconds'])}, summed over the metrics",
            f"- wall time: {_hours(time['total_seconds'])}, training + evaluation over all "
            "sessions: the driver runs them one after another, so this is its wall time "
            "without process start-ups and figures",
            *[f"- {name}: {value}" for name, value in machine.items()], ""]

    if summary["figures"]:
        out += ["## Figures", ""]
        out += [f"- [{path}]({path})" for path in summary["figures"]]
        out.append("")
    out += ["## Notes", ""]
    out += [f"- {note}" for note in summary["notes"]] or ["- none: every run finished and "
                                                         "was evaluated"]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------ reading


def _read_json_object(path: Path, notes: list[str]) -> dict[str, Any] | None:
    """The JSON object in ``path``; None (and a note) when unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        notes.append(f"unreadable: {path} ({err})")
        return None
    if not isinstance(data, dict):
        notes.append(f"unreadable: {path} holds a {type(data).__name__}, not a JSON object")
        return None
    return data


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _training_state(run_dir: Path, notes: list[str]
                    ) -> tuple[str, str, dict[str, float], str]:
    """(status, detail, values from DONE, device and torch it trained with) of one run."""
    if layout.is_finished(run_dir):
        done = _read_json_object(layout.done_path(run_dir), notes) or {}
        trained_on = f"{done.get('device', '?')}, torch {done.get('torch', '?')}"
        values = {}
        seconds = _number(done.get("train_seconds"))
        if seconds is not None:
            values[TRAIN_MINUTES] = seconds / _SECONDS_PER_MINUTE
        scalars = done.get("final_scalars")
        recon = None
        if isinstance(scalars, dict):
            recon = next((value for name in (RECON_SCALAR, DLIB_RECON_SCALAR)
                          if (value := _number(scalars.get(name))) is not None), None)
        if recon is not None:
            values[RECON_BCE] = recon
        return FINISHED, "", values, trained_on
    if layout.failed_path(run_dir).is_file():
        failed = _read_json_object(layout.failed_path(run_dir), notes) or {}
        return FAILED, str(failed.get("message", failed.get("reason", ""))), {}, ""
    if layout.checkpoint_path(run_dir).is_file():
        return UNFINISHED, "interrupted or running; resumes from its checkpoint", {}, ""
    return UNFINISHED, "started, no checkpoint yet", {}, ""


def _evaluation_seconds(run_dir: Path, notes: list[str]) -> float:
    total = 0.0
    for path in layout.evaluation_files(run_dir):
        data = _read_json_object(path, notes) or {}
        total += _number(data.get(f"evaluation_results.{ELAPSED_TIME}")) or 0.0
    return total


def collect_runs(models_dir: str | os.PathLike) -> tuple[list[RunRecord], list[str]]:
    """Every run folder under ``models_dir`` as a :class:`RunRecord`, and notes on what was
    missing, partial or unreadable (the evaluation results' notes included)."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return [], [f"{models_dir} does not exist: no runs yet"]
    results = discover_results(models_dir)
    notes = list(results.notes)
    scores: dict[Path, dict[str, float]] = {}
    for record in results.records:
        scores.setdefault(record.run.run_dir, {})[record.name] = record.value
    runs = []
    for run_dir in sorted(p for p in models_dir.glob("*/*") if p.is_dir()):
        info = our_run_info(run_dir)
        if info is None:
            notes.append(f"ignored: {run_dir} has no run config saying its method, and "
                         f"{run_dir.parent.name} is not named like one of our experiments")
            continue
        config = {}
        if layout.config_path(run_dir).is_file():
            config = _read_json_object(layout.config_path(run_dir), notes) or {}
        seed = config.get("seed")
        if not isinstance(seed, int):
            match = _SEED_RUN_ID.match(run_dir.name)
            seed = int(match[1]) if match else None
        status, detail, values, trained_on = _training_state(run_dir, notes)
        runs.append(RunRecord(
            arm=info.group, label=info.label, method=info.method, gamma=info.gamma or 0.0,
            settings=info.settings or "", run_id=info.run_id, seed=seed, status=status,
            values={**scores.get(run_dir, {}), **values},
            evaluation_seconds=_evaluation_seconds(run_dir, notes), detail=detail,
            config=config, trained_on=trained_on))
    if not runs:
        notes.append(f"no runs under {models_dir}")
    return runs, notes


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(runs: Sequence[RunRecord] = ()) -> dict[str, Any]:
    """The machine writing the summary (platform, CPUs usable, CPU model, Python, torch) and
    the devices and torch versions the finished runs trained with."""
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        nproc = os.cpu_count() or 0
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = "not installed"
    devices = sorted({run.trained_on for run in runs if run.trained_on})
    return {"platform": platform.platform(), "nproc": nproc, "cpu": _cpu_model(),
            "python": platform.python_version(), "torch": torch_version,
            "trained with": "; ".join(devices) or "unknown"}


def write_summary(output_dir: str | os.PathLike, summary: Mapping[str, Any]) -> list[Path]:
    """Write ``summary.json`` and ``summary.md`` atomically; returns their paths."""
    output_dir = Path(output_dir)
    paths = [output_dir / SUMMARY_JSON, output_dir / SUMMARY_MD]
    atomic_write_json(paths[0], summary)
    atomic_write_text(paths[1], render_markdown(summary))
    return paths
