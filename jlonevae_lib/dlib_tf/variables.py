"""Read a disentanglement_lib model folder: its weights, its settings, and TF-Hub means.

Run in ``.venv-dlib`` by the importer (:mod:`jlonevae_lib.train.dlib_import` through
``jlonevae-import-dlib``)::

    python -m jlonevae_lib.dlib_tf.variables MODEL_DIR --output weights.npz --info info.json
    python -m jlonevae_lib.dlib_tf.variables MODEL_DIR --means-of images.npy --output means.npy

The first form writes the model's variables (TensorFlow names and layouts, optimiser slots
left out) from its training checkpoint ``tf_checkpoint/`` (the latest one), or, when that is
gone, from its exported TF-Hub module ``tfhub/``; and a JSON of where they came from, the
global step and disentanglement_lib's record of the training settings
(``results/json/train_config.json``, gin bindings as strings). The second applies a TF-Hub
module to images (N, 64, 64, C) in [0, 1]: a post-processed representation folder's
``representation`` signature, or a model folder's ``gaussian_encoder`` mean; it is how the
tests check an import against TensorFlow.

Errors are one line on stderr and exit status 2: a folder that is not a disentanglement_lib
model folder says what such a folder holds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from jlonevae_lib.runs import layout
from jlonevae_lib.utils.atomic import atomic_path, atomic_write_text

#: Variables that are optimiser state, not model weights.
_OPTIMISER_MARKERS = ("/Adam", "beta1_power", "beta2_power")
GLOBAL_STEP = "global_step"
_HUB_VARIABLES = Path("variables") / "variables"


class NotADlibModel(Exception):
    pass


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf  # noqa: PLC0415 - only where TensorFlow is needed

    return tf


def checkpoint_prefix(model_dir: Path) -> tuple[str, str]:
    """(``"checkpoint"`` or ``"tfhub"``, the checkpoint prefix to read) of a model folder."""
    tf = _tf()
    checkpoints = model_dir / layout.DLIB_CHECKPOINT_DIR
    if checkpoints.is_dir():
        latest = tf.train.latest_checkpoint(str(checkpoints))
        if latest:
            return "checkpoint", latest
    hub_variables = model_dir / layout.DLIB_HUB_DIR / _HUB_VARIABLES
    if Path(f"{hub_variables}.index").is_file():
        return "tfhub", str(hub_variables)
    inside = model_dir / layout.DLIB_TF_MODEL_DIR
    hint = f" (did you mean {inside}?)" if inside.is_dir() else ""
    raise NotADlibModel(
        f"{model_dir} is not a disentanglement_lib model folder: it has neither a checkpoint in "
        f"{layout.DLIB_CHECKPOINT_DIR}/ nor a TF-Hub module in {layout.DLIB_HUB_DIR}/; give the "
        f"folder that disentanglement_lib's training wrote{hint}")


def read_weights(prefix: str) -> dict[str, np.ndarray]:
    """Every variable of a TensorFlow checkpoint except optimiser slots, by name."""
    reader = _tf().train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in sorted(reader.get_variable_to_shape_map())
            if not any(marker in name for marker in _OPTIMISER_MARKERS)}


def read_model(model_dir: Path) -> tuple[dict[str, np.ndarray], dict]:
    """(weights without the global step, info) of a disentanglement_lib model folder."""
    if not model_dir.is_dir():
        raise NotADlibModel(f"{model_dir} is not a folder")
    source, prefix = checkpoint_prefix(model_dir)
    weights = read_weights(prefix)
    step = weights.pop(GLOBAL_STEP, None)
    train_config = model_dir / layout.DLIB_TRAIN_CONFIG
    bindings = json.loads(train_config.read_text()) if train_config.is_file() else None
    info = {"model_dir": str(model_dir.resolve()), "source": source, "path": prefix,
            "global_step": None if step is None else int(step), "train_config": bindings,
            "tensorflow": _tf().__version__}
    return weights, info


def hub_means(hub_dir: Path, images: np.ndarray) -> np.ndarray:
    """A TF-Hub module's mean codes of images (N, H, W, C): (N, d).

    A post-processed representation module answers with its ``representation`` signature; a
    model's own module with the mean of ``gaussian_encoder``.
    """
    tf = _tf()
    import tensorflow_hub as hub  # noqa: PLC0415

    tf1 = tf.compat.v1
    with tf.Graph().as_default():
        module = hub.Module(str(hub_dir))
        signatures = module.get_signature_names()
        inputs = tf1.placeholder(tf.float32, shape=(None, *images.shape[1:]))
        if "representation" in signatures:
            means = module(dict(images=inputs), signature="representation", as_dict=True)["default"]
        else:
            means = module(dict(images=inputs), signature="gaussian_encoder",
                           as_dict=True)["mean"]
        with tf1.Session() as session:
            session.run(tf1.global_variables_initializer())
            return session.run(means, {inputs: images})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path,
                        help="a disentanglement_lib model folder (or, with --means-of, a TF-Hub "
                             "module folder)")
    parser.add_argument("--output", type=Path, required=True,
                        help="weights .npz, or with --means-of the means .npy")
    parser.add_argument("--info", type=Path, help="where to write the JSON info")
    parser.add_argument("--means-of", type=Path, metavar="IMAGES_NPY",
                        help="apply the TF-Hub module in MODEL_DIR to these images instead")
    args = parser.parse_args(argv)
    try:
        if args.means_of is not None:
            means = hub_means(args.model_dir, np.load(args.means_of))
            with atomic_path(args.output, suffix=".npy") as tmp:
                np.save(tmp, means)
            return 0
        weights, info = read_model(args.model_dir)
        with atomic_path(args.output, suffix=".npz") as tmp:
            np.savez(tmp, **weights)
        if args.info is not None:
            atomic_write_text(args.info, json.dumps(info, indent=1))
    except Exception as err:  # noqa: BLE001 - TensorFlow's reader raises its own OpError
        # One line: TensorFlow's errors carry their traceback in the message.
        first = next(iter(str(err).strip().splitlines()), type(err).__name__)
        what = first if isinstance(err, NotADlibModel) else f"cannot read {args.model_dir}: {first}"
        print(f"error: {what}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
