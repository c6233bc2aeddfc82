"""A study member: one training run of a study, its place in the study and its command lines.

A member is its :class:`~jlonevae_lib.train.config.TrainConfig` (so its run folder is the one
:func:`~jlonevae_lib.train.config.place_run` gives that config, as ``jlonevae-train`` does, never
a name pieced together here), the values it takes on the study's
axes (``{"seed": 11, "gamma": 0.1}``) and its index in the study's order. The worker that
trains it runs ``jlonevae-train`` with :func:`train_arguments`, which give back exactly that
config (tests/sweep/test_studies.py checks the round trip for every member of every study),
so a member trained by the sweep and one trained by hand with the same flags share a folder.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jlonevae_lib.train.config import TrainConfig, place_run
from jlonevae_lib.train.objectives import objective_class

#: The training and evaluation commands (the command lines of jlonevae_lib.cli, by name), run
#: with the interpreter that runs the sweep (a Slurm job runs the submitting interpreter too), so
#: no PATH lookup can pick another installation.
TRAIN_COMMAND = (sys.executable, "-m", "jlonevae_lib.cli.train")
EVALUATE_COMMAND = (sys.executable, "-m", "jlonevae_lib.cli.evaluate")


def _number(value: float) -> str:
    """A float as the shortest text that reads back to it (``0.1``, ``1e-05``)."""
    return repr(float(value))


@dataclass(frozen=True)
class Member:
    """One run of a study."""

    index: int
    #: The member's value on each of the study's axes, in the study's axis order.
    point: Mapping[str, Any]
    config: TrainConfig

    @property
    def run_dir(self) -> Path:
        """``seed<k>``, or ``seed<k>_batches<N>`` when ``seed<k>`` holds the member's settings
        trained to another length (:func:`~jlonevae_lib.train.config.place_run`)."""
        return place_run(self.config).run_dir

    @property
    def label(self) -> str:
        """``seed=11 gamma=0.1``: the member's axis values."""
        return " ".join(f"{name}={value}" for name, value in self.point.items())


def train_arguments(config: TrainConfig) -> list[str]:
    """``jlonevae-train`` flags that build exactly ``config``.

    A disentanglement_lib study member (``config.model_num`` set) is named by ``--model-num``,
    which fixes its method, hyperparameters and seed; every other setting is given explicitly,
    so the CLI's defaults never decide anything.
    """
    if config.data_source is not None:
        raise ValueError("data_source is recorded by training, not a member's setting")
    args: list[str] = []
    if config.model_num is not None:
        args += ["--model-num", str(config.model_num)]
    else:
        args += ["--objective", config.objective, "--seed", str(config.seed)]
    args += [
        "--dataset", config.dataset, "--architecture", config.architecture,
        "--latent-dim", str(config.latent_dim), "--batch-size", str(config.batch_size),
        "--num-batches", str(config.num_batches), "--lr", _number(config.lr),
        # jlonevae-train refuses a β to a method that does not read one.
        *(["--beta", _number(config.beta)] if objective_class(config.objective).uses_beta
          else []),
        "--gamma", _number(config.gamma),
        "--annealingBatches", str(config.annealing_batches),
        "--regularization_type", config.regularization_type,
        "--jacobian", config.jacobian_method,
        "--log-interval", str(config.log_interval),
        "--checkpoint-every", str(config.checkpoint_every),
        "--device", config.device, "--output-dir", config.output_dir,
        "--models-dir", config.models_dir,
    ]
    if config.jacobian_batch is not None:
        args += ["--jacobian-batch", str(config.jacobian_batch)]
    if config.allow_tf32:
        args.append("--allow-tf32")
    if config.deterministic:
        args.append("--deterministic")
    if config.precision != "float32":
        args += ["--precision", config.precision]
    if config.keep_models_at:
        args += ["--keep-models-at", *map(str, config.keep_models_at)]
    if config.run_id is not None:
        args += ["--run-id", config.run_id]
    for name, value in sorted(config.objective_params.items()):
        args += ["--param", f"{name}={_number(value)}"]
    return args


def train_command(member: Member) -> list[str]:
    """The command line that trains (or resumes, or skips) ``member``."""
    return [*TRAIN_COMMAND, *train_arguments(member.config)]


def evaluate_command(member: Member, metrics: Sequence[str], *,
                     only_dataset: str | None = None, overwrite: bool = False,
                     at_batch: int | None = None) -> list[str]:
    """The command line that computes ``metrics`` of ``member`` (those already computed are
    kept unless ``overwrite``), on the device the member trained on; ``at_batch``: of the model
    it kept at that batch instead of its final one."""
    command = [*EVALUATE_COMMAND, str(member.run_dir), "--metrics", *metrics,
               "--skip-unfinished", "--device", member.config.device]
    if at_batch is not None:
        command += ["--at-batch", str(at_batch)]
    if only_dataset is not None:
        command += ["--only-dataset", only_dataset]
    if overwrite:
        command.append("--overwrite")
    return command
