"""README.md says what works: its code blocks run, its links resolve, its commands, flags and
files exist, and its headline numbers are the ones in the results files.

**How a code block is tested.** Every fenced block of README.md (```bash, ```python,
```bibtex, ...) has a decision in :data:`BLOCKS`, keyed by the block's first line (its ``#``
comment left out, whitespace collapsed):

- ``Run(...)``: the block runs. A shell block (bash, sh, shell, console) runs with ``bash -e``,
  a python block with the project's ``.venv/bin/python``, in a fresh workspace: a temporary
  folder with symlinks to the repository's code folders (``.venv``, ``exampleScripts``,
  ``experimentScripts``, ...), so that commands work as from the repository root, and a data
  folder of its own (``DISENTANGLEMENT_LIB_DATA``); whatever the block writes stays there.
  ``.venv/bin`` comes first on ``PATH`` unless ``venv_on_path=False`` (the install block must
  put it there itself, with ``source .venv/bin/activate``). ``subs`` are (old, new)
  replacements that make the run tiny (``--num-batches 2``, a procedural dataset); each must
  match the block, so a block edited out from under its substitution fails. ``before`` and
  ``after`` are shell lines run before and after the block, in the same script (for checks).
- ``Skip(reason)``: the block is not run, for the reason given.

A block without a decision fails, and so does a decision whose block is gone: change a block's
first line and this table must change with it. The runs take seconds each; the module is
marked slow (CI runs it). Blocks that use features still being built elsewhere fail until they
land, by design.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
VENV_BIN = ROOT / ".venv" / "bin"
#: Repository entries a workspace links to (read-only use; the blocks write beside them).
WORKSPACE_LINKS = (".venv", "exampleScripts", "experimentScripts", "benchmarks", "notebooks",
                   "jlonevae_lib", "pyproject.toml", "Makefile", "LICENSE")
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
BLOCK_TIMEOUT_S = 600

#: A tiny training run's flags, added after a command's own (the last value of a flag wins).
TINY = "--dataset threeDots --num-batches 2"
#: make demo's training flags, as README.md's "Evaluate and plot" names its run folder.
DEMO_FLAGS = ("--dataset threeDotsCacheSmall --beta 4 --gamma 0.1 --lr 0.001 --num-batches 2000 "
              "--annealingBatches 700 --jacobian-batch 16 --seed 1")
DEMO_TINY_FLAGS = DEMO_FLAGS.replace("--dataset threeDotsCacheSmall", "--dataset threeDots") \
    .replace("--num-batches 2000", "--num-batches 2")
DEMO_RUN_LINE = f"run=$(jlonevae-train {DEMO_FLAGS} --print-run-dir)"


@dataclass(frozen=True)
class Run:
    subs: tuple[tuple[str, str], ...] = ()
    before: str = ""
    after: str = ""
    venv_on_path: bool = True


@dataclass(frozen=True)
class Skip:
    reason: str


#: The decision for each README code block, keyed by the block's first line (see :func:`key`).
BLOCKS: dict[str, Run | Skip] = {
    # Install: activation puts the CLIs on PATH (issue 27: "command not found" without it).
    "make venv": Run(
        subs=(("make venv ", ": make venv "),),  # the test runs inside the venv already
        after=f"jlonevae-train {TINY} --seed 1 --jacobian-batch 2\n"
              f'test "$(command -v jlonevae-train)" -ef "$VIRTUAL_ENV/bin/jlonevae-train"',
        venv_on_path=False),
    # Step 1: the demo checkpoints' Jacobian columns.
    "jlonevae-plot jacobian-columns --output figures/columns.png": Run(
        after="test -s figures/columns.png && test -s figures/columns.pdf"),
    # Train one model: the presets, a longer run of the same, the penalty on another objective.
    "jlonevae-train --preset paper --seed 11": Run(
        subs=(("--preset paper --seed 11", f"--preset paper --seed 11 {TINY}"),
              ("--num-batches 400000", "--num-batches 3"),
              ("--preset example", f"--preset example {TINY}"),
              ("--annealingBatches 10000", f"--annealingBatches 10000 {TINY} --jacobian-batch 2")),
        after="grep -q '\"num_batches\": 3' trainedModels/*_lr0_0001_anneal100000/seed11/DONE"),
    # Training from Python.
    "from jlonevae_lib.train import TrainConfig, train": Run(
        subs=(('dataset="threeDotsCacheSmall"', 'dataset="threeDots"'),
              ("num_batches=2000", "num_batches=2"), ("jacobian_batch=16", "jacobian_batch=2"))),
    # The penalty on a decoder of one's own.
    "import torch": Run(),
    # A study: list, dry run, the reproduce script (dry run too), status.
    "jlonevae-sweep list": Run(
        subs=(("cpu_study.bash --jobs 2", "cpu_study.bash --jobs 2 --dry-run"),)),
    # Evaluate and plot a run.
    # make demo's run, named by its flags: trained here for 2 batches of threeDots.
    DEMO_RUN_LINE: Run(
        before=f"jlonevae-train {DEMO_TINY_FLAGS}",
        subs=((DEMO_FLAGS, DEMO_TINY_FLAGS), ("--metrics paper", "--metrics small_local_mig")),
        after='test -s figures/columns.png && test -s figures/traversals.png && '
              'test -s "$run/metrics/small_local_mig/results/aggregate/evaluation.json"'),
    "@inproceedings{rhodes2021local,": Skip("a BibTeX entry, not code"),
}


@dataclass
class Block:
    language: str
    text: str
    line: int  # 1-based line of the opening fence

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0]

    @property
    def key(self) -> str:
        """The first line without its ``#`` comment, whitespace collapsed: what BLOCKS is
        keyed by (a comment can change, the command cannot without the table changing)."""
        return " ".join(self.first_line.split("#", 1)[0].split()) or self.first_line


def code_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, in order."""
    blocks, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        opening = re.match(r"^(\s*)(```+|~~~+)\s*([\w+-]*)", lines[i])
        if not opening:
            i += 1
            continue
        fence, start, body = opening.group(2), i, []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        blocks.append(Block(opening.group(3).lower(), "\n".join(body), start + 1))
        i += 1
    return blocks


def readme_blocks() -> list[Block]:
    return code_blocks(README.read_text(encoding="utf-8"))


def substitute(text: str, subs: tuple[tuple[str, str], ...]) -> str:
    for old, new in subs:
        assert old in text, f"substitution {old!r} no longer matches the block:\n{text}"
        text = text.replace(old, new)
    return text


def make_workspace(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    work = tmp_path / "work"
    work.mkdir()
    for name in WORKSPACE_LINKS:
        if (ROOT / name).exists():
            (work / name).symlink_to(ROOT / name)
    (work / "data").mkdir()
    env = {**os.environ, "DISENTANGLEMENT_LIB_DATA": str(work / "data"),
           "OMP_NUM_THREADS": "1", "MPLCONFIGDIR": str(tmp_path / "mpl"), "MPLBACKEND": "Agg"}
    env.pop("VIRTUAL_ENV", None)
    return work, env


def path_without_venv(path: str) -> str:
    venv_bins = {str(VENV_BIN), str(VENV_BIN.resolve())}
    return os.pathsep.join(p for p in path.split(os.pathsep) if p and p not in venv_bins)


def shell_script(block: Block, decision: Run) -> str:
    text = block.text
    if block.language == "console":  # only the "$ command" lines run
        text = "\n".join(line[2:] for line in text.split("\n") if line.startswith("$ "))
    return "\n".join(part for part in (decision.before, substitute(text, decision.subs),
                                       decision.after) if part) + "\n"


def _block_id(block: Block) -> str:
    return f"line{block.line}-{block.language or 'plain'}-{block.first_line[:40]}"


@pytest.mark.parametrize("block", readme_blocks(), ids=_block_id)
def test_readme_block(block: Block, tmp_path: Path) -> None:
    decision = BLOCKS.get(block.key)
    assert decision is not None, (
        f"README.md line {block.line}: no decision for the block starting {block.key!r}; "
        "add Run(...) or Skip(reason) to BLOCKS in tests/test_readme.py")
    if isinstance(decision, Skip):
        pytest.skip(decision.reason)
    work, env = make_workspace(tmp_path)
    path = path_without_venv(env.get("PATH", ""))
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{path}" if decision.venv_on_path else path
    if block.language in SHELL_LANGUAGES:
        script = work / "block.sh"
        script.write_text(shell_script(block, decision))
        command = ["bash", "-e", str(script)]
    elif block.language == "python":
        assert not (decision.before or decision.after), "before/after apply to shell blocks"
        script = work / "block.py"
        script.write_text(substitute(block.text, decision.subs))
        command = [str(VENV_BIN / "python"), str(script)]
    else:
        pytest.fail(f"README.md line {block.line}: a ```{block.language} block can only be "
                    "skipped")
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True,
                          timeout=BLOCK_TIMEOUT_S)
    assert done.returncode == 0, (
        f"README.md line {block.line} failed (exit {done.returncode}); ran:\n"
        f"{script.read_text()}\n--- stdout ---\n{done.stdout[-3000:]}\n"
        f"--- stderr ---\n{done.stderr[-3000:]}")


def test_the_demo_run_line_names_make_demos_run() -> None:
    """README's "Evaluate and plot" names make demo's run folder by repeating its flags: the
    same folder as exampleScripts/train_jlonevae_threeDots.bash's own flags give."""
    script = ROOT / "exampleScripts" / "train_jlonevae_threeDots.bash"
    flags = subprocess.run(
        ["bash", "-c", f'eval "$(sed -n "/^train_flags=(/,/)$/p" {shlex.quote(str(script))})"; '
                       'printf "%s\\n" "${train_flags[@]}"'],
        capture_output=True, text=True, check=True).stdout.splitlines()
    assert "--seed" in flags and "--num-batches" in flags

    def run_dir(argv: list[str]) -> str:
        return subprocess.run([sys.executable, "-m", "jlonevae_lib.cli.train", *argv,
                               "--print-run-dir"], capture_output=True, text=True, check=True,
                              cwd=ROOT).stdout.strip()

    assert run_dir(shlex.split(DEMO_FLAGS)) == run_dir(flags)


def test_every_decision_has_its_block() -> None:
    keys = [block.key for block in readme_blocks()]
    assert len(keys) == len(set(keys)), "two README blocks share a first line"
    stale = sorted(set(BLOCKS) - set(keys))
    assert not stale, f"decisions for blocks no longer in README.md: {stale}"


# ---------------------------------------------------------------------------------------------
# Links, files, commands and flags.

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def prose(text: str) -> str:
    """The text outside fenced code blocks."""
    return re.sub(r"^```.*?^```[^\n]*$", "", text, flags=re.S | re.M)


def heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors for a Markdown file's headings."""
    anchors = set()
    for line in prose(path.read_text(encoding="utf-8")).split("\n"):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            title = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1)).lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("doc", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    broken = []
    for target in LINK.findall(prose(doc.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z]+:", target):  # http(s), mailto
            continue
        file_part, _, anchor = target.partition("#")
        path = (doc.parent / file_part).resolve() if file_part else doc
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in heading_anchors(path):
            broken.append(f"{target}: no heading #{anchor} in {path.relative_to(ROOT)}")
    assert not broken, f"{doc.relative_to(ROOT)}: broken links:\n" + "\n".join(broken)


def test_readme_indexes_every_docs_page() -> None:
    linked = {(README.parent / target.partition("#")[0]).resolve()
              for target in LINK.findall(README.read_text(encoding="utf-8"))}
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"docs pages the README does not link: {missing}"


#: Folders that runs write (not in the repository).
OUTPUT_FOLDERS = ("logs/", "trainedModels/", "trainedStandardModels/", "studies/",
                  "linearModels/", "figures/", "data/threeDots/", "data/naturalImages/")


def test_readme_files_exist() -> None:
    """Every repository path the README names in backticks (results files, scripts, ...)."""
    missing = []
    for span in INLINE_CODE.findall(prose(README.read_text(encoding="utf-8"))):
        if (" " in span or "/" not in span or "://" in span or "<" in span or "$" in span
                or span.startswith((".venv", "/", "-", *OUTPUT_FOLDERS)) or "=" in span):
            continue
        path = span.rstrip("/")
        if "*" in path:
            if not glob.glob(str(ROOT / path)):
                missing.append(span)
        elif "." in Path(path).name or span.endswith("/"):
            if not (ROOT / path).exists():
                missing.append(span)
    assert not missing, f"paths named in README.md that do not exist: {missing}"


#: Flags the README quotes that belong to no jlonevae command: where each is defined (None:
#: another program's, pip's).
OTHER_FLAGS = {"--extra-index-url": None,
               "--replace": "experimentScripts/reproduce/common.bash"}
CLI_WITH_SUBCOMMANDS = {"jlonevae-sweep", "jlonevae-plot"}


@functools.cache
def help_text(program: tuple[str, ...]) -> str:
    """``program --help``, run from the venv; empty if it fails."""
    if program[0] == "python":
        argv = [str(VENV_BIN / "python"), *program[1:], "--help"]
    else:
        argv = [str(VENV_BIN / program[0]), *program[1:], "--help"]
    if not Path(argv[0]).exists():
        return ""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
    return done.stdout if done.returncode == 0 else ""


def commands_in(path: Path) -> list[list[str]]:
    """The package's command lines a Markdown file shows: in shell blocks and in inline code."""
    text = path.read_text(encoding="utf-8")
    lines = [line for block in code_blocks(text) if block.language in SHELL_LANGUAGES
             for line in block.text.split("\n")]
    lines += INLINE_CODE.findall(prose(text))
    commands = []
    for line in lines:
        line = re.sub(r"^.*?\$\(", "", line.split("#", 1)[0]).strip().rstrip(")")
        try:
            tokens = shlex.split(line)
        except ValueError:
            tokens = line.split()
        for i, token in enumerate(tokens):
            if token.startswith("jlonevae-") or (token == "python" and tokens[i + 1:i + 2] == ["-m"]
                                                 and len(tokens) > i + 2):
                commands.append(tokens[i:])
                break
    return commands


def program_of(tokens: list[str]) -> tuple[str, ...]:
    if tokens[0] == "python":
        return ("python", "-m", tokens[2])
    if tokens[0] in CLI_WITH_SUBCOMMANDS and len(tokens) > 1 and not tokens[1].startswith("-"):
        return (tokens[0], tokens[1])
    return (tokens[0],)


def command_problems(tokens: list[str]) -> tuple[list[str], str]:
    """What is wrong with one shown command line (its program's ``--help`` fails, or lacks a
    flag shown with it), and that help."""
    program = program_of(tokens)
    text = help_text(program)
    if not text:
        return [f"{' '.join(program)} --help fails"], ""
    return [f"{' '.join(program)}: no flag {flag}"
            for flag in (t.split("=", 1)[0] for t in tokens if t.startswith("--"))
            if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text)], text


def test_readme_commands_and_flags_exist() -> None:
    """Each ``jlonevae-*`` / ``python -m`` command of the README runs ``--help``, and every flag
    shown with it is in that help; a flag shown alone is in some command's help."""
    problems, all_help = [], ""
    for tokens in commands_in(README):
        found, text = command_problems(tokens)
        problems += found
        all_help += text
    for span in INLINE_CODE.findall(prose(README.read_text(encoding="utf-8"))):
        flag = span.split()[0]
        if not re.fullmatch(r"--[a-zA-Z][\w-]*", flag):
            continue
        if flag in OTHER_FLAGS:
            home = OTHER_FLAGS[flag]
            if home and flag not in (ROOT / home).read_text():
                problems.append(f"{home} does not define {flag}")
        elif not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", all_help):
            problems.append(f"no command has the flag {flag}")
    assert not problems, "\n".join(problems)


#: Commands the docs show that have no ``--help`` here: placeholders, and modules that run only
#: in disentanglement_lib's TensorFlow environment (.venv-dlib; tests/dlib_tf runs them).
NOT_HERE = re.compile(r"jlonevae-name$|jlonevae_lib\.cli\.<?name>?$|jlonevae_lib\.dlib_tf\.")


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda page: page.name)
def test_docs_commands_and_flags_exist(page: Path) -> None:
    """Each ``jlonevae-*`` / ``python -m`` command a docs page shows runs ``--help``, and every
    flag shown with it is in that help (as the README's, above)."""
    problems = [problem for tokens in commands_in(page)
                if not NOT_HERE.search(program_of(tokens)[-1])
                for problem in command_problems(tokens)[0]]
    assert not problems, f"{page.name}: " + "\n".join(problems)


def test_readme_make_targets_and_variables_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    readme = README.read_text(encoding="utf-8")
    targets = set(re.findall(r"^([\w-]+):", makefile, flags=re.M))
    shown = set(re.findall(r"\bmake ([a-z][\w-]*)", readme))
    assert shown <= targets, f"README make targets not in the Makefile: {shown - targets}"
    variables = set(re.findall(r"\bmake [a-z][\w-]* ([A-Z][A-Z_]*)=", readme))
    missing = {v for v in variables if not re.search(rf"\b{v}\b", makefile)}
    assert not missing, f"make variables the README shows, unknown to the Makefile: {missing}"


# ---------------------------------------------------------------------------------------------
# Headline numbers against their files.

def _hours_minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min"


def test_readme_headline_numbers_match_results() -> None:
    readme = README.read_text(encoding="utf-8")
    study = json.loads((ROOT / "results/cpu_study/summary.json").read_text())
    local_mig = next(t for t in study["ttests"] if t["key"] == "local_mig_0_1")
    row = (f"| {local_mig['mean_a']:.3f} ± {local_mig['sd_a']:.3f} "
           f"| {local_mig['mean_b']:.3f} ± {local_mig['sd_b']:.3f} | {local_mig['p']:.1g} |")
    assert row in readme, f"cpu_study's local MIG at 0.1 is {row}"
    at_06 = next(t for t in study["ttests"] if t["key"] == "local_mig_0_6")
    assert f"(p = {at_06['p']:.2f})" in readme
    times = study["time"]
    assert f"{_hours_minutes(times['total_seconds'])} summed" in readme
    assert (f"({_hours_minutes(times['training_seconds'])} training, "
            f"{round(times['evaluation_seconds'] / 60)} min evaluation)") in readme
    seven_arms = json.loads((ROOT / "results/cpu_seven_arms/summary.json").read_text())
    against_dlib = {t["key"]: t for t in seven_arms["ttests"]
                    if t["arm_b"] == "beta_vae" and t["metric"] == "local MIG"}
    first = against_dlib["local_mig_0_1"]
    assert (f"| {first['mean_a']:.3f} | {first['mean_b']:.3f} | {first['p']:.2f}; "
            f"{first['p_holm']:.2f} after Holm |") in readme
    prose = " ".join(readme.split())  # the sentences as read, whatever the line breaks
    # "at every larger locality measured that β-VAE is ahead": each of them, with its p values.
    larger = [test for test in against_dlib.values()
              if test["key"].startswith("local_mig_") and test["locality"] > 0.1
              and "evalseeds" not in test["key"]]
    assert len(larger) == 4
    for test in larger:
        assert test["mean_b"] > test["mean_a"] and test["p_holm"] > 0.05
        assert (f"{test['mean_b']:.4f} against {test['mean_a']:.4f} at {test['locality']:g} "
                f"(p = {test['p']:.2g}, Holm {test['p_holm']:.2g})") in prose
    natural = json.loads((ROOT / "results/natural_images_20k/summary.json").read_text())
    by_arm: dict[str, list[str]] = {}
    for run in natural["runs"]:
        assert run["status"] == "finished" and not run["collapsed"]  # "none of four did"
        by_arm.setdefault(run["arm"].split(" ")[0], []).append(f"{run['compactness']:.3f}")
    assert len(natural["runs"]) == 4
    assert (f"(compactness {' and '.join(by_arm['JL1-VAE'])} against "
            f"{' and '.join(by_arm['β-VAE'])})") in prose
    seven = seven_arms["time"]
    assert (f"{seven['total_seconds'] / 3600:.1f} h summed, an upper bound "
            f"({seven['training_seconds'] / 3600:.1f} h training, "
            f"{seven['evaluation_seconds'] / 3600:.1f} h evaluation)") in readme
