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
:data:`BUILTIN_MODULES` (or, outside this package, declare it as a plug-in: docs/plugins.md);
``TrainConfig(objective="name")`` and ``jlonevae-train --objective name`` then train it. See
docs/architecture.md.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import torch
from torch import nn

from jlonevae_lib.runs import layout, naming
from jlonevae_lib.runs.results import register_objective_label
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError
from jlonevae_lib.utils.plugins import OBJECTIVES, PLUGIN_HINT, is_redefinition, load_plugins

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


class FiniteGuard:
    """Where a training step's "is this finite?" checks go, immediately or deferred.

    Immediate (the default; the trainer's policy on the CPU): :meth:`require` reads the flag
    at once and raises :class:`NonFiniteError`, before anything touches the weights. Reading it
    costs nothing on the CPU, but on a GPU it makes the host wait for the device every step.

    Deferred (the trainer's policy on CUDA): :meth:`require` only ANDs the flag, a 0-dim bool
    tensor on the device, into a running one per check; :meth:`failures` reads them all at once
    (one host sync), at log steps and before every checkpoint, and starts afresh. A NaN can
    then reach the weights in the batches between two reads; the trainer checks before it
    saves, so the checkpoint on disk is always the last good one.
    """

    def __init__(self, deferred: bool = False) -> None:
        self.deferred = deferred
        self._flags: dict[str, torch.Tensor] = {}

    def require(self, finite: torch.Tensor, what: str) -> None:
        """``finite``: a 0-dim bool tensor, True when the values it summarises are finite;
        ``what``: the message if not (``"the model's output became NaN or infinite"``)."""
        if not self.deferred:
            if not finite:
                raise NonFiniteError(what)
            return
        previous = self._flags.get(what)
        self._flags[what] = finite if previous is None else previous & finite

    def failures(self) -> list[str]:
        """The messages of the deferred checks that failed since the last call (reads the
        device once), then forgets them; [] in immediate mode."""
        if not self._flags:
            return []
        names = list(self._flags)
        values = torch.stack([self._flags[name] for name in names]).tolist()
        self._flags.clear()
        return [name for name, ok in zip(names, values, strict=True) if not ok]


#: The message of a failed :func:`check_finite_outputs`.
NON_FINITE_OUTPUT = "the model's output became NaN or infinite"


def check_finite_outputs(recon: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                         guard: FiniteGuard | None = None) -> None:
    """Raise :class:`NonFiniteError` unless every value of the model's outputs is finite; with
    a deferred ``guard``, hand it the flag instead (no host sync; see :class:`FiniteGuard`).

    Checked before the BCE, which refuses (and on CUDA, asserts on) non-finite inputs; a
    deferred check cannot stop the BCE, so callers then pass it outputs made safe (JL1-VAE's
    ``bce_safe``). Every objective on a VAE's outputs calls it: one home, here.
    """
    finite = (torch.isfinite(recon).all() & torch.isfinite(mu).all()
              & torch.isfinite(logvar).all())
    if guard is not None and guard.deferred:
        guard.require(finite, NON_FINITE_OUTPUT)
    elif not finite:
        raise NonFiniteError(NON_FINITE_OUTPUT)


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

    The trainer builds it from the run's ``config``, the ``device`` the model is on and the
    ``generator``; the model itself comes to every :meth:`loss` and :meth:`after_model_step`
    call. ``generator`` is the method's own random stream, seeded from the run's seed, on the CPU:
    draws that build things (a discriminator's initial weights) come from it, so they are the
    same on every device. Draws made at every step (the JL1 penalty's sub-batches, FactorVAE's
    permutations) come from :attr:`device_generator`: the same generator on the CPU, and on a
    GPU the trainer's generator on that GPU (seeded from the same seed, checkpointed), so the
    draw needs no copy from the host and no wait. The model's noise comes from torch's global
    generator of the model's device.

    :attr:`finite_guard` takes the method's finiteness checks (:class:`FiniteGuard`); the
    trainer sets it to its own, immediate or deferred by device.
    """

    #: The registered name (set by :func:`register_objective`).
    name: ClassVar[str] = ""
    #: Values of training settings this method implies when a command line leaves them out
    #: (for example ``{"gamma": 0.0}`` for the baselines, whose Jacobian penalty is off unless
    #: asked for).
    default_settings: ClassVar[dict[str, Any]] = {}
    #: The method's own hyperparameters with their defaults, kept in
    #: ``TrainConfig.objective_params`` (β, γ and the Jacobian settings are TrainConfig fields).
    hyperparameters: ClassVar[dict[str, float]] = {}
    #: Whether the method reads ``TrainConfig.beta`` (a ``--beta`` for one that does not is
    #: refused, not ignored).
    uses_beta: ClassVar[bool] = True

    def __init__(self, config: TrainConfig, device: torch.device,
                 generator: torch.Generator) -> None:
        self.config = config
        self.device = device
        self.generator = generator
        self.device_generator = generator
        self.finite_guard = FiniteGuard()

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
            resolved[key] = float(value) + 0.0  # -0.0 would name another folder than 0.0
        return resolved

    @classmethod
    def check_config(cls, config: TrainConfig) -> None:
        """Raise :class:`JLoneVAEError` if ``config``'s settings do not fit this method (any
        fit by default)."""
        return None

    @classmethod
    def name_parts(cls, config: TrainConfig) -> list[tuple[str, float]]:
        """The method's part of the experiment name, as (label, value) pairs in name order
        (labels: letters and '_'; :mod:`jlonevae_lib.runs.naming` writes them)."""
        return [(naming.BETA_LABEL, config.beta)]

    @classmethod
    def experiment_name(cls, config: TrainConfig) -> str:
        """``<architecture>_<objective>_<parts>_lat<d>_batch<B>_lr<lr>[_anneal<A>]``
        (:func:`jlonevae_lib.runs.naming.experiment_name`), e.g.
        ``defaultConv_beta_vae_beta4_0000_lat10_batch64_lr0_0010_anneal2667``."""
        return naming.experiment_name(config.architecture, cls.name, cls.name_parts(config),
                                      config.latent_dim, config.batch_size, config.lr,
                                      config.annealing_batches)


_REGISTRY: dict[str, type[Objective]] = {}
ObjectiveClass = TypeVar("ObjectiveClass", bound=type[Objective])


def register_objective(name: str, *, label: str | None = None
                       ) -> Callable[[ObjectiveClass], ObjectiveClass]:
    """Class decorator: make an :class:`Objective` subclass available as ``name``. A plug-in's
    runs are labelled ``label`` in figures and tables (default: ``name``); the figures find it
    by importing the objectives' plug-ins, so the package's own methods have theirs in
    :mod:`jlonevae_lib.runs.results`."""

    def register(cls: ObjectiveClass) -> ObjectiveClass:
        if name in _REGISTRY and not is_redefinition(_REGISTRY[name], cls):
            raise ValueError(f"objective name {name!r} is already registered")
        try:  # the defaults checked now, not when a run first uses them
            cls.resolve_params({})
        except JLoneVAEError as err:
            raise JLoneVAEError(f"objective {name!r}'s default hyperparameters: {err}") from None
        register_objective_label(name, label)  # None: a redefinition's label goes too
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return register


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    load_plugins(OBJECTIVES)


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
                            f"{', '.join(available_objectives())}; {PLUGIN_HINT}") from None
