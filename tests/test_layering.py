"""The package's layering (docs/architecture.md), read from the source with ``ast``.

Each rule names a concept's one home: flags are parsed only in ``jlonevae_lib/cli/``, the run
folder's file names are spelled only in ``runs/layout.py``, the lower layers never import the
figures, and ``runs/`` stands on ``utils/`` alone. A module that breaks one is named with the
line, so the fix is to move that line to the home the rule gives.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "jlonevae_lib"
CLI = "jlonevae_lib.cli"
#: Layers below the figures: none of them may import ``jlonevae_lib.visualize``.
BELOW_VISUALIZE = ("sweep", "demo_models", "evaluate", "train", "data", "runs", "architecture",
                   "utils")
#: Run-folder names that only ``runs/layout.py`` spells (as whole words for the markers).
RUN_FOLDER_LITERAL = re.compile(r"\bDONE\b|\bFAILED\b|config\.json|cache_batch_no|"
                                r"evaluation\.json")
LAYOUT = "jlonevae_lib.runs.layout"
#: What ``runs/`` may import besides itself and ``jlonevae_lib.utils``.
RUNS_THIRD_PARTY = {"numpy", "torch"}
#: (module, rule) → why that module may break that rule. None today: the facades that keep the
#: original repository's names (utils/utils_pytorch.py, utils/pytorch_npz_dataset.py,
#: evaluate/evaluate_helper.py) import across layers, but never visualize or argparse, and spell
#: no run-folder name; list one here, with its reason, only if that changes.
EXCEPTIONS: dict[tuple[str, str], str] = {}
#: A separate program inside the package: it runs in disentanglement_lib's environment
#: (``.venv-dlib``: TensorFlow, no torch) with its own command lines, so the rules about this
#: package's CLIs do not apply to it; the two about it below do.
TENSORFLOW_PROGRAM = "jlonevae_lib.dlib_tf"
#: What it may import of ours: the torch-free layers.
TENSORFLOW_PROGRAM_MAY_IMPORT = ("jlonevae_lib.data", "jlonevae_lib.runs.layout",
                                 "jlonevae_lib.runs.study_numbering", "jlonevae_lib.utils.errors",
                                 "jlonevae_lib.utils.atomic", "jlonevae_lib.utils.lock",
                                 TENSORFLOW_PROGRAM)
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


def _hands_over(node: ast.stmt) -> bool:
    """Docstring, ``from __future__``, or an import from the CLI package."""
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return True
    return isinstance(node, ast.ImportFrom) and (node.module == "__future__"
                                                 or in_package(node.module or "", CLI))


def test_script_entry_points_hand_over_to_the_cli_before_anything_else() -> None:
    # Run with ``python -m``, a library module executes as ``__main__`` beside the copy the
    # command line imports; unless the guard comes before the module's own code, that code
    # (dataset and gin registrations among it) runs twice.
    offenders = []
    for name, path, tree in checked("main guard"):
        if in_package(name, CLI):
            continue
        for index, node in enumerate(tree.body):
            if _is_main_guard(node):
                before = tree.body[:index]
                body_imports = [n for n in node.body if isinstance(n, ast.ImportFrom)]
                if not all(_hands_over(n) for n in before) or not (
                        any(in_package(n.module or "", CLI) for n in body_imports)
                        or any(isinstance(n, ast.ImportFrom) and in_package(n.module or "", CLI)
                               for n in before)):
                    offenders.append(f"{path}:{node.lineno}")
    assert offenders == []


def test_lower_layers_never_import_the_figures() -> None:
    offenders = [f"{path}:{line}: {module}" for name, path, tree in checked("visualize")
                 if any(in_package(name, f"jlonevae_lib.{layer}") for layer in BELOW_VISUALIZE)
                 for line, module in imported_modules(name, tree)
                 if in_package(module, "jlonevae_lib.visualize")]
    assert offenders == [], "the figures sit above these layers"


#: The layers from the bottom up (docs/architecture.md); one of a row may import the rows before
#: it and its own, never a later row.
LAYER_ORDER = (("utils",), ("runs",), ("data",), ("architecture",), ("train",), ("evaluate",),
               ("visualize",), ("sweep", "demo_models"), ("cli",))
LAYER_RANK = {layer: rank for rank, row in enumerate(LAYER_ORDER) for layer in row}
#: Modules that keep the original repository's names and import across layers on purpose.
FACADES = {"jlonevae_lib.utils.utils_pytorch": "the original's module name, over evaluate/",
           "jlonevae_lib.utils.pytorch_npz_dataset": "the original's module name, over data/",
           "jlonevae_lib.evaluate.evaluate_helper": "the original's module name"}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "jlonevae_lib" and len(parts) > 1 else None


def _outside_main_guards(tree: ast.Module) -> list[ast.stmt]:
    """The module's statements but its ``if __name__ == "__main__"`` hand-overs."""
    return [node for node in tree.body if not _is_main_guard(node)]


def _is_cli_alias(tree: ast.Module) -> bool:
    """A module kept only as an old name of a command (``python -m jlonevae_lib.train.
    train_jlonevae_models``): docstring, imports from the CLI package, and the main guard."""
    return all(_hands_over(node) or _is_main_guard(node) for node in tree.body)


def test_layers_import_downward_only() -> None:
    offenders = []
    for name, path, tree in checked("layers"):
        layer = _layer(name)
        if name in FACADES or layer not in LAYER_RANK or _is_cli_alias(tree):
            continue
        body = ast.Module(body=_outside_main_guards(tree), type_ignores=[])
        offenders += [f"{path}:{line}: {module}" for line, module in imported_modules(name, body)
                      if LAYER_RANK.get(_layer(module), -1) > LAYER_RANK[layer]]
    assert offenders == [], "a layer imports only the layers below it (docs/architecture.md)"


def test_every_layer_is_ranked() -> None:
    layers = {_layer(name) for name in modules()} - {None}
    # Top-level modules of the package (its __init__) have no layer; every sub-package does.
    # dlib_tf is not a layer: a separate program (TENSORFLOW_PROGRAM).
    unranked = layers - {"__init__", "config", "dlib_tf"} - set(LAYER_RANK)
    assert not unranked, unranked


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
        docstrings = _docstrings(tree)
        offenders += [f"{path}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
                      if isinstance(node, ast.Constant) and isinstance(node.value, str)
                      and id(node) not in docstrings and RUN_FOLDER_LITERAL.search(node.value)]
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


def test_nothing_imports_the_tensorflow_program() -> None:
    offenders = [f"{path}:{line}" for name, (path, tree) in modules().items()
                 if not in_package(name, TENSORFLOW_PROGRAM)
                 for line, module in imported_modules(name, tree)
                 if in_package(module, TENSORFLOW_PROGRAM)]
    assert offenders == [], "jlonevae_lib.dlib_tf runs in another environment: call it as a "\
        "subprocess"


def test_the_tensorflow_program_imports_only_torch_free_layers() -> None:
    offenders = [f"{path}:{line} {module}" for name, (path, tree) in modules().items()
                 if in_package(name, TENSORFLOW_PROGRAM)
                 for line, module in imported_modules(name, tree)
                 if module == "torch" or module.startswith("torch.")
                 or (in_package(module, "jlonevae_lib")
                     and module not in ("jlonevae_lib", "jlonevae_lib.runs")
                     and not any(in_package(module, allowed)
                                 for allowed in TENSORFLOW_PROGRAM_MAY_IMPORT))]
    assert offenders == []
