"""A study's runs as one table: one :class:`RunRecord` per run (arm, seed, status, values by
key), read from its ``config.json``, ``DONE`` / ``FAILED`` and evaluation files through
:mod:`jlonevae_lib.runs` (:mod:`~jlonevae_lib.runs.layout`, :mod:`~jlonevae_lib.runs.results`).

Values are keyed by metric name (:func:`jlonevae_lib.runs.metric_table.metric_name`:
``local_mig_0_1``, ``mig``), the repeats at extra evaluation seeds ``local_mig_0_1_evalseed<k>``
with their mean ``local_mig_0_1_evalseeds_mean``, plus :data:`RECON_BCE`,
:data:`TRAIN_MINUTES` and, where measured, :data:`HELDOUT_BCE`. :func:`collect_runs` reads every
run under a ``trainedModels/`` folder (the CPU study); :func:`run_scores` one run's results,
repeats included (the seven-arm study reads its members with it); the rest are pure functions
of record lists (the value keys in table order, missing values and seeds) and
:func:`machine_info`. Every study report (:mod:`jlonevae_lib.reports`) reads its runs here.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import math
import os
import platform
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jlonevae_lib.runs import layout
from jlonevae_lib.runs.metric_table import (
    ELAPSED_TIME,
    HELDOUT_BCE,
    RECON_BCE,
    RUN_VALUE_KEYS,
    TRAIN_MINUTES,
    all_local_scores,
    evaluation_seed_name,
    global_scores,
    metric_name,
    parse_evaluation_seed_name,
    parse_metric_name,
)
from jlonevae_lib.runs.results import (
    SEED_KEY,
    SPLIT_NOTE,
    MetricResult,
    RunInfo,
    discover_results,
    duplicate_note,
    evaluation_records,
    our_run_info,
    preferred_result,
    split_mixed_settings,
)
from jlonevae_lib.utils.errors import DataFileError, short_reason
from jlonevae_lib.utils.threads import usable_cpus
from jlonevae_lib.utils.timing import cpu_model

#: Run statuses.
FINISHED, UNFINISHED, FAILED, NOT_STARTED = "finished", "unfinished", "failed", "not started"

#: The scalar of ``DONE``'s ``final_scalars`` that is the reconstruction BCE per image.
RECON_SCALAR = "NLL/train"
#: The same quantity as disentanglement_lib's objectives log it (the per-image sum of sigmoid
#: cross-entropies, averaged over the batch).
DLIB_RECON_SCALAR = "reconstruction_loss"
#: A local score's mean over its evaluation seeds: ``local_mig_0_1_evalseeds_mean`` (the
#: values at the extra seeds are keyed ``local_mig_0_1_evalseed<k>``).
SEED_MEAN_SUFFIX = "_evalseeds_mean"
SECONDS_PER_MINUTE = 60.0


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
        ended_without_primary: finished and evaluated, but the score a pre-registered test
            uses is not a finite number (``cpu_penalty_study``: evaluating again gives the
            same, so the run has ended without it).
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
    ended_without_primary: bool = False


# ------------------------------------------------------------------------------ the table


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
    modularity by locality, then the local versions of disentanglement_lib's scores and the
    plug-ins' local scores (each followed by its values at extra evaluation seeds and their
    mean, when there are some), MIG, modularity, disentanglement_lib's other scores and the
    plug-ins' global ones, reconstruction BCE, training time."""
    present = {key for run in runs for key in run.values}
    ordered = []
    for score in all_local_scores():
        for x in localities_of(present, score):
            key = metric_name(score, x)
            repeats = sorted((parsed[1], name) for name in present
                             if (parsed := parse_evaluation_seed_name(name)) is not None
                             and parsed[0] == key)
            ordered += [key, *(name for _, name in repeats), seed_mean_key(key)]
    ordered += [*(metric_name(score, None) for score in global_scores()), RECON_BCE,
                HELDOUT_BCE, TRAIN_MINUTES]
    return [key for key in ordered if key in present]


def localities_of(keys: Iterable[str], score: str) -> list[float]:
    """The localities of a local score among value keys (``local_mig_0_1`` -> 0.1),
    ascending."""
    parsed = [parse_metric_name(key) for key in keys]
    return sorted({p[1] for p in parsed if p is not None and p[0] == score and p[1] is not None})


def compute_time(runs: Sequence[RunRecord]) -> dict[str, float]:
    """Training seconds summed over the finished runs, evaluation seconds over all, and their
    sum."""
    train_seconds = math.fsum(run.values.get(TRAIN_MINUTES, 0.0) for run in runs
                              if run.status == FINISHED) * SECONDS_PER_MINUTE
    evaluation_seconds = math.fsum(run.evaluation_seconds for run in runs)
    return {"training_seconds": train_seconds, "evaluation_seconds": evaluation_seconds,
            "total_seconds": train_seconds + evaluation_seconds}


def evaluation_seed_mean(values: Mapping[str, float], base: str, extra_seeds: Iterable[int],
                         key_of: Callable[[str], str] = str) -> float | None:
    """The mean of score ``base`` over its evaluation seeds: the run's own (key
    ``key_of(base)``) and each of ``extra_seeds`` (``key_of(evaluation_seed_name(base, s))``);
    None when ``values`` lacks one. ``key_of`` places the keys, e.g. at a kept model."""
    keys = [key_of(base), *(key_of(evaluation_seed_name(base, seed)) for seed in extra_seeds)]
    if not all(key in values for key in keys):
        return None
    return math.fsum(values[key] for key in keys) / len(keys)


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
            mean = evaluation_seed_mean(run.values, base, sorted(seeds))
            if mean is not None:
                means[seed_mean_key(base)] = mean
        with_means.append(replace(run, values={**run.values, **means}) if means else run)
    return with_means

def mark_missing_values(runs: Sequence[RunRecord]) -> list[RunRecord]:
    """The runs, each finished one whose scores lack a key that another run of the study has
    getting it named in ``detail`` (the study's evaluation is partial there)."""
    expected = {key for run in runs for key in run.values
                if key not in RUN_VALUE_KEYS}
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
        added += [replace(arm, run_id=layout.default_run_name(seed), seed=seed,
                          status=NOT_STARTED, values={}, evaluation_seconds=0.0, detail="",
                          config={}, trained_on="")
                  for seed in seeds if seed not in have]
    return sorted(added, key=lambda r: (r.gamma, r.arm, -1 if r.seed is None else r.seed,
                                        r.run_id))

# ------------------------------------------------------------------------------ reading


def number(value: Any) -> float | None:
    """A JSON number as a float; None for anything else (booleans included)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def seed_of(run_dir: Path, config: Mapping[str, Any]) -> int | None:
    seed = config.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        return seed
    return layout.seed_of_run_name(run_dir.name)


def elapsed_seconds(data: Mapping[str, Any]) -> float:
    """The evaluation time an evaluation file records; 0 where it records no number."""
    return number(data.get(f"evaluation_results.{ELAPSED_TIME}")) or 0.0


def records_or_note(data: dict[str, Any], info: RunInfo, path: Path, notes: list[str]
                    ) -> list[MetricResult]:
    """The metric results in one evaluation file's ``data``; none, and a note saying why,
    where its content is not understood: a bad file is a note in a report, never fatal."""
    try:
        return evaluation_records(data, info, path)
    except Exception as err:  # noqa: BLE001 - whatever the file holds, the report goes on
        notes.append(f"skipped: {err}")
        return []


def run_scores(run_dir: Path, info: RunInfo, notes: list[str]
                ) -> tuple[dict[str, float], float, dict[str, set[int]]]:
    """(values by key, evaluation seconds, {base key: evaluation seeds of its own file}) of one
    run's results, the repeats at extra seeds included."""
    seconds = 0.0
    files = [(path, None) for path in layout.evaluation_files(run_dir)]
    for path in layout.evaluation_seed_repeat_files(run_dir):
        parsed = parse_evaluation_seed_name(layout.metric_of_evaluation(path))
        files.append((path, None if parsed is None else parsed[1]))
    # {key: [(result, its file's evaluation seed or None)]}, from every file that has it.
    found: dict[str, list[tuple[MetricResult, Any]]] = {}
    for path, seed in files:
        data = json_object_or_note(path, notes)
        if data is None:
            continue
        seconds += elapsed_seconds(data)
        for record in records_or_note(data, info, path, notes):
            key = record.name if seed is None else evaluation_seed_name(record.name, seed)
            if not math.isfinite(record.value):
                notes.append(f"skipped: {path} gives {key} = {record.value}")
            else:
                found.setdefault(key, []).append(
                    (record, data.get(SEED_KEY) if seed is None else None))
    values: dict[str, float] = {}
    own_seeds: dict[str, set[int]] = {}
    for key, candidates in found.items():
        # As the figures do (runs.results): the folder with more clusters.
        records = [record for record, _ in candidates]
        kept = preferred_result(records)
        if (note := duplicate_note(run_dir, key, records)) is not None:
            notes.append(note)
        values[key] = kept.value
        own = next(own for record, own in candidates if record is kept)
        if isinstance(own, int | str) and str(own).isdigit():
            own_seeds.setdefault(key, set()).add(int(own))
    return values, seconds, own_seeds



@contextlib.contextmanager
def summary_values_checked(path: str | os.PathLike) -> Iterator[None]:
    """Around recomputing a report from a written summary.json: a value of the wrong kind in
    it (a string where a number belongs, say) is a one-line :class:`DataFileError`, raised
    before any file is written."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise DataFileError(f"{path} holds a value this version cannot use "
                            f"({short_reason(err)}); write the summary again from the "
                            "runs") from None


def read_summary_json(path: str | os.PathLike, required: Sequence[str], what: str
                      ) -> dict[str, Any]:
    """A study's written summary.json, which must be an object with every key of ``required``;
    otherwise a one-line :class:`DataFileError` saying it is not ``what`` ("a seven-arm
    summary")."""
    try:
        summary = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataFileError(f"cannot read {path}: {err}") from None
    missing = [key for key in required if key not in summary] if isinstance(summary, dict) \
        else ["object"]
    if missing:
        raise DataFileError(f"{path} is not {what}: no {', '.join(missing)}")
    return summary


def json_object_or_note(path: Path, notes: list[str]) -> dict[str, Any] | None:
    """The JSON object in ``path`` (:func:`~jlonevae_lib.runs.layout.read_json_object`); None,
    and a note saying why, when it is missing, unreadable or not an object: a report lists
    such a run rather than stopping at it."""
    try:
        return layout.read_json_object(path)
    except DataFileError as err:
        notes.append(f"unreadable: {err}")
        return None


def training_state(run_dir: Path, notes: list[str]
                    ) -> tuple[str, str, dict[str, float], str]:
    """(status, detail, values from DONE, device and torch it trained with) of one run."""
    if layout.is_finished(run_dir):
        done = json_object_or_note(layout.done_path(run_dir), notes) or {}
        trained_on = f"{done.get('device', '?')}, torch {done.get('torch', '?')}"
        values = {}
        seconds = number(done.get("train_seconds"))
        if seconds is not None:
            values[TRAIN_MINUTES] = seconds / SECONDS_PER_MINUTE
        scalars = done.get("final_scalars")
        recon = None
        if isinstance(scalars, dict):
            recon = next((value for name in (RECON_SCALAR, DLIB_RECON_SCALAR)
                          if (value := number(scalars.get(name))) is not None), None)
        if recon is not None:
            values[RECON_BCE] = recon
        return FINISHED, "", values, trained_on
    if layout.failed_path(run_dir).is_file():
        failed = json_object_or_note(layout.failed_path(run_dir), notes) or {}
        return FAILED, str(failed.get("message", failed.get("reason", ""))), {}, ""
    if layout.checkpoint_path(run_dir).is_file():
        return UNFINISHED, "interrupted or running; resumes from its checkpoint", {}, ""
    return UNFINISHED, "started, no checkpoint yet", {}, ""


def evaluation_seconds(run_dir: Path, notes: list[str]) -> float:
    total = 0.0
    for path in layout.evaluation_files(run_dir):
        data = json_object_or_note(path, notes) or {}
        total += number(data.get(f"evaluation_results.{ELAPSED_TIME}")) or 0.0
    return total


def collect_runs(models_dir: str | os.PathLike,
                 runs: Collection[str | os.PathLike] | None = None
                 ) -> tuple[list[RunRecord], list[str]]:
    """Every run folder under ``models_dir`` (only those of ``runs``, when given: a study's
    members among other runs there) as a :class:`RunRecord`, and notes on what was missing,
    partial or unreadable (the evaluation results' notes included)."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return [], [f"{models_dir} does not exist: no runs yet"]
    results = discover_results(models_dir, runs=runs)
    notes = list(results.notes)
    scores: dict[Path, dict[str, float]] = {}
    for record in results.records:
        scores.setdefault(record.run.run_dir, {})[record.name] = record.value
    wanted = None if runs is None else {Path(run).resolve() for run in runs}
    infos = {run_dir: our_run_info(run_dir) for run_dir in layout.run_folders(models_dir)
             if wanted is None or run_dir.resolve() in wanted}
    # The arms of every run, evaluated or not, as the figures split them (a baseline at two
    # settings is two arms): the split the figures' notes describe covers evaluated runs only.
    notes = [note for note in notes if not note.startswith(SPLIT_NOTE)]
    arms = split_mixed_settings([info for info in infos.values() if info is not None], notes)
    runs = []
    for run_dir, info in infos.items():
        if info is None:
            notes.append(f"ignored: {run_dir} has no run config saying its method, and "
                         f"{run_dir.parent.name} is not named like one of our experiments")
            continue
        info = arms[run_dir]
        config = {}
        if layout.config_path(run_dir).is_file():
            config = json_object_or_note(layout.config_path(run_dir), notes) or {}
        seed = seed_of(run_dir, config)
        status, detail, values, trained_on = training_state(run_dir, notes)
        runs.append(RunRecord(
            arm=info.group, label=info.label, method=info.method, gamma=info.gamma or 0.0,
            settings=info.settings or "", run_id=info.run_id, seed=seed, status=status,
            values={**scores.get(run_dir, {}), **values},
            evaluation_seconds=evaluation_seconds(run_dir, notes), detail=detail,
            config=config, trained_on=trained_on))
    if not runs:
        notes.append(f"no runs under {models_dir}")
    return runs, notes


def machine_info(runs: Sequence[RunRecord] = ()) -> dict[str, Any]:
    """The machine writing the summary (platform, CPUs usable, CPU model, Python, torch) and
    the devices and torch versions the finished runs trained with."""
    nproc = usable_cpus()
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = "not installed"
    devices = sorted({run.trained_on for run in runs if run.trained_on})
    return {"platform": platform.platform(), "nproc": nproc, "cpu": cpu_model(),
            "python": platform.python_version(), "torch": torch_version,
            "trained with": "; ".join(devices) or "unknown"}

