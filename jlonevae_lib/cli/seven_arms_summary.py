"""``python -m jlonevae_lib.cli.seven_arms_summary`` (or, by its older name, ``python -m
jlonevae_lib.sweep.seven_arms_summary``): write the seven-arm study's summary.md, summary.json and
README.md (:mod:`jlonevae_lib.reports.seven_arms`, which names the report's other modules).

Two ways: from the study's runs (``--run ARM=RUN_DIR`` per member, the study's summary step),
or from a written summary alone (``--from-summary results/cpu_seven_arms/summary.json``): every
comparison is recomputed from the per-run values summary.json stores, the rest is kept, and the
three files are written again. The second needs no run folder.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from jlonevae_lib.cli.types import ArgumentParser
from jlonevae_lib.reports.records import machine_info, summary_values_checked
from jlonevae_lib.reports.seven_arms import build_seven_arm_summary, refresh_summary
from jlonevae_lib.reports.seven_arms_records import (
    collect_member_runs,
    load_summary,
    measure_reconstructions,
)
from jlonevae_lib.reports.seven_arms_text import write_seven_arm_summary
from jlonevae_lib.sweep.seven_arms import ARMS
from jlonevae_lib.utils.errors import JLoneVAEError, cli_errors

#: The name the command runs under, and is recorded under in the summary.
MODULE = "jlonevae_lib.cli.seven_arms_summary"


def _member(text: str) -> tuple[str, Path]:
    arm, sep, folder = text.partition("=")
    if not sep or not arm.strip() or not folder.strip():
        raise argparse.ArgumentTypeError(f"expected ARM=RUN_DIR (e.g. factor_vae=studies/"
                                         f"cpu_seven_arms/trainedStandardModels/.../seed1), "
                                         f"got {text!r}")
    return arm.strip(), Path(folder.strip())


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog=f"python -m {MODULE}",
                            description="Summarise the seven-arm study (summary.md, "
                                        "summary.json, README.md), from its runs or from a "
                                        "written summary.json.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", type=_member, action="append", default=[], dest="members",
                        metavar="ARM=RUN_DIR",
                        help="one member of the study: its arm and run folder (repeat for "
                             "each; a folder that does not exist is a run not started)")
    source.add_argument("--from-summary", type=Path, default=None, metavar="SUMMARY_JSON",
                        help="re-render from this summary.json alone: the comparisons are "
                             "recomputed from its per-run values, no run folder is read")
    parser.add_argument("--output-dir", type=Path, required=True,
                        help="where the files go (figures found under it are linked)")
    parser.add_argument("--evaluation-seeds", type=int, nargs="+", default=None,
                        metavar="SEED", help="the evaluation seeds the study asked for (only "
                                             "recorded; the values come from the results)")
    parser.add_argument("--command", default=None,
                        help="the study's command, recorded in the summary (default: this "
                             "command)")
    return parser


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    """Write the files; prints their paths. Returns 0 whatever is missing (it is reported)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    if args.output_dir.exists() and not args.output_dir.is_dir():
        raise JLoneVAEError(f"output folder {args.output_dir} is a file")
    if args.from_summary is not None:
        with summary_values_checked(args.from_summary):
            summary = refresh_summary(load_summary(args.from_summary))
        # No time stamp: re-rendering the same summary.json gives the same bytes.
        summary["rendered"] = {"command": shlex.join(
            ["python", "-m", MODULE, *argv])}
        for path in write_seven_arm_summary(args.output_dir, summary):
            print(f"wrote {path}")
        return 0
    unknown = sorted({arm for arm, _ in args.members} - set(ARMS))
    if unknown:
        raise JLoneVAEError(f"--run names unknown arm(s) {', '.join(unknown)}; the study's arms: "
                            f"{', '.join(ARMS)}")
    runs, notes, evaluation_seeds = collect_member_runs(args.members)
    runs, reference_bce, reconstruction_notes = measure_reconstructions(args.members, runs)
    notes += reconstruction_notes
    if args.evaluation_seeds:
        for key, seeds in evaluation_seeds.items():
            missing = sorted(set(args.evaluation_seeds) - set(seeds))
            if missing:
                notes.append(f"{key}: no results at evaluation seed(s) "
                             f"{', '.join(map(str, missing))} yet")
    figures = sorted(str(p.relative_to(args.output_dir))
                     for p in args.output_dir.glob("**/*.png"))
    command = args.command or shlex.join(["python", "-m", MODULE, *argv])
    summary = build_seven_arm_summary(
        runs, notes, evaluation_seeds=evaluation_seeds, command=command,
        machine=machine_info(runs), figures=figures, generated_at=_now(),
        reference_bce=reference_bce)
    for path in write_seven_arm_summary(args.output_dir, summary):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
