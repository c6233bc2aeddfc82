"""Architectures by name: ``build_architecture(name, im_channels, latent_dim)`` gives a model.

An architecture is a factory ``(im_channels, latent_dim) -> model``: a VAE whose ``encode`` maps
images (B, C, H, W) to a posterior mean and log-variance, each (B, d), whose ``decode`` maps
latents (B, d) to images, and whose ``forward`` returns (recon, mu, logvar, z); it says which
images it takes with ``im_channels`` and ``im_side_len``. A module adds one with::

    @register_architecture("myConv")
    def my_conv(im_channels: int, latent_dim: int) -> MyVAE: ...

and lists itself in :data:`BUILTIN_MODULES`, or is imported before the name is looked up, or
is declared as a plug-in by the user's own package (docs/plugins.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TypeVar

from torch import nn

from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.plugins import ARCHITECTURES, PLUGIN_HINT, is_redefinition, load_plugins

ArchitectureFactory = Callable[[int, int], nn.Module]
Factory = TypeVar("Factory", bound=ArchitectureFactory)

#: Modules that register the package's own architectures, imported on the first lookup.
BUILTIN_MODULES = ("jlonevae_lib.architecture.vae",
                   "jlonevae_lib.architecture.dlib_conv")

_REGISTRY: dict[str, ArchitectureFactory] = {}


def register_architecture(name: str) -> Callable[[Factory], Factory]:
    """Decorator: make ``factory(im_channels, latent_dim)`` available as architecture ``name``."""

    def register(factory: Factory) -> Factory:
        if name in _REGISTRY and not is_redefinition(_REGISTRY[name], factory):
            raise ValueError(f"architecture name {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory

    return register


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    load_plugins(ARCHITECTURES)


def available_architectures() -> list[str]:
    """Registered architecture names, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def check_architecture(name: str) -> None:
    """Raise :class:`JLoneVAEError` naming the known architectures if ``name`` is not one."""
    if name not in available_architectures():
        raise JLoneVAEError(f"unknown architecture '{name}'; known architectures: "
                            f"{', '.join(available_architectures())}; {PLUGIN_HINT}")


def build_architecture(name: str, im_channels: int, latent_dim: int) -> nn.Module:
    """A freshly initialised model of architecture ``name`` (uses the global torch RNG)."""
    check_architecture(name)
    return _REGISTRY[name](im_channels, latent_dim)
