"""The package's layering (docs/architecture.md).

The layers themselves are import-linter contracts (``[tool.importlinter]`` in pyproject.toml,
run by ``lint-imports``): each layer imports only the layers below it, so the library never
imports the command lines; nothing below the figures imports them; nothing imports the
TensorFlow program, which imports only the torch-free modules. The tests here run it on the
package (it must pass) and on a copy with one upward import written in (it must fail, naming
the import).

The other rules are read from the source with ``ast``, each naming a concept's one home: flags
are parsed only in ``jlonevae_lib/cli/``, a ``python -m`` form of a library module runs its
command line by name, the run folder's file names are spelled only in ``runs/layout.py``, and
``runs/`` stands on ``utils/`` and a few third-party packages alone. A module that breaks one is
named with the line, so the fix is to move that line to the home the rule gives.
"""

from __future__ import annotations

import ast
import functools
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "jlonevae_lib"
CLI = "jlonevae_lib.cli"
#: Run-folder names that only ``runs/layout.py`` spells (as whole words for the markers).
RUN_FOLDER_LITERAL = re.compile(r"\bDONE\b|\bFAILED\b|config\.json|cache_batch_no|"
                                r"evaluation\.json")
LAYOUT = "jlonevae_lib.runs.layout"
#: Modules where the literal "FAILED" is Slurm's job state, not a run folder's marker.
SLURM_STATE_MODULES = {"jlonevae_lib.utils.slurm_jobs"}
#: What ``runs/`` may import besides itself and ``jlonevae_lib.utils``: tensorboard reads a
#: run's event files back (runs/scalars.py), the format training writes them in.
RUNS_THIRD_PARTY = {"numpy", "torch", "tensorboard"}
#: (module, rule) → why that module may break that rule. None today: the facades that keep the
#: original repository's names (utils/utils_pytorch.py, utils/pytorch_npz_dataset.py,
#: evaluate/evaluate_helper.py) import across layers (the layers contract lists those imports),
#: but never argparse, and spell no run-folder name; list one here, with its reason, only if
#: that changes.
EXCEPTIONS: dict[tuple[str, str], str] = {}
#: A separate program inside the package: it runs in disentanglement_lib's environment
#: (``.venv-dlib``: TensorFlow, no torch) with its own command lines, so the rules about this
#: package's CLIs do not apply to it; the contracts about it (pyproject.toml) do.
TENSORFLOW_PROGRAM = "jlonevae_lib.dlib_tf"
#: The rules that concern this package's own command lines.
CLI_RULES = ("argparse", "main", "main guard")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def modules() -> dict[str, tuple[Path, ast.Module]]:
    """Every module of the package: dotted name → (path, syntax tree)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        found[module_name(path)] = (path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return found


def imported_modules(name: str, tree: ast.Module) -> list[tuple[int, str]]:
    """(line, dotted module) of every import anywhere in the module, relative ones resolved.

    ``from package import name`` counts as an import of ``package.name`` too, since the name
    may be a submodule (``from jlonevae_lib import visualize``).
    """
    package = name if (PACKAGE.parent / name.replace(".", "/") / "__init__.py").is_file() \
        else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def checked(rule: str) -> list[tuple[str, Path, ast.Module]]:
    return [(name, path, tree) for name, (path, tree) in modules().items()
            if (name, rule) not in EXCEPTIONS
            and not (rule in CLI_RULES and in_package(name, TENSORFLOW_PROGRAM))]


def test_the_walk_sees_the_package() -> None:
    names = modules()
    assert {CLI, LAYOUT, "jlonevae_lib.data.ground_truth", "jlonevae_lib.cli.types"} <= set(names)
    # The resolver itself: a relative import is resolved against its package.
    tree = ast.parse("from . import layout\nfrom ..utils import errors\n")
    assert (1, "jlonevae_lib.runs.layout") in imported_modules("jlonevae_lib.runs.results", tree)
    assert (2, "jlonevae_lib.utils") in imported_modules("jlonevae_lib.runs.results", tree)


def test_argparse_only_in_the_cli_package() -> None:
    offenders = [f"{path}:{line}" for name, path, tree in checked("argparse")
                 if not in_package(name, CLI)
                 for line, module in imported_modules(name, tree) if in_package(module, "argparse")]
    assert offenders == [], "flags are parsed in jlonevae_lib/cli/ only"


def test_main_functions_only_in_the_cli_package() -> None:
    offenders = [f"{path}:{node.lineno}" for name, path, tree in checked("main")
                 if not in_package(name, CLI) for node in tree.body
                 if isinstance(node, ast.FunctionDef) and node.name == "main"]
    assert offenders == [], "every command's main lives in jlonevae_lib/cli/"


def _is_main_guard(node: ast.stmt) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__"
                    for c in node.test.comparators))


def _runs_by_name(node: ast.stmt) -> str | None:
    """The module of ``runpy.run_module("<module>", run_name="__main__", ...)``, else None."""
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return None
    call = node.value
    is_run_module = (isinstance(call.func, ast.Attribute) and call.func.attr == "run_module"
                     and isinstance(call.func.value, ast.Name) and call.func.value.id == "runpy")
    run_name = {k.arg: k.value for k in call.keywords}.get("run_name")
    if not (is_run_module and call.args and isinstance(call.args[0], ast.Constant)
            and isinstance(run_name, ast.Constant) and run_name.value == "__main__"):
        return None
    return call.args[0].value


def _is_preamble(node: ast.stmt) -> bool:
    """Docstring or ``from __future__``."""
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return True
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


def _raises_main(node: ast.stmt) -> bool:
    """``if __name__ == "__main__": raise SystemExit(main())``."""
    return _is_main_guard(node) and any(
        isinstance(n, ast.Raise) and isinstance(n.exc, ast.Call)
        and isinstance(n.exc.func, ast.Name) and n.exc.func.id == "SystemExit"
        and len(n.exc.args) == 1 and isinstance(n.exc.args[0], ast.Call)
        and isinstance(n.exc.args[0].func, ast.Name) and n.exc.args[0].func.id == "main"
        for n in node.body)


def cli_commands() -> set[str]:
    """The command-line modules: those of ``cli/`` with a ``main``."""
    return {name for name, (_, tree) in modules().items() if in_package(name, CLI)
            and any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body)}


def test_every_command_line_runs_as_a_module() -> None:
    # Launchers (the sweep's members and summary steps) run ``python -m jlonevae_lib.cli.<x>``.
    missing = [name for name in sorted(cli_commands())
               if not any(_raises_main(node) for node in modules()[name][1].body)]
    assert missing == [], 'end each with: if __name__ == "__main__": raise SystemExit(main())'


def test_python_m_forms_run_their_command_line_by_name_before_anything_else() -> None:
    # ``python -m jlonevae_lib.evaluate.evaluation`` and the reference's names (compatibility
    # modules such as train/train_jlonevae_models.py): the guard runs the command line as the
    # program with runpy, by name, since the library never imports jlonevae_lib.cli (the layers
    # contract); and it comes first, or the module's own code (dataset and gin registrations
    # among it) would run twice: here as ``__main__``, and imported by the command.
    offenders, commands = [], cli_commands()
    for name, path, tree in checked("main guard"):
        if in_package(name, CLI):
            continue
        for index, node in enumerate(tree.body):
            if not _is_main_guard(node):
                continue
            targets = [t for t in map(_runs_by_name, node.body) if t is not None]
            if not all(map(_is_preamble, tree.body[:index])) or len(targets) != 1 \
                    or targets[0] not in commands:
                offenders.append(f"{path}:{node.lineno}")
    assert offenders == []


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def test_run_folder_names_only_in_the_layout_module() -> None:
    offenders = []
    for name, path, tree in checked("run-folder literals"):
        if name == LAYOUT:
            continue
        exempt = _docstrings(tree)
        if name in SLURM_STATE_MODULES:
            exempt |= {id(node) for node in ast.walk(tree)
                       if isinstance(node, ast.Constant) and node.value == "FAILED"}
        offenders += [f"{path}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
                      if isinstance(node, ast.Constant) and isinstance(node.value, str)
                      and id(node) not in exempt and RUN_FOLDER_LITERAL.search(node.value)]
    assert offenders == [], "name the file through jlonevae_lib.runs.layout"


def test_runs_stands_on_utils_alone() -> None:
    offenders = [f"{path}:{line}: {module}" for name, path, tree in checked("runs imports")
                 if in_package(name, "jlonevae_lib.runs")
                 for line, module in imported_modules(name, tree)
                 if not (in_package(module, "jlonevae_lib.runs")
                         or in_package(module, "jlonevae_lib.utils")
                         or module.split(".")[0] in sys.stdlib_module_names
                         or module.split(".")[0] in RUNS_THIRD_PARTY)]
    assert offenders == [], "runs/ sits below everything but utils/"


@pytest.mark.parametrize("source", [
    "import argparse\n",
    "def f():\n    from argparse import ArgumentParser\n",
])
def test_the_argparse_rule_catches_an_import_anywhere(source: str) -> None:
    tree = ast.parse(source)
    assert any(in_package(module, "argparse")
               for _, module in imported_modules("jlonevae_lib.data.cache", tree))


# The import-linter contracts (pyproject.toml).


def lint_imports() -> str:
    """The ``lint-imports`` of this environment (the ``dev`` extra installs it)."""
    found = Path(sys.executable).with_name("lint-imports")
    path = str(found) if found.is_file() else shutil.which("lint-imports")
    assert path, "lint-imports is missing: pip install -e '.[dev]'"
    return path


def run_lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the package under ``root``, by the contracts of its pyproject.toml."""
    return subprocess.run([lint_imports(), "--no-cache", "--no-logo"], cwd=root,
                          capture_output=True, text=True, timeout=300)


def test_the_package_keeps_its_contracts() -> None:
    done = run_lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def _sources_only(folder: str, names: list[str]) -> list[str]:
    """shutil.copytree's ``ignore``: everything but the Python files and their folders."""
    return [name for name in names if name == "__pycache__"
            or not (name.endswith(".py") or (Path(folder) / name).is_dir())]


@pytest.mark.parametrize(("module", "line", "broken"), [
    # The library imports a command line (a layer imports one above it).
    ("data/cache.py", "from jlonevae_lib.cli import train",
     "jlonevae_lib.data.cache -> jlonevae_lib.cli.train"),
    ("train/losses.py", "import jlonevae_lib.evaluate.metrics",
     "jlonevae_lib.train.losses -> jlonevae_lib.evaluate.metrics"),
    # A study imports a report (reports/ sits above sweep/, which launches them by name).
    ("sweep/status.py", "from jlonevae_lib.reports import records",
     "jlonevae_lib.sweep.status -> jlonevae_lib.reports.records"),
    # A study imports the figures.
    ("sweep/status.py", "from jlonevae_lib.visualize import figure_io",
     "jlonevae_lib.sweep.status -> jlonevae_lib.visualize.figure_io"),
    # The TensorFlow program imports torch.
    ("dlib_tf/folders.py", "import torch", "jlonevae_lib.dlib_tf.folders -> torch"),
])
def test_the_contracts_refuse_an_upward_import(tmp_path: Path, module: str, line: str,
                                                broken: str) -> None:
    shutil.copytree(PACKAGE, tmp_path / "jlonevae_lib", ignore=_sources_only)
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    target = tmp_path / "jlonevae_lib" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    done = run_lint_imports(tmp_path)
    assert done.returncode != 0, done.stdout
    assert broken in done.stdout, done.stdout
