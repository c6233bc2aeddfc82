"""Post-process trained disentanglement_lib models to their mean representation (TensorFlow).

Usage (in ``.venv-dlib``; docs/dlib_tensorflow.md)::

    .venv-dlib/bin/python -m jlonevae_lib.dlib_tf.postprocess TF_MODEL_DIR [TF_MODEL_DIR ...]

For each model folder (``trainedStandardModels/model<N>_on3dots/tf``, or any folder
disentanglement_lib's ``train`` wrote), disentanglement_lib's ``postprocess_with_gin`` writes
``<folder>/representation/``: ``tfhub/`` (signature ``representation``: images (N, 64, 64, 1)
→ the encoder's mean (N, d)) and ``results/`` (the training results and gins, plus
``postprocess``'s). The gin is the study's ``postprocess_configs/mean.gin``
(``postprocess.postprocess_fn = @mean_representation``, ``postprocess.random_seed = 0``,
``dataset.name = "auto"``: the dataset the model was trained on, read from its
``results/gin/train.gin``) with ``postprocess.name = 'mean'``, as the reference did. A folder
already post-processed is skipped; an interrupted one is written again.
"""

from __future__ import annotations

if __name__ == "__main__":
    # ``python -m`` runs this file as ``__main__``; the command imports it as a module.
    from jlonevae_lib.dlib_tf.commands import postprocess_command

    raise SystemExit(postprocess_command())

import shutil
from dataclasses import dataclass
from pathlib import Path

from disentanglement_lib.postprocessing import postprocess as dlib_postprocess
from disentanglement_lib.utils import resources

from jlonevae_lib.dlib_tf import datasets
from jlonevae_lib.dlib_tf.folders import (
    check_model_dir,
    postprocessing_finished,
    representation_dir,
)
from jlonevae_lib.dlib_tf.tf_logging import quiet_tensorflow_logging
from jlonevae_lib.utils.lock import FolderLock

#: The study's post-processing config of the mean representation.
MEAN_GIN = "config/unsupervised_study_v1/postprocess_configs/mean.gin"
MEAN_BINDINGS = ("postprocess.name = 'mean'",)


@dataclass(frozen=True)
class PostprocessOutcome:
    model_dir: Path
    representation: Path
    skipped: bool

    def summary(self) -> str:
        what = "already post-processed, skipped" if self.skipped else "mean representation"
        return f"{self.model_dir}: {what}: {self.representation}"


def postprocess_model(model_dir: str | Path) -> PostprocessOutcome:
    """Write the mean representation of ``model_dir`` (see the module docstring)."""
    model_dir = check_model_dir(Path(model_dir))
    output = representation_dir(model_dir)
    if postprocessing_finished(model_dir):
        return PostprocessOutcome(model_dir, output, skipped=True)
    # The lock sits beside the model folder, where training's sits: one writer per model.
    with FolderLock(model_dir.parent, "disentanglement_lib post-processing"):
        if not postprocessing_finished(model_dir):
            if output.exists():
                shutil.rmtree(output)
            datasets.install()
            quiet_tensorflow_logging(progress=False)
            dlib_postprocess.postprocess_with_gin(
                str(model_dir), str(output), overwrite=False,
                gin_config_files=[resources.get_file(MEAN_GIN)], gin_bindings=list(MEAN_BINDINGS))
    return PostprocessOutcome(model_dir, output, skipped=False)
