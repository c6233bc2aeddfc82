"""The reproduce scripts never write over committed results by accident
(experimentScripts/reproduce/common.bash): a fresh folder by default, the committed one only
when asked (REPLACE=1 or --replace). No study runs here: the guard acts before the sweep."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REPRODUCE = REPO / "experimentScripts" / "reproduce"
COMMON = REPRODUCE / "common.bash"
#: Each script and the committed results folder it protects.
SCRIPTS = {"cpu_study.bash": "results/cpu_study",
           "cpu_seven_arms.bash": "results/cpu_seven_arms",
           "natural_images_cpu.bash": "results/natural_images",
           "cpu_penalty_study.bash": "results/cpu_penalty_study"}

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def choose(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``choose_output_dir results/x ARGS`` in ``root``; prints what it set."""
    script = (f'source "{COMMON}"; choose_output_dir results/x "$@"; '
              'echo "name=$output_name dir=$output_dir replacing=$replacing"; '
              'printf "arg=%s\\n" "${sweep_args[@]}"')
    environ = {k: v for k, v in os.environ.items() if k not in ("OUTPUT_DIR", "REPLACE")}
    return subprocess.run(["bash", "-c", script, "guard", *args], cwd=root, text=True,
                          capture_output=True, env={**environ, **env}, timeout=60)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git work tree whose results/x holds a tracked file (the index is what counts)."""
    (tmp_path / "results" / "x").mkdir(parents=True)
    (tmp_path / "results" / "x" / "summary.md").write_text("committed\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "results"], cwd=tmp_path, check=True)
    return tmp_path


def assert_refused(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: results/x holds "
                                                                   "committed results")
    assert "REPLACE=1 (or --replace)" in done.stderr
    assert "Results go to" not in done.stdout


@needs_git
def test_by_default_a_fresh_folder(repo: Path) -> None:
    done = choose(repo, "--jobs", "2", "--set", "a=b c")
    assert done.returncode == 0, done.stderr
    name = re.search(r"^name=(\S+) ", done.stdout, re.M).group(1)
    assert re.fullmatch(r"results/x_\d{8}-\d{6}", name)
    assert done.stdout.startswith(f"Results go to {name}\n")
    assert f"dir={repo.resolve() / name} replacing=0" in done.stdout
    assert re.findall(r"^arg=(.*)$", done.stdout, re.M) == ["--jobs", "2", "--set", "a=b c"]


@needs_git
@pytest.mark.parametrize(("args", "env"), [
    ((), {"OUTPUT_DIR": "results/x"}),
    (("--results-dir", "results/x"), {}),
    (("--results-dir=results/x",), {}),
    (("--results-dir", "results/x"), {"OUTPUT_DIR": "elsewhere"}),  # the flag wins
])
def test_a_folder_with_committed_results_is_refused(repo: Path, args, env) -> None:
    assert_refused(choose(repo, *args, **env))
    assert (repo / "results" / "x" / "summary.md").read_text() == "committed\n"


@needs_git
@pytest.mark.parametrize(("args", "env"), [
    (("--replace", "--jobs", "2"), {}),
    (("--jobs", "2"), {"REPLACE": "1"}),
    (("--jobs", "2", "--replace"), {"OUTPUT_DIR": "results/x"}),
])
def test_replacing_is_asked_for(repo: Path, args, env) -> None:
    done = choose(repo, *args, **env)
    assert done.returncode == 0, done.stderr
    assert "Results go to results/x (replacing what is there)" in done.stdout
    assert "name=results/x " in done.stdout and "replacing=1" in done.stdout
    assert re.findall(r"^arg=(.*)$", done.stdout, re.M) == ["--jobs", "2"]


@needs_git
def test_folders_without_committed_results_are_used_as_named(repo: Path) -> None:
    (repo / "results" / "mine").mkdir()
    (repo / "results" / "mine" / "summary.md").write_text("untracked\n")
    done = choose(repo, OUTPUT_DIR="results/mine")
    assert done.returncode == 0, done.stderr
    assert "name=results/mine " in done.stdout and "replacing=0" in done.stdout
    outside = repo.parent / "outside_the_work_tree"
    assert choose(repo, "--results-dir", str(outside)).returncode == 0


def test_outside_a_git_work_tree_the_committed_folder_counts_when_not_empty(
        tmp_path: Path) -> None:
    (tmp_path / "results" / "x").mkdir(parents=True)
    environ = {"GIT_CEILING_DIRECTORIES": str(tmp_path.parent)}  # no repository above
    assert choose(tmp_path, OUTPUT_DIR="results/x", **environ).returncode == 0  # empty
    (tmp_path / "results" / "x" / "summary.md").write_text("results\n")
    assert_refused(choose(tmp_path, OUTPUT_DIR="results/x", **environ))
    (tmp_path / "results" / "y").mkdir()
    (tmp_path / "results" / "y" / "summary.md").write_text("results\n")
    assert choose(tmp_path, OUTPUT_DIR="results/y", **environ).returncode == 0


@needs_git
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_each_script_refuses_its_committed_results(script: str) -> None:
    committed = SCRIPTS[script]
    listed = subprocess.run(["git", "ls-files", "--", committed], cwd=REPO, text=True,
                            capture_output=True)
    if listed.returncode != 0 or not listed.stdout:
        pytest.skip(f"{committed} is not tracked here (not a git work tree?)")
    environ = {k: v for k, v in os.environ.items() if k != "REPLACE"}
    done = subprocess.run(["bash", str(REPRODUCE / script), "--dry-run"], text=True,
                          capture_output=True, timeout=60,
                          env={**environ, "OUTPUT_DIR": committed})
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == (f"error: {committed} holds committed results; to replace them run "
                           "again with REPLACE=1 (or --replace), or name another folder (leave "
                           "OUTPUT_DIR unset for a fresh one)\n")
