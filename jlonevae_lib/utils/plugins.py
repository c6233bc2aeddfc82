"""Plug-ins: registrations from the user's own installed packages, found through entry points.

A package extends the registries without any change here by declaring entry points in the
groups :data:`GROUPS` (docs/plugins.md); each entry point names a module (or ``module:attr``)
whose import registers things with the usual decorators. Each registry calls
:func:`load_plugins` with its group after importing its built-in modules, so a plug-in's names
are known wherever a built-in's are, in any process, with no flag.

Only code the user chose to install runs this way: the modules come from the environment's
installed distributions, never from data, run or config files.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from jlonevae_lib.utils.errors import JLoneVAEError, short_reason

OBJECTIVES = "jlonevae.objectives"
ARCHITECTURES = "jlonevae.architectures"
DATASETS = "jlonevae.datasets"
#: Modules defining gin-configurable metric functions, imported before a metric config is parsed.
METRICS = "jlonevae.metrics"
STUDIES = "jlonevae.studies"
#: Every entry-point group the package reads.
GROUPS = (OBJECTIVES, ARCHITECTURES, DATASETS, METRICS, STUDIES)
#: Where the registries' "unknown name" errors send the user.
PLUGIN_HINT = "a plug-in package registers more: docs/plugins.md"

#: Groups whose plug-ins this process has imported (or is importing).
_LOADED: set[str] = set()


def load_plugins(group: str) -> None:
    """Import every module named by an entry point of ``group``, once per process.

    A plug-in that fails to import (its own error, or a name it registers twice) is a
    :class:`JLoneVAEError` of one line naming it; the group is then tried again on the next
    call, so the error is not lost to a later lookup.
    """
    if group in _LOADED:
        return
    # Marked before importing: a plug-in that looks a name up while it is imported would
    # otherwise come back here and import itself again.
    _LOADED.add(group)
    try:
        for entry_point in entry_points(group=group):
            _import(entry_point)
    except JLoneVAEError:
        _LOADED.discard(group)
        raise


def _definition_site(thing: object) -> tuple[str, str] | None:
    module, qualname = getattr(thing, "__module__", None), getattr(thing, "__qualname__", None)
    return (module, qualname) if isinstance(module, str) and isinstance(qualname, str) else None


def is_redefinition(registered: object, new: object) -> bool:
    """Whether ``new`` is a fresh definition of the class or function ``registered`` (same
    module, same qualified name): a notebook cell run again, or a reloaded module. The
    registries let it replace the old one; anything else under a taken name is refused, a
    wrapper made with ``functools.wraps`` (which copies the wrapped function's names) too."""
    site = _definition_site(new)
    return (site is not None and site == _definition_site(registered)
            and not hasattr(new, "__wrapped__"))


def plugin_packages(group: str) -> dict[str, EntryPoint]:
    """The top-level package of each entry point of ``group``, with that entry point: where the
    registrations a plug-in's import made live (a module ``package.sub`` is that package's)."""
    return {entry_point.module.split(".", 1)[0]: entry_point
            for entry_point in entry_points(group=group)}


def plugin_error(entry_point: EntryPoint, problem: str) -> JLoneVAEError:
    """The one-line error for a plug-in: it names the distribution and the entry point."""
    distribution = entry_point.dist.name if entry_point.dist is not None else "?"
    return JLoneVAEError(f"plug-in {distribution!r} (entry point {entry_point.group}: "
                         f"{entry_point.name} = {entry_point.value}) {problem}; fix or "
                         f"uninstall it")


def _import(entry_point: EntryPoint) -> None:
    try:
        entry_point.load()
    except Exception as err:  # whatever the user's module raises: report it as theirs
        raise plugin_error(entry_point, f"failed to import: {short_reason(err)}") from err
