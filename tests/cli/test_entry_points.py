"""Every way to start a command still starts it: console scripts, ``python -m`` of the library
modules, and the original's script paths, each without a runpy warning."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: ``python -m`` names in use (README, experimentScripts, data/, tests) → the CLI module.
MODULES = {
    "jlonevae_lib.train.train_jlonevae_models": "train",
    "jlonevae_lib.train.train_jlonevae_without_disentanglement_lib": "train_original",
    "jlonevae_lib.evaluate.evaluation": "evaluate",
    "jlonevae_lib.visualize.cli": "plot",
    "jlonevae_lib.data.cache": "cache",
    "jlonevae_lib.data.natural_images": "natural_images",
    "jlonevae_lib.data.mpi3d": "mpi3d",
    "jlonevae_lib.evaluate.linear_baselines": "linear_baselines",
    "jlonevae_lib.sweep.study_summary": "study_summary",
    "jlonevae_lib.sweep.seven_arms_summary": "seven_arms_summary",
    "jlonevae_lib.cli.natural_images_summary": "natural_images_summary",
    "jlonevae_lib.demo_models.build": "demo_build",
}
SCRIPTS = ["jlonevae_lib/train/train_jlonevae_models.py",
           "jlonevae_lib/train/train_jlonevae_without_disentanglement_lib.py",
           "data/sampleNatualImagePatches.py"]


def help_of(*command: str) -> str:
    """``--help`` of a command run with warnings as errors; its stdout (stderr must be empty)."""
    done = subprocess.run([sys.executable, "-W", "error", *command, "--help"],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.startswith("usage: ")
    return done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_form_runs_the_cli_without_runpy_warnings(module: str) -> None:
    cli = importlib.import_module(f"jlonevae_lib.cli.{MODULES[module]}")
    assert callable(cli.main)
    help_of("-m", module)


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_script_paths_still_run(script: str) -> None:
    help_of(str(REPO / script))


def test_console_scripts_point_into_the_cli_package() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    section = text.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    scripts = dict(re.findall(r'^(\S+)\s*=\s*"([^"]+)"', section, flags=re.MULTILINE))
    assert scripts == {"jlonevae-train": "jlonevae_lib.cli.train:main",
                       "jlonevae-evaluate": "jlonevae_lib.cli.evaluate:main",
                       "jlonevae-plot": "jlonevae_lib.cli.plot:main",
                       "jlonevae-sweep": "jlonevae_lib.cli.sweep:main",
                       "jlonevae-import-dlib": "jlonevae_lib.cli.import_dlib:main"}
    for target in scripts.values():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function))
