"""disentanglement_lib's own losses on given weights and inputs: the oracle of our baselines.

Run in ``.venv-dlib`` by ``tests/dlib_tf/test_oracle.py``::

    python -m jlonevae_lib.dlib_tf.oracle --inputs inputs.npz --output oracle.npz \\
        --model-nums 100 400 700 1000 1300 1600

``inputs.npz`` holds ``images`` (B, 64, 64, C) in [0, 1], ``eps`` (B, d) — the standard normal
draw of the reparameterisation —, ``permutation`` (d, B) — FactorVAE's shuffle of each latent
across the batch, ``shuffled[:, i] = z[permutation[i], i]`` — and ``global_step`` (the
AnnealedVAE capacity's step).

For each model number (a member of disentanglement_lib's unsupervised study, whose bindings
give the method and its hyperparameters) this builds the graph with disentanglement_lib's own
``model_fn``, unchanged, in training mode. Only its two random draws are replaced by the given
ones (``tf.random_normal`` in the reparameterisation and ``tf.random_shuffle`` in
``shuffle_codes``), and its intermediate tensors are observed by wrapping the functions that
make them (the reconstruction loss, the KL, the regulariser, the discriminator). The first
model's variables are initialised as disentanglement_lib does (seeded), its biases set to
small random values (zero biases would hide a bias mix-up), and every model then uses those
same values.

``oracle.npz`` holds ``weights/<variable>`` (TensorFlow names and layouts) and, per model
number N, ``N/reconstruction``, ``N/kl``, ``N/regulariser``, ``N/loss`` (the VAE's loss that
disentanglement_lib minimises), ``N/e1_kernel_grad`` (its gradient with respect to
``encoder/e1/kernel``) and for FactorVAE ``N/discriminator_loss`` (the loss the
discriminator minimises, i.e. minus disentanglement_lib's ``discriminator_loss`` tensor).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import gin.tf  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402
from disentanglement_lib.config.unsupervised_study_v1.sweep import (  # noqa: E402
    UnsupervisedStudyV1,
)
from disentanglement_lib.methods.shared import architectures, losses  # noqa: E402
from disentanglement_lib.methods.unsupervised import train as _train  # noqa: E402, F401 - gin names
from disentanglement_lib.methods.unsupervised import vae  # noqa: E402

from jlonevae_lib.utils.atomic import atomic_path  # noqa: E402

#: disentanglement_lib's model classes by the study's ``model.name``.
MODEL_CLASSES = {"beta_vae": vae.BetaVAE, "annealed_vae": vae.AnnealedVAE,
                 "factor_vae": vae.FactorVAE, "dip_vae_i": vae.DIPVAE, "dip_vae_ii": vae.DIPVAE,
                 "beta_tc_vae": vae.BetaTCVAE}
BIAS_SCALE = 0.1


def study_bindings(model_num: int) -> tuple[str, list[str], str]:
    """(method, gin bindings, shared gin file) of a study member; the dataset binding dropped."""
    bindings, config_file = UnsupervisedStudyV1().get_model_config(model_num)
    bindings = [b for b in bindings if not b.startswith("dataset.name")]
    method = next(b.split("=", 1)[1].strip().strip("'\"") for b in bindings
                  if b.startswith("model.name"))
    return method, bindings, config_file


@contextlib.contextmanager
def replaced(owner: object, name: str, value: object) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


def build_graph(method: str, images: np.ndarray, eps: np.ndarray, permutation: np.ndarray
                ) -> dict[str, tf.Tensor]:
    """disentanglement_lib's training graph of ``method`` on fixed draws; the observed tensors."""
    observed: dict[str, tf.Tensor] = {}
    shuffles = iter(range(permutation.shape[0]))

    def fixed_normal(shape, mean=0.0, stddev=1.0, **_):
        return mean + stddev * tf.constant(eps, dtype=tf.float32)

    def fixed_shuffle(column, **_):
        return tf.gather(column, tf.constant(permutation[next(shuffles)]))

    def observe_reconstruction(*args, **kwargs):
        per_sample = make_reconstruction_loss(*args, **kwargs)
        observed["reconstruction"] = tf.reduce_mean(per_sample)
        return per_sample

    def observe_kl(z_mean, z_logvar):
        observed["kl"] = compute_gaussian_kl(z_mean, z_logvar)
        return observed["kl"]

    def observe_discriminator(z, **kwargs):
        logits, probs = make_discriminator(z, **kwargs)
        observed.setdefault("discriminator_logits", logits)  # the first call is on z itself
        return logits, probs

    make_reconstruction_loss = losses.make_reconstruction_loss
    compute_gaussian_kl = vae.compute_gaussian_kl
    make_discriminator = architectures.make_discriminator
    model = MODEL_CLASSES[method]()
    if method != "factor_vae":
        regularizer = model.regularizer

        def observe_regularizer(*args):
            observed["regulariser"] = regularizer(*args)
            return observed["regulariser"]

        model.regularizer = observe_regularizer
    features = tf.constant(images, dtype=tf.float32)
    with (replaced(tf, "random_normal", fixed_normal),
          replaced(tf, "random_shuffle", fixed_shuffle),
          replaced(losses, "make_reconstruction_loss", observe_reconstruction),
          replaced(vae, "compute_gaussian_kl", observe_kl),
          replaced(architectures, "make_discriminator", observe_discriminator)):
        spec = model.model_fn(features, None, tf.estimator.ModeKeys.TRAIN, {})
    observed["loss"] = spec.loss
    if method == "factor_vae":
        # model_fn's own regulariser (kl + γ·tc) and discriminator loss, by their names.
        graph = tf.get_default_graph()
        logits = observed.pop("discriminator_logits")
        tc = tf.reduce_mean(logits[:, 0] - logits[:, 1])
        observed["regulariser"] = observed["kl"] + model.gamma * tc
        observed["discriminator_loss"] = -graph.get_tensor_by_name("discriminator_loss:0")
    else:
        observed.pop("discriminator_logits", None)
    kernel = next(v for v in tf.global_variables() if v.op.name == "encoder/e1/kernel")
    observed["e1_kernel_grad"] = tf.gradients(spec.loss, kernel)[0]
    return observed


def run_member(model_num: int, inputs: dict[str, np.ndarray], weights: dict[str, np.ndarray],
               seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(observed values, weights used) of one study member; ``weights`` empty: initialise."""
    method, bindings, config_file = study_bindings(model_num)
    gin.clear_config()
    gin.parse_config_files_and_bindings([config_file], bindings, skip_unknown=True)
    with tf.Graph().as_default():
        tf.set_random_seed(seed)
        random.seed(seed)  # Keras' initialisers draw their seeds from Python's random
        step = tf.train.get_or_create_global_step()
        observed = build_graph(method, inputs["images"], inputs["eps"], inputs["permutation"])
        model_vars = {v.op.name: v for v in tf.trainable_variables()}
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            if not weights:
                rng = np.random.RandomState(seed)
                for name in sorted(model_vars):
                    if name.endswith("/bias"):
                        shape = model_vars[name].shape.as_list()
                        model_vars[name].load(
                            (BIAS_SCALE * rng.standard_normal(shape)).astype(np.float32), session)
            else:
                for name, var in model_vars.items():
                    var.load(weights[name], session)
            step.load(int(inputs["global_step"]), session)
            values = session.run(observed)
            used = {name: session.run(var) for name, var in model_vars.items()}
    gin.clear_config()
    return values, used


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--model-nums", type=int, nargs="+", required=True,
                        help="study members; the first initialises the weights, so give one "
                             "with every variable first (FactorVAE has the discriminator)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with np.load(args.inputs) as data:
        inputs = {name: data[name] for name in data.files}
    weights: dict[str, np.ndarray] = {}
    results: dict[str, np.ndarray] = {}
    for model_num in args.model_nums:
        values, used = run_member(model_num, inputs, weights, args.seed)
        weights = weights or used
        results.update({f"{model_num}/{name}": value for name, value in values.items()})
    results.update({f"weights/{name}": value for name, value in weights.items()})
    with atomic_path(args.output, suffix=".npz") as tmp:
        np.savez(tmp, **results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
