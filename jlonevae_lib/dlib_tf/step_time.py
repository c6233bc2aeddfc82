"""Milliseconds per training step of disentanglement_lib's six methods (TensorFlow).

Usage (in ``.venv-dlib``)::

    .venv-dlib/bin/python -m jlonevae_lib.dlib_tf.step_time [--methods beta_vae ...]
        [--steps 20] [--warmup 3] [--threads N]

prints one JSON object::

    {"ms_per_step": {"beta_vae": <ms>, ...},      median wall ms per step after the warm-up
     "first_step_ms": {"beta_vae": <ms>, ...},    the first step (graph optimisation included)
     "threads": 2, "batch_size": 64, "steps": 20, "warmup": 3, "dataset": "threeDots",
     "tensorflow": "2.15.1"}

With ``--trace N`` each method also runs N steps under TensorFlow's step tracer
(``RunOptions.FULL_TRACE``) after the timed ones, and the report gains ``"trace"``: per method,
the traced steps' median wall ms, the sum of every CPU op's duration per step (above the wall
time when ops run concurrently on the inter-op pool) and the ms per step of each op type, largest
first. ``--inter-op K`` sets the inter-op pool apart from the intra-op one (default: the same).

Each method is built as disentanglement_lib trains it: the study's gin file and the bindings of
its member at the paper's setting (hyperparameter index 2, seed 0), the method's own
``model_fn`` in TRAIN mode (``encoder``/``decoder``, loss, Adam and, for FactorVAE, the
discriminator and its Adam: one step is one VAE update and one discriminator update, which
disentanglement_lib counts as two global steps). One step is one ``session.run`` of its
``train_op`` on a batch of 64 three-dots images fed from memory (a few rendered batches, used in
turn): the estimator's input pipeline, hooks and checkpoints are left out, so the figure is the
network's step alone, comparable with a PyTorch step on the same batch. TensorFlow's intra- and
inter-op thread pools both get ``--threads`` threads (default: the CPUs this process may use).
"""

from __future__ import annotations

if __name__ == "__main__":
    # ``python -m`` runs this file as ``__main__``; the command imports it as a module.
    from jlonevae_lib.dlib_tf.commands import step_time_command

    raise SystemExit(step_time_command())

import collections
import random
import statistics
import time
from dataclasses import dataclass, field

import gin.tf
import numpy as np
import tensorflow.compat.v1 as tf
from disentanglement_lib.methods.unsupervised import train as _registers_gin_model  # noqa: F401
from disentanglement_lib.methods.unsupervised import vae

from jlonevae_lib.dlib_tf import datasets
from jlonevae_lib.dlib_tf.study import study_config
from jlonevae_lib.dlib_tf.tf_logging import quiet_tensorflow_logging
from jlonevae_lib.runs.study_numbering import METHODS, PAPER_HP_INDEX, model_number

BATCH_SIZE = 64
#: Distinct batches fed in turn.
NUM_BATCHES = 4
DATASET = "threeDots"
#: disentanglement_lib's model class of each method (its gin binding ``model.model``).
MODEL_CLASSES = {"beta_vae": vae.BetaVAE, "factor_vae": vae.FactorVAE, "dip_vae_i": vae.DIPVAE,
                 "dip_vae_ii": vae.DIPVAE, "beta_tc_vae": vae.BetaTCVAE,
                 "annealed_vae": vae.AnnealedVAE}


@dataclass(frozen=True)
class StepTimes:
    """Wall times of one method's training steps, in ms."""

    method: str
    first_ms: float
    #: After the warm-up, one per timed step.
    step_ms: tuple[float, ...]
    #: With tracing: the traced steps' wall ms, the summed op ms per step and op type → ms.
    trace: dict = field(default_factory=dict)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.step_ms)


def three_dots_batches(num_batches: int = NUM_BATCHES, batch_size: int = BATCH_SIZE,
                       seed: int = 0) -> np.ndarray:
    """float32 (num_batches, batch_size, 64, 64, 1) three-dots images, as disentanglement_lib
    draws them."""
    data = datasets.three_dots_dataset(DATASET)
    images = data.sample_observations(num_batches * batch_size, np.random.RandomState(seed))
    return images.reshape(num_batches, batch_size, *images.shape[1:])


def time_method(method: str, batches: np.ndarray, steps: int, warmup: int,
                threads: int, trace_steps: int = 0, inter_op: int | None = None) -> StepTimes:
    """Time ``warmup + steps`` training steps of ``method`` on ``batches`` (K, B, 64, 64, 1),
    then trace ``trace_steps`` more (:func:`trace_summary`). ``inter_op``: the inter-op pool's
    threads (default ``threads``)."""
    config = study_config(model_number(method, PAPER_HP_INDEX, seed=0), DATASET)
    gin.clear_config()
    gin.parse_config_files_and_bindings([config.config_file], list(config.bindings))
    random.seed(config.random_seed)
    session_config = tf.ConfigProto(
        intra_op_parallelism_threads=threads,
        inter_op_parallelism_threads=threads if inter_op is None else inter_op)
    try:
        with tf.Graph().as_default():
            tf.set_random_seed(config.random_seed)
            tf.train.get_or_create_global_step()
            images = tf.placeholder(tf.float32, batches.shape[1:], name="images")
            spec = MODEL_CLASSES[method]().model_fn(images, None, tf.estimator.ModeKeys.TRAIN,
                                                    {"batch_size": batches.shape[1]})
            with tf.Session(config=session_config) as session:
                session.run(tf.global_variables_initializer())
                elapsed = []
                for step in range(warmup + steps):
                    feed = {images: batches[step % len(batches)]}
                    start = time.perf_counter()
                    session.run(spec.train_op, feed_dict=feed)
                    elapsed.append((time.perf_counter() - start) * 1e3)
                trace = trace_summary(session, spec.train_op, images, batches, trace_steps) \
                    if trace_steps else {}
    finally:
        gin.clear_config()
    return StepTimes(method, first_ms=elapsed[0], step_ms=tuple(elapsed[warmup:]), trace=trace)


def trace_summary(session: tf.Session, train_op: tf.Operation, images: tf.Tensor,
                  batches: np.ndarray, steps: int) -> dict:
    """``steps`` steps under TensorFlow's tracer: their median wall ms, the CPU ops' summed
    duration per step, and the ms per step of each op type (``Conv2DBackpropFilter``, ...),
    largest first."""
    by_type: dict[str, float] = collections.defaultdict(float)
    walls = []
    options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    for step in range(steps):
        metadata = tf.RunMetadata()
        start = time.perf_counter()
        session.run(train_op, feed_dict={images: batches[step % len(batches)]},
                    options=options, run_metadata=metadata)
        walls.append((time.perf_counter() - start) * 1e3)
        for device in metadata.step_stats.dev_stats:
            for node in device.node_stats:
                # timeline_label reads "name = OpType(inputs)"; the op type is what we group by.
                label = node.timeline_label
                op_type = label.split(" = ")[1].split("(")[0] if " = " in label \
                    else node.node_name
                by_type[op_type] += (node.op_end_rel_micros - node.op_start_rel_micros) / 1e3
    per_step = {op: round(ms / steps, 3)
                for op, ms in sorted(by_type.items(), key=lambda item: -item[1])}
    return {"traced_steps": steps, "wall_ms": round(statistics.median(walls), 2),
            "sum_op_ms": round(sum(per_step.values()), 2), "op_ms": per_step}


def step_time_report(methods: tuple[str, ...] = METHODS, steps: int = 20, warmup: int = 3,
                     threads: int = 1, trace_steps: int = 0, inter_op: int | None = None
                     ) -> dict:
    """The JSON object of the module docstring."""
    quiet_tensorflow_logging(progress=False)
    batches = three_dots_batches()
    times = [time_method(method, batches, steps, warmup, threads, trace_steps, inter_op)
             for method in methods]
    report = {"ms_per_step": {t.method: round(t.median_ms, 2) for t in times},
              "first_step_ms": {t.method: round(t.first_ms, 1) for t in times},
              "threads": threads, "inter_op_threads": threads if inter_op is None else inter_op,
              "batch_size": BATCH_SIZE, "steps": steps, "warmup": warmup, "dataset": DATASET,
              "tensorflow": tf.VERSION}
    if trace_steps:
        report["trace"] = {t.method: t.trace for t in times}
    return report
