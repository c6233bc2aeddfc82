"""The generated text of every study report, each helper once: the files' names, the value
formats of the tables (:func:`format_value`, :func:`mean_sd_cell`, :func:`median_range_cell`,
p-values, confidence intervals), column titles, times in hours, the machine's lines, plain
lists in prose, and nan → null for JSON (:func:`finite`). Markdown tables are
:func:`jlonevae_lib.utils.tables.format_markdown_table`."""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jlonevae_lib.reports.records import (
    HELDOUT_BCE,
    RECON_BCE,
    SEED_MEAN_SUFFIX,
    TRAIN_MINUTES,
)
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.metric_table import (
    RUN_VALUE_KEYS,
    describe,
    parse_evaluation_seed_name,
    parse_metric_name,
)
from jlonevae_lib.utils.atomic import atomic_write_json, atomic_write_text

#: A recorded command that runs one of these scripts gets :func:`command_block`'s note.
REPRODUCE_SCRIPTS = "experimentScripts/reproduce/"


def command_block(command: str) -> list[str]:
    """A study's recorded command as a bash block. After a reproduce script's, the note that
    the scripts write over committed results only when asked (experimentScripts/reproduce/
    common.bash): a command recorded before they refused may name such a folder in
    ``OUTPUT_DIR`` (or ``--results-dir``) without ``REPLACE=1`` (or ``--replace``), and is then
    refused as it stands."""
    lines = ["```bash", command, "```", ""]
    if REPRODUCE_SCRIPTS not in command:
        return lines
    try:
        words = shlex.split(command)
    except ValueError:  # unbalanced quotes: a hand-written command, read word by word
        words = command.split()
    replacing = "REPLACE=1" in words or "--replace" in words
    names_folder = any(word.startswith(("OUTPUT_DIR=", "--results-dir")) for word in words)
    if names_folder and not replacing:
        lines += ["Run again as it stands, this command is refused where the folder it names "
                  "holds committed results: the reproduce scripts write over them only with "
                  "`REPLACE=1` in front. Without `OUTPUT_DIR` they write to a fresh "
                  "`<results folder>_<yyyymmdd-hhmmss>/`.", ""]
    else:
        lines += ["The reproduce scripts write over a folder of committed results only with "
                  "`REPLACE=1` in front; without `OUTPUT_DIR` they write to a fresh "
                  "`<results folder>_<yyyymmdd-hhmmss>/`.", ""]
    return lines


def write_report(output_dir: str | os.PathLike, summary: Mapping[str, Any],
                 texts: Mapping[str, str]) -> list[Path]:
    """Write ``summary.json`` and each of ``texts`` (file name → content, e.g.
    {``summary.md``: ..., ``README.md``: ...}) into ``output_dir``, each atomically; returns
    their paths, summary.json first. Every study's report writes its files through here;
    summary.json is strict JSON: a NaN or infinity is written as null (:func:`finite`)."""
    output_dir = Path(output_dir)
    paths = [output_dir / layout.SUMMARY_JSON]
    atomic_write_json(paths[0], finite(summary))
    for name, text in texts.items():
        paths.append(output_dir / name)
        atomic_write_text(paths[-1], text)
    return paths

NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
#: The machine's entries in the order :func:`~jlonevae_lib.reports.records.machine_info`
#: writes them (summary.json sorts keys).
MACHINE_ORDER = ("platform", "nproc", "cpu", "python", "torch", "trained with")


def finite(value: Any) -> Any:
    """nan/inf -> None, recursively (JSON has no nan)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def column_title(key: str) -> str:
    """``local_mig_0_1`` -> ``local MIG @0.1``; ``recon_bce`` -> ``recon BCE / image``."""
    if key == RECON_BCE:
        return "recon BCE / image"
    if key == HELDOUT_BCE:
        return "held-out BCE / image"
    if key == TRAIN_MINUTES:
        return "train min"
    if key.endswith(SEED_MEAN_SUFFIX):
        return f"{column_title(key[:-len(SEED_MEAN_SUFFIX)])} mean of eval seeds"
    repeat = parse_evaluation_seed_name(key)
    if repeat is not None:
        return f"{column_title(repeat[0])} eval seed {repeat[1]}"
    parsed = parse_metric_name(key)
    return describe(*parsed) if parsed is not None else key


def format_value(key: str, value: float | None) -> str:
    """A value for a table: scores with 4 decimals, BCE and minutes with 1, '–' when None."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.1f}" if key in RUN_VALUE_KEYS else f"{value:.4f}"


def mean_sd_cell(key: str, stat: Mapping[str, Any], n_runs: int | None = None) -> str:
    """``mean ± sd``, with ``(n=…)`` appended unless n equals ``n_runs``."""
    if not stat["n"]:
        return "–"
    text = format_value(key, stat["mean"])
    if stat["sd"] is not None:
        text += f" ± {format_value(key, stat['sd'])}"
    return text if stat["n"] == n_runs else f"{text} (n={stat['n']})"


def locality_cell(locality: float | str) -> str:
    return f"{locality:g}" if isinstance(locality, float) else str(locality)


def statistic_cell(value: float | None, spec: str) -> str:
    return "nan" if value is None else format(value, spec)


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h ({seconds / 60:.0f} min)"


def median_range_cell(stat: Mapping[str, Any]) -> str:
    """``median [min–max]`` of :func:`jlonevae_lib.evaluate.statistics.median_range`."""
    if not stat["n"]:
        return "–"
    return f"{stat['median']:.1f} [{stat['min']:.1f}–{stat['max']:.1f}]"


def span(values: Sequence[float]) -> str:
    """``1.0–2.5`` (or ``1.0`` when both ends round alike)."""
    low, high = min(values), max(values)
    return f"{low:.1f}" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}–{high:.1f}"


def and_list(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def p_cell(value: Any) -> str:
    return "–" if value is None else f"{value:.2g}"


def p_text(value: float | None, alpha: float) -> str:
    """A p-value compared with ``alpha``: two significant digits, more where two would round
    it onto or across ``alpha`` (0.0496 stays 0.0496, not 0.05, beside α = 0.05), so the
    printed value is on the side of ``alpha`` the verdict is; ``–`` for None."""
    if value is None:
        return "–"
    for digits in range(2, 17):
        text = f"{value:.{digits}g}"
        shown = float(text)
        if (shown <= alpha) == (value <= alpha) and (shown != alpha or value == alpha):
            return text
    return f"{value:.17g}"  # exact: a float round-trips in 17 digits


def ci_text(row: Mapping[str, Any], digits: int = 4) -> str:
    """A t-test row's confidence interval, ``+0.0100 to +0.0300``."""
    if row.get("ci_low") is None or row.get("ci_high") is None:
        return "no interval"
    return f"{row['ci_low']:+.{digits}f} to {row['ci_high']:+.{digits}f}"


def machine_lines(machine: Mapping[str, Any]) -> list[str]:
    """``- name: value`` per entry, in :data:`MACHINE_ORDER` (then the others by name)."""
    names = [n for n in MACHINE_ORDER if n in machine] + sorted(set(machine) - set(
        MACHINE_ORDER))
    return [f"- {name}: {machine[name]}" for name in names]
