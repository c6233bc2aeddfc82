"""Train a member of disentanglement_lib's unsupervised study on three-dots, with
disentanglement_lib itself (TensorFlow).

Usage (in ``.venv-dlib``; docs/dlib_tensorflow.md)::

    .venv-dlib/bin/python -m jlonevae_lib.dlib_tf.train --model-num 100 [--steps 300000]
        [--dataset threeDotsCache] [--output-dir .] [--eval-steps 100]

Model number N (:mod:`jlonevae_lib.dlib_tf.study`) trains into
``<output-dir>/trainedStandardModels/model<N>_on3dots/tf/``, disentanglement_lib's own model
folder (``tf_checkpoint/``, ``tfhub/``, ``results/``), through its
``methods.unsupervised.train.train_with_gin`` with the study's gin file and bindings.

Reproducible: disentanglement_lib passes ``model.random_seed`` to the estimator's graph seed and
its input pipeline, but Keras 2.15's weight initialisers draw their seeds from Python's
``random``; so Python's ``random`` and numpy's global state are seeded with the same seed before
training, and the same model number gives bit-identical checkpoint variables.

Resumable in the sense of a batch of runs: a model folder whose training finished
(``results/aggregate/train.json``, written last) is skipped (refused with a message if it was
trained with another dataset or number of steps); an unfinished one (a killed run) is
deleted and trained again from step 0. disentanglement_lib has no resume of its own that this
relies on (its estimator would continue from the last checkpoint, but the input pipeline's and
the initialisers' random streams would not), so a restart is the only way to keep the result
identical to an uninterrupted run.

FactorVAE: disentanglement_lib gives the global step to both of its optimisers, so one
iteration (one VAE and one discriminator update) advances it by 2. ``--steps`` (gin's
``model.training_steps``) counts global steps: FactorVAE makes about half as many VAE updates
as the other methods (the study's 300,000 steps are about 150,000 iterations). The summary line
reports the checkpoint's global step and the iterations it stands for.
"""

from __future__ import annotations

if __name__ == "__main__":
    # ``python -m`` runs this file as ``__main__``; the command imports it as a module.
    from jlonevae_lib.dlib_tf.commands import train_command

    raise SystemExit(train_command())

import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow.compat.v1 as tf
from disentanglement_lib.methods.unsupervised import train as dlib_train

from jlonevae_lib.dlib_tf import datasets
from jlonevae_lib.dlib_tf.study import (
    DEFAULT_DATASET,
    DEFAULT_EVAL_STEPS,
    check_same_settings,
    study_config,
)
from jlonevae_lib.dlib_tf.tf_logging import quiet_tensorflow_logging
from jlonevae_lib.runs.layout import (
    DLIB_CHECKPOINT_DIR,
    dlib_experiment_dir,
    dlib_tf_model_dir,
    dlib_training_finished,
)
from jlonevae_lib.runs.study_numbering import GLOBAL_STEPS_PER_VAE_UPDATE, vae_updates
from jlonevae_lib.utils.lock import FolderLock


@dataclass(frozen=True)
class TrainOutcome:
    """What :func:`train_model` did."""

    model_num: int
    method: str
    model_dir: Path
    #: True when the folder had finished training before and was left alone.
    skipped: bool
    #: True when an unfinished folder was deleted and trained again.
    restarted: bool
    #: The global step of the final checkpoint (None when it has none).
    global_step: int | None

    @property
    def iterations(self) -> int | None:
        """Training iterations (FactorVAE: VAE + discriminator update pairs)."""
        if self.global_step is None:
            return None
        return vae_updates(self.method, self.global_step)

    def summary(self) -> str:
        what = "already trained, skipped" if self.skipped else (
            "trained (an unfinished folder was restarted from step 0)" if self.restarted
            else "trained")
        per_iteration = GLOBAL_STEPS_PER_VAE_UPDATE.get(self.method, 1)
        steps = "" if self.global_step is None else (
            f"; global step {self.global_step} = {self.iterations} iterations"
            + (f" (FactorVAE: {per_iteration} global steps per iteration)"
               if per_iteration > 1 else ""))
        return f"model {self.model_num} ({self.method}): {what}: {self.model_dir}{steps}"


def seed_random_streams(seed: int) -> None:
    """Seed every random stream a training run draws from outside its graph seed: Python's
    ``random`` (Keras' initialisers), numpy's global state and TensorFlow's default graph."""
    random.seed(seed)
    np.random.seed(seed)
    tf.set_random_seed(seed)


def checkpoint_global_step(model_dir: Path) -> int | None:
    """The global step of the latest checkpoint in ``model_dir/tf_checkpoint``, if any."""
    latest = tf.train.latest_checkpoint(str(model_dir / DLIB_CHECKPOINT_DIR))
    if latest is None:
        return None
    return int(tf.train.load_variable(latest, tf.GraphKeys.GLOBAL_STEP))


def train_model(model_num: int, output_dir: str | os.PathLike = ".",
                dataset: str = DEFAULT_DATASET, training_steps: int | None = None,
                eval_steps: int = DEFAULT_EVAL_STEPS) -> TrainOutcome:
    """Train study member ``model_num`` on ``dataset`` with disentanglement_lib (see the module
    docstring), unless its folder has finished training already."""
    config = study_config(model_num, dataset, training_steps, eval_steps)
    model_dir = dlib_tf_model_dir(output_dir, config.member.model_num)
    outcome = dict(model_num=config.member.model_num, method=config.method,
                   model_dir=model_dir)
    if dlib_training_finished(model_dir):
        check_same_settings(model_dir, config)
        return TrainOutcome(**outcome, skipped=True, restarted=False,
                            global_step=checkpoint_global_step(model_dir))
    with FolderLock(dlib_experiment_dir(output_dir, config.member.model_num),
                    "disentanglement_lib training"):
        if dlib_training_finished(model_dir):  # another process finished it meanwhile
            check_same_settings(model_dir, config)
            return TrainOutcome(**outcome, skipped=True, restarted=False,
                                global_step=checkpoint_global_step(model_dir))
        restarted = model_dir.exists()
        if restarted:
            shutil.rmtree(model_dir)
        datasets.install()
        quiet_tensorflow_logging(progress=True)
        seed_random_streams(config.random_seed)
        dlib_train.train_with_gin(str(model_dir), overwrite=False,
                                  gin_config_files=[config.config_file],
                                  gin_bindings=list(config.bindings))
    return TrainOutcome(**outcome, skipped=False, restarted=restarted,
                        global_step=checkpoint_global_step(model_dir))
