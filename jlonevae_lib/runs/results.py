"""The results reader: evaluation results on disk, and which run and method each belongs to.

Layouts (docs/formats.md), found by globbing, never by a database:

- our runs: ``<models_dir>/<experiment>/<run>/metrics/<metric>/results/aggregate/
  evaluation.json``, the method and its settings read from the run's ``config.json``; a run
  without one (the reference's published models) is described by its experiment name instead
  (``lone``/``jltwo``, γ, β, ...);
- disentanglement_lib baselines: ``<baselines_dir>/<model_number>/metrics/...`` (or one folder
  deeper, ``<baselines_dir>/model<N>_on3dots/<timestamp>/metrics/...`` as the reference had),
  the method named by ``train_config.model.name`` in the JSON, else by the model number
  (number = dataset·1800 + model·300 + hp·50 + seed).

A file is classified by its contents, not its folder name (see
:mod:`jlonevae_lib.runs.metric_table`): one with a locality binding gives local MIG / local
modularity at that locality, one without gives global MIG / modularity. A run's value is the
mean of the per-cluster samples when they are present.

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
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jlonevae_lib.runs import layout, naming, study_numbering
from jlonevae_lib.runs.metric_table import (
    DATASET_BINDING,
    LOCALITY_BINDING,
    LOCALITY_DIGITS,
    describe,
    file_scores,
    metric_name,
    scores,
)
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError
from jlonevae_lib.utils.plugins import OBJECTIVES, load_plugins

_LOCALITY_KEY = f"evaluation_config.{LOCALITY_BINDING}"
#: The keys of an evaluation file that record the dataset and the evaluation seed it used.
DATASET_KEY = f"evaluation_config.{DATASET_BINDING}"
SEED_KEY = "evaluation_config.evaluation.random_seed"
_RESULT_PREFIX = "evaluation_results."

#: Our method keys and their display names.
JL1, JL2, GAMMA0 = "jlone", "jltwo", "gamma0"
OUR_METHOD_LABELS = {JL1: "JL1-VAE", JL2: "JL2-VAE", GAMMA0: "β-VAE"}
#: The Jacobian penalty's name in the label of a baseline trained with it.
_PENALTY_LABELS = {JL1: "JL1", JL2: "JL2"}

#: The method of a run that neither its config, its name nor its results name.
UNKNOWN_METHOD = "unknown"
#: disentanglement_lib's unsupervised models (:data:`study_numbering.METHODS`) and their labels.
BASELINE_METHODS: dict[str, str] = {
    "beta_vae": "β-VAE (dlib)",
    "factor_vae": "FactorVAE",
    "dip_vae_i": "DIP-VAE-I",
    "dip_vae_ii": "DIP-VAE-II",
    "beta_tc_vae": "β-TCVAE",
    "annealed_vae": "AnnealedVAE",
}

#: The labels plug-in objectives give their runs (``register_objective(name, label=...)``).
_OBJECTIVE_LABELS: dict[str, str] = {}


def register_objective_label(objective: str, label: str | None) -> None:
    """Label the runs of the plug-in objective ``objective`` ``label`` in figures and tables, or
    by its name for None (called by ``register_objective``, each time a definition is
    registered). A name of the package's methods is refused."""
    if label is None:
        _OBJECTIVE_LABELS.pop(objective, None)
        return
    if objective in BASELINE_METHODS or objective in _OUR_OBJECTIVES:
        raise JLoneVAEError(f"objective {objective!r} is one of the package's; its label is "
                            "the package's")
    if not isinstance(label, str) or not label.strip() or "\n" in label:
        raise JLoneVAEError(f"objective {objective!r}: a label is one line of text, got "
                            f"{label!r}")
    _OBJECTIVE_LABELS[objective] = label


def method_label(method: str) -> str:
    """A method's display name: disentanglement_lib's (:data:`BASELINE_METHODS`), the label a
    plug-in objective registered, else the method's own name.

    The objectives' plug-ins are imported first (with torch, which the figures otherwise do
    without), and only for a method of none of the package's; one that fails to import leaves
    its runs labelled by name (training with it reports the error).
    """
    if method in BASELINE_METHODS:
        return BASELINE_METHODS[method]
    try:
        load_plugins(OBJECTIVES)
    except JLoneVAEError:
        pass  # a label is cosmetic: the figures still draw, with the method's name
    return _OBJECTIVE_LABELS.get(method, method)


_MODEL_NUMBER_RE = re.compile(r"^(?:model)?(\d+)(?:_.*)?$")
#: The regularisation types of a run config, as method keys.
_REGULARIZATION_METHODS = {"jlone": JL1, "jltwo": JL2}
#: The objectives whose runs compare as ours (β-VAE as the γ = 0 arm); a config without one
#: predates objectives and is the paper's.
_OUR_OBJECTIVES = (naming.JACOBIAN_OBJECTIVE, "beta_vae")
#: The config keys that describe a run's comparable settings (see :func:`settings_from_config`).
_SETTINGS_KEYS = ("architecture", "beta", "latent_dim", "batch_size", "lr", "annealing_batches")


def _unquote(value: Any) -> str:
    """A gin literal string ``"'threeDots'"`` -> ``threeDots``."""
    return str(value).strip().strip("'\"")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class RunInfo:
    """One trained model and the method it belongs to.

    Attributes:
        run_dir: the run folder (holds ``metrics/``).
        group: what runs are grouped by: the experiment name (ours, and a baseline trained
            with the Jacobian penalty) or ``baseline:<method>``.
        method: ``jlone``, ``jltwo``, ``gamma0`` (ours with γ = 0: a β-VAE) or a key of
            :data:`BASELINE_METHODS`, that key + ``+jlone`` / ``+jltwo`` for a baseline trained
            with the Jacobian penalty (``factor_vae+jlone``), another objective's name (a
            plug-in's); :data:`UNKNOWN_METHOD` when neither config, name nor JSON says.
        label: display name, e.g. ``JL1-VAE (γ=0.1)``, ``β-VAE (γ=0)``, ``FactorVAE``,
            ``FactorVAE + JL1 (γ=0.1)``.
        gamma: the Jacobian penalty weight (ours, and a baseline's with the penalty), else
            None.
        settings: the settings apart from regulariser and γ (ours), written as the experiment
            name writes them: runs with equal settings differ only in the penalty and can be
            compared; None for baselines.
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
    """One score of one run, at one locality (None for the global scores).

    ``metric`` is the score's key (``local_mig``, ``mig``, ...; see
    :mod:`jlonevae_lib.runs.metric_table`); ``value`` the run's score (mean over clusters for
    local scores); ``samples`` the per-cluster scores (empty for global scores); ``source`` the
    evaluation.json read.
    """

    run: RunInfo
    metric: str
    locality: float | None
    value: float
    samples: tuple[float, ...]
    dataset: str | None
    source: Path

    @property
    def name(self) -> str:
        """The name of the metric this result is, e.g. ``local_mig_1_0``."""
        return metric_name(self.metric, self.locality)


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
        key = None if locality is None else round(locality, LOCALITY_DIGITS)
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


def _method(regularization: str, gamma: float) -> str:
    """γ = 0 gives the method ``gamma0`` whatever the regulariser (no penalty is computed)."""
    return GAMMA0 if gamma == 0 else _REGULARIZATION_METHODS[regularization]


def method_from_experiment_name(name: str) -> tuple[str, float, str] | None:
    """(method, γ, settings) of one of our experiment names, or None if it is not one.

    ``defaultConv_lone_beta4_0000_ica0_1000_lat10_batch64_lr0_0001_anneal100000`` ->
    (``jlone``, 0.1, ``defaultConv_beta4_0000_lat10_batch64_lr0_0001_anneal100000``); the
    name is read by :func:`jlonevae_lib.runs.naming.parse_experiment_name`.
    """
    parsed = naming.parse_experiment_name(name)
    if parsed is None or parsed.regularization_type is None or parsed.gamma is None \
            or parsed.settings is None:
        return None
    return _method(parsed.regularization_type, parsed.gamma), parsed.gamma, parsed.settings


def settings_from_config(config: Mapping[str, Any]) -> tuple[str, float, str] | None:
    """(method, γ, settings) of a run's ``config.json``, or None when it lacks the penalty
    (``gamma``, ``regularization_type``) or the settings compared (architecture, β, latent
    size, batch size, learning rate, annealing), or names an objective that is not ours.

    The settings are written as :func:`method_from_experiment_name` gives them, so that a run with a
    config and one without (the reference's) that were trained alike compare as equal.
    """
    gamma, regularization = config.get("gamma"), config.get("regularization_type")
    values = [config.get(key) for key in _SETTINGS_KEYS]
    if (config.get("objective", naming.JACOBIAN_OBJECTIVE) not in _OUR_OBJECTIVES
            or not _is_number(gamma) or regularization not in _REGULARIZATION_METHODS
            or not isinstance(values[0], str) or not all(map(_is_number, values[1:]))):
        return None
    architecture, beta, latent_dim, batch_size, lr, annealing = values
    settings = naming.settings_name(architecture, beta, latent_dim, batch_size, lr, annealing)
    return _method(regularization, float(gamma)), float(gamma), settings


def _run_config(run_dir: Path) -> dict[str, Any]:
    """The run's ``config.json``; empty when it has none or it is unreadable."""
    try:
        return layout.read_json_object(layout.config_path(run_dir))
    except DataFileError:
        return {}


def our_run_info(run_dir: Path) -> RunInfo | None:
    """The :class:`RunInfo` of one of our run folders: from its ``config.json``, else (the
    reference's runs have none) from its experiment folder's name; None when neither tells.

    A run of one of disentanglement_lib's methods other than β-VAE (``objective`` in its
    config) is labelled as that baseline; β-VAE runs compare as our γ = 0 arm. A run of
    another objective (a plug-in's) is a method of its own, named by the objective.
    """
    config = _run_config(run_dir)
    objective = config.get("objective")
    if _is_other_objective(objective) or (
            objective in BASELINE_METHODS and (objective != "beta_vae"
                                               or config.get("imported_from"))):
        return _configured_baseline(run_dir, config)
    parsed = settings_from_config(config) or method_from_experiment_name(run_dir.parent.name)
    if parsed is None:
        return None
    method, gamma, settings = parsed
    label = f"{OUR_METHOD_LABELS[method]} (γ={gamma:g})"
    return RunInfo(run_dir=run_dir, group=run_dir.parent.name, method=method, label=label,
                   gamma=gamma, settings=settings, run_id=run_dir.name)


def _is_other_objective(objective: Any) -> bool:
    """Whether ``objective`` (a config's) names a method neither ours nor
    disentanglement_lib's: a plug-in's."""
    return (isinstance(objective, str) and objective not in BASELINE_METHODS
            and objective not in _OUR_OBJECTIVES)


def configured_baseline_info(run_dir: Path) -> RunInfo | None:
    """The :class:`RunInfo` of a baseline run whose ``config.json`` names the method
    (``objective``): one of our PyTorch baselines, a plug-in objective's run, or a
    disentanglement_lib model imported (``imported_from``); None for any other folder."""
    config = _run_config(run_dir)
    objective = config.get("objective")
    return _configured_baseline(run_dir, config) if (
        objective in BASELINE_METHODS or _is_other_objective(objective)) else None


def _configured_baseline(run_dir: Path, config: Mapping[str, Any]) -> RunInfo:
    # One trained by disentanglement_lib itself (TensorFlow), then imported, is its own group.
    trained_by = TENSORFLOW if config.get("imported_from") else None
    info = _baseline_info(run_dir, config["objective"], trained_by)
    gamma, regularization = config.get("gamma"), config.get("regularization_type")
    if not _is_number(gamma) or gamma == 0 or regularization not in _REGULARIZATION_METHODS:
        return info
    # With the Jacobian penalty on top: another method than the baseline's, grouped by its
    # experiment like ours, so that it never pools with the plain baseline's runs.
    penalty = _REGULARIZATION_METHODS[regularization]
    return RunInfo(run_dir=run_dir, group=run_dir.parent.name,
                   method=f"{info.method}+{penalty}",
                   label=f"{info.label} + {_PENALTY_LABELS[penalty]} (γ={gamma:g})",
                   gamma=float(gamma), run_id=run_dir.name)


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
            model_num = int(match[1])
            if model_num < study_numbering.STUDY_SIZE:
                return study_numbering.study_member(model_num).method
    return None


def _baseline_run(run_dir: Path, data: dict[str, Any]) -> RunInfo:
    method = _baseline_method(data, run_dir)
    if method is None:
        return RunInfo(run_dir=run_dir, group=f"unknown:{run_dir.parent.name}",
                       method=UNKNOWN_METHOD, label=run_dir.parent.name, run_id=run_dir.name)
    return _baseline_info(run_dir, method)


#: How a baseline trained by disentanglement_lib on TensorFlow and imported is told apart from
#: our PyTorch runs of the same method in groups and labels.
TENSORFLOW = "TensorFlow"


def _baseline_info(run_dir: Path, method: str, trained_by: str | None = None) -> RunInfo:
    label = method_label(method)
    if trained_by is None:
        return RunInfo(run_dir=run_dir, group=f"baseline:{method}", method=method,
                       label=label, run_id=run_dir.name)
    return RunInfo(run_dir=run_dir, group=f"baseline:{method}:{trained_by}", method=method,
                   label=f"{label} ({trained_by})", run_id=run_dir.name)


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
        if _is_number(value):
            return float(value), ()
    return None


def evaluation_records(data: dict[str, Any], run: RunInfo, path: Path) -> list[MetricResult]:
    """The metric results in the flat JSON ``data`` read from ``path`` for ``run``.

    DataFileError if its locality is not a number.
    """
    dataset = _unquote(data[DATASET_KEY]) if DATASET_KEY in data else None
    found = []
    if _LOCALITY_KEY in data:
        try:
            locality = round(float(_unquote(data[_LOCALITY_KEY])), LOCALITY_DIGITS)
        except ValueError:
            raise DataFileError(f"{path} has locality_proportion {data[_LOCALITY_KEY]!r}, not "
                                "a number") from None
        for metric in file_scores(data, local=True):
            score = scores()[metric]
            value = _scores(data, score.samples_keys, score.scalar_keys)
            if value is not None:
                found.append(MetricResult(run, metric, locality, value[0], value[1], dataset,
                                          path))
    else:
        for metric in file_scores(data, local=False):
            value = _scores(data, (), scores()[metric].scalar_keys)
            if value is not None:
                found.append(MetricResult(run, metric, None, value[0], (), dataset, path))
    return found


def run_records(run_dir: Path, run: RunInfo) -> list[MetricResult]:
    """The metric results of one run folder (DataFileError if a file is unreadable)."""
    return [record for path in layout.evaluation_files(run_dir)
            for record in evaluation_records(layout.read_json_object(path), run, path)]


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
                notes.append(f"partial: {run_dir} has no {describe(metric, None)} at "
                             f"locality {', '.join(f'{m:g}' for m in missing)} (other runs of "
                             f"{group} do)")


def preferred_result(found: Sequence[MetricResult]) -> MetricResult:
    """Of one run's results of the same score from several metrics folders, the one with more
    clusters (a full config beside a small one); the first of equals."""
    return max(found, key=lambda r: len(r.samples))


def duplicate_note(run_dir: Path | str, what: str, found: Sequence[MetricResult]
                   ) -> str | None:
    """The note on :func:`preferred_result`'s choice among ``found``, None when there is none
    to make: one result, or one with more clusters than every other (a small config's
    results beside the full one's, as ``make demo`` then ``--metrics paper`` leave them)."""
    sizes = sorted((len(r.samples) for r in found), reverse=True)
    if len(sizes) < 2 or sizes[0] > sizes[1]:
        return None
    return (f"duplicate: {run_dir} has {what} in more than one metrics folder with as many "
            f"clusters; using {preferred_result(found).source}")


def _one_result_per_score(
        candidates: Mapping[tuple[Path, str, float | None], list[MetricResult]],
        notes: list[str]) -> list[MetricResult]:
    """One result per run and score from ``candidates`` ({(run folder, score, locality):
    the results found}).

    A run with a score in more than one metrics folder (a small config beside the full one)
    takes the one with more clusters; a choice between as many clusters is noted
    (:func:`duplicate_note`). A score whose runs come from
    different folders is noted too: their configs may sample differently, so the comparison
    is not like with like.
    """
    folders_of: dict[tuple[str, float | None], dict[str, int]] = defaultdict(
        lambda: defaultdict(int))
    chosen = []
    for (run_dir, metric, locality), found in candidates.items():
        what = describe(metric, locality)
        kept = preferred_result(found)
        if (note := duplicate_note(run_dir, what, found)) is not None:
            notes.append(note)
        chosen.append(kept)
        folders_of[(metric, locality)][layout.metric_of_evaluation(kept.source)] += 1
    for (metric, locality), runs_per_folder in folders_of.items():
        if len(runs_per_folder) > 1:
            what = describe(metric, locality)
            folders = ", ".join(f"{name} ({count} run{'s' * (count > 1)})"
                                for name, count in sorted(runs_per_folder.items()))
            notes.append(f"mixed configs: {what} comes from different metrics folders "
                         f"({folders}), which may sample differently; evaluate every run "
                         "with one of them to compare like with like")
    return chosen


def discover_results(models_dir: str | os.PathLike | None,
                     baselines_dir: str | os.PathLike | None = None,
                     dataset: str | None = None,
                     include: Sequence[str] = (),
                     runs: Collection[str | os.PathLike] | None = None) -> Results:
    """Every metric result under ``models_dir`` (our runs) and ``baselines_dir``.

    dataset: keep only results evaluated on this dataset (``evaluation_config.dataset.name``;
    files that do not say are kept). include: fnmatch patterns; when given, only the runs
    under ``models_dir`` whose group matches one are kept: the experiment name of ours, and
    for a baseline trained here ``baseline:<method>`` or, where its runs have several
    settings, the arm's own group (``baseline:factor_vae:gamma=30``, see
    :func:`split_mixed_settings`); ``baselines_dir`` is not filtered. runs: when
    given, only these run folders are read, ours and baselines alike (a study's members
    among other runs in the same folders).
    Missing folders, unreadable files, files without a known metric, duplicates and runs
    with only some localities are reported in :attr:`Results.notes`.
    """
    results = Results()
    notes = results.notes
    wanted = None if runs is None else {Path(run).resolve() for run in runs}

    def _wanted(run_dir: Path) -> bool:
        return wanted is None or run_dir.resolve() in wanted

    roots = {True: models_dir, False: baselines_dir}
    candidates: dict[tuple[Path, str, float | None], list[MetricResult]] = defaultdict(list)
    ours_dirs: set[Path] = set()
    for ours, root in roots.items():
        if root is None:
            continue
        root = Path(root)
        if not root.is_dir():
            notes.append(f"{root} does not exist; no {'runs' if ours else 'baselines'} "
                         "read from it")
            continue
        other = roots[not ours]
        files = [path for path in layout.evaluation_files_under(root)
                 if _wanted(layout.run_of_evaluation(path))
                 and not (other is not None and _in_nested_root(path, root, Path(other)))]
        if not files:
            notes.append(f"no {layout.EVALUATION_FILE} under {root}"
                         + ("" if wanted is None else " in the runs given"))
        infos: dict[Path, RunInfo | None] = {}
        for path in files:
            run_dir = layout.run_of_evaluation(path)
            if run_dir not in infos:  # each run's config.json read once
                infos[run_dir] = (our_run_info if ours else configured_baseline_info)(run_dir)
            parsed = infos[run_dir]
            # A baseline's arm is known after the split: filtered below.
            if ours and include and (parsed is None or not (
                    _included(parsed.group, include) or parsed.group.startswith("baseline:"))):
                continue
            if ours:
                ours_dirs.add(run_dir)
            try:
                data = layout.read_json_object(path)
                # A folder that is not one of our runs (e.g. a baseline copied into
                # trainedModels/) is identified from its JSON instead.
                run = parsed or _baseline_run(run_dir, data)
                found = evaluation_records(data, run, path)
            except DataFileError as err:
                notes.append(f"skipped: {err}")
                continue
            if not found:
                notes.append(f"skipped: {path} has no result of a known score")
            for record in found:
                if dataset is not None and record.dataset not in (None, dataset):
                    continue
                if not math.isfinite(record.value):
                    notes.append(f"skipped: {path} gives {describe(record.metric, None)} = "
                                 f"{record.value}")
                    continue
                candidates[(run_dir, record.metric, record.locality)].append(record)
    records = _one_result_per_score(candidates, notes)
    evaluated = {record.run.run_dir: record.run for record in records}
    unevaluated = []
    if models_dir is not None and Path(models_dir).is_dir():
        for run_dir in layout.model_runs(models_dir):
            run = our_run_info(run_dir)
            if run is not None and run_dir not in evaluated and _wanted(run_dir):
                unevaluated.append(run)
    # A pattern may name a baseline's split arm: the arms of every run found decide what is
    # kept; the kept runs alone are split again, so that a run left out renames no arm of
    # the rest, except those picked by their split arm's name, which keep it.
    picked_as_split: set[Path] = set()
    if include:
        arms_of_all = split_mixed_settings([*evaluated.values(), *unevaluated], [])

        def kept(run: RunInfo) -> bool:
            if run.run_dir not in ours_dirs and run not in unevaluated:
                return True  # baselines_dir is not filtered
            if _included(run.group, include):
                return True
            if _included(arms_of_all[run.run_dir].group, include):
                picked_as_split.add(run.run_dir)
                return True
            return False

        records = [record for record in records if kept(record.run)]
        unevaluated = [run for run in unevaluated if kept(run)]
        # Every kept run of a method with a run picked so keeps the names of all runs' split
        # (the baselines folder's too): one setting, one arm.
        picked_groups = {evaluated[run_dir].group for run_dir in picked_as_split
                         if run_dir in evaluated}
        picked_as_split.update(record.run.run_dir for record in records
                               if record.run.group in picked_groups)
    arms = split_mixed_settings({r.run.run_dir: r.run for r in records}.values(), notes)
    arms.update({run_dir: arms_of_all[run_dir] for run_dir in picked_as_split})
    results.records = [replace(record, run=arms[record.run.run_dir]) for record in records]
    notes.extend(f"not evaluated: {run.run_dir} has a model but no evaluation results"
                 for run in unevaluated)
    _check_complete(results.records, notes)
    return results


#: The ``config.json`` entries that make a baseline's setting, besides its objective's
#: parameters (``objective_params``). The others either differ between the runs of one setting
#: (seed, places, logging) or are not read by a method without the Jacobian penalty (the
#: penalty's own settings); β counts for the methods that read it (:func:`_reads_beta`).
_SETTING_KEYS = ("dataset", "architecture", "latent_dim", "batch_size", "lr", "num_batches",
                 "annealing_batches", "precision")
#: How the notes that :func:`split_mixed_settings` adds begin.
SPLIT_NOTE = "split: "


def _reads_beta(method: str) -> bool:
    """Whether a baseline ``method`` reads the config's β: disentanglement_lib's β-VAE and
    β-TCVAE do, its other methods do not; another objective does unless it says otherwise,
    which only its own class knows (the runs layer sits below the objectives)."""
    grid = study_numbering.GRIDS.get(method)
    return grid is None or "beta" in grid[0]


def _baseline_setting(run: RunInfo) -> dict[str, Any]:
    """A baseline run's settings as flat items: its ``config.json``'s (the objective's
    parameters spread out), else, for a member of disentanglement_lib's study of the run's
    method known by its model number, its grid point; empty when neither says."""
    run_dir = run.run_dir
    config = _run_config(run_dir)
    if config:
        params = config.get("objective_params")
        keys = (*_SETTING_KEYS, "beta") if _reads_beta(run.method) else _SETTING_KEYS
        return ({key: config.get(key) for key in keys}
                | (params if isinstance(params, dict) else {}))
    for folder in (run_dir, run_dir.parent):
        match = _MODEL_NUMBER_RE.match(folder.name)
        if match and int(match[1]) < study_numbering.STUDY_SIZE:
            member = study_numbering.study_member(int(match[1]))
            return member.hyperparameters if member.method == run.method else {}
    return {}


def _setting_text(value: Any) -> str:
    """A setting's value as a label shows it, and as two settings are compared: 30 and 30.0
    are one value."""
    return f"{value:g}" if _is_number(value) else json.dumps(value, sort_keys=True).strip('"')


def split_mixed_settings(runs: Iterable[RunInfo], notes: list[str]) -> dict[Path, RunInfo]:
    """``{run folder: its RunInfo}`` with each baseline arm (``baseline:<method>``) whose runs
    were trained with different settings (two β of one method, a plug-in objective at two
    parameter values) split into one arm per setting, named by the settings that differ:
    pooled, their violin and t-test would describe no setting at all. Only settings that every
    run of the arm records are compared (an older config without one, or a numbered
    disentanglement_lib model beside a run with a config, does not make a setting of its own).
    """
    arms: dict[str, dict[Path, RunInfo]] = defaultdict(dict)
    out = {}
    for run in runs:
        out[run.run_dir] = run
        if run.group.startswith("baseline:"):
            arms[run.group][run.run_dir] = run
    for group, members in arms.items():
        settings = {run_dir: {key: _setting_text(value)
                              for key, value in _baseline_setting(run).items()
                              if value is not None}
                    for run_dir, run in members.items()}
        shared = set.intersection(*(set(items) for items in settings.values()))
        differing = sorted(key for key in shared
                           if len({items[key] for items in settings.values()}) > 1)
        if not differing:
            continue
        for run_dir, run in members.items():
            described = ", ".join(f"{key}={settings[run_dir][key]}" for key in differing)
            out[run_dir] = replace(run, group=f"{group}:{described}",
                                   label=f"{run.label} ({described})")
        count = len({out[run_dir].group for run_dir in members})
        label = next(iter(members.values())).label
        notes.append(f"{SPLIT_NOTE}the {label} runs have {count} settings (they differ in "
                     f"{', '.join(differing)}); each is an arm of its own")
    return out


def _in_nested_root(path: Path, root: Path, other: Path) -> bool:
    """Whether ``path``, found under ``root`` (and named from it), lies in ``other`` nested
    inside ``root`` (a baselines folder inside the models folder, or the reverse): the deeper
    folder reads it. Compared by the names below ``root``, so that a run folder there that
    is a link to elsewhere counts where it is listed."""
    root_resolved, other_resolved = root.resolve(), other.resolve()
    if other_resolved == root_resolved or not other_resolved.is_relative_to(root_resolved):
        return False
    inner = other_resolved.relative_to(root_resolved).parts
    return path.relative_to(root).parts[:len(inner)] == inner


def _included(group: str, include: Sequence[str]) -> bool:
    return not include or any(fnmatch.fnmatchcase(group, pattern) for pattern in include)


def find_model_runs(models_dir: str | os.PathLike, method: str | None = None,
                    gamma: float | None = None, include: Sequence[str] = ()) -> list[RunInfo]:
    """Our run folders under ``models_dir`` that hold a saved model (``representation/``),
    optionally only of one method (``jlone``, ``jltwo``, ``gamma0``), one γ and experiments
    matching an ``include`` pattern; sorted by experiment and run id."""
    runs = []
    for run_dir in layout.model_runs(models_dir):
        run = our_run_info(run_dir)
        if run is None or not _included(run.group, include):
            continue
        if method is not None and run.method != method:
            continue
        if gamma is not None and not math.isclose(run.gamma or 0.0, gamma, abs_tol=1e-9):
            continue
        runs.append(run)
    return runs
