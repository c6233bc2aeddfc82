"""One training run = one :class:`TrainConfig`, saved as ``config.json`` in the run folder.

The experiment name and folder layout follow the reference (docs/formats.md) so that its
notebooks and scripts, which glob on these names, keep working:
``<output_dir>/trainedModels/<experiment_name>/<run_id>/`` and
``<output_dir>/logs/<experiment_name>/<run_id>/``.
The reference used a timestamp as ``<run_id>``; we use ``seed<k>`` so re-running a sweep is
idempotent (a finished run is skipped, an interrupted one resumes). :func:`place_run` decides
the folder of a config (``seed<k>``, or ``seed<k>_batches<N>`` for a run that differs from the
one in ``seed<k>`` only in its length).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jlonevae_lib.architecture.jacobian import JACOBIAN_METHODS, JACOBIAN_PENALTIES
from jlonevae_lib.architecture.registry import check_architecture
from jlonevae_lib.data.ground_truth import canonical_dataset_name
from jlonevae_lib.runs import layout
from jlonevae_lib.train.objectives import objective_class
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError
from jlonevae_lib.utils.precision import PRECISIONS

# The reference counts training length in "epochs" of 5,000 batches.
BATCHES_PER_EPOCH = 5000
#: The paper's β, and the one recorded for a method without a β (FactorVAE, DIP-VAE,
#: AnnealedVAE): its runs never differ by a β they do not read.
DEFAULT_BETA = 4.0


@dataclass
class TrainConfig:
    """Everything that determines a training run. Defaults are the paper's three-dots setting,
    except the length, which the CLI takes from ``--epochs``/``--num-batches``."""

    dataset: str = "threeDotsCache"
    architecture: str = "defaultConv"
    # The training method (jlonevae_lib.train.objectives): "jlonevae", the paper's, uses beta,
    # gamma, regularization_type and the jacobian_* settings; disentanglement_lib's baselines
    # ("beta_vae", "factor_vae", ...) use beta or their objective_params.
    objective: str = "jlonevae"
    # The objective's own hyperparameters (e.g. FactorVAE's gamma), completed with its defaults.
    objective_params: dict[str, float] = dataclasses.field(default_factory=dict)
    latent_dim: int = 10
    beta: float = DEFAULT_BETA
    gamma: float = 0.1
    regularization_type: str = "jlone"
    jacobian_method: str = "fd"
    # Penalty on a random sub-batch of this many samples (unbiased); None = the whole batch.
    jacobian_batch: int | None = None
    batch_size: int = 64
    num_batches: int = 300_000
    lr: float = 1e-4
    annealing_batches: int = 100_000
    seed: int = 1
    log_interval: int = 100
    checkpoint_every: int = 1000
    # Batches after which the model is also saved (representation/cache_batch_no<N>), so that
    # earlier points of one run can be evaluated like its end; the end is always saved.
    keep_models_at: list[int] = dataclasses.field(default_factory=list)
    # The lengths (num_batches) the run had before each extension (jlonevae-train --extend),
    # oldest first: it was trained to extended_from[0], then continued from its final
    # checkpoint. Empty for a run trained to num_batches in one go. A record, not a setting:
    # the schedules and the data order do not depend on num_batches, so an extended run is
    # the run of its final length (same_run_as ignores this field).
    extended_from: list[int] = dataclasses.field(default_factory=list)
    device: str = "auto"
    # TF32 for the rest of training on CUDA (convolutions and matrix products outside the
    # Jacobian, which always runs in IEEE float32): faster on Ampere and later, but not the
    # paper's float32 arithmetic, hence off by default. No effect on the CPU. docs/gpu.md.
    allow_tf32: bool = False
    # Deterministic kernels (torch.use_deterministic_algorithms, cuDNN autotuning off): on
    # CUDA, a resumed run then ends with the same weights as one that never stopped, on the
    # same GPU model and software. The CPU is deterministic either way. docs/gpu.md.
    deterministic: bool = False
    # The arithmetic of the loss outside the Jacobian penalty: "float32" (IEEE, the paper's) or
    # "bf16" (bfloat16 autocast for the encoder, the reconstruction and the baselines'
    # regularisers; faster where the device has bf16 instructions). The penalty's decoder calls
    # stay IEEE float32 either way. Unlike TF32 it changes what a run computes on every device,
    # so a run keeps it for life (same_run_as). docs/training.md, "Mixed precision".
    precision: str = "float32"
    output_dir: str = "."
    # The folder under output_dir that holds the experiments (layout.STANDARD_MODELS_DIR keeps
    # baselines apart, as the reference did).
    models_dir: str = layout.TRAINED_MODELS_DIR
    run_id: str | None = None
    # The disentanglement_lib study member these settings reproduce (jlonevae_lib.train.
    # baselines), or None.
    model_num: int | None = None
    # The preset (jlonevae_lib.train.presets) the command line started from, or None. A
    # record: the settings it resolved to are the fields above.
    preset: str | None = None
    # Which images the dataset served, when it says (naturalImages: IMAGES.mat or the offline
    # fallback); recorded by train(), not a setting. None: the dataset does not say, or the run
    # was recorded before this field existed.
    data_source: str | None = None
    # The disentanglement_lib model folder (TensorFlow) this run was imported from, or None:
    # trained here. Recorded by the importer (jlonevae_lib.train.dlib_import), not a setting.
    imported_from: str | None = None

    def __post_init__(self) -> None:
        # An alias (the reference's mpi3d_multi_real) is the same run as its dataset's name.
        self.dataset = canonical_dataset_name(self.dataset)
        method = objective_class(self.objective)
        self.objective_params = method.resolve_params(dict(self.objective_params))
        if not method.uses_beta:
            self.beta = DEFAULT_BETA
        self.validate()

    def validate(self) -> None:
        """Raise :class:`JLoneVAEError` naming the first bad value and what is allowed."""
        positive = {
            "batch_size": self.batch_size,
            "num_batches": self.num_batches,
            "latent_dim": self.latent_dim,
            "log_interval": self.log_interval,
            "checkpoint_every": self.checkpoint_every,
        }
        for name, value in positive.items():
            if not isinstance(value, int) or value <= 0:
                raise JLoneVAEError(f"{name} must be a positive integer, got {value!r}")
        for name in ("beta", "gamma", "lr"):
            value = getattr(self, name)
            if not 0 <= value < float("inf"):  # also rejects nan
                raise JLoneVAEError(f"{name} must be a finite number >= 0, got {value!r}")
            # -0.0 would name another folder than 0.0 (beta-0_0000), one no reader parses.
            setattr(self, name, value + 0.0)
        if self.lr == 0:
            raise JLoneVAEError("lr must be > 0")
        self.keep_models_at = sorted(set(self.keep_models_at))
        for batches in self.keep_models_at:
            if not isinstance(batches, int) or not 0 < batches < self.num_batches:
                raise JLoneVAEError(f"keep_models_at (--keep-models-at) takes batch counts "
                                    f"between 1 and num_batches - 1 ({self.num_batches - 1}), "
                                    f"got {batches!r}; the final model is always saved")
        for name in ("allow_tf32", "deterministic"):
            if not isinstance(getattr(self, name), bool):
                raise JLoneVAEError(f"{name} must be true or false, got "
                                    f"{getattr(self, name)!r}")
        if self.precision not in PRECISIONS:
            raise JLoneVAEError(f"precision must be one of {', '.join(PRECISIONS)}, got "
                                f"{self.precision!r}")
        if (not all(isinstance(n, int) and n > 0 for n in self.extended_from)
                or sorted(set(self.extended_from)) != self.extended_from
                or (self.extended_from and self.extended_from[-1] >= self.num_batches)):
            raise JLoneVAEError(f"extended_from lists the run's earlier lengths, increasing and "
                                f"below num_batches ({self.num_batches}), got "
                                f"{self.extended_from!r}")
        if self.annealing_batches < 0:
            raise JLoneVAEError(f"annealing_batches must be >= 0, got {self.annealing_batches}")
        if self.seed < 0:
            raise JLoneVAEError(f"seed must be >= 0, got {self.seed}")
        if self.regularization_type not in JACOBIAN_PENALTIES:
            raise JLoneVAEError(
                f"unknown regularization_type {self.regularization_type!r}; "
                f"choose one of {sorted(JACOBIAN_PENALTIES)}"
            )
        if self.jacobian_method not in JACOBIAN_METHODS:
            raise JLoneVAEError(f"unknown jacobian_method {self.jacobian_method!r}; "
                                f"choose one of {sorted(JACOBIAN_METHODS)}")
        if self.jacobian_batch is not None and self.jacobian_batch <= 0:
            raise JLoneVAEError(
                f"jacobian_batch must be a positive integer, got {self.jacobian_batch}")
        if not _plain_folder_name(self.models_dir):
            raise JLoneVAEError(f"models_dir must be a plain folder name, got "
                                f"{self.models_dir!r}")
        if self.run_id is not None and not _plain_folder_name(self.run_id):
            raise JLoneVAEError(f"run_id must be a plain folder name, got {self.run_id!r}")
        check_architecture(self.architecture)
        objective_class(self.objective).check_config(self)

    @property
    def experiment_name(self) -> str:
        """The objective's name for this run's settings, e.g. the reference's
        ``defaultConv_lone_beta4_0000_ica0_1000_lat10_batch64_lr0_0001_anneal100000``."""
        return objective_class(self.objective).experiment_name(self)

    @property
    def run_name(self) -> str:
        """The run folder's name: ``run_id`` if set, else ``seed<k>``. A config from the
        command line gets its ``run_id`` from :func:`place_run`."""
        return self.run_id if self.run_id is not None else layout.default_run_name(self.seed)

    @property
    def run_dir(self) -> Path:
        return layout.run_dir(self.output_dir, self.experiment_name, self.run_name,
                              self.models_dir)

    @property
    def log_dir(self) -> Path:
        return layout.log_dir(self.output_dir, self.experiment_name, self.run_name)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """The config a run's JSON describes; :class:`JLoneVAEError` for a key it does not have
        or a value of the wrong JSON type (``"beta": "4"``), before any check of the values."""
        if not isinstance(data, dict):
            raise JLoneVAEError(f"a run config is a JSON object, not a {type(data).__name__}")
        fields = {f.name: f.type for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise JLoneVAEError(f"config has unknown keys {unknown} (a {layout.CONFIG_FILE} "
                                "written by another version, or edited by hand)")
        for name, value in data.items():
            annotation = str(fields[name])
            if not _json_value_fits(value, annotation):
                raise JLoneVAEError(f"{name} must be {_JSON_TYPE_WORDS[annotation]}, got "
                                    f"{value!r}")
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """The config saved as ``path``; a bad file is :class:`JLoneVAEError` naming it."""
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise JLoneVAEError(f"no run config at {path}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise JLoneVAEError(f"{path} is not valid JSON ({err}); delete the run folder "
                                "or restore the file") from None
        try:
            return cls.from_dict(data)
        except JLoneVAEError as err:
            raise JLoneVAEError(f"{path}: {err}; restore the file or delete the run "
                                "folder") from None

    def same_run_as(self, other: TrainConfig) -> bool:
        """True when ``other`` describes the same computation (where/how it runs may differ:
        the device, and with it TF32 and deterministic kernels, which change rounding only).
        ``precision`` counts: a bf16 run and a float32 one of the same settings are two runs,
        so neither resumes nor extends the other."""
        return not self._differing_fields(other)

    def _differing_fields(self, other: TrainConfig, also_ignored: Collection[str] = ()
                          ) -> list[str]:
        """The fields whose values differ and that change the computation (not where or how
        it runs, how often it logs and saves, or what it records about itself)."""
        ignored = {"device", "output_dir", "models_dir", "run_id", "log_interval",
                   "checkpoint_every", "keep_models_at", "allow_tf32", "deterministic",
                   "extended_from", "preset", *also_ignored}
        if self.data_source is None or other.data_source is None:
            ignored.add("data_source")  # a run recorded before data_source existed
        mine, theirs = self.to_dict(), other.to_dict()
        return [name for name in mine if name not in ignored and mine[name] != theirs[name]]

    def same_settings_as(self, other: TrainConfig) -> bool:
        """True when ``other`` is :meth:`same_run_as` this one but for its length
        (``num_batches``): one of the two is the other continued (``--extend``)."""
        return self.same_run_as(dataclasses.replace(
            other, num_batches=self.num_batches, keep_models_at=[], extended_from=[]))

    def differences(self, other: TrainConfig, defaulted: Collection[str] = (),
                    also_ignored: Collection[str] = ()) -> str:
        """``name: <here> there vs <other's> now`` for every field that makes ``other`` not
        :meth:`same_run_as` this one (and is not in ``also_ignored``), for messages; a field in
        ``defaulted`` (absent from the recorded config.json, so this config holds its default)
        is marked as such."""
        mine, theirs = self.to_dict(), other.to_dict()
        return ", ".join(
            f"{name}: {mine[name]!r} there"
            + (f" (not in its {layout.CONFIG_FILE}: the default)" if name in defaulted else "")
            + f" vs {theirs[name]!r} now"
            for name in self._differing_fields(other, also_ignored))


@dataclass(frozen=True)
class RunPlacement:
    """Where :func:`place_run` puts a run, and why (one line for the user)."""

    config: TrainConfig
    reason: str

    @property
    def run_dir(self) -> Path:
        return self.config.run_dir


def recorded_config(run_dir: Path) -> TrainConfig | None:
    """The config a run folder records in ``config.json``, None when it has none."""
    path = layout.config_path(run_dir)
    if path.exists() and not path.is_file():  # else the run would read as new, or finished
        raise DataFileError(f"{path} is not a file; restore the run's {path.name}, or "
                            f"delete {run_dir} to start over")
    return TrainConfig.load(path) if path.is_file() else None


def place_run(config: TrainConfig, extend: bool = False) -> RunPlacement:
    """The run folder of ``config``: the one rule every tool that maps settings to a folder uses
    (jlonevae-train, its ``--print-run-dir``, the sweep's members).

    1. ``run_id`` set (``--run-id``): that folder.
    2. ``extend`` (``--extend``): ``seed<k>``, the run to continue.
    3. ``seed<k>`` when it is free (no ``config.json``) or holds this run (:meth:`TrainConfig.
       same_run_as`): the folder the reference's notebooks and the studies look in.
    4. ``seed<k>_batches<N>`` when ``seed<k>`` holds the same settings trained to another
       length: the first run keeps ``seed<k>``, this one gets its own folder. ``run_id`` is set
       to that name, so the config written there names its own folder.
    5. Otherwise ``seed<k>``, which holds a run with other settings: training refuses it.

    The folder depends on what is on disk (``seed<k>`` keeps whichever length came first), so
    it is decided before the run's lock is taken; training then checks the chosen folder again
    under the lock and refuses one that another run took meanwhile.
    """
    problem = layout.output_dir_problem(config.output_dir, config.models_dir)
    if problem:
        raise JLoneVAEError(problem)
    if config.run_id is not None:
        return RunPlacement(config, "the folder --run-id names")
    default = config.run_dir
    if extend:
        return RunPlacement(config, "--extend continues the run there")
    existing = recorded_config(default)
    if existing is None:
        return RunPlacement(config, "a new run in the seed's folder")
    if existing.same_run_as(config):
        return RunPlacement(config, "this run's folder: a finished run is skipped, an "
                                    "interrupted one resumes")
    if existing.same_settings_as(config):
        placed = dataclasses.replace(
            config, run_id=layout.length_run_name(config.seed, config.num_batches))
        return RunPlacement(placed, f"{default.name} holds the same settings trained to "
                                    f"{existing.num_batches} batches, this run has "
                                    f"{config.num_batches}: it gets its own folder (--extend "
                                    f"continues that run instead)")
    return RunPlacement(config, "the seed's folder, which holds a run with other settings")


#: A field's annotation → what its JSON value may be, in words, for :meth:`TrainConfig.from_dict`.
_JSON_TYPE_WORDS = {"int": "an integer", "float": "a number", "str": "a string",
                    "bool": "true or false", "int | None": "an integer or null",
                    "str | None": "a string or null", "list[int]": "a list of integers",
                    "dict[str, float]": "an object of numbers"}


def _json_value_fits(value: Any, annotation: str) -> bool:
    """Whether a JSON ``value`` may stand for a field annotated ``annotation`` (a number for
    ``float``, ints included; never a boolean for a number)."""
    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def is_number(v: Any) -> bool:
        return is_int(v) or isinstance(v, float)

    checks = {"int": is_int, "float": is_number, "str": lambda v: isinstance(v, str),
              "bool": lambda v: isinstance(v, bool), "None": lambda v: v is None,
              "list[int]": lambda v: isinstance(v, list) and all(map(is_int, v)),
              "dict[str, float]": lambda v: isinstance(v, dict)
              and all(isinstance(k, str) and is_number(x) for k, x in v.items())}
    return any(checks[part](value) for part in annotation.split(" | "))


def _plain_folder_name(name: str) -> bool:
    """A name that makes one new folder level: no separator, not ``.`` or ``..`` (which would
    put a run's files beside other runs' or outside its output folder)."""
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")

