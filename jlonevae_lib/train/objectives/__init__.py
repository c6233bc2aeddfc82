"""Training objectives by name: what a method adds to the shared training loop.

The trainer owns the data, the model, Adam on the model's parameters, checkpoints and logging;
an :class:`Objective` owns the rest of a method: the loss of a batch and its schedule, the
TensorBoard scalars, and any auxiliary modules and optimisers (a discriminator and its own
Adam, say), which it steps itself and hands to checkpoints through its ``state_dict``. One
training step is::

    model Adam: zero_grad → terms = objective.loss(model, x, step) → terms.total.backward() → step
    then objective.after_model_step(model, terms, step)

so the trainer never names a method. To add one, write a module with a subclass of
:class:`Objective` decorated with ``@register_objective("name")`` and list the module in
:data:`BUILTIN_MODULES`; ``TrainConfig(objective="name")`` and ``jlonevae-train --objective
name`` then train it. See docs/architecture.md.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import torch
from torch import nn

from jlonevae_lib.runs import layout
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError

if TYPE_CHECKING:
    from jlonevae_lib.train.config import TrainConfig

#: Modules that register the package's own objectives, imported on the first lookup.
BUILTIN_MODULES = ("jlonevae_lib.train.objectives.jacobian_vae",
                   "jlonevae_lib.train.objectives.beta_vae",
                   "jlonevae_lib.train.objectives.annealed_vae",
                   "jlonevae_lib.train.objectives.factor_vae",
                   "jlonevae_lib.train.objectives.dip_vae",
                   "jlonevae_lib.train.objectives.beta_tc_vae")


class NonFiniteError(Exception):
    """An objective met NaN or infinite values; the message says which (the trainer stops the
    run with it and keeps the last good checkpoint)."""


class StepTerms(Protocol):
    """What :meth:`Objective.loss` returns: the scalar to minimise and what to log."""

    total: torch.Tensor

    def scalars(self) -> dict[str, float]:
        """TensorBoard scalars by tag."""

    def describe(self) -> str:
        """The loss's parts in a few words, for the message of a diverged run."""


class Objective(abc.ABC):
    """One training method. Subclasses implement :meth:`loss`, and where they need them
    :meth:`after_model_step`, :meth:`state_dict` / :meth:`load_state_dict`,
    :meth:`check_config` and :meth:`experiment_name`.

    ``generator`` is the method's own random stream, seeded from the run's seed (the JL1 penalty
    draws its sub-batches from it); the model's noise comes from torch's global generator.
    """

    #: The registered name (set by :func:`register_objective`).
    name: ClassVar[str] = ""
    #: Values of training settings this method implies when a command line leaves them out
    #: (for example ``{"gamma": 0.0}`` for a method without a Jacobian penalty).
    default_settings: ClassVar[dict[str, Any]] = {}
    #: The method's own hyperparameters with their defaults, kept in
    #: ``TrainConfig.objective_params`` (β, γ and the Jacobian settings are TrainConfig fields).
    hyperparameters: ClassVar[dict[str, float]] = {}

    def __init__(self, config: TrainConfig, model: nn.Module, device: torch.device,
                 generator: torch.Generator) -> None:
        self.config = config
        self.device = device
        self.generator = generator

    @abc.abstractmethod
    def loss(self, model: nn.Module, x: torch.Tensor, step: int) -> StepTerms:
        """The loss of batch ``x`` (B, C, H, W) at ``step`` (batches already taken). It may
        accumulate gradients into the model's ``.grad`` itself (the trainer zeroed them before);
        raise :class:`NonFiniteError` if the model's outputs are not finite."""

    def after_model_step(self, model: nn.Module, terms: StepTerms, step: int) -> None:
        """Called after the model's Adam step: update auxiliary modules here (none by
        default)."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """Auxiliary modules, optimisers and counters, for the checkpoint (none by default)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output.

        A state that does not fit is a :class:`DataFileError` (see :meth:`checkpoint_refused`),
        never a traceback.
        """
        if state:
            raise self.checkpoint_refused(f"the {self.name} objective keeps no state, but it "
                                          f"has {sorted(state)}: it belongs to another "
                                          "objective")

    def checkpoint_refused(self, why: str) -> DataFileError:
        """The one-line error for a run's checkpoint whose objective state does not fit:
        ``why``, then the checkpoint's path and what to do."""
        path = layout.checkpoint_path(self.config.run_dir)
        return DataFileError(f"checkpoint {path}: {why}; delete it to restart the run from "
                             "batch 0")

    @classmethod
    def resolve_params(cls, given: dict[str, Any]) -> dict[str, float]:
        """``given`` completed with the defaults of :attr:`hyperparameters`, as floats, sorted
        by name; unknown names and values that are not finite numbers ≥ 0 raise
        :class:`JLoneVAEError`."""
        unknown = sorted(set(given) - set(cls.hyperparameters))
        if unknown:
            known = ", ".join(sorted(cls.hyperparameters)) or "none"
            raise JLoneVAEError(f"the {cls.name} objective has no parameter "
                                f"{', '.join(unknown)}; its parameters: {known}")
        resolved = {}
        for key, value in sorted({**cls.hyperparameters, **given}.items()):
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    0 <= value < float("inf")):
                raise JLoneVAEError(f"objective parameter {key} must be a number >= 0, "
                                    f"got {value!r}")
            resolved[key] = float(value)
        return resolved

    @classmethod
    def check_config(cls, config: TrainConfig) -> None:
        """Raise :class:`JLoneVAEError` if ``config``'s settings do not fit this method (any
        fit by default)."""
        return None

    @classmethod
    def name_parts(cls, config: TrainConfig) -> list[str]:
        """The method's part of the experiment name (see :meth:`experiment_name`)."""
        return [f"beta{format_number(config.beta)}"]

    @classmethod
    def experiment_name(cls, config: TrainConfig) -> str:
        """``<architecture>_<objective>_<parts>_lat<d>_batch<B>_lr<lr>[_anneal<A>]``, each
        number with 4 decimals and '_' for '.', e.g.
        ``defaultConv_beta_vae_beta4_0000_lat10_batch64_lr0_0010_anneal2667``."""
        name = "_".join([config.architecture, cls.name, *cls.name_parts(config),
                         f"lat{config.latent_dim}", f"batch{config.batch_size}",
                         f"lr{format_number(config.lr)}"])
        if config.annealing_batches:
            name += f"_anneal{config.annealing_batches}"
        return name


def format_number(value: float) -> str:
    """A number as the reference's folder names print it: 4 decimals, '.' → '_' (0.1 →
    '0_1000')."""
    return f"{value:.4f}".replace(".", "_")


_REGISTRY: dict[str, type[Objective]] = {}
ObjectiveClass = TypeVar("ObjectiveClass", bound=type[Objective])


def register_objective(name: str) -> Callable[[ObjectiveClass], ObjectiveClass]:
    """Class decorator: make an :class:`Objective` subclass available as ``name``."""

    def register(cls: ObjectiveClass) -> ObjectiveClass:
        if name in _REGISTRY:
            raise ValueError(f"objective name {name!r} is already registered")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return register


def unregister_objective(name: str) -> None:
    """Remove ``name`` from the registry (for objectives registered by tests)."""
    del _REGISTRY[name]


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def available_objectives() -> list[str]:
    """Registered objective names, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def objective_class(name: str) -> type[Objective]:
    """The :class:`Objective` subclass registered as ``name``."""
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise JLoneVAEError(f"unknown objective {name!r}; known objectives: "
                            f"{', '.join(available_objectives())}") from None
