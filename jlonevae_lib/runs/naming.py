"""Experiment names, built and parsed here and nowhere else (docs/formats.md, "Experiment names").

An experiment name is the folder of a setting's runs, ``<models_dir>/<experiment>/<run>/``. The
reference's notebooks and scripts glob on these names, so they stay byte for byte the
reference's:

- the paper's objective (``jlonevae``):
  ``<architecture>_<lone|jltwo>_beta<β>_ica<γ>_lat<d>_batch<B>_lr<lr>[_anneal<A>]``, e.g.
  ``defaultConv_lone_beta4_0000_ica0_1000_lat10_batch64_lr0_0001_anneal100000``;
- any other objective: ``<architecture>_<objective>_<parts>_lat<d>_batch<B>_lr<lr>[_anneal<A>]``,
  its parts ``<label><value>`` in the order it gives them, e.g.
  ``dlibConv_beta_vae_beta4_0000_lat10_batch64_lr0_0010``.

Another objective trained with the Jacobian penalty (``TrainConfig.gamma`` > 0) adds it as its
last part: ``ica<γ>`` for the L1 penalty, the paper's label, and ``jltwo_ica<γ>`` for the L2
one (:data:`PENALTY_LABELS`), e.g.
``dlibConv_beta_tc_vae_beta6_0000_ica0_1000_lat10_batch64_lr0_0001``; without the penalty its
name has no such part, as before.

Every number has four decimals and ``_`` for its ``.`` (0.1 → ``0_1000``); ``_anneal<A>`` is
left out when A = 0. An objective supplies its parts as (label, value) pairs
(:meth:`~jlonevae_lib.train.objectives.Objective.name_parts`); this module owns the number
format, the penalty's abbreviation and the separators, and :func:`parse_experiment_name` reads
a name back into the :class:`ExperimentName` it was built from.

Tools describe a run by its ``config.json``; a name is parsed only for folders without one (the
reference's published models).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

#: The paper's objective, whose runs keep the reference's names.
JACOBIAN_OBJECTIVE = "jlonevae"
#: The Jacobian penalty's word in the paper's experiment names (``regularization_type`` → word),
#: as the reference wrote it.
PENALTY_ABBREVIATIONS = {"jlone": "lone", "jltwo": "jltwo"}
#: The labels of β and of γ (the Jacobian penalty's weight; the reference's "ica") in names.
BETA_LABEL = "beta"
GAMMA_LABEL = "ica"
#: Between the words of a name, and for the decimal point of a number.
SEPARATOR = "_"
#: The label of γ in the name of another objective's run with the Jacobian penalty, by
#: ``regularization_type``: the paper's ``ica`` for L1, prefixed with the L2 penalty's word.
PENALTY_LABELS = {"jlone": GAMMA_LABEL,
                  "jltwo": f"{PENALTY_ABBREVIATIONS['jltwo']}{SEPARATOR}{GAMMA_LABEL}"}
#: Decimals of every number in a name.
DECIMALS = 4

#: A part's label: letters and ``_``, starting and ending with a letter (no digits, so that
#: where the label ends and its number starts is never in doubt).
_LABEL = r"[A-Za-z](?:[A-Za-z_]*[A-Za-z])?"
_LABEL_RE = re.compile(_LABEL)
#: A number as names write it (the reference's folders have 4 decimals; any count is read).
_NUMBER = r"\d+_\d+"
_PART_RE = re.compile(rf"({_LABEL})({_NUMBER})(?:_|$)")


def format_number(value: float) -> str:
    """A number as names print it: 4 decimals, '.' → '_' (0.1 → '0_1000')."""
    return f"{value:.{DECIMALS}f}".replace(".", SEPARATOR)


def parse_number(text: str) -> float:
    """:func:`format_number`'s text back to a number ('0_1000' → 0.1)."""
    return float(text.replace(SEPARATOR, "."))


@dataclass(frozen=True)
class ExperimentName:
    """What an experiment name encodes; ``str()`` of it is the name.

    Attributes:
        architecture: the registered architecture (``defaultConv``).
        objective: the registered objective (``jlonevae``, ``beta_vae``, ...).
        parts: the objective's (label, value) pairs, in name order: ``(("beta", 4.0), ("ica",
            0.1))`` for the paper's objective, ``(("beta", 4.0),)`` for β-VAE, FactorVAE's
            ``(("gamma", 30.0),)`` ...
        latent_dim, batch_size, lr, annealing_batches: the training settings every name has.
        regularization_type: the paper's objective's penalty (``jlone`` or ``jltwo``); None for
            the others.
    """

    architecture: str
    objective: str
    parts: tuple[tuple[str, float], ...]
    latent_dim: int
    batch_size: int
    lr: float
    annealing_batches: int = 0
    regularization_type: str | None = None

    def __post_init__(self) -> None:
        labels = [label for label, _ in self.parts]
        bad = [label for label in labels if not _LABEL_RE.fullmatch(label)]
        if bad:
            raise ValueError(f"experiment-name labels are letters and '_' between letters, "
                             f"got {bad}")
        if len(set(labels)) != len(labels):
            raise ValueError(f"experiment-name labels must differ, got {labels}")
        if (self.objective == JACOBIAN_OBJECTIVE) != (self.regularization_type is not None):
            raise ValueError("the regularization type is named for the "
                             f"{JACOBIAN_OBJECTIVE} objective, and only for it")
        if self.regularization_type is not None \
                and self.regularization_type not in PENALTY_ABBREVIATIONS:
            raise ValueError(f"unknown regularization type {self.regularization_type!r}; "
                             f"known: {sorted(PENALTY_ABBREVIATIONS)}")

    @property
    def method_word(self) -> str:
        """The name's second word: the penalty's abbreviation for the paper's objective, else
        the objective."""
        if self.regularization_type is not None:
            return PENALTY_ABBREVIATIONS[self.regularization_type]
        return self.objective

    def part(self, label: str) -> float | None:
        """The value of part ``label``, None if the name has none."""
        return dict(self.parts).get(label)

    @property
    def beta(self) -> float | None:
        """β, when the name has it."""
        return self.part(BETA_LABEL)

    @property
    def gamma(self) -> float | None:
        """γ, the Jacobian penalty's weight (the paper's objective only; None for the others,
        whose own ``gamma`` is one of their :attr:`parts`, and whose penalty, when they have
        one, is :attr:`penalty`)."""
        return self.part(GAMMA_LABEL) if self.objective == JACOBIAN_OBJECTIVE else None

    @property
    def penalty(self) -> tuple[str, float] | None:
        """(regularization type, γ) of the Jacobian penalty the run was trained with, whatever
        its objective; None for another objective's run without it. The paper's objective's
        names always have it (γ = 0 included)."""
        labels = (PENALTY_LABELS if self.regularization_type is None
                  else {self.regularization_type: GAMMA_LABEL})
        parts = dict(self.parts)
        return next(((kind, parts[label]) for kind, label in labels.items() if label in parts),
                    None)

    @property
    def settings(self) -> str | None:
        """:func:`settings_name` of this name (None without β)."""
        if self.beta is None:
            return None
        return settings_name(self.architecture, self.beta, self.latent_dim, self.batch_size,
                             self.lr, self.annealing_batches)

    def __str__(self) -> str:
        words = [self.architecture, self.method_word,
                 *(f"{label}{format_number(value)}" for label, value in self.parts),
                 *_training_words(self.latent_dim, self.batch_size, self.lr,
                                  self.annealing_batches)]
        return SEPARATOR.join(words)


def _training_words(latent_dim: int, batch_size: int, lr: float,
                    annealing_batches: int) -> list[str]:
    words = [f"lat{latent_dim}", f"batch{batch_size}", f"lr{format_number(lr)}"]
    if annealing_batches:
        words.append(f"anneal{annealing_batches}")
    return words


def experiment_name(architecture: str, objective: str, parts: Iterable[tuple[str, float]],
                    latent_dim: int, batch_size: int, lr: float,
                    annealing_batches: int = 0) -> str:
    """The name of an objective's runs, ``dlibConv_beta_vae_beta4_0000_lat10_batch64_lr0_0010``
    (the paper's objective's: :func:`jacobian_experiment_name`)."""
    return str(ExperimentName(architecture, objective, tuple(parts), latent_dim, batch_size, lr,
                              annealing_batches))


def jacobian_experiment_name(architecture: str, regularization_type: str, beta: float,
                             gamma: float, latent_dim: int, batch_size: int, lr: float,
                             annealing_batches: int = 0) -> str:
    """The reference's name of the paper's objective's runs (γ = 0 included):
    ``defaultConv_lone_beta4_0000_ica0_1000_lat10_batch64_lr0_0001_anneal100000``."""
    return str(ExperimentName(architecture, JACOBIAN_OBJECTIVE,
                              ((BETA_LABEL, beta), (GAMMA_LABEL, gamma)), latent_dim,
                              batch_size, lr, annealing_batches, regularization_type))


def settings_name(architecture: str, beta: float, latent_dim: int, batch_size: int, lr: float,
                  annealing_batches: int = 0) -> str:
    """The settings a run of the paper's objective is compared on, written as its name writes
    them without the penalty and γ:
    ``defaultConv_beta4_0000_lat10_batch64_lr0_0001_anneal100000``. Two runs with equal
    settings differ only in the penalty."""
    return SEPARATOR.join([architecture, f"{BETA_LABEL}{format_number(beta)}",
                           *_training_words(latent_dim, batch_size, lr, annealing_batches)])


def parse_experiment_name(name: str, objectives: Iterable[str] = ()) -> ExperimentName | None:
    """The :class:`ExperimentName` that ``name`` was built from, or None when it is not one.

    The paper's objective's names (the reference's) are always read; another objective's only
    when it is among ``objectives`` (its registered names: an objective's name and its labels
    may contain ``_``, so where one ends is known only from the list). Numbers come back as
    their 4 decimals say.
    """
    words = {word: None for word in PENALTY_ABBREVIATIONS.values()}
    words.update({objective: objective for objective in objectives
                  if objective != JACOBIAN_OBJECTIVE})
    alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    match = re.fullmatch(
        rf"(?P<architecture>.+?)_(?P<method>{alternatives})_"
        rf"(?P<parts>(?:{_LABEL}{_NUMBER}_)*)"
        rf"lat(?P<lat>\d+)_batch(?P<batch>\d+)_lr(?P<lr>{_NUMBER})(?:_anneal(?P<anneal>\d+))?",
        name)
    if match is None:
        return None
    parts = tuple((label, parse_number(number))
                  for label, number in _PART_RE.findall(match["parts"]))
    objective = words[match["method"]]
    regularization_type = None
    if objective is None:
        objective = JACOBIAN_OBJECTIVE
        regularization_type = next(kind for kind, word in PENALTY_ABBREVIATIONS.items()
                                   if word == match["method"])
        if [label for label, _ in parts] != [BETA_LABEL, GAMMA_LABEL]:
            return None
    try:
        return ExperimentName(match["architecture"], objective, parts, int(match["lat"]),
                              int(match["batch"]), parse_number(match["lr"]),
                              int(match["anneal"] or 0), regularization_type)
    except ValueError:  # repeated labels
        return None
