"""Which steps a disentanglement_lib model folder has finished (no TensorFlow needed).

The folder names come from :mod:`jlonevae_lib.runs.layout`; what is added here is how each
step's completion shows: disentanglement_lib writes a step's ``results/aggregate/<step>.json``
last, so a folder with a readable one finished that step, and one without it was interrupted.
"""

from __future__ import annotations

from pathlib import Path

from jlonevae_lib.runs.layout import (
    AGGREGATE_DIR,
    DLIB_REPRESENTATION_DIR,
    DLIB_RESULTS_DIR,
    dlib_training_finished,
    read_json_object,
)
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError

#: disentanglement_lib's name of its post-processing step (its result files are named after it).
POSTPROCESS_STEP = "postprocess"
TRAIN_STEP = "train"


def step_results_file(folder: Path, step: str) -> Path:
    """``<folder>/results/aggregate/<step>.json``, written last by disentanglement_lib's step."""
    return Path(folder) / DLIB_RESULTS_DIR / AGGREGATE_DIR / f"{step}.json"


def representation_dir(tf_model_dir: Path) -> Path:
    """``<tf_model_dir>/representation``: the post-processed mean representation."""
    return Path(tf_model_dir) / DLIB_REPRESENTATION_DIR


def _readable(path: Path) -> bool:
    try:
        read_json_object(path)
    except DataFileError:
        return False
    return True


def postprocessing_finished(tf_model_dir: Path) -> bool:
    """True when the mean representation of ``tf_model_dir`` was written completely."""
    return _readable(step_results_file(representation_dir(tf_model_dir), POSTPROCESS_STEP))


def check_model_dir(model_dir: Path) -> Path:
    """``model_dir`` if disentanglement_lib finished training there; else a readable error."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise JLoneVAEError(f"{model_dir} does not exist; give a disentanglement_lib model "
                            "folder (e.g. trainedStandardModels/model100_on3dots/tf)")
    if not dlib_training_finished(model_dir):
        raise JLoneVAEError(f"{model_dir} is not a finished disentanglement_lib model folder "
                            f"(it has no readable {step_results_file(Path(), TRAIN_STEP)}); "
                            "train it first with python -m jlonevae_lib.dlib_tf.train")
    return model_dir


def recorded_training_bindings(tf_model_dir: Path) -> dict[str, str]:
    """The gin bindings a finished training ran with, from its ``train.json``: key → value
    text as gin prints it (``{"dataset.name": "'threeDots'", "model.training_steps": "30"}``)."""
    prefix = f"{TRAIN_STEP}_config."
    results = read_json_object(step_results_file(tf_model_dir, TRAIN_STEP))
    return {key[len(prefix):]: str(value) for key, value in results.items()
            if key.startswith(prefix)}
