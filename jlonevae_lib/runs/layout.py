"""Every path and marker of a run folder, and the saved-model finder.

The layout is the reference's (its notebooks and scripts glob on these names), described in
docs/formats.md::

    <output_dir>/trainedModels/<experiment>/<run>/    the run folder
        config.json                                   the run's full training config
        checkpoints/checkpoint.pt                     latest checkpoint
        checkpoints/progress.json                     its batch and time (read by status)
        representation/cache_batch_no<N>/             saved model after N batches
        representation/pytorch_model.pt               TorchScript mean encoder (AIcrowd)
        representation/results/                       earlier steps' results (AIcrowd)
        DONE | FAILED                                 JSON status, written when training ends
        EVALUATION_FAILED                             JSON: why the last evaluation failed
        KILLED                                        JSON: SIGKILLs at the latest checkpoint
        sweep_logs/<stage>.log                        the sweep's training / evaluation output
        metrics/<metric>/results/                     one metric's results (disentanglement_lib)
            aggregate/evaluation.json                 flat ``evaluation_results.*`` and
            gin/evaluation.gin, json/*.json           ``evaluation_config.*`` keys
        metrics_at_batch/<N>/<metric>/results/        the same, of the model kept at batch N
    <output_dir>/logs/<experiment>/<run>/             TensorBoard events

Code that reads or writes a run folder takes its names from here. (The run's lock file is
:class:`jlonevae_lib.utils.lock.FolderLock`'s own ``.lock``.)
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from jlonevae_lib.runs.metric_table import parse_evaluation_seed_name
from jlonevae_lib.utils.errors import DataFileError

TRAINED_MODELS_DIR = "trainedModels"
#: Where the baselines' runs go, as the reference kept its disentanglement_lib models apart.
STANDARD_MODELS_DIR = "trainedStandardModels"
LOGS_DIR = "logs"

CONFIG_FILE = "config.json"
DONE_FILE = "DONE"
FAILED_FILE = "FAILED"
EVALUATION_FAILED_FILE = "EVALUATION_FAILED"
CHECKPOINTS_DIR = "checkpoints"
CHECKPOINT_FILE = "checkpoint.pt"
PROGRESS_FILE = "progress.json"
KILLED_FILE = "KILLED"
SWEEP_LOGS_DIR = "sweep_logs"
REPRESENTATION_DIR = "representation"
TORCHSCRIPT_FILE = "pytorch_model.pt"
#: Under ``representation/`` (AIcrowd) and under each metric's folder (disentanglement_lib).
RESULTS_DIR = "results"
#: A saved model's folder is this prefix followed by the number of batches trained.
SAVED_MODEL_PREFIX = "cache_batch_no"
#: How messages name the saved-model folders.
SAVED_MODEL_NAME = f"{SAVED_MODEL_PREFIX}<N>"
METRICS_DIR = "metrics"
#: Results of the models a run kept at earlier batches (``keep_models_at``), by batch.
KEPT_METRICS_DIR = "metrics_at_batch"
#: ``<metric>@<N>`` names a metric of the model kept at batch N (:func:`kept_metric_name`).
KEPT_METRIC_SEPARATOR = "@"

#: disentanglement_lib's name of the evaluation step: its result files are named after it.
EVALUATION_STEP = "evaluation"
AGGREGATE_DIR = "aggregate"
EVALUATION_FILE = f"{EVALUATION_STEP}.json"
#: A run folder's evaluation files, relative to the run folder.
EVALUATION_GLOB = f"{METRICS_DIR}/*/{RESULTS_DIR}/{AGGREGATE_DIR}/{EVALUATION_FILE}"

_SAVED_MODEL_RE = re.compile(rf"^{SAVED_MODEL_PREFIX}(\d+)$")


# ------------------------------------------------------------------------------ run folders


#: A run's folder when no ``--run-id`` names it: ``seed<k>``. The reference's notebooks and the
#: studies find runs by it, so it never changes.
DEFAULT_RUN_TEMPLATE = "seed{seed}"
#: The folder of a run whose settings equal those of the run in ``seed<k>`` except the length:
#: ``seed<k>_batches<N>`` (``seed<k>`` keeps the run that came first).
LENGTH_RUN_TEMPLATE = "seed{seed}_batches{num_batches}"
_DEFAULT_RUN_NAME = re.compile("^" + DEFAULT_RUN_TEMPLATE.format(seed=r"(\d+)") + "$")


def default_run_name(seed: int) -> str:
    """``seed<k>``: the run folder of seed ``seed`` unless ``--run-id`` names another."""
    return DEFAULT_RUN_TEMPLATE.format(seed=seed)


def seed_of_run_name(name: str) -> int | None:
    """The seed of a run folder named ``seed<k>`` (:func:`default_run_name`), else None. Only for
    runs without a usable config.json (the reference's published models): tools read the seed
    from the config."""
    match = _DEFAULT_RUN_NAME.match(name)
    return int(match[1]) if match else None


def length_run_name(seed: int, num_batches: int) -> str:
    """``seed<k>_batches<N>``: where a run of ``num_batches`` goes when ``seed<k>`` holds the
    same settings trained to another length."""
    return LENGTH_RUN_TEMPLATE.format(seed=seed, num_batches=num_batches)


def run_dir(output_dir: str | os.PathLike, experiment: str, run: str,
            models_dir: str = TRAINED_MODELS_DIR) -> Path:
    """``<output_dir>/<models_dir>/<experiment>/<run>``, ``models_dir`` being
    ``trainedModels`` (or ``trainedStandardModels`` for the baselines)."""
    return Path(output_dir) / models_dir / experiment / run


def log_dir(output_dir: str | os.PathLike, experiment: str, run: str) -> Path:
    """``<output_dir>/logs/<experiment>/<run>`` (TensorBoard)."""
    return Path(output_dir) / LOGS_DIR / experiment / run


def log_dir_of_run(run: Path) -> Path:
    """The TensorBoard folder of the run folder ``run``
    (``<output_dir>/<models_dir>/<experiment>/<run>``): ``<output_dir>/logs/<experiment>/<run>``,
    wherever the output folder now lies."""
    return log_dir(run.parents[2], run.parent.name, run.name)


def config_path(run: Path) -> Path:
    """The run's training config, ``<run>/config.json``."""
    return run / CONFIG_FILE


#: The purpose a run's lock records while a sweep evaluates the finished run (the sweep holds
#: the lock from its first evaluation process's start to its last one's end).
EVALUATION_LOCK_PURPOSE = "evaluation"
#: The purpose a run's lock records while training runs (or finds the run finished).
TRAINING_LOCK_PURPOSE = "training"
#: The purpose a run's lock records while ``jlonevae-train --extend`` lengthens the run.
EXTENDING_LOCK_PURPOSE = "extending the run"


def done_path(run: Path) -> Path:
    """The marker of a finished run, ``<run>/DONE`` (JSON: batches, model, final scalars)."""
    return run / DONE_FILE


def failed_path(run: Path) -> Path:
    """The marker of a failed run, ``<run>/FAILED`` (JSON: reason, step, message)."""
    return run / FAILED_FILE


def evaluation_failed_path(run: Path) -> Path:
    """The marker of a trained run whose last evaluation failed,
    ``<run>/EVALUATION_FAILED`` (JSON: reason, metrics, message)."""
    return run / EVALUATION_FAILED_FILE


def is_finished(run: Path) -> bool:
    """True when the run's training finished (it has ``DONE``)."""
    return done_path(run).is_file()


def checkpoint_path(run: Path) -> Path:
    """The run's latest checkpoint, ``<run>/checkpoints/checkpoint.pt``."""
    return run / CHECKPOINTS_DIR / CHECKPOINT_FILE


def progress_path(run: Path) -> Path:
    """The latest checkpoint's progress record, ``<run>/checkpoints/progress.json`` (JSON:
    ``step``, ``num_batches``, ``time``, ``train_seconds``): what ``status`` reads instead of
    the checkpoint itself."""
    return run / CHECKPOINTS_DIR / PROGRESS_FILE


def training_files(run: Path) -> tuple[Path, ...]:
    """The files only training writes whole into the run, under the run's lock (config.json,
    DONE, the checkpoint and its progress record, the TorchScript export; the saved models'
    files are :mod:`~jlonevae_lib.architecture.save_model`'s): where a killed trainer can leave
    half-written temporaries. Not FAILED: the sweep writes it too, without the lock."""
    return (config_path(run), done_path(run), checkpoint_path(run), progress_path(run),
            torchscript_path(run))


def killed_path(run: Path) -> Path:
    """``<run>/KILLED``: how many times in a row the run's training was SIGKILLed at its
    latest checkpoint (JSON: ``step``, ``count``, ``time``)."""
    return run / KILLED_FILE


def sweep_log_path(run: Path, stage: str) -> Path:
    """``<run>/sweep_logs/<stage>.log``: the output of the sweep's ``stage`` processes
    (``train``, ``evaluate``) for this run, appended attempt after attempt, each after a line
    :func:`sweep_log_attempt_line`."""
    return run / SWEEP_LOGS_DIR / f"{stage}.log"


#: A sweep log's attempt line: ``=== <local time, this format> <command>``.
SWEEP_LOG_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
_SWEEP_LOG_ATTEMPT = re.compile(r"^=== (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) ")


def sweep_log_attempt_line(command: Sequence[str], moment: datetime) -> str:
    """The line a sweep log gets before an attempt at ``command`` started at ``moment``."""
    return f"=== {moment.strftime(SWEEP_LOG_TIME_FORMAT)} {' '.join(command)}\n"


def sweep_log_attempt_time(line: str) -> datetime | None:
    """When the attempt a sweep log line starts began (naive: the local time of the machine
    that wrote it); None for any other line."""
    match = _SWEEP_LOG_ATTEMPT.match(line)
    return None if match is None else datetime.strptime(match[1], SWEEP_LOG_TIME_FORMAT)


def representation_dir(run: Path) -> Path:
    """``<run>/representation``: the saved models and the TorchScript export."""
    return run / REPRESENTATION_DIR


def torchscript_path(run: Path) -> Path:
    """The TorchScript mean encoder, ``<run>/representation/pytorch_model.pt``."""
    return representation_dir(run) / TORCHSCRIPT_FILE


def earlier_results_dir(representation: Path) -> Path:
    """``<representation>/results/json``: earlier steps' result dicts, one ``<step>.json``
    each, copied into every metric's results."""
    return representation / RESULTS_DIR / "json"


def run_folders(models_dir: str | os.PathLike) -> list[Path]:
    """Every run folder ``<models_dir>/<experiment>/<run>``, finished or not, sorted."""
    return sorted(path for path in Path(models_dir).glob("*/*") if path.is_dir())


def model_runs(models_dir: str | os.PathLike) -> list[Path]:
    """The run folders ``<models_dir>/<experiment>/<run>`` that hold a ``representation/``
    folder, sorted."""
    return sorted(path.parent for path in Path(models_dir).glob(f"*/*/{REPRESENTATION_DIR}"))


#: Keys every run's ``config.json`` has (a TrainConfig's), which another tool's rarely all do.
_RUN_CONFIG_KEYS = frozenset({"dataset", "architecture", "num_batches", "seed"})


def is_run_folder(path: Path) -> bool:
    """Whether ``path`` is a run folder: it holds a saved model
    (``representation/cache_batch_no<N>/``, also the reference's runs, which have no config) or
    a ``config.json`` with a run's settings (a run still training)."""
    if final_saved_model(representation_dir(path)) is not None:
        return True
    try:
        return _RUN_CONFIG_KEYS <= read_json_object(config_path(path)).keys()
    except DataFileError:
        return False


def runs_below(folder: Path) -> list[Path]:
    """The run folders one (an experiment folder's) or two (a models folder's) levels below
    ``folder``, sorted."""
    return sorted(path for path in (*folder.glob("*"), *folder.glob("*/*"))
                  if path.is_dir() and is_run_folder(path))


def output_dir_problem(output_dir: str | os.PathLike, models_dir: str) -> str:
    """Why ``output_dir`` cannot take runs in ``<output_dir>/<models_dir>/`` (it is a run
    folder or inside one, or it is itself a ``<models_dir>`` folder, so runs would nest), or
    "" when it can."""
    path = Path(output_dir).expanduser().resolve()
    for folder in (path, *path.parents):
        if is_run_folder(folder):
            where = "is the run folder" if folder == path else "is inside the run folder"
            return (f"--output-dir {output_dir} {where} {folder}: give the "
                    f"folder that holds {models_dir}/ and {LOGS_DIR}/, as the project's or a "
                    "study's folder does")
    if path.name == models_dir:
        return (f"--output-dir {output_dir} is itself a {models_dir}/ folder: give the folder "
                f"above it, {path.parent} (runs go to <output-dir>/{models_dir}/<experiment>/"
                "<run>)")
    return ""


def check_models_dir(models_dir: str | os.PathLike) -> Path:
    """``models_dir`` made absolute when it is a folder of experiments
    (``<models_dir>/<experiment>/<run>/``); a :class:`DataFileError` that says what it is
    instead (missing, a run's or an experiment's folder) and what to give."""
    path = Path(models_dir).expanduser().resolve()
    if not path.is_dir():
        raise DataFileError(
            f"models folder {path} " + ("is a file" if path.exists() else "does not exist")
            + f" (a relative path is read from {Path.cwd()}): give the folder that holds the "
            f"experiments' folders, as {TRAINED_MODELS_DIR}/ does")
    if is_run_folder(path):
        raise DataFileError(f"{path} is one run's folder: give the folder that holds the "
                            f"experiments' folders, {path.parent.parent}")
    if any(child.is_dir() and is_run_folder(child) for child in path.iterdir()):
        raise DataFileError(f"{path} is one experiment's folder: give the folder above it, "
                            f"{path.parent}")
    return path


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path`` (a run's config, marker or result file).

    Raises :class:`DataFileError` when it is missing, unreadable or not an object.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataFileError(f"{path} is not readable JSON ({err})") from None
    if not isinstance(data, dict):
        raise DataFileError(f"{path} holds a {type(data).__name__}, not a JSON object")
    return data


# ---------------------------------------------------------------- a study's results folder

#: A study's report in its results folder (``results/<study>/``): the data, the tables, the
#: prose, and the folder of its figures.
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
README_MD = "README.md"
FIGURES_DIR = "figures"


# ------------------------------------------------------------------- a sweep's own files

#: Where a study's own files go (its ledger, its lock, its submitit folders), under the
#: members' output_dir: ``<output_dir>/sweeps/<study>/``.
SWEEPS_DIR = "sweeps"
LEDGER_FILE = "ledger.json"
#: One folder per Slurm submission: ``<output_dir>/sweeps/<study>/submitit/<time stamp>/``.
SUBMITIT_DIR = "submitit"


def sweep_dir(output_dir: str | os.PathLike, study: str) -> Path:
    """``<output_dir>/sweeps/<study>`` (absolute): the study's ledger, lock and submitit
    folders."""
    return Path(output_dir).resolve() / SWEEPS_DIR / study


def ledger_path(output_dir: str | os.PathLike, study: str) -> Path:
    """``<output_dir>/sweeps/<study>/ledger.json``: the study's Slurm submissions."""
    return sweep_dir(output_dir, study) / LEDGER_FILE


# ------------------------------------------------------------- disentanglement_lib's models

#: A disentanglement_lib study member trained on three-dots, as the reference named it:
#: ``<output_dir>/trainedStandardModels/model<N>_on3dots/``, holding
#: ``tf/``, disentanglement_lib's own model folder (``tf_checkpoint/``, ``tfhub/``, ``results/``,
#: and ``representation/``, its post-processed mean representation). Imported into PyTorch, the
#: model becomes an ordinary run of its method's experiment,
#: ``trainedStandardModels/<experiment>/tf_model<N>/``, beside the PyTorch-trained ``seed<k>``.
DLIB_EXPERIMENT_TEMPLATE = "model{model_num}_on3dots"
DLIB_TF_MODEL_DIR = "tf"
DLIB_IMPORTED_RUN_TEMPLATE = "tf_model{model_num}"
#: An imported model outside disentanglement_lib's study (no model number).
DLIB_IMPORTED_SEED_RUN_TEMPLATE = "tf_seed{seed}"
#: Inside disentanglement_lib's model folder.
DLIB_CHECKPOINT_DIR = "tf_checkpoint"
DLIB_HUB_DIR = "tfhub"
DLIB_RESULTS_DIR = "results"
DLIB_REPRESENTATION_DIR = "representation"
#: disentanglement_lib writes this when training has finished.
DLIB_TRAIN_RESULTS = "results/aggregate/train.json"
#: Its record of the training settings: gin bindings, values as gin text.
DLIB_TRAIN_CONFIG = "results/json/train_config.json"


def dlib_experiment_dir(output_dir: str | os.PathLike, model_num: int) -> Path:
    """``<output_dir>/trainedStandardModels/model<N>_on3dots``."""
    return (Path(output_dir) / STANDARD_MODELS_DIR
            / DLIB_EXPERIMENT_TEMPLATE.format(model_num=model_num))


def dlib_tf_model_dir(output_dir: str | os.PathLike, model_num: int) -> Path:
    """disentanglement_lib's model folder of study member ``model_num`` trained on three-dots."""
    return dlib_experiment_dir(output_dir, model_num) / DLIB_TF_MODEL_DIR


def dlib_imported_run_name(model_num: int | None, seed: int) -> str:
    """The run name of an imported disentanglement_lib model: ``tf_model<N>`` (``tf_seed<k>``
    when it is not a study member)."""
    if model_num is None:
        return DLIB_IMPORTED_SEED_RUN_TEMPLATE.format(seed=seed)
    return DLIB_IMPORTED_RUN_TEMPLATE.format(model_num=model_num)


def dlib_training_finished(tf_model_dir: Path) -> bool:
    """Whether disentanglement_lib finished training in ``tf_model_dir``: its ``train.json``
    exists and is a readable JSON object (a run killed while writing it is not finished)."""
    try:
        read_json_object(Path(tf_model_dir) / DLIB_TRAIN_RESULTS)
    except DataFileError:
        return False
    return True


# ------------------------------------------------------------------------------ saved models


def saved_model_dir(run: Path, num_batches: int) -> Path:
    """``<run>/representation/cache_batch_no<num_batches>``."""
    return representation_dir(run) / f"{SAVED_MODEL_PREFIX}{num_batches}"


def saved_model_batches(folder: Path) -> int | None:
    """N of a saved-model folder named ``cache_batch_no<N>``; None for any other name."""
    match = _SAVED_MODEL_RE.match(folder.name)
    return int(match.group(1)) if match else None


def saved_model_dirs(representation: Path) -> list[Path]:
    """The ``cache_batch_no<N>`` folders in ``representation``, by N."""
    found = [(batches, path) for path in representation.glob(f"{SAVED_MODEL_PREFIX}*")
             if path.is_dir() and (batches := saved_model_batches(path)) is not None]
    return [path for _, path in sorted(found)]


def final_saved_model(representation: Path) -> Path | None:
    """The ``cache_batch_no<N>`` folder with the highest N in ``representation``, if any."""
    found = saved_model_dirs(representation)
    return found[-1] if found else None


def find_saved_model(folder: Path) -> Path | None:
    """The final saved model of a run folder or of its ``representation/`` folder, if any."""
    for candidate in (representation_dir(folder), folder):
        found = final_saved_model(candidate)
        if found is not None:
            return found
    return None


def run_of_saved_model(path: Path) -> Path | None:
    """The run folder of ``path`` when it is a run folder (it has ``representation/``) or a
    saved-model folder inside one; None otherwise."""
    if representation_dir(path).is_dir():
        return path
    if saved_model_batches(path) is not None:
        return path.parent.parent
    return None


# ------------------------------------------------------------------------------ metric results


def kept_metric_name(metric: str, batches: int) -> str:
    """``<metric>@<batches>``: ``metric`` of the model the run kept at ``batches``, as study
    code lists it among a member's metrics."""
    return f"{metric}{KEPT_METRIC_SEPARATOR}{batches}"


def parse_kept_metric_name(name: str) -> tuple[str, int | None]:
    """(metric, batches) of ``<metric>@<batches>``; (name, None) for a final model's metric."""
    metric, separator, batches = name.rpartition(KEPT_METRIC_SEPARATOR)
    if separator and metric and batches.isdigit():
        return metric, int(batches)
    return name, None


def metrics_dir(run: Path) -> Path:
    """``<run>/metrics``: the final model's metric folders."""
    return run / METRICS_DIR


def kept_metrics_dir(run: Path, batches: int) -> Path:
    """``<run>/metrics_at_batch/<batches>``: the metric folders of the model kept at that
    batch."""
    return run / KEPT_METRICS_DIR / str(batches)


def metric_results_dir(run: Path, metric: str) -> Path:
    """One metric's results folder: ``<run>/metrics/<metric>/results``, or for
    ``<metric>@<N>`` (:func:`kept_metric_name`) ``<run>/metrics_at_batch/<N>/<metric>/results``.
    """
    name, batches = parse_kept_metric_name(metric)
    if batches is not None:
        return kept_metrics_dir(run, batches) / name / RESULTS_DIR
    return metrics_dir(run) / metric / RESULTS_DIR


def aggregate_file(results: Path) -> Path:
    """The flat result file in a metric's ``results`` folder, ``aggregate/evaluation.json``."""
    return results / AGGREGATE_DIR / EVALUATION_FILE


def step_json_file(results: Path, step: str) -> Path:
    """One step's result dict in a metric's ``results`` folder, ``json/<step>.json``."""
    return results / "json" / f"{step}.json"


def operative_gin_file(results: Path) -> Path:
    """The operative gin config in a metric's ``results`` folder, ``gin/evaluation.gin``."""
    return results / "gin" / f"{EVALUATION_STEP}.gin"


def evaluation_path(run: Path, metric: str) -> Path:
    """``<run>/metrics/<metric>/results/aggregate/evaluation.json`` (of a kept model's metric
    ``<metric>@<N>``, under ``metrics_at_batch/<N>/``)."""
    return aggregate_file(metric_results_dir(run, metric))


def metric_of_evaluation(path: Path) -> str:
    """The metric folder's name of one ``evaluation.json``."""
    return path.parents[len(Path(EVALUATION_GLOB).parts) - 3].name


def is_evaluation_seed_repeat(path: Path) -> bool:
    """Whether an ``evaluation.json`` is a metric repeated at another evaluation seed
    (``metrics/<metric>_evalseed<k>/``, see :mod:`jlonevae_lib.runs.metric_table`)."""
    return parse_evaluation_seed_name(metric_of_evaluation(path)) is not None


def evaluation_files(run: Path) -> list[Path]:
    """Every metric's ``evaluation.json`` in a run folder, sorted; repeats at another
    evaluation seed left out (:func:`evaluation_seed_repeat_files`)."""
    return sorted(p for p in run.glob(EVALUATION_GLOB) if not is_evaluation_seed_repeat(p))


def evaluation_seed_repeat_files(run: Path) -> list[Path]:
    """The ``evaluation.json`` of each metric repeated at another evaluation seed in a run
    folder (``metrics/<metric>_evalseed<k>/``), sorted."""
    return sorted(p for p in run.glob(EVALUATION_GLOB) if is_evaluation_seed_repeat(p))


def kept_evaluation_files(run: Path) -> list[tuple[int, Path]]:
    """(N, ``evaluation.json``) of every metric of the models a run kept at earlier batches
    (``metrics_at_batch/<N>/<metric>/results/aggregate/evaluation.json``; repeats at another
    evaluation seed included, :func:`metric_of_evaluation` names the metric), sorted."""
    found = []
    for path in run.glob(f"{KEPT_METRICS_DIR}/*/{EVALUATION_GLOB.split('/', 1)[1]}"):
        batches = path.parents[len(Path(EVALUATION_GLOB).parts) - 2].name
        if batches.isdigit():
            found.append((int(batches), path))
    return sorted(found)


def evaluation_files_under(root: Path) -> list[Path]:
    """Every ``evaluation.json`` of the runs one level (``<root>/<model number>/``, as
    disentanglement_lib's studies) or two levels (``<root>/<experiment>/<run>/``) below
    ``root``, sorted; repeats at another evaluation seed left out."""
    return sorted(p for p in {*root.glob(f"*/{EVALUATION_GLOB}"),
                              *root.glob(f"*/*/{EVALUATION_GLOB}")}
                  if not is_evaluation_seed_repeat(p))


def run_of_evaluation(path: Path) -> Path:
    """The run folder of one of its ``evaluation.json`` files."""
    return path.parents[len(Path(EVALUATION_GLOB).parts) - 1]
