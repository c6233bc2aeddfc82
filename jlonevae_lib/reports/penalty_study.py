"""The report of the pre-registered study ``cpu_penalty_study``: reading its runs.

The study (:mod:`jlonevae_lib.sweep.penalty_study`, docs/studies.md) has three arms on
disentanglement_lib's architecture, seeds 1-10, 30,000 batches, and keeps every run's model at
8,000 and 15,000 batches. This module turns its run folders into the data summary.json stores:

- which arm a run belongs to is read from its ``config.json`` and matched against the study's
  registered arms on the settings that define an arm (:data:`ARM_FIELDS`: objective, β, γ,
  the ramp ...), never from its folder's name (:func:`arm_of`); the other settings are
  compared with the registration and every difference is reported (:func:`setting_differences`);
- one record per registered member (a member without a folder is ``not started``); a run of
  another seed or a second run of one member is left out with a note;
- its values at the end (``local_mig_0_1``, ``local_mig_0_1_evalseeds_mean``, ``mig``, held-out
  reconstruction BCE ..., the keys of :mod:`jlonevae_lib.reports.records`) and its ``curve``:
  the kept models' values at 8,000 and 15,000 batches (``local_mig_0_1@8000`` on disk, see
  :func:`jlonevae_lib.runs.layout.kept_metric_name`) beside the end's;
- when it started (the sweep's training log) and when its last result was written.

Until every registered member is finished and evaluated (:func:`is_complete`) the data hold no
outcome at all, only each run's status and training time: the study is pre-registered, and an
interim look changes nothing. The one exception is a study closed with runs that failed for
good (:func:`closing_blockers`, ``--close-with-failures``): every run has ended, and the
tests are made on the runs that have the primary outcome, the others named.

The statistics are :mod:`jlonevae_lib.reports.penalty_study_stats` (pure functions of this
data), the prose :mod:`jlonevae_lib.reports.penalty_study_text`, the figures
:mod:`jlonevae_lib.reports.penalty_study_figures`; the command line is
``python -m jlonevae_lib.cli.penalty_study_summary``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jlonevae_lib.reports.records import (
    FAILED,
    FINISHED,
    NOT_STARTED,
    TRAIN_MINUTES,
    RunRecord,
    elapsed_seconds,
    evaluation_seed_mean,
    json_object_or_note,
    read_summary_json,
    records_or_note,
    run_scores,
    seed_mean_key,
    training_state,
)
from jlonevae_lib.reports.text import finite
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.metric_table import (
    EXTRA_EVALUATION_SEEDS,
    LOCAL_MIG,
    LOCAL_MODULARITY,
    evaluation_seed_name,
    metric_name,
    parse_evaluation_seed_name,
)
from jlonevae_lib.runs.results import SEED_KEY, RunInfo
from jlonevae_lib.sweep.penalty_study import ARM_LABELS, ARMS, NAME, SEEDS, cpu_penalty_study
from jlonevae_lib.sweep.runner import TRAIN
from jlonevae_lib.sweep.status import missing_metrics
from jlonevae_lib.sweep.studies import plan_study
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError

#: The pre-registered primary outcome: local MIG at 0.1, mean over evaluation seeds 0-2.
PRIMARY_BASE = metric_name(LOCAL_MIG, 0.1)
PRIMARY_KEY = seed_mean_key(PRIMARY_BASE)
#: The values the primary outcome is the mean of: evaluation seeds 0-2.
PRIMARY_PARTS = (PRIMARY_BASE, *(evaluation_seed_name(PRIMARY_BASE, seed)
                                 for seed in EXTRA_EVALUATION_SEEDS))
#: The scores kept at 8,000 and 15,000 batches (at evaluation seeds 0-2, and their mean).
KEPT_BASES = (PRIMARY_BASE, metric_name(LOCAL_MODULARITY, 0.1))
EVALUATION_SEEDS = (0, *EXTRA_EVALUATION_SEEDS)
#: The settings that tell the arms apart: a run is of the arm whose registration it matches on
#: all of them.
ARM_FIELDS = ("objective", "architecture", "beta", "gamma", "annealing_batches",
              "jacobian_batch", "regularization_type")
#: The other settings of the registration; a run that differs is kept and the difference
#: reported as a deviation.
SHARED_FIELDS = ("dataset", "latent_dim", "batch_size", "lr", "num_batches", "keep_models_at",
                 "objective_params", "jacobian_method", "extended_from", "precision",
                 "deterministic", "allow_tf32")
#: How the report writes a moment (UTC).
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


# ------------------------------------------------------------------------------ the arms


@functools.cache
def _registered() -> dict[tuple[str, int], dict[str, Any]]:
    plan = plan_study(cpu_penalty_study())
    return {(m.point["arm"], m.point["seed"]): m.config.to_dict() for m in plan.members}


@functools.cache
def _metric_names() -> tuple[str, ...]:
    """The result every member must have to be evaluated (the sweep's own test)."""
    return tuple(plan_study(cpu_penalty_study()).metric_names())


def non_finite_part(run_dir: Path, info: RunInfo, part: str) -> float | None:
    """The value of ``part`` (one of :data:`PRIMARY_PARTS`) that its own result file gives when
    that file is readable, was evaluated at the registered evaluation seed, and gives it as a
    number that is not finite (nan, inf); None otherwise (a finite value, an unreadable or
    missing file, another seed: evaluating again may mend those)."""
    path = layout.evaluation_path(run_dir, part)
    scratch: list[str] = []  # what is wrong with the file is noted where its scores are read
    data = json_object_or_note(path, scratch) if path.is_file() else None
    if data is None:
        return None
    own = data.get(SEED_KEY)
    if (part == PRIMARY_BASE and isinstance(own, int | str) and str(own).isdigit()
            and int(own) != EVALUATION_SEEDS[0]):
        return None
    found = [record.value for record in records_or_note(data, info, path, scratch)
             if record.name == PRIMARY_BASE]
    return found[0] if len(found) == 1 and not math.isfinite(found[0]) else None


def non_finite_primary(run_dir: Path, info: RunInfo, status: str,
                       values: Mapping[str, float]) -> dict[str, float]:
    """{part: value} when a finished run's evaluation has written every result (the sweep's
    test) and each value the primary outcome is the mean of that ``values`` lacks is, in its
    own readable file at the registered seed, not a finite number (local MIG is undefined
    where no factor varies); else {}. The evaluation is seeded, so evaluating again gives the
    same and the sweep does not: the run has ended without the primary outcome."""
    if status != FINISHED or PRIMARY_KEY in values:
        return {}
    lacking = [part for part in PRIMARY_PARTS if part not in values]
    if not lacking or missing_metrics(run_dir, _metric_names()):
        return {}
    found = {part: value for part in lacking
             if (value := non_finite_part(run_dir, info, part)) is not None}
    return found if len(found) == len(lacking) else {}


def registered_config(arm: str, seed: int = SEEDS[0]) -> dict[str, Any]:
    """The registered training config of member (``arm``, ``seed``), as config.json holds it."""
    return dict(_registered()[(arm, seed)])


def registered_settings() -> dict[str, dict[str, Any]]:
    """Each arm's registered settings (of its first seed), without where it runs."""
    hidden = ("output_dir", "run_id", "seed", "model_num", "data_source", "imported_from",
              "log_interval", "checkpoint_every")
    return {arm: {k: v for k, v in registered_config(arm).items() if k not in hidden}
            for arm in ARMS}


def _same(value: Any, registered: Any) -> bool:
    if isinstance(value, int | float) and isinstance(registered, int | float) and not (
            isinstance(value, bool) or isinstance(registered, bool)):
        return math.isclose(float(value), float(registered), rel_tol=1e-12, abs_tol=0.0)
    return value == registered


def arm_of(config: Mapping[str, Any]) -> str | None:
    """The registered arm whose defining settings (:data:`ARM_FIELDS`) ``config`` has; None
    when it matches none."""
    for arm in ARMS:
        registered = registered_config(arm)
        if all(name in config and _same(config[name], registered[name])
               for name in ARM_FIELDS):
            return arm
    return None


def setting_differences(config: Mapping[str, Any], arm: str) -> list[list[Any]]:
    """``[name, the run's value, the registered value]`` for each of :data:`SHARED_FIELDS`
    where the run differs from its arm's registration."""
    registered = registered_config(arm)
    return [[name, config.get(name), registered[name]] for name in SHARED_FIELDS
            if not _same(config.get(name), registered[name])]


# ------------------------------------------------------------------------------ one run


def kept_scores(run_dir: Path, info: RunInfo, notes: list[str]
                ) -> tuple[dict[str, float], float, dict[str, set[int]]]:
    """(values keyed ``<key>@<N>``, evaluation seconds, {key: evaluation seeds its own file
    records}) of the models ``run_dir`` kept at earlier batches; the repeats at other
    evaluation seeds keyed ``<key>_evalseed<k>@<N>``. As
    :func:`~jlonevae_lib.reports.records.run_scores` for the final model."""
    values: dict[str, float] = {}
    seconds = 0.0
    own_seeds: dict[str, set[int]] = {}
    for batches, path in layout.kept_evaluation_files(run_dir):
        repeat = parse_evaluation_seed_name(layout.metric_of_evaluation(path))
        data = json_object_or_note(path, notes)
        if data is None:
            continue
        seconds += elapsed_seconds(data)
        for record in records_or_note(data, info, path, notes):
            key = record.name if repeat is None else evaluation_seed_name(record.name, repeat[1])
            name = layout.kept_metric_name(key, batches)
            if not math.isfinite(record.value):
                notes.append(f"skipped: {path} gives {name} = {record.value}")
            elif name not in values:
                values[name] = record.value
                own = data.get(SEED_KEY)
                if repeat is None and isinstance(own, int | str) and str(own).isdigit():
                    own_seeds.setdefault(name, set()).add(int(own))
    return values, seconds, own_seeds


def drop_means_off_seed(values: Mapping[str, float], own_seeds: Mapping[str, set[int]],
                        run_dir: Path, notes: list[str]) -> dict[str, float]:
    """``values`` without the seed mean of a score whose own file was evaluated at another
    seed than the registered one (0, :data:`EVALUATION_SEEDS`' first): that mean would not be
    over seeds 0-2. The run then lacks the mean, and a note says why and how to mend it."""
    out = dict(values)
    for key, seeds in sorted(own_seeds.items()):
        base, batches = layout.parse_kept_metric_name(key)
        if base not in KEPT_BASES or seeds == {EVALUATION_SEEDS[0]}:
            continue
        mean = seed_mean_key(base)
        out.pop(mean if batches is None else layout.kept_metric_name(mean, batches), None)
        model = "" if batches is None else f" --at-batch {batches}"
        notes.append(f"deviation: {run_dir} has {key} at evaluation seed "
                     f"{', '.join(map(str, sorted(seeds)))}, registered {EVALUATION_SEEDS[0]}: "
                     f"no mean over seeds 0-2 for it; evaluate it again without --seed "
                     f"(--overwrite{model})")
    return out


def add_seed_means(values: Mapping[str, float], points: Iterable[int | None]
                   ) -> dict[str, float]:
    """``values`` with the mean over evaluation seeds 0-2 of each kept score
    (:data:`KEPT_BASES`) at each point (None: the end, else the batch of a kept model) where
    all three seeds have a value (:func:`~jlonevae_lib.reports.records.evaluation_seed_mean`,
    as for the other studies)."""
    out = dict(values)
    for point in points:
        def at(key: str, point: int | None = point) -> str:
            return key if point is None else layout.kept_metric_name(key, point)

        for base in KEPT_BASES:
            mean = evaluation_seed_mean(values, base, EXTRA_EVALUATION_SEEDS, key_of=at)
            if mean is not None:
                out[at(seed_mean_key(base))] = mean
    return out


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(TIME_FORMAT)


def run_times(run_dir: Path) -> tuple[str | None, str | None]:
    """(when the sweep first started training the run, from its training log's first attempt
    line, which is local time on the machine that ran it; when its last marker or result file
    was written, from the files' times), each as UTC text, None when unknown."""
    start = None
    log = layout.sweep_log_path(run_dir, TRAIN)
    if log.is_file():
        with log.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                began = layout.sweep_log_attempt_time(line)
                if began is not None:
                    start = _utc(began)
                    break
    written = [layout.done_path(run_dir), *layout.evaluation_files(run_dir),
               *layout.evaluation_seed_repeat_files(run_dir),
               *(path for _, path in layout.kept_evaluation_files(run_dir))]
    times = [path.stat().st_mtime for path in written if path.is_file()]
    last = _utc(datetime.fromtimestamp(max(times), timezone.utc)) if times else None
    return start, last


def read_run(run_dir: Path, notes: list[str]) -> RunRecord | None:
    """One run folder as a record of its arm (None, with a note, when its config.json is
    missing or matches no arm). Its values: the end's and, keyed ``<key>@<N>``, its kept
    models', each with the mean over evaluation seeds 0-2."""
    if not layout.config_path(run_dir).is_file():
        notes.append(f"ignored: {run_dir} has no {layout.CONFIG_FILE}")
        return None
    config = json_object_or_note(layout.config_path(run_dir), notes) or {}
    arm = arm_of(config)
    if arm is None:
        notes.append(f"ignored: {run_dir}: its {layout.CONFIG_FILE} matches no arm of {NAME} "
                     f"(on {', '.join(ARM_FIELDS)})")
        return None
    seed = config.get("seed")
    status, detail, trained, trained_on = training_state(run_dir, notes)
    info = RunInfo(run_dir=run_dir, group=arm, method=arm, label=ARM_LABELS[arm],
                   run_id=run_dir.name)
    scores, seconds, own_seeds = run_scores(run_dir, info, notes)
    kept, kept_seconds, kept_own_seeds = kept_scores(run_dir, info, notes)
    points = [None, *sorted({b for b in config.get("keep_models_at") or []})]
    values = drop_means_off_seed(add_seed_means({**scores, **trained, **kept}, points),
                                 {**own_seeds, **kept_own_seeds}, run_dir, notes)
    non_finite = non_finite_primary(run_dir, info, status, values)
    if non_finite:
        detail = ", ".join(f"{part} = {value}" for part, value in non_finite.items())
    return RunRecord(arm=arm, label=ARM_LABELS[arm], method=str(config.get("objective")),
                     gamma=float(config.get("gamma") or 0.0), settings="",
                     run_id=run_dir.name, seed=seed if isinstance(seed, int) else None,
                     status=status, values=values, evaluation_seconds=seconds + kept_seconds,
                     detail=detail, config=config, trained_on=trained_on,
                     ended_without_primary=bool(non_finite))


def study_run_dirs(study_dir: str | Path) -> list[Path]:
    """Every run folder of a study's output folder: ``<study_dir>/trainedModels/*/*`` and
    ``<study_dir>/trainedStandardModels/*/*``, sorted."""
    study_dir = Path(study_dir)
    return sorted(path for models in (layout.TRAINED_MODELS_DIR, layout.STANDARD_MODELS_DIR)
                  for path in layout.run_folders(study_dir / models))


def collect_study_runs(run_dirs: Sequence[str | Path]
                       ) -> tuple[list[RunRecord], list[str], dict[tuple[str, int], Path]]:
    """One record per registered member (arm × seed 1-10, in that order), read from the run
    folders given; a member none of them is: :data:`NOT_STARTED`. (records, notes, the folder
    of each member read)."""
    notes: list[str] = []
    found: dict[tuple[str, int], RunRecord] = {}
    folders: dict[tuple[str, int], Path] = {}
    for run_dir in run_dirs:
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            continue  # a member not started yet
        record = read_run(run_dir, notes)
        if record is None:
            continue
        if record.seed not in SEEDS:
            notes.append(f"left out: {run_dir} is {record.label} with seed {record.seed}, not "
                         f"a registered seed ({SEEDS[0]}-{SEEDS[-1]})")
        elif (record.arm, record.seed) in found:
            notes.append(f"left out: {run_dir} is a second run of {record.label} seed "
                         f"{record.seed}; {folders[(record.arm, record.seed)]} was read first")
        else:
            found[(record.arm, record.seed)] = record
            folders[(record.arm, record.seed)] = run_dir
    records = []
    for arm in ARMS:
        for seed in SEEDS:
            records.append(found.get((arm, seed)) or RunRecord(
                arm=arm, label=ARM_LABELS[arm], method="", gamma=0.0, settings="",
                run_id=layout.default_run_name(seed), seed=seed, status=NOT_STARTED))
    return records, notes, folders


# ------------------------------------------------------------------------------ the data


def is_evaluated(status: str, values: Mapping[str, float]) -> bool:
    """Whether a run counts towards the primary test: finished, with the primary outcome."""
    return status == FINISHED and PRIMARY_KEY in values


def is_complete(records: Sequence[RunRecord]) -> bool:
    """Whether every registered member (arm × seed) is finished and evaluated: only then is
    any outcome summarised."""
    members = {(r.arm, r.seed) for r in records if is_evaluated(r.status, r.values)}
    return members >= {(arm, seed) for arm in ARMS for seed in SEEDS}


def closing_blockers(records: Sequence[RunRecord],
                     run_dirs: Mapping[tuple[str, int], Path]) -> list[RunRecord]:
    """The members that keep a study from being closed with failures: those still to train
    (not started, or unfinished) and the finished ones whose primary outcome is still to be
    evaluated (no evaluation-failure marker, results still to write). A closed study's runs
    have all ended: evaluated, failed, finished with a failed evaluation, or evaluated without
    a finite primary outcome (:func:`non_finite_primary`)."""
    def ended(record: RunRecord) -> bool:
        if record.status == FAILED or is_evaluated(record.status, record.values):
            return True
        if record.ended_without_primary:
            return True
        folder = run_dirs.get((record.arm, record.seed))
        return (record.status == FINISHED and folder is not None
                and layout.evaluation_failed_path(folder).is_file())

    return [r for r in records if not ended(r)]


def run_entry(record: RunRecord, times: tuple[str | None, str | None] = (None, None)
              ) -> dict[str, Any]:
    """A record as summary.json stores it: ``values`` at the end, ``curve`` {batches: values}
    of every kept score at the kept models and at the end, the setting differences and
    times."""
    final = {k: v for k, v in record.values.items() if layout.KEPT_METRIC_SEPARATOR not in k}
    curve: dict[str, dict[str, float]] = {}
    for key, value in record.values.items():
        name, batches = layout.parse_kept_metric_name(key)
        if batches is not None:
            curve.setdefault(str(batches), {})[name] = value
    kept_keys = {name for point in curve.values() for name in point}
    end = record.config.get("num_batches")
    if record.status == FINISHED and isinstance(end, int) and kept_keys & set(final):
        curve[str(end)] = {k: final[k] for k in sorted(kept_keys) if k in final}
    return {"arm": record.arm, "label": record.label, "seed": record.seed,
            "run_id": record.run_id, "status": record.status, "detail": record.detail,
            "evaluated": is_evaluated(record.status, record.values),
            "ended_without_primary": record.ended_without_primary,
            "dataset": record.config.get("dataset"),
            "num_batches": end if isinstance(end, int) else None,
            "values": final,
            "curve": {k: curve[k] for k in sorted(curve, key=int)},
            "setting_differences": (setting_differences(record.config, record.arm)
                                    if record.config else []),
            "evaluation_seconds": record.evaluation_seconds, "trained_on": record.trained_on,
            "first_start": times[0], "last_result": times[1]}


def study_data(records: Sequence[RunRecord], notes: Sequence[str], *, command: str,
               machine: Mapping[str, Any], run_dirs: Mapping[tuple[str, int], Path] | None = None,
               reference_bce: Mapping[str, Mapping[str, float]] | None = None,
               figures: Sequence[str] = (), close_with_failures: bool = False
               ) -> dict[str, Any]:
    """What summary.json stores besides the statistics: the study, its registration, one
    entry per registered member (:func:`run_entry`), the held-out BCE's reference points,
    command, machine, figures and notes. ``run_dirs``: (arm, seed) -> the run folder read, for
    the run's times.

    Until the study is complete (:func:`is_complete`) no outcome is stored either: each run
    keeps its status and training minutes, its values and curve are withheld
    (``outcomes_withheld``), so no interim look is possible through the report.
    ``close_with_failures``: close an incomplete study whose runs have all ended (raises
    :class:`JLoneVAEError` while :func:`closing_blockers` names any): its outcomes are stored
    and ``closed_with_failures`` says so."""
    run_dirs = run_dirs or {}
    runs = [run_entry(r, run_times(run_dirs[(r.arm, r.seed)])
                      if (r.arm, r.seed) in run_dirs else (None, None)) for r in records]
    closed = close_with_failures and not is_complete(records)
    if closed and (blockers := closing_blockers(records, run_dirs)):
        raise JLoneVAEError(
            f"--close-with-failures closes a study whose runs have all ended, and "
            f"{len(blockers)} {'have' if len(blockers) != 1 else 'has'} not ("
            + ", ".join(f"{r.label} seed {r.seed}: "
                        + (r.status if r.status != FINISHED else "evaluation to do")
                        for r in blockers[:5])
            + (", ..." if len(blockers) > 5 else "") + f"); finish them with "
            f"'jlonevae-sweep run {NAME}'")
    withheld = not is_complete(records) and not closed
    if withheld:
        for run in runs:
            run["values"] = {k: v for k, v in run["values"].items() if k == TRAIN_MINUTES}
            run["curve"] = {}
    return finite({
        "study": NAME, "outcomes_withheld": withheld, "closed_with_failures": closed,
        "arms": list(ARMS), "arm_labels": dict(ARM_LABELS),
        "seeds": list(SEEDS), "primary_key": PRIMARY_KEY,
        "evaluation_seeds": list(EVALUATION_SEEDS),
        "registered": registered_settings(), "runs": runs,
        "reference_bce": {k: dict(v) for k, v in (reference_bce or {}).items()},
        "command": command, "machine": dict(machine), "figures": list(figures),
        "notes": list(notes)})


#: The entries of summary.json that :func:`study_data` writes (the rest are computed).
DATA_KEYS = ("study", "outcomes_withheld", "closed_with_failures", "arms", "arm_labels",
             "seeds", "primary_key", "evaluation_seeds", "registered", "runs", "reference_bce",
             "command", "machine", "figures", "notes")


#: Entries of :data:`DATA_KEYS` a summary.json written before them lacks, with their value then.
OPTIONAL_DATA = {"closed_with_failures": False}


def load_summary(path: str | Path) -> dict[str, Any]:
    """The data of a written summary.json (:data:`DATA_KEYS`): everything the statistics and
    the text are computed from."""
    summary = read_summary_json(path, [key for key in DATA_KEYS if key not in OPTIONAL_DATA],
                                f"a {NAME} summary")
    summary = {**OPTIONAL_DATA, **summary}
    if summary["study"] != NAME:
        raise DataFileError(f"{path} is not a {NAME} summary: its study is "
                            f"{summary['study']!r}")
    return {key: summary[key] for key in DATA_KEYS}
