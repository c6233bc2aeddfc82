"""``python -m jlonevae_lib.sweep.seven_arms_summary``: write the seven-arm study's summary.md,
summary.json and README.md (:mod:`jlonevae_lib.sweep.seven_arms_summary`)."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from jlonevae_lib.cli.types import ArgumentParser
from jlonevae_lib.sweep.seven_arms_summary import (
    build_seven_arm_summary,
    collect_member_runs,
    measure_reconstructions,
    write_seven_arm_summary,
)
from jlonevae_lib.sweep.study_summary import machine_info
from jlonevae_lib.utils.errors import JLoneVAEError, cli_errors

#: The name the command runs under, and is recorded under in the summary.
MODULE = "jlonevae_lib.sweep.seven_arms_summary"


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
                                        "summary.json, README.md).")
    parser.add_argument("--run", type=_member, action="append", default=[], dest="members",
                        metavar="ARM=RUN_DIR", required=True,
                        help="one member of the study: its arm and run folder (repeat for "
                             "each; a folder that does not exist is a run not started)")
    parser.add_argument("--output-dir", type=Path, required=True,
                        help="where the files go (figures found under it are linked)")
    parser.add_argument("--evaluation-seeds", type=int, nargs="+", default=None,
                        metavar="SEED", help="the evaluation seeds the study asked for (only "
                                             "recorded; the values come from the results)")
    parser.add_argument("--command", default=None,
                        help="the study's command, recorded in the summary (default: this "
                             "command)")
    return parser


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    """Write the files; prints their paths. Returns 0 whatever is missing (it is reported)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    if args.output_dir.exists() and not args.output_dir.is_dir():
        raise JLoneVAEError(f"output folder {args.output_dir} is a file")
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
        machine=machine_info(runs), figures=figures,
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        reference_bce=reference_bce)
    for path in write_seven_arm_summary(args.output_dir, summary):
        print(f"wrote {path}")
    return 0
