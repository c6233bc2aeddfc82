"""Finding evaluation results on disk and telling which run and method each belongs to.

Layouts (SPEC §4, §8), found by globbing, never by a database:

- our runs: ``<models_dir>/<experiment_name>/<run_id>/metrics/<metric>/results/aggregate/
  evaluation.json``, the experiment name encoding the method (``lone``/``jltwo``, γ, β, ...);
- disentanglement_lib baselines: ``<baselines_dir>/<model_number>/metrics/...`` (or one folder
  deeper, ``<baselines_dir>/model<N>_on3dots/<timestamp>/metrics/...`` as the reference had),
  the method named by ``train_config.model.name`` in the JSON, else by the model number
  (SPEC §10: number = dataset·1800 + model·300 + hp·50 + seed).

A file is classified by its contents, not its folder name (``local_mig_0_1`` and a main job's
``small_local_mig_0_1`` are the same metric): one with a ``locality_proportion`` binding gives
local MIG / local modularity at that locality, one without gives global MIG / modularity. A
run's value is the mean of the per-cluster samples when they are present.

Nothing here raises on a bad or missing file: problems become human-readable notes
(:attr:`Results.notes`) and the rest is used.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jlonevae_lib.utils.errors import DataFileError

LOCAL_MIG = "local_mig"
LOCAL_MODULARITY = "local_modularity"
MIG = "mig"
MODULARITY = "modularity"

#: Display names of the metrics.
METRIC_LABELS = {LOCAL_MIG: "local MIG", LOCAL_MODULARITY: "local modularity",
                 MIG: "MIG", MODULARITY: "modularity"}

# Per metric: result keys of the per-cluster samples, then of a scalar score, most specific
# first (after the "evaluation_results." namespace). Local metrics are read only from files
# with a locality binding, global ones only from files without.
_LOCAL_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    LOCAL_MIG: (("local_discrete_migs_samples",), ("local_discrete_mig", "discrete_mig")),
    LOCAL_MODULARITY: (("local_modularity_scores_samples",),
                       ("local_modularity_score", "modularity_score")),
}
_GLOBAL_KEYS: dict[str, tuple[str, ...]] = {
    MIG: ("discrete_mig",),
    MODULARITY: ("modularity_score",),
}
_LOCALITY_KEY = "evaluation_config.local_sample_factors.locality_proportion"
_DATASET_KEY = "evaluation_config.dataset.name"
_RESULT_PREFIX = "evaluation_results."
#: A run folder's evaluation files (relative to the run), as jlonevae-evaluate writes them.
EVALUATION_GLOB = "metrics/*/results/aggregate/evaluation.json"

#: Our method keys (from the experiment name) and their display names.
JL1, JL2, GAMMA0 = "jlone", "jltwo", "gamma0"
_OUR_METHOD_LABELS = {JL1: "JL1-VAE", JL2: "JL2-VAE", GAMMA0: "β-VAE"}

#: disentanglement_lib's unsupervised models, in the study's numbering order (SPEC §10).
BASELINE_METHODS: dict[str, str] = {
    "beta_vae": "β-VAE (dlib)",
    "factor_vae": "FactorVAE",
    "dip_vae_i": "DIP-VAE-I",
    "dip_vae_ii": "DIP-VAE-II",
    "beta_tc_vae": "β-TCVAE",
    "annealed_vae": "AnnealedVAE",
}
_STUDY_MODELS_PER_DATASET = 1800
_STUDY_RUNS_PER_MODEL = 300

_EXPERIMENT_RE = re.compile(
    r"^(?P<architecture>.+?)_(?P<reg>lone|jltwo)_beta(?P<beta>\d+_\d+)_ica(?P<gamma>\d+_\d+)"
    r"_lat(?P<lat>\d+)_batch(?P<batch>\d+)_lr(?P<lr>\d+_\d+)(?:_anneal(?P<anneal>\d+))?$")
_MODEL_NUMBER_RE = re.compile(r"^(?:model)?(\d+)(?:_.*)?$")

# Localities are compared after rounding: "0.1" in one file and 0.1000000001 in another.
_LOCALITY_DIGITS = 4


def _number(text: str) -> float:
    """'0_1000' -> 0.1 (the experiment names' number format, SPEC §4)."""
    return float(text.replace("_", "."))


def _unquote(value: Any) -> str:
    """A gin literal string ``"'threeDots'"`` -> ``threeDots``."""
    return str(value).strip().strip("'\"")


@dataclass(frozen=True)
class RunInfo:
    """One trained model and the method it belongs to.

    Attributes:
        run_dir: the run folder (holds ``metrics/``).
        group: what runs are grouped by: the experiment name (ours) or ``baseline:<method>``.
        method: ``jlone``, ``jltwo``, ``gamma0`` (ours with γ = 0: a β-VAE) or a key of
            :data:`BASELINE_METHODS`; ``unknown`` when neither name nor JSON says.
        label: display name, e.g. ``JL1-VAE (γ=0.1)``, ``β-VAE (γ=0)``, ``FactorVAE``.
        gamma: the Jacobian penalty weight (ours), else None.
        settings: the experiment name without regulariser and γ (ours): runs with equal
            settings differ only in the penalty and can be compared; None for baselines.
        run_id: the run folder's name (``seed11``, a model number, a timestamp).
    """

    run_dir: Path
    group: str
    method: str
    label: str
    gamma: float | None = None
    settings: str | None = None
    run_id: str = ""

    @property
    def title(self) -> str:
        """Two-line name for a figure row: the label, then the run id."""
        return f"{self.label}\n{self.run_id}"


@dataclass(frozen=True)
class MetricResult:
    """One metric of one run, at one locality (None for the global metrics).

    ``value`` is the run's score (mean over clusters for local metrics); ``samples`` the
    per-cluster scores (empty for global metrics); ``source`` the evaluation.json read.
    """

    run: RunInfo
    metric: str
    locality: float | None
    value: float
    samples: tuple[float, ...]
    dataset: str | None
    source: Path


@dataclass
class Results:
    """All metric results found, and notes on what was missing, partial or unreadable."""

    records: list[MetricResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def select(self, metric: str, locality: float | None = None,
               groups: Iterable[str] | None = None) -> list[MetricResult]:
        """Records of ``metric`` at ``locality`` (None: global metrics), optionally only of
        ``groups``, sorted by group and run."""
        wanted = None if groups is None else set(groups)
        key = None if locality is None else round(locality, _LOCALITY_DIGITS)
        found = [r for r in self.records if r.metric == metric and r.locality == key
                 and (wanted is None or r.run.group in wanted)]
        return sorted(found, key=lambda r: (r.run.group, r.run.run_id))

    def values_by_group(self, metric: str, locality: float | None = None,
                        groups: Iterable[str] | None = None) -> dict[str, list[float]]:
        """{group: per-run values (run order)} of ``metric`` at ``locality``."""
        values: dict[str, list[float]] = defaultdict(list)
        for record in self.select(metric, locality, groups):
            values[record.run.group].append(record.value)
        return dict(values)

    def runs(self) -> list[RunInfo]:
        """Every run with at least one result, sorted by group and run id."""
        unique = {r.run.run_dir: r.run for r in self.records}
        return sorted(unique.values(), key=lambda run: (run.group, run.run_id))

    def localities(self, metric: str) -> list[float]:
        """The localities at which ``metric`` was found, ascending."""
        return sorted({r.locality for r in self.records
                       if r.metric == metric and r.locality is not None})

    def labels(self) -> dict[str, str]:
        """{group: display label}; a label shared by several groups gets the group appended."""
        by_group = {run.group: run.label for run in self.runs()}
        counts: dict[str, int] = defaultdict(int)
        for label in by_group.values():
            counts[label] += 1
        return {group: label if counts[label] == 1 else f"{label} [{group}]"
                for group, label in by_group.items()}

    def report(self) -> str:
        """A short human-readable summary: runs per group, then the notes."""
        lines = []
        per_group: dict[str, set[Path]] = defaultdict(set)
        for record in self.records:
            per_group[record.run.group].add(record.run.run_dir)
        labels = self.labels()
        for group in sorted(per_group):
            lines.append(f"{labels[group]}: {len(per_group[group])} run(s) with results "
                         f"({group})")
        if not lines:
            lines.append("no evaluation results found")
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def parse_experiment_name(name: str) -> tuple[str, float, str] | None:
    """(method, γ, settings) of one of our experiment names, or None if it is not one.

    ``defaultConv_lone_beta4_0000_ica0_1000_lat10_batch64_lr0_0001_anneal100000`` ->
    (``jlone``, 0.1, ``defaultConv_beta4_0000_lat10_batch64_lr0_0001_anneal100000``). γ = 0
    gives the method ``gamma0`` whatever the regulariser (no penalty is computed then).
    """
    match = _EXPERIMENT_RE.match(name)
    if match is None:
        return None
    gamma = _number(match["gamma"])
    method = GAMMA0 if gamma == 0 else (JL1 if match["reg"] == "lone" else JL2)
    settings = (f"{match['architecture']}_beta{match['beta']}_lat{match['lat']}"
                f"_batch{match['batch']}_lr{match['lr']}")
    if match["anneal"] is not None:
        settings += f"_anneal{match['anneal']}"
    return method, gamma, settings


def our_run_info(run_dir: Path) -> RunInfo | None:
    """The :class:`RunInfo` of one of our run folders, None if its parent is not named like
    one of our experiments."""
    parsed = parse_experiment_name(run_dir.parent.name)
    if parsed is None:
        return None
    method, gamma, settings = parsed
    label = f"{_OUR_METHOD_LABELS[method]} (γ={gamma:g})"
    return RunInfo(run_dir=run_dir, group=run_dir.parent.name, method=method, label=label,
                   gamma=gamma, settings=settings, run_id=run_dir.name)


def _baseline_method(data: dict[str, Any], run_dir: Path) -> str | None:
    name = data.get("train_config.model.name")
    if name is not None:
        method = _unquote(name)
        if method == "dip_vae":
            dip_type = _unquote(data.get("train_config.dip_vae.dip_type", "i"))
            method = f"dip_vae_{dip_type}"
        return method
    # No training record in the JSON: the model number in the folder name tells the model.
    for folder in (run_dir, run_dir.parent):
        match = _MODEL_NUMBER_RE.match(folder.name)
        if match:
            index = int(match[1]) % _STUDY_MODELS_PER_DATASET // _STUDY_RUNS_PER_MODEL
            return list(BASELINE_METHODS)[index]
    return None


def _baseline_run(run_dir: Path, data: dict[str, Any]) -> RunInfo:
    method = _baseline_method(data, run_dir)
    if method is None:
        return RunInfo(run_dir=run_dir, group=f"unknown:{run_dir.parent.name}",
                       method="unknown", label=run_dir.parent.name, run_id=run_dir.name)
    label = BASELINE_METHODS.get(method, method)
    return RunInfo(run_dir=run_dir, group=f"baseline:{method}", method=method, label=label,
                   run_id=run_dir.name)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataFileError(f"{path} is not readable JSON ({err})") from None
    if not isinstance(data, dict):
        raise DataFileError(f"{path} holds a {type(data).__name__}, not a flat JSON object")
    return data


def _result(data: dict[str, Any], key: str) -> Any:
    return data.get(_RESULT_PREFIX + key, data.get(key))


def _scores(data: dict[str, Any], samples_keys: Sequence[str], scalar_keys: Sequence[str]
            ) -> tuple[float, tuple[float, ...]] | None:
    """(value, samples) from the first samples key present, else the first scalar key."""
    for key in samples_keys:
        samples = _result(data, key)
        if isinstance(samples, list) and samples:
            values = tuple(float(v) for v in samples)
            return math.fsum(values) / len(values), values
    for key in scalar_keys:
        value = _result(data, key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value), ()
    return None


def evaluation_records(data: dict[str, Any], run: RunInfo, path: Path) -> list[MetricResult]:
    """The metric results in the flat JSON ``data`` read from ``path`` for ``run``.

    DataFileError if its locality is not a number.
    """
    dataset = _unquote(data[_DATASET_KEY]) if _DATASET_KEY in data else None
    found = []
    if _LOCALITY_KEY in data:
        try:
            locality = round(float(_unquote(data[_LOCALITY_KEY])), _LOCALITY_DIGITS)
        except ValueError:
            raise DataFileError(f"{path} has locality_proportion {data[_LOCALITY_KEY]!r}, not "
                                "a number") from None
        for metric, (samples_keys, scalar_keys) in _LOCAL_KEYS.items():
            scores = _scores(data, samples_keys, scalar_keys)
            if scores is not None:
                found.append(MetricResult(run, metric, locality, scores[0], scores[1], dataset,
                                          path))
                break  # a scalar key like discrete_mig would also match the next metric
    else:
        for metric, scalar_keys in _GLOBAL_KEYS.items():
            scores = _scores(data, (), scalar_keys)
            if scores is not None:
                found.append(MetricResult(run, metric, None, scores[0], (), dataset, path))
    return found


def _evaluation_files(root: Path) -> list[Path]:
    # Runs sit one level (<model_number>/) or two levels (<experiment>/<run>/) below a root.
    return sorted({*root.glob(f"*/{EVALUATION_GLOB}"), *root.glob(f"*/*/{EVALUATION_GLOB}")})


def run_records(run_dir: Path, run: RunInfo) -> list[MetricResult]:
    """The metric results of one run folder (DataFileError if a file is unreadable)."""
    return [record for path in sorted(run_dir.glob(EVALUATION_GLOB))
            for record in evaluation_records(_read_json(path), run, path)]


def _check_complete(records: list[MetricResult], notes: list[str]) -> None:
    """Note runs that lack a locality their group's other runs have."""
    by_run: dict[tuple[str, str], dict[Path, set[float]]] = defaultdict(lambda: defaultdict(set))
    for r in records:
        if r.locality is not None:
            by_run[(r.run.group, r.metric)][r.run.run_dir].add(r.locality)
    for (group, metric), runs in sorted(by_run.items()):
        expected = set().union(*runs.values())
        for run_dir, have in sorted(runs.items()):
            missing = sorted(expected - have)
            if missing:
                notes.append(f"partial: {run_dir} has no {METRIC_LABELS[metric]} at "
                             f"locality {', '.join(f'{m:g}' for m in missing)} (other runs of "
                             f"{group} do)")


def discover_results(models_dir: str | os.PathLike | None,
                     baselines_dir: str | os.PathLike | None = None,
                     dataset: str | None = None,
                     include: Sequence[str] = ()) -> Results:
    """Every metric result under ``models_dir`` (our runs) and ``baselines_dir``.

    dataset: keep only results evaluated on this dataset (``evaluation_config.dataset.name``;
    files that do not say are kept). include: fnmatch patterns; when given, only our
    experiments whose name matches one are kept (baselines are not filtered).
    Missing folders, unreadable files, files without a known metric, duplicates and runs
    with only some localities are reported in :attr:`Results.notes`.
    """
    results = Results()
    notes = results.notes
    seen: dict[tuple[Path, str, float | None], MetricResult] = {}
    for root, ours in ((models_dir, True), (baselines_dir, False)):
        if root is None:
            continue
        root = Path(root)
        if not root.is_dir():
            notes.append(f"{root} does not exist; no {'runs' if ours else 'baselines'} "
                         "read from it")
            continue
        files = _evaluation_files(root)
        if not files:
            notes.append(f"no evaluation.json under {root}")
        for path in files:
            run_dir = path.parents[4]
            parsed = our_run_info(run_dir) if ours else None
            if ours and include and (parsed is None or not _included(parsed.group, include)):
                continue
            try:
                data = _read_json(path)
                # A folder that is not one of our experiments (e.g. a baseline copied into
                # trainedModels/) is identified from its JSON instead.
                run = parsed or _baseline_run(run_dir, data)
                found = evaluation_records(data, run, path)
            except DataFileError as err:
                notes.append(f"skipped: {err}")
                continue
            if not found:
                notes.append(f"skipped: {path} has no local MIG, local modularity, MIG or "
                             "modularity result")
            for record in found:
                if dataset is not None and record.dataset not in (None, dataset):
                    continue
                if not math.isfinite(record.value):
                    notes.append(f"skipped: {path} gives {METRIC_LABELS[record.metric]} = "
                                 f"{record.value}")
                    continue
                key = (run_dir, record.metric, record.locality)
                if key in seen:
                    kept = seen[key]
                    # Two files with the same metric: prefer the one with more clusters.
                    if len(record.samples) > len(kept.samples):
                        seen[key] = kept = record
                    notes.append(f"duplicate: {run_dir} has {METRIC_LABELS[record.metric]}"
                                 f"{'' if record.locality is None else f' @{record.locality:g}'}"
                                 f" in more than one metrics folder; using {kept.source}")
                    continue
                seen[key] = record
    results.records = list(seen.values())
    if models_dir is not None and Path(models_dir).is_dir():
        evaluated = {r.run.run_dir for r in results.records}
        for representation in sorted(Path(models_dir).glob("*/*/representation")):
            run_dir = representation.parent
            run = our_run_info(run_dir)
            if run is None or run_dir in evaluated:
                continue
            if not _included(run.group, include):
                continue
            notes.append(f"not evaluated: {run_dir} has a model but no evaluation results")
    _check_complete(results.records, notes)
    return results


def _included(group: str, include: Sequence[str]) -> bool:
    return not include or any(fnmatch.fnmatchcase(group, pattern) for pattern in include)


def find_model_runs(models_dir: str | os.PathLike, method: str | None = None,
                    gamma: float | None = None, include: Sequence[str] = ()) -> list[RunInfo]:
    """Our run folders under ``models_dir`` that hold a saved model (``representation/``),
    optionally only of one method (``jlone``, ``jltwo``, ``gamma0``), one γ and experiments
    matching an ``include`` pattern; sorted by experiment and run id."""
    runs = []
    for representation in sorted(Path(models_dir).glob("*/*/representation")):
        run = our_run_info(representation.parent)
        if run is None or not _included(run.group, include):
            continue
        if method is not None and run.method != method:
            continue
        if gamma is not None and not math.isclose(run.gamma or 0.0, gamma, abs_tol=1e-9):
            continue
        runs.append(run)
    return runs
