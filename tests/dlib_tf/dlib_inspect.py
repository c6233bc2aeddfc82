"""Run in ``.venv-dlib`` by the TensorFlow tests, one process for several reads (TensorFlow
takes seconds to start). Commands, each with its arguments, in any number and order::

    checkpoints A_CKPT_DIR B_CKPT_DIR OUT.json
        every variable of the latest checkpoint of each: names, shapes, and which differ in
        any bit
    representation TF_MODEL_DIR IMAGES.npz OUT.npz
        the post-processed ``representation/tfhub`` (signature ``representation``) and the
        trained ``tfhub``'s ``gaussian_encoder`` mean, on the float32 (N, 64, 64, 1) ``images``
    datasets OUT.npz
        our datasets named inside disentanglement_lib (through jlonevae_lib.dlib_tf.datasets):
        factors and images of ``threeDots`` drawn with RandomState(3), and 8 training images of
        ``threeDotsCacheSmall`` drawn with RandomState(5); and the class behind ``dummy_data``
"""

from __future__ import annotations

import json
import sys

import numpy as np
import tensorflow.compat.v1 as tf
import tensorflow_hub as hub


def checkpoint_variables(folder: str) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(folder))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def compare_checkpoints(first: str, second: str, out: str) -> None:
    a, b = checkpoint_variables(first), checkpoint_variables(second)
    differing = sorted(name for name in a.keys() & b.keys()
                       if np.shape(a[name]) != np.shape(b[name])
                       or np.asarray(a[name]).tobytes() != np.asarray(b[name]).tobytes())
    with open(out, "w") as file:
        json.dump({"names_a": sorted(a), "names_b": sorted(b), "differing": differing,
                   "shapes": {name: list(np.shape(value)) for name, value in a.items()}}, file)


def apply_hubs(model_dir: str, images_file: str, out: str) -> None:
    images = np.load(images_file)["images"]
    with tf.Graph().as_default():
        representation = hub.Module(f"{model_dir}/representation/tfhub")
        encoder = hub.Module(f"{model_dir}/tfhub")
        inputs = tf.placeholder(tf.float32, [None, *images.shape[1:]])
        rep = representation(dict(images=inputs), signature="representation")
        mean = encoder(dict(images=inputs), signature="gaussian_encoder", as_dict=True)["mean"]
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            rep_value, mean_value = session.run([rep, mean], {inputs: images})
    np.savez(out, representation=rep_value, mean=mean_value)


def named_datasets(out: str) -> None:
    from disentanglement_lib.data.ground_truth import named_data

    from jlonevae_lib.dlib_tf import datasets

    datasets.install()
    procedural = named_data.get_named_ground_truth_data("threeDots")
    factors, images = procedural.sample(8, np.random.RandomState(3))
    cached = named_data.get_named_ground_truth_data("threeDotsCacheSmall")
    training = cached.sample_observations(8, np.random.RandomState(5))
    dummy = type(named_data.get_named_ground_truth_data("dummy_data")).__name__
    np.savez(out, factors=factors, images=images, training=training, dummy=dummy,
             observation_shape=np.array(procedural.observation_shape))


COMMANDS = {"checkpoints": (compare_checkpoints, 3), "representation": (apply_hubs, 3),
            "datasets": (named_datasets, 1)}

if __name__ == "__main__":
    args = sys.argv[1:]
    while args:
        function, arity = COMMANDS[args[0]]
        function(*args[1:1 + arity])
        args = args[1 + arity:]
