"""Evaluate trained runs with gin-configured metrics; results in disentanglement_lib's layout.

Usage::

    jlonevae-evaluate RUN [RUN ...] [--metrics NAME_OR_GIN ...] [--dataset NAME] [--seed N]
                      [--dataset-config FILE.gin] [--overwrite] [--device auto|cpu|cuda]
                      [--representation KIND] [--skip-unfinished] [--only-dataset NAME]

A metric is a name from ``jlonevae_lib/config/metrics_configs/`` (``mig``,
``modularity_explicitness``, ``local_mig_0_1`` … ``local_modularity_1_0``, ``small_local_mig``,
``small_local_modularity``, disentanglement_lib's ``beta_vae_sklearn``, ``factor_vae_metric``,
``dci``, ``sap_score``, ``unsupervised``, ``downstream_task_logistic_regression``,
``downstream_task_boosted_trees``, ``irs``, and the local versions ``local_dci_0_1`` …), a group
(``paper``: the paper's 12 metrics; ``small``: the small example's four; ``evalseeds``: local
MIG and local modularity at 0.1 at evaluation seeds 1 and 2; ``dlib``: disentanglement_lib's
nine study configs, shipped unchanged; ``dlib_local``: the local versions of DCI, SAP, IRS, the
unsupervised scores and the downstream task at the paper's five localities), or the path of a
.gin file (metric name = file stem). A name or stem ending in
``_evalseed<k>`` is that metric at evaluation seed k (bound over the config's and ``--seed``),
with results in ``metrics/<metric>_evalseed<k>/``, which the results readers leave out. Each
metric is parsed together with the dataset config
``jlonevae_lib/config/dataset_configs/<dataset>.gin``, or the user's own with
``--dataset-config FILE.gin`` (its ``dataset.name`` picks the dataset); a relative ``include``
resolves next to the including file, then in those folders.

Per run and metric the results go to ``<run>/metrics/<metric>/results/``: ``aggregate/
evaluation.json`` (flat, namespaced keys ``evaluation_results.*`` and ``evaluation_config.*``
with gin-literal values, plus earlier steps' ``*.json`` from ``<run>/representation/results/
json/``), ``gin/evaluation.gin`` (the operative config) and ``json/evaluation_{config,results}
.json``. Metrics already there are skipped unless ``--overwrite``. Metrics that share a draw
(same seed and sampling settings, e.g. ``local_mig_0_1`` and ``local_modularity_0_1``) encode it
once. All inputs are checked before anything is computed or written.

The command line is :mod:`jlonevae_lib.cli.evaluate`; this module is the step it runs
(:func:`plan_runs`, then :func:`evaluate_runs`).
"""

from __future__ import annotations

if __name__ == "__main__":
    # ``python -m`` of this module: run its command line as the program, by name (the library
    # never imports jlonevae_lib.cli), before this copy defines anything (the command
    # imports the module as usual; this copy would run beside it).
    import runpy

    runpy.run_module("jlonevae_lib.cli.evaluate", run_name="__main__", alter_sys=True)

import contextlib
import difflib
import json
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gin

from jlonevae_lib.data import GroundTruthData, get_named_ground_truth_data
from jlonevae_lib.data.ground_truth import (
    available_datasets,
    canonical_dataset_name,
    evaluation_dataset_name,
    lacks_ground_truth_factors,
    registered_dataset_config,
)
from jlonevae_lib.evaluate import configurables
from jlonevae_lib.evaluate.sampling import DrawCache, RepresentationFunction
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.metric_table import (
    ELAPSED_TIME,
    EVALUATION_SEED_SUFFIX,
    METRIC_GROUPS,
    METRICS,
    evaluation_seed_name,
    parse_evaluation_seed_name,
    summary_result_keys,
)
from jlonevae_lib.runs.results import DATASET_KEY, SEED_KEY
from jlonevae_lib.utils import plugins
from jlonevae_lib.utils.atomic import atomic_write_json, atomic_write_text
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError
from jlonevae_lib.utils.lock import FolderLock, LockedError, remove_if_empty
from jlonevae_lib.utils.seeds import MAX_SEED

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
METRICS_CONFIG_DIR = CONFIG_DIR / "metrics_configs"
DATASET_CONFIG_DIR = CONFIG_DIR / "dataset_configs"


@dataclass(frozen=True)
class Metric:
    """A metric to evaluate: its name (the results folder) and its gin config file.

    ``seed``: the evaluation seed its name fixes (``<metric>_evalseed<k>``), bound over the
    config's and ``--seed``; None: the config's (or ``--seed``).
    """

    name: str
    config: Path
    seed: int | None = None

    def evaluation_seed(self, asked: int | None) -> int | None:
        """The evaluation seed this metric runs at: the one its name fixes, else ``asked``
        (``--seed``), else None (its config's)."""
        return self.seed if self.seed is not None else asked


@dataclass
class RunPlan:
    """What to do for one run folder."""

    run: Path
    #: The dataset evaluated on (canonical name) and its gin config.
    dataset_name: str
    dataset_config: Path
    representation: Path
    #: Earlier steps' results are read from ``<representation_dir>/results/json``.
    representation_dir: Path
    todo: list[Metric] = field(default_factory=list)
    #: Results already written (and checked to match), by :meth:`result_name`.
    existing: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The batch of the kept model evaluated (``--at-batch``); None: the final model.
    at_batch: int | None = None

    def result_name(self, metric: Metric) -> str:
        """Where ``metric``'s results go: its name, or ``<name>@<N>`` for a kept model
        (:func:`~jlonevae_lib.runs.layout.kept_metric_name`)."""
        if self.at_batch is None:
            return metric.name
        return layout.kept_metric_name(metric.name, self.at_batch)


def available_metrics() -> list[str]:
    """The shipped metrics' names (:data:`~jlonevae_lib.runs.metric_table.METRICS`), sorted."""
    return sorted(METRICS)


def resolve_metrics(specs: Sequence[str]) -> list[Metric]:
    """Metric names, groups and .gin paths -> metrics (duplicates dropped, order kept).

    ``<metric>_evalseed<k>`` (a shipped metric's name, or a .gin file's stem) is that metric at
    evaluation seed k, in a results folder of its own.
    """
    metrics: dict[str, Metric] = {}
    for spec in specs:
        if spec in METRIC_GROUPS:
            names: Sequence[str] = METRIC_GROUPS[spec]
        elif spec.endswith(".gin"):
            path = Path(spec).resolve()
            if not path.is_file():
                raise JLoneVAEError(f"metric config {spec} does not exist")
            if layout.KEPT_METRIC_SEPARATOR in path.stem:
                # <metric>@<N> names a kept model's result: such a file name would be read so.
                raise JLoneVAEError(f"metric config {spec}: a metric's name (its file name) "
                                    f"may not hold {layout.KEPT_METRIC_SEPARATOR!r}; rename "
                                    "the file")
            repeat = parse_evaluation_seed_name(path.stem)
            metrics.setdefault(path.stem, Metric(path.stem, path,
                                                 None if repeat is None else repeat[1]))
            continue
        else:
            names = [spec]
        for name in names:
            repeat = parse_evaluation_seed_name(name)
            if repeat is not None and repeat[0] in METRICS:
                metrics.setdefault(name, Metric(
                    name, METRICS_CONFIG_DIR / METRICS[repeat[0]].gin_file, repeat[1]))
                continue
            base, suffix, digits = name.rpartition(EVALUATION_SEED_SUFFIX)
            if suffix and base in METRICS and digits.isdigit():
                raise JLoneVAEError(f"{name}: write its evaluation seed without leading zeros, "
                                    f"from 0 to {MAX_SEED} (e.g. "
                                    f"{evaluation_seed_name(base, 1)})")
            if name not in METRICS:
                known = list(METRIC_GROUPS) + available_metrics()
                close = difflib.get_close_matches(name.replace(".", "_"), known, n=1)
                raise JLoneVAEError(
                    f"unknown metric '{name}'"
                    + (f" (did you mean {close[0]}?)" if close else "")
                    + f"; use a .gin file or one of: {', '.join(known)}")
            metrics.setdefault(name, Metric(name, METRICS_CONFIG_DIR / METRICS[name].gin_file))
    return list(metrics.values())


def _trained_dataset(run: Path) -> str | None:
    path = layout.config_path(run)
    if not path.exists():
        return None
    dataset = layout.read_json_object(path).get("dataset")
    return dataset if isinstance(dataset, str) else None


def evaluation_dataset(run: Path, override: str | None) -> str:
    """The dataset a run is evaluated on: ``override`` or the run's training dataset (an alias
    is replaced by the registered name)."""
    name = override or _trained_dataset(run)
    if name is None:
        raise JLoneVAEError(f"cannot tell which dataset {run} was trained on (no 'dataset' in "
                            f"{layout.config_path(run)}); pass --dataset")
    return evaluation_dataset_name(name)


def dataset_config(name: str) -> Path:
    """The dataset config of dataset ``name`` (or of the dataset an alias stands for): the
    package's, else the one its registration gave (a plug-in's)."""
    path = DATASET_CONFIG_DIR / f"{canonical_dataset_name(name)}.gin"
    if path.is_file():
        return path
    registered = registered_dataset_config(name)
    if registered is None:
        known = sorted(p.stem for p in DATASET_CONFIG_DIR.glob("*.gin"))
        raise JLoneVAEError(f"no dataset config for '{name}' (the package ships ones for "
                            f"{', '.join(known)}): a dataset of your own names its .gin at "
                            "registration (register_ground_truth_data(..., dataset_config=...)),"
                            " or give jlonevae-evaluate one with --dataset-config FILE.gin "
                            "(docs/plugins.md)")
    if not registered.is_file():
        raise JLoneVAEError(f"the dataset config {registered} that dataset '{name}' was "
                            "registered with does not exist")
    _, named = user_dataset_config(registered)
    if named != canonical_dataset_name(name):
        raise JLoneVAEError(f"the dataset config {registered} that dataset '{name}' was "
                            f"registered with sets dataset.name = {named!r}; make it '{name}'")
    return registered


def user_dataset_config(path: str | Path) -> tuple[Path, str]:
    """A user's dataset .gin file (used instead of the shipped one): (its resolved path, the
    registered name of the dataset its ``dataset.name`` binds)."""
    path = Path(path)
    if not path.is_file():
        raise JLoneVAEError(f"dataset config {path} does not exist")
    path = path.resolve()
    with gin_config([path]):
        try:
            name = gin.query_parameter("dataset.name")
        except ValueError:
            name = None
    if not isinstance(name, str):
        raise JLoneVAEError(f"dataset config {path} does not set dataset.name; add a line "
                            'dataset.name = "<dataset>"')
    if name not in available_datasets():
        raise JLoneVAEError(f"dataset config {path} names the unknown dataset {name!r}; known "
                            f"datasets: {', '.join(available_datasets())}; {plugins.PLUGIN_HINT}")
    return path, canonical_dataset_name(name)


class _GinPathMisses(logging.Filter):
    """Drops gin's "Path not found" errors: its package-path reader logs one for every search
    folder that does not hold an included file, though a later folder may (the reference's
    README told users to ignore them). A file found nowhere is still an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.module == "resource_reader"
                    and str(record.msg).startswith("Path not found"))


def load_metric_plugins() -> None:
    """Import the metric plug-ins (docs/plugins.md), refusing one whose gin configurable takes a
    name the package's own configurables or another plug-in's have.

    gin keeps both (a plug-in's selector carries its module), but a config's bare ``@name``
    reaches only one: the package's own, or neither when two plug-ins share it. Checked on every
    call: the registry outlives a failed first load.
    """
    plugins.load_plugins(plugins.METRICS)
    packages = plugins.plugin_packages(plugins.METRICS)
    if not packages:
        return
    selectors = [selector for selector, _ in gin.config._REGISTRY.items()]
    bare = {selector for selector in selectors if "." not in selector}
    claimed: dict[str, str] = {}
    for selector in selectors:
        module, _, name = selector.rpartition(".")
        entry_point = packages.get(module.split(".", 1)[0]) if module else None
        if entry_point is None:
            continue
        if name in bare or name in claimed:
            owner = "a configurable of the package" if name in bare else claimed[name]
            raise plugins.plugin_error(
                entry_point, f"registers the gin configurable {name!r} ({selector}), a name "
                             f"{owner} already has: a config's @{name} cannot tell them apart; "
                             f"give it another name")
        claimed[name] = selector


@contextlib.contextmanager
def gin_config(config_files: Sequence[Path], bindings: Sequence[str] = ()) -> Iterator[None]:
    """Parse ``config_files`` then ``bindings`` into a clean gin config; clear it on exit.

    Relative includes are searched next to the given files, then in the working directory and
    the shipped config folders. gin only offers appending to its search path, so the list is
    edited directly and restored on exit. Plug-ins' metric modules are imported first, so a
    config may name their gin configurables (docs/plugins.md).
    """
    load_metric_plugins()
    files = [str(Path(f).resolve()) for f in config_files]
    search_path = gin.config._LOCATION_PREFIXES
    saved = list(search_path)
    folders = list(dict.fromkeys(str(Path(f).parent) for f in files))
    # Each folder once: gin lists the whole path in its error for an include found nowhere.
    search_path[:] = dict.fromkeys([*folders, "", str(METRICS_CONFIG_DIR),
                                    str(DATASET_CONFIG_DIR)])
    misses = _GinPathMisses()
    logging.getLogger().addFilter(misses)
    gin.clear_config()
    try:
        try:
            gin.parse_config_files_and_bindings(files, list(bindings), finalize_config=False)
        except (OSError, ValueError, KeyError, SyntaxError) as err:
            # gin adds the offending file and line on lines of their own: one line here.
            reason = " ".join(line.strip() for line in str(err).splitlines())
            raise JLoneVAEError(f"cannot parse gin config {', '.join(files)}: {reason}"
                                ) from None
        yield
    finally:
        gin.clear_config()
        search_path[:] = saved
        logging.getLogger().removeFilter(misses)


def metric_bindings(metric: Metric, seed: int | None) -> list[str]:
    """The bindings parsed after a metric's config: its name and its evaluation seed (the one
    its name fixes, else ``seed``, else the config's)."""
    bindings = [f"evaluation.name = {json.dumps(metric.name)}"]
    seed = metric.evaluation_seed(seed)
    if seed is not None:
        bindings.append(f"evaluation.random_seed = {int(seed)}")
    return bindings


def check_metric_config(metric: Metric, dataset_config_path: Path, seed: int | None) -> None:
    """Parse a metric's config with its dataset config; it must name a metric and a seed."""
    with gin_config([metric.config, dataset_config_path], metric_bindings(metric, seed)):
        for binding in ("evaluation.evaluation_fn", "evaluation.random_seed", "dataset.name"):
            try:
                gin.query_parameter(binding)
            except ValueError:
                raise JLoneVAEError(f"metric config {metric.config} (with "
                                    f"{dataset_config_path}) does not set {binding}") from None


def gin_dict(operative_config: str) -> dict[str, str]:
    """``binding -> gin literal`` for each ``key = value`` line of a gin config string."""
    result = {}
    for line in operative_config.splitlines():
        if not line.startswith("#") and " = " in line:
            key, value = line.split(" = ", 1)
            result[key] = value
    return result


def _check_final_model(run: Path, chosen: Path) -> None:
    """Refuse a saved model that is not the one the run's DONE marker records as its final
    one: with the final model deleted, the highest kept one would pass for it."""
    try:
        recorded = layout.read_json_object(layout.done_path(run)).get("model_dir")
    except DataFileError:  # an empty marker (published models, tests) records no model
        return
    if not isinstance(recorded, str) or not chosen.is_dir() or chosen == run / recorded:
        return
    kept = layout.saved_model_batches(chosen)
    raise JLoneVAEError(f"{run}'s final model {run / recorded} is missing ({chosen.name} is "
                        f"a model kept earlier); restore it, or evaluate the kept one with "
                        f"--at-batch {kept}")


def _matching_existing_result(run: Path, name: str, dataset_name: str,
                              seed: int | None) -> dict[str, Any]:
    """The aggregate results already written for ``name``, refused when computed on another
    dataset, or at another evaluation seed than ``seed`` (None: the config's, not checked):
    the results folder is named by the metric alone, so another evaluation's result would
    pass for this one's."""
    existing = _existing_result(run, name)
    recorded = str(existing.get(DATASET_KEY, "")).strip("'\"")
    asked = []
    if recorded and canonical_dataset_name(recorded) != canonical_dataset_name(dataset_name):
        asked.append(f"on {recorded}, not {dataset_name}")
    recorded_seed = str(existing.get(SEED_KEY, "")).strip("'\"")
    if seed is not None and recorded_seed and recorded_seed != str(seed):
        asked.append(f"at evaluation seed {recorded_seed}, not {seed}")
    if asked:
        raise JLoneVAEError(f"{run} already holds {name} computed {' and '.join(asked)}; pass "
                            "--overwrite to replace it, or evaluate a copy of the run")
    return existing


def _existing_result(run: Path, name: str) -> dict[str, Any]:
    """The aggregate results a finished evaluation of ``name`` wrote for ``run``."""
    path = layout.evaluation_path(run, name)
    try:
        return layout.read_json_object(path)
    except DataFileError as err:
        raise DataFileError(f"{err}; delete {layout.metric_results_dir(run, name).parent} (or pass "
                            "--overwrite) to evaluate this metric again") from None


def previous_results(representation_dir: Path) -> dict[str, dict[str, Any]]:
    """Earlier steps' result dicts (``<representation>/results/json/*.json``), by step name."""
    found = {}
    for path in sorted(layout.earlier_results_dir(representation_dir).glob("*.json")):
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise JLoneVAEError(f"cannot read earlier results {path} ({err})") from None
        if isinstance(content, dict):
            found[path.stem] = content
    return found


def write_results(run: Path, metric: str, results: dict[str, Any], operative_config: str,
                  config: dict[str, str], earlier: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Write one metric's result files into its results folder
    (:func:`~jlonevae_lib.runs.layout.metric_results_dir`); see :func:`write_results_to`."""
    return write_results_to(layout.metric_results_dir(run, metric), results, operative_config,
                            config, earlier)


def write_results_to(folder: Path, results: dict[str, Any], operative_config: str,
                     config: dict[str, str], earlier: dict[str, dict[str, Any]]
                     ) -> dict[str, Any]:
    """Write one metric's result files under ``folder`` (the aggregate last); returns the
    aggregate dict.

    ``operative_config`` is the gin text saved as ``gin/evaluation.gin``, ``config`` its
    bindings (:func:`gin_dict`), ``earlier`` the earlier steps' results by step name.
    """
    step_name = layout.EVALUATION_STEP
    atomic_write_text(layout.operative_gin_file(folder), operative_config)
    steps = {**earlier, f"{step_name}_config": config, f"{step_name}_results": results}
    for step, content in steps.items():
        atomic_write_json(layout.step_json_file(folder, step), content)
    aggregate = {f"{step}.{key}": value
                 for step, content in steps.items() for key, value in content.items()}
    atomic_write_json(layout.aggregate_file(folder), aggregate)
    return aggregate


def evaluate_metric(metric: Metric, plan: RunPlan, seed: int | None,
                    load_dataset: Callable[[str], GroundTruthData],
                    representation_function: RepresentationFunction,
                    draw_cache: DrawCache) -> tuple[dict[str, Any], str, dict[str, str]]:
    """Compute one metric: (results dict, operative gin config text, its bindings)."""
    with gin_config([metric.config, plan.dataset_config], metric_bindings(metric, seed)):
        try:
            results = configurables.evaluate(load_dataset, representation_function, draw_cache)
        except RuntimeError as err:
            # gin reports a missing binding this way (naming it), torch a model that does not
            # fit the data (e.g. the wrong number of channels).
            raise JLoneVAEError(f"{metric.name} on {plan.run}: {err}") from None
        # Bindings are read from an unwrapped rendering: one line each however long.
        return (results, gin.operative_config_str(),
                gin_dict(gin.operative_config_str(max_line_length=10_000)))


def plan_runs(runs: Sequence[str], metrics: Sequence[Metric], *, dataset: str | None = None,
              dataset_config_file: str | Path | None = None, only_dataset: str | None = None,
              representation: str = "auto", skip_unfinished: bool = False,
              overwrite: bool = False, seed: int | None = None,
              at_batch: int | None = None) -> list[RunPlan]:
    """Check every input and decide what to compute; raises before anything is written.

    The keywords are ``jlonevae-evaluate``'s options: ``dataset`` to evaluate on (default: each
    run's training dataset) or a user's ``dataset_config_file``, ``only_dataset`` to skip runs
    evaluated on another, the ``representation`` kind, ``skip_unfinished`` runs instead of
    failing, ``overwrite`` existing results, the evaluation ``seed``, and ``at_batch``: the
    model the run kept at that batch (``keep_models_at``) instead of its final one.
    """
    from jlonevae_lib.evaluate.representation import find_representation

    custom_config = (user_dataset_config(dataset_config_file)
                     if dataset_config_file is not None else None)
    only_name = canonical_dataset_name(only_dataset) if only_dataset is not None else None
    if only_name is not None:
        dataset_config(only_name)  # an unknown name would skip every run without a word
    plans = []
    for name in runs:
        run = Path(name)
        if not run.is_dir():
            if not run.exists():
                raise JLoneVAEError(f"run folder {run} does not exist")
            # A file of a run (its TorchScript export, say): the run is the folder above
            # representation/ (--representation picks which model file is read).
            owner = next((folder for folder in run.parents
                          if layout.config_path(folder).is_file()), None)
            hint = (f"; give the run folder {owner} (--representation picks the model file)"
                    if owner is not None else "")
            raise JLoneVAEError(f"run folder {run} is a file, not a run folder{hint}")
        if not layout.is_finished(run) and not (layout.config_path(run).is_file()
                                                or layout.representation_dir(run).is_dir()):
            if skip_unfinished:
                print(f"skipping {run}: not a run folder")
                continue
            raise JLoneVAEError(f"{run} is not a run folder (no {layout.CONFIG_FILE}, "
                                f"{layout.DONE_FILE} or {layout.REPRESENTATION_DIR}/); give one "
                                f"such as {layout.TRAINED_MODELS_DIR}/<experiment>/seed1")
        if not layout.is_finished(run):
            marker = layout.DONE_FILE
            if skip_unfinished:
                print(f"skipping {run}: training has not finished (no {marker} marker)")
                continue
            raise JLoneVAEError(f"{run} has not finished training (no {marker} marker); "
                                "wait for it (if it was stopped, its jlonevae-train command "
                                "run again resumes it), or pass --skip-unfinished")
        # With --dataset-config, its dataset.name decides, whatever the run was trained on.
        config_path, dataset_name = custom_config or (None, evaluation_dataset(run, dataset))
        if only_name is not None and dataset_name != only_name:
            print(f"skipping {run}: evaluated on {dataset_name}, not {only_dataset}")
            continue
        if lacks_ground_truth_factors(dataset_name):
            raise JLoneVAEError(f"cannot evaluate {run} on {dataset_name!r}: that dataset has no "
                                "ground-truth factors, which the disentanglement metrics need; "
                                "pass --dataset NAME of one with factors, or skip such runs with "
                                "--only-dataset NAME")
        if at_batch is None:
            chosen = find_representation(run, representation)
            _check_final_model(run, chosen)
        else:
            chosen = layout.saved_model_dir(run, at_batch)
            if not chosen.is_dir():
                raise JLoneVAEError(f"{run} kept no model at batch {at_batch} (expected "
                                    f"{chosen}); train it with --keep-models-at {at_batch}")
        plan = RunPlan(run=run, dataset_name=dataset_name,
                       dataset_config=config_path or dataset_config(dataset_name),
                       representation=chosen, representation_dir=layout.representation_dir(run),
                       at_batch=at_batch)
        for metric in metrics:
            name = plan.result_name(metric)
            if layout.evaluation_path(run, name).is_file() and not overwrite:
                plan.existing[name] = _matching_existing_result(
                    run, name, dataset_name, metric.evaluation_seed(seed))
            else:
                plan.todo.append(metric)
        plans.append(plan)
    checked = set()
    for plan in plans:
        for metric in plan.todo:
            if (metric, plan.dataset_config) not in checked:
                check_metric_config(metric, plan.dataset_config, seed)
                checked.add((metric, plan.dataset_config))
    return plans


def _format_value(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) and math.isfinite(value) else str(value)


def summary_table(rows: Sequence[tuple[str, str, dict[str, Any], str]]) -> str:
    """Rows (run, metric, aggregate, status) -> an aligned text table."""
    lines = [("run", "metric", "scores", "time")]
    result_keys = summary_result_keys()
    for run, metric, aggregate, status in rows:
        scores = "  ".join(f"{key}={_format_value(aggregate[f'evaluation_results.{key}'])}"
                           for key in result_keys
                           if f"evaluation_results.{key}" in aggregate)
        elapsed = aggregate.get(f"evaluation_results.{ELAPSED_TIME}")
        time_text = f"{elapsed:.1f} s" if isinstance(elapsed, float) else "-"
        lines.append((run, metric, scores, f"{time_text} ({status})"))
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d}".rstrip()
                     for a, b, c, d in lines)


def evaluate_runs(plans: Sequence[RunPlan], seed: int | None = None, device: str = "auto",
                  overwrite: bool = False) -> list[tuple[str, str, dict[str, Any], str]]:
    """Compute and write every planned metric; rows (run, metric, aggregate, status) for
    :func:`summary_table`.

    Each run's model is loaded once on ``device`` and metrics that share a draw encode it once.
    A metric another process is evaluating is skipped; one it finished meanwhile is read back
    and checked as at planning (a result of another dataset or seed raises, after the metrics
    computed before it were written).
    """
    from jlonevae_lib.evaluate.representation import load_representation  # imports torch

    datasets: dict[str, GroundTruthData] = {}

    def load_dataset(name: str) -> GroundTruthData:
        if name not in datasets:
            datasets[name] = get_named_ground_truth_data(name)
        return datasets[name]

    rows = []
    for plan in plans:
        rows.extend((str(plan.run), name, aggregate, "existing")
                    for name, aggregate in plan.existing.items())
        if not plan.todo:
            continue
        representation_function = load_representation(plan.representation, device)
        draw_cache = DrawCache()
        # The earlier steps' results describe the final model: not copied to a kept one's.
        earlier = previous_results(plan.representation_dir) if plan.at_batch is None else {}
        for metric in plan.todo:
            name = plan.result_name(metric)
            # Another evaluation of the same run may own this metric: skip it rather than race.
            lock = FolderLock(layout.metric_results_dir(plan.run, name).parent, "evaluation")
            try:
                lock.acquire()
            except LockedError as err:
                print(f"skipping {name} on {plan.run}: {err}", flush=True)
                rows.append((str(plan.run), name, {}, "skipped: in progress elsewhere"))
                continue
            try:
                if layout.evaluation_path(plan.run, name).is_file() and not overwrite:
                    # Finished by another process meanwhile, perhaps at another seed.
                    rows.append((str(plan.run), name, _matching_existing_result(
                        plan.run, name, plan.dataset_name, metric.evaluation_seed(seed)),
                        "existing"))
                    continue
                print(f"evaluating {name} on {plan.run} ...", flush=True)
                results, operative, config = evaluate_metric(
                    metric, plan, seed, load_dataset, representation_function, draw_cache)
                aggregate = write_results(plan.run, name, results, operative, config, earlier)
                rows.append((str(plan.run), name, aggregate, "computed"))
            finally:
                lock.release()
                remove_if_empty(lock.path.parent)  # a failed metric's: made by its lock
    return rows
