"""The registry of studies: each of the paper's sweeps as data.

A :class:`Study` is a named grid of training runs: settings shared by every member (``base``),
the axes it varies (``seed``, ``gamma``, a baseline's ``method``), in the order its members are
numbered (the first axis outermost), the metrics its members are evaluated with and the
summary commands run once they are. :func:`plan_study` expands one, with a user's overrides, into
its :class:`~jlonevae_lib.sweep.members.Member` list; the runner (:mod:`.runner`) trains and
evaluates them and ``jlonevae-sweep`` is its command line.

A member's index is its place in the product of the axes, so it depends only on the axes'
values: ``--set num_batches=8000`` keeps every index, ``--seeds 1 2`` renumbers. Its run folder is
its config's ``run_dir``.

To add a study, decorate a function returning a :class:`Study` with :func:`register_study`
(from the user's own package: a plug-in, docs/plugins.md).
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jlonevae_lib.runs import layout
from jlonevae_lib.runs.study_numbering import METHODS, PAPER_HP_INDEX
from jlonevae_lib.sweep.members import Member
from jlonevae_lib.train.baselines import method_settings
from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.plugins import PLUGIN_HINT, STUDIES, is_redefinition, load_plugins

#: ``python -m`` forms of the figure and summary commands the summary stage runs (cli/).
PLOT_COMMAND = (sys.executable, "-m", "jlonevae_lib.cli.plot")
STUDY_SUMMARY_COMMAND = (sys.executable, "-m", "jlonevae_lib.cli.study_summary")

TRAIN_CONFIG_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
#: Fields that training or the command line record, never a study's setting (a member's
#: method and seed come from its own settings, ``--model-num`` from disentanglement_lib's).
_RECORDED_FIELDS = {"data_source", "model_num", "preset", "extended_from", "imported_from"}


@dataclass(frozen=True)
class Axis:
    """One varied setting: a TrainConfig field or a study parameter, and its values."""

    name: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class SummaryCommand:
    """A command run after the members, in the sweep's summary stage (a figure, a summary
    table).

    ``required``: a failing command fails the study; otherwise (a figure with nothing to draw
    yet) it is reported and the next command runs.
    """

    argv: tuple[str, ...]
    cwd: Path | None = None
    required: bool = True


@dataclass(frozen=True)
class Study:
    """A named sweep: its members' shared settings, axes, metrics and summary."""

    name: str
    description: str
    #: TrainConfig settings every member shares.
    base: Mapping[str, Any]
    axes: tuple[Axis, ...]
    #: Metric names, groups or .gin files for ``jlonevae-evaluate``; () = not evaluated (a
    #: dataset without ground-truth factors).
    metrics: tuple[str, ...] = ()
    #: Metric names or groups also evaluated on the models each member kept at earlier batches
    #: (its ``keep_models_at``): the points of a learning curve.
    kept_metrics: tuple[str, ...] = ()
    #: Evaluate only members whose evaluation dataset is this one (``--only-dataset``).
    only_dataset: str | None = None
    #: Study parameters that are not TrainConfig fields (a baseline's ``hp_index``), with their
    #: defaults; ``--set`` changes them as it changes fields.
    params: Mapping[str, Any] = field(default_factory=dict)
    #: A point of the grid (axis values and params) -> TrainConfig settings; by default the
    #: axis values themselves, which must then be TrainConfig fields.
    settings_of: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    #: Where the summary commands write (relative to the working folder), if the study has one.
    results_dir: str | None = None
    #: The planned study -> its summary commands.
    summary: Callable[[StudyPlan], list[SummaryCommand]] | None = None


@dataclass(frozen=True)
class StudyPlan:
    """A study expanded with its overrides: the members and what runs after them."""

    study: Study
    members: tuple[Member, ...]
    axes: tuple[Axis, ...]
    metrics: tuple[str, ...]
    results_dir: Path | None
    #: The command that reproduces this plan, recorded by summaries.
    command: str = ""

    @property
    def kept_metrics(self) -> tuple[str, ...]:
        return self.study.kept_metrics

    @property
    def kept_batches(self) -> tuple[int, ...]:
        """Every batch at which some member keeps its model, in order."""
        return tuple(sorted({b for m in self.members for b in m.config.keep_models_at}))

    def metric_names(self) -> list[str]:
        """The results every member must have to be done: its final model's metrics, then
        ``<metric>@<N>`` for each kept model's (:func:`~jlonevae_lib.runs.layout.
        kept_metric_name`)."""
        if not self.metrics:
            return []
        from jlonevae_lib.evaluate.evaluation import resolve_metrics  # gin: only when needed

        names = [metric.name for metric in resolve_metrics(self.metrics)]
        if self.kept_metrics:
            kept = [metric.name for metric in resolve_metrics(self.kept_metrics)]
            names += [layout.kept_metric_name(name, batches)
                      for batches in self.kept_batches for name in kept]
        return names

    @property
    def output_dir(self) -> Path:
        """The members' common ``output_dir`` (the sweep's own files go below it)."""
        return Path(self.members[0].config.output_dir)

    def axis_values(self, name: str) -> tuple[Any, ...]:
        return next(axis.values for axis in self.axes if axis.name == name)

    def summary_commands(self) -> list[SummaryCommand]:
        return self.study.summary(self) if self.study.summary is not None else []


_REGISTRY: dict[str, Callable[[], Study]] = {}
#: Modules whose studies register themselves when imported (the ones defined here need none).
BUILTIN_MODULES = ("jlonevae_lib.sweep.seven_arms", "jlonevae_lib.sweep.natural_images_study",
                   "jlonevae_lib.sweep.penalty_study")


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    load_plugins(STUDIES)


def register_study(name: str) -> Callable[[Callable[[], Study]], Callable[[], Study]]:
    """Decorator: ``@register_study("threeDots")`` on a function returning the study."""

    def decorate(factory: Callable[[], Study]) -> Callable[[], Study]:
        if name in _REGISTRY and not is_redefinition(_REGISTRY[name], factory):
            raise ValueError(f"study {name!r} is registered twice")
        _REGISTRY[name] = factory
        return factory

    return decorate


def available_studies() -> list[str]:
    """The registered studies' names, in registration order."""
    _load_builtins()
    return list(_REGISTRY)


def get_study(name: str) -> Study:
    """The registered study ``name``; a one-line error lists the names otherwise."""
    _load_builtins()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise JLoneVAEError(f"unknown study {name!r}; known studies: "
                            f"{', '.join(available_studies())}; {PLUGIN_HINT}") from None
    study = factory()
    if study.name != name:
        raise ValueError(f"study registered as {name!r} calls itself {study.name!r}")
    return study


# ------------------------------------------------------------------------------- overrides


def parse_setting(study: Study, key: str, text: str) -> Any:
    """The value of ``--set key=text``: a TrainConfig field's type, or a study parameter's.

    ``none`` sets an optional field to None; a list of batch counts is comma-separated
    (``keep_models_at=8000,15000``); ``objective_params`` takes JSON (``{"gamma": 30}``).
    """
    if key in study.params:
        return _parse_like(study.params[key], key, text)
    if key not in TRAIN_CONFIG_FIELDS or key in _RECORDED_FIELDS:
        known = sorted(set(TRAIN_CONFIG_FIELDS) - _RECORDED_FIELDS | set(study.params))
        raise JLoneVAEError(f"--set {key}=...: {key!r} is not a setting of study "
                            f"{study.name}; settings: {', '.join(known)}")
    annotation = str(TRAIN_CONFIG_FIELDS[key].type)
    if "None" in annotation and text.strip().lower() in ("none", "null"):
        return None
    base = annotation.replace("| None", "").strip()
    try:
        if base == "int":
            return int(text)
        if base == "float":
            return float(text)
        if base == "bool":  # allow_tf32, deterministic
            word = text.strip().lower()
            if word not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError("true or false")
            return word in ("true", "1", "yes")
        if base.startswith("list[int]"):  # keep_models_at=8000,15000
            return [int(part) for part in text.split(",") if part.strip()]
        if base.startswith("dict"):
            value = json.loads(text)
            if not isinstance(value, dict):
                raise ValueError("not a JSON object")
            if any(isinstance(v, bool) or not isinstance(v, int | float) for v in value.values()):
                raise ValueError("every value must be a number")
            return {str(k): float(v) for k, v in value.items()}
    except (ValueError, TypeError) as err:
        raise JLoneVAEError(f"--set {key}={text}: expected {base} ({err})") from None
    return text


def parse_axis_values(study: Study, name: str, texts: Sequence[str]) -> tuple[Any, ...]:
    """Values for axis ``name`` of ``study`` from text, typed like the axis' own values."""
    axis = next((axis for axis in study.axes if axis.name == name), None)
    if axis is None:
        raise JLoneVAEError(f"study {study.name} has no axis {name!r}; its axes: "
                            f"{', '.join(a.name for a in study.axes)}")
    if not texts:
        raise JLoneVAEError(f"give at least one value for axis {name}")
    return tuple(_parse_like(axis.values[0], name, text) for text in texts)


def _parse_like(example: Any, key: str, text: str) -> Any:
    kind = type(example)
    if kind is bool or kind not in (int, float, str):
        raise JLoneVAEError(f"{key} cannot be set from the command line")
    try:
        return kind(text)
    except ValueError:
        raise JLoneVAEError(f"{key}={text}: expected {kind.__name__}") from None


def plan_study(study: Study, *, overrides: Mapping[str, Any] | None = None,
               axes: Mapping[str, Sequence[Any]] | None = None,
               metrics: Sequence[str] | None = None, results_dir: str | Path | None = None,
               command: str = "") -> StudyPlan:
    """Expand ``study`` into its members.

    ``overrides``: TrainConfig fields or study parameters set for every member (an
    ``objective_params`` override is merged into each member's own). ``axes``: new values for
    some axes (the others keep theirs). ``metrics``, ``results_dir``: instead of the study's.
    Raises :class:`JLoneVAEError` on an unknown name, a bad value or two members in one folder.
    """
    overrides = dict(overrides or {})
    axes = dict(axes or {})
    axis_names = [axis.name for axis in study.axes]
    for name in overrides:
        if name in axis_names:
            raise JLoneVAEError(f"{name} is an axis of study {study.name}: give its values as "
                                f"an axis (--axis {name}=V1,V2 ...), not as a setting")
        if name not in study.params and (name not in TRAIN_CONFIG_FIELDS
                                         or name in _RECORDED_FIELDS):
            raise JLoneVAEError(f"{name!r} is not a setting of study {study.name}")
    unknown = sorted(set(axes) - set(axis_names))
    if unknown:
        raise JLoneVAEError(f"study {study.name} has no axis {unknown[0]!r}; its axes: "
                            f"{', '.join(axis_names)}")
    planned = tuple(Axis(axis.name, tuple(axes.get(axis.name, axis.values)))
                    for axis in study.axes)
    for axis in planned:
        if not axis.values or len(set(axis.values)) != len(axis.values):
            raise JLoneVAEError(f"axis {axis.name} needs distinct values, got "
                                f"{list(axis.values)}")
    params = {**study.params, **{k: v for k, v in overrides.items() if k in study.params}}
    field_overrides = {k: v for k, v in overrides.items() if k not in study.params}
    extra_params = field_overrides.pop("objective_params", {})
    members = []
    for index, values in enumerate(itertools.product(*(axis.values for axis in planned))):
        point = dict(zip(axis_names, values, strict=True))
        derived = (study.settings_of({**params, **point}) if study.settings_of is not None
                   else point)
        settings = {**study.base, **derived, **field_overrides}
        settings["objective_params"] = {**settings.get("objective_params", {}), **extra_params}
        config = TrainConfig(**settings)
        members.append(Member(index=index, point=point, config=config))
    folders: dict[Path, Member] = {}
    for member in members:
        other = folders.setdefault(member.run_dir, member)
        if other is not member:
            raise JLoneVAEError(f"members {other.index} ({other.label}) and {member.index} "
                                f"({member.label}) would share the run folder {member.run_dir}; "
                                "vary a setting that names the run")
    return StudyPlan(
        study=study, members=tuple(members), axes=planned,
        metrics=tuple(metrics) if metrics is not None else study.metrics,
        results_dir=(Path(results_dir) if results_dir is not None
                     else Path(study.results_dir) if study.results_dir is not None else None),
        command=command)


# ------------------------------------------------------------------------ the paper's studies

#: The paper's three-dots training settings (docs/method.md, Experiments of the paper).
THREE_DOTS = {"dataset": "threeDotsCache", "architecture": "defaultConv", "objective": "jlonevae",
              "beta": 4.0, "latent_dim": 10, "batch_size": 64, "lr": 1e-4,
              "num_batches": 300_000, "annealing_batches": 100_000, "output_dir": "."}
PAPER_SEEDS = tuple(range(11, 21))


def _nonzero_gamma(plan: StudyPlan) -> float | None:
    return next((g for g in plan.axis_values("gamma") if g > 0), None)


def _three_dots_figures(plan: StudyPlan) -> list[SummaryCommand]:
    """The paper's three-dots comparison figures, as plot_threeDots_comparisons.bash draws
    them (a figure without its results yet is reported, not fatal)."""
    if plan.results_dir is None:
        return []
    common = ["--models-dir", str(plan.output_dir / layout.TRAINED_MODELS_DIR),
              "--output-dir", str(plan.results_dir)]
    baselines = plan.output_dir / layout.STANDARD_MODELS_DIR
    if baselines.is_dir():
        common += ["--baselines-dir", str(baselines)]
    gamma = ["--gamma", str(_nonzero_gamma(plan) or 0.1)]
    return [SummaryCommand((*PLOT_COMMAND, *args), required=False) for args in (
        ["compare-baselines", *common, *gamma, "--locality", "0.1"],
        ["vs-locality", *common, *gamma],
        ["scatter", *common, "--locality", "0.1"],
        ["scatter", *common, "--locality", "global"],
    )]


@register_study("threeDots")
def three_dots() -> Study:
    return Study(
        name="threeDots",
        description="the paper's main sweep: β = 4, γ ∈ {0, 0.1, 0.05, 0.2, 0.4}, seeds 11-20, "
                    "300,000 batches on the 500,000-image three-dots cache",
        base=THREE_DOTS,
        axes=(Axis("seed", PAPER_SEEDS), Axis("gamma", (0.0, 0.1, 0.05, 0.2, 0.4))),
        metrics=("paper",), only_dataset="threeDots", results_dir="figures",
        summary=_three_dots_figures)


@register_study("threeDots_l2")
def three_dots_l2() -> Study:
    return Study(
        name="threeDots_l2",
        description="the appendix's L2 sweep: as threeDots with the L2 (jltwo) penalty, γ > 0",
        base={**THREE_DOTS, "regularization_type": "jltwo"},
        axes=(Axis("seed", PAPER_SEEDS), Axis("gamma", (0.1, 0.05, 0.2, 0.4))),
        metrics=("paper",), only_dataset="threeDots", results_dir="figures",
        summary=_three_dots_figures)


@register_study("mpi3d_multi")
def mpi3d_multi() -> Study:
    return Study(
        name="mpi3d_multi",
        description="MPI3D-multi: β = 0.01, γ ∈ {0, 0.01}, seeds 11-15, 300,000 batches "
                    "(needs data/mpi3d_real; not evaluated: the paper shows its Jacobians)",
        base={"dataset": "mpi3dMulti", "architecture": "defaultConv", "objective": "jlonevae",
              "beta": 0.01, "latent_dim": 10, "batch_size": 64, "lr": 1e-4,
              "num_batches": 300_000, "annealing_batches": 100_000, "output_dir": "."},
        axes=(Axis("seed", (11, 12, 13, 14, 15)), Axis("gamma", (0.0, 0.01))))


@register_study("naturalImages")
def natural_images() -> Study:
    return Study(
        name="naturalImages",
        description="natural-image patches: tiny16, β = 0.01, γ ∈ {0, 0.01}, seed 0, 100,000 "
                    "batches of 128 (no ground-truth factors: not evaluated)",
        base={"dataset": "naturalImages", "architecture": "tiny16", "objective": "jlonevae",
              "beta": 0.01, "latent_dim": 10, "batch_size": 128, "lr": 1e-3,
              "num_batches": 100_000, "annealing_batches": 50_000, "output_dir": "."},
        axes=(Axis("seed", (0,)), Axis("gamma", (0.0, 0.01))))


def _baseline_settings(point: Mapping[str, Any]) -> dict[str, Any]:
    settings = method_settings(point["method"], point["hp_index"], point["seed"])
    return {**settings, "models_dir": layout.STANDARD_MODELS_DIR}


@register_study("baselines")
def baselines() -> Study:
    return Study(
        name="baselines",
        description="the 60 baselines: disentanglement_lib's six methods at hyperparameter "
                    "index 2, seeds 0-9, its study's settings, on the three-dots cache",
        base={"dataset": "threeDotsCache", "output_dir": "."},
        axes=(Axis("seed", tuple(range(10))), Axis("method", METHODS)),
        params={"hp_index": PAPER_HP_INDEX}, settings_of=_baseline_settings,
        metrics=("paper",), only_dataset="threeDots")


def _cpu_study_summary(plan: StudyPlan) -> list[SummaryCommand]:
    """Figures (Jacobian columns of every model, violins at locality 0.1, scores vs locality)
    and summary.md / summary.json."""
    if plan.results_dir is None:
        return []
    runs_dir = plan.output_dir.resolve()
    results_dir = plan.results_dir.resolve()
    figures = results_dir / layout.FIGURES_DIR
    trained = [str(m.run_dir.resolve()) for m in plan.members if layout.is_finished(m.run_dir)]
    gamma = str(_nonzero_gamma(plan) or 0.1)
    # The members alone: other runs in the same folders (other seeds or settings) stay out.
    members = [flag for m in plan.members for flag in ("--run", str(m.run_dir.resolve()))]
    results_flags = ["--models-dir", str(runs_dir / layout.TRAINED_MODELS_DIR),
                     "--output-dir", str(figures), *members]
    commands = []
    if trained:
        commands.append(SummaryCommand((*PLOT_COMMAND, "jacobian-columns", *trained,
                                        "--output", str(figures / "jacobian_columns.png"))))
    # From the runs folder: the plots' default baselines folder (./trainedStandardModels) is
    # then the study's own, never the paper-scale one beside the repository; --run keeps the
    # members alone in any case (none is a baseline).
    commands += [
        SummaryCommand((*PLOT_COMMAND, "compare-baselines", *results_flags, "--gamma", gamma,
                        "--locality", "0.1"), cwd=runs_dir),
        SummaryCommand((*PLOT_COMMAND, "vs-locality", *results_flags, "--comparison",
                        "beta-vs-jl1", "--gamma", gamma), cwd=runs_dir),
    ]
    seeds = [str(seed) for seed in plan.axis_values("seed")]
    summary = [*STUDY_SUMMARY_COMMAND, "--models-dir", str(runs_dir / layout.TRAINED_MODELS_DIR),
               "--output-dir", str(results_dir), *members, "--seeds", *seeds]
    if plan.command:
        summary += ["--command", plan.command]
    return [*commands, SummaryCommand(tuple(summary))]


@register_study("cpu_study")
def cpu_study() -> Study:
    return Study(
        name="cpu_study",
        description="the headline comparison at CPU scale: β-VAE (γ = 0) vs JL1-VAE (γ = 0.1), "
                    "seeds 1-5, 8,000 batches on the 20,000-image cache, then the summary",
        base={"dataset": "threeDotsCacheSmall", "architecture": "defaultConv",
              "objective": "jlonevae", "beta": 4.0, "latent_dim": 10, "batch_size": 64,
              "lr": 1e-3, "num_batches": 8000, "annealing_batches": 2667, "jacobian_batch": 16,
              "device": "cpu", "checkpoint_every": 500, "output_dir": "studies/cpu_study"},
        axes=(Axis("seed", (1, 2, 3, 4, 5)), Axis("gamma", (0.0, 0.1))),
        metrics=("paper",), results_dir="results/cpu_study", summary=_cpu_study_summary)

