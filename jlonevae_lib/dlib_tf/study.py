"""A member of disentanglement_lib's unsupervised study, retargeted to three-dots.

The gin config of model number N is disentanglement_lib's own: ``UnsupervisedStudyV1().
get_model_config(N)`` gives the study's shared gin file (batch 64, 10 latents, Adam 1e-4,
300,000 steps, Bernoulli reconstruction loss, ``conv_encoder``/``deconv_decoder``) and the
member's bindings, the first of which names its dataset (``dataset.name = 'dsprites_full'`` for
the first block). As the reference did, that binding alone is replaced by a three-dots dataset;
every other binding (method, hyperparameters, ``model.random_seed``) is the study's. The
numbering (``jlonevae_lib.runs.study_numbering``) and its checks are shared with our PyTorch
baselines, so a model number means the same method, setting and seed on both sides.

This module imports no TensorFlow (disentanglement_lib's sweep definitions are plain Python), so
the commands check their arguments before paying TensorFlow's start-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from disentanglement_lib.config.unsupervised_study_v1.sweep import UnsupervisedStudyV1

from jlonevae_lib.dlib_tf.folders import recorded_training_bindings
from jlonevae_lib.runs.study_numbering import (
    StudyMember,
    study_member,
)
from jlonevae_lib.utils.errors import JLoneVAEError

#: Our datasets that a study member can be retargeted to (named inside disentanglement_lib by
#: :mod:`jlonevae_lib.dlib_tf.datasets`).
THREE_DOTS_NAMES = ("threeDots", "threeDotsCache", "threeDotsCacheSmall")
#: The paper's baselines trained on the 500,000-image cache, as the reference did.
DEFAULT_DATASET = "threeDotsCache"
#: Evaluation batches after training. disentanglement_lib's default, 1000 batches (the reference
#: used it), only scores the losses written to ``results/``, and takes minutes on a CPU;
#: ``--eval-steps 1000`` restores it.
DEFAULT_EVAL_STEPS = 100
DLIB_DEFAULT_EVAL_STEPS = 1000
#: The study's ``model.training_steps`` (its shared gin file).
STUDY_TRAINING_STEPS = 300_000
#: Bindings that change the trained model: a finished folder trained with other values of these
#: is not skipped silently.
MODEL_DEFINING_KEYS = ("dataset.name", "model.training_steps")

_BINDING = re.compile(r"^\s*([\w./]+)\s*=\s*(.+?)\s*$")


@dataclass(frozen=True)
class StudyConfig:
    """What disentanglement_lib's ``train_with_gin`` gets for one study member."""

    member: StudyMember
    #: disentanglement_lib's shared gin file of the study.
    config_file: str
    #: Gin bindings, in order: the study's (dataset retargeted), then our overrides.
    bindings: tuple[str, ...]
    #: The study's ``model.random_seed`` (also seeds Python's ``random`` and numpy).
    random_seed: int
    dataset: str

    @property
    def method(self) -> str:
        return self.member.method


def check_dataset(name: str) -> str:
    """``name`` if it is one of :data:`THREE_DOTS_NAMES`; otherwise a readable error."""
    if name not in THREE_DOTS_NAMES:
        raise JLoneVAEError(f"unknown dataset {name!r}: the study members are retargeted to "
                            f"three-dots; choose one of {', '.join(THREE_DOTS_NAMES)}")
    return name


def check_steps(value: int | None, what: str) -> int | None:
    """A positive whole number of steps (or None for the default); a readable error if not."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 1):
        raise JLoneVAEError(f"{what} must be a whole number of at least 1, not {value!r}")
    return value


def binding_value(bindings: list[str] | tuple[str, ...], key: str) -> str | None:
    """The (last) value text bound to ``key`` in gin binding strings, or None."""
    found = None
    for binding in bindings:
        match = _BINDING.match(binding)
        if match and match.group(1) == key:
            found = match.group(2)
    return found


def study_config(model_num: int, dataset: str = DEFAULT_DATASET,
                 training_steps: int | None = None,
                 eval_steps: int = DEFAULT_EVAL_STEPS) -> StudyConfig:
    """The study's config of ``model_num`` on three-dots ``dataset``.

    ``training_steps`` sets ``model.training_steps`` (the study's 300,000 when None): it
    counts disentanglement_lib's global steps, which FactorVAE advances twice per iteration.
    ``eval_steps`` sets ``model.eval_steps``.
    """
    member = study_member(model_num)
    check_dataset(dataset)
    check_steps(training_steps, "the number of training steps")
    check_steps(eval_steps, "the number of evaluation steps")
    bindings, config_file = UnsupervisedStudyV1().get_model_config(member.model_num)
    if not bindings[0].startswith("dataset.name = "):
        raise RuntimeError(f"disentanglement_lib's study gave {bindings[0]!r} as the first "
                           "binding, not the dataset's; is another version than 1.5 installed?")
    bindings = [f"dataset.name = '{dataset}'", *bindings[1:]]
    name = binding_value(bindings, "model.name")
    if name != repr(member.method):
        raise RuntimeError(f"model {model_num}: disentanglement_lib's study says model.name = "
                           f"{name}, our numbering says {member.method!r}")
    random_seed = int(binding_value(bindings, "model.random_seed"))
    bindings.append(f"model.model_num = {member.model_num}")
    bindings.append(f"model.training_steps = {training_steps or STUDY_TRAINING_STEPS}")
    bindings.append(f"model.eval_steps = {eval_steps}")
    return StudyConfig(member=member, config_file=config_file, bindings=tuple(bindings),
                       random_seed=random_seed, dataset=dataset)


def check_same_settings(tf_model_dir: Path, config: StudyConfig) -> None:
    """Raise a readable error if the finished training in ``tf_model_dir`` ran with other
    :data:`MODEL_DEFINING_KEYS` than ``config`` asks for (a skip would keep the wrong model)."""
    recorded = recorded_training_bindings(tf_model_dir)
    for key in MODEL_DEFINING_KEYS:
        wanted = binding_value(config.bindings, key)
        if recorded.get(key) != wanted:
            raise JLoneVAEError(f"{tf_model_dir} was trained with {key} = {recorded.get(key)}, "
                                f"not {wanted}; give the same settings to keep it, or delete "
                                "the folder to train it again")
