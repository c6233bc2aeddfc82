"""``python -m jlonevae_lib.cli.study_summary`` (or, by its older name, ``python -m
jlonevae_lib.sweep.study_summary``): write a study's ``summary.md`` and ``summary.json``
(:mod:`jlonevae_lib.reports.cpu_study`).

Two ways: from the study's runs (``--models-dir studies/cpu_study/trainedModels``, the study's
summary step), or from a written summary alone (``--from-summary
results/cpu_study/summary.json``): the statistics, t-tests and compute time are recomputed from
the per-run values summary.json stores, the rest is kept, and both files are written again. The
second needs no run folder.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from jlonevae_lib.cli.types import ArgumentParser, check_summary_source
from jlonevae_lib.reports.cpu_study import (
    build_summary,
    load_summary,
    refresh_summary,
    write_summary,
)
from jlonevae_lib.reports.records import (
    add_missing_seeds,
    collect_runs,
    machine_info,
    summary_values_checked,
)
from jlonevae_lib.utils.errors import JLoneVAEError, cli_errors

#: The name the command runs under, and is recorded under in the summary.
MODULE = "jlonevae_lib.cli.study_summary"


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog=f"python -m {MODULE}",
                            description="Summarise a β-VAE vs JL1-VAE study (summary.md, "
                                        "summary.json), from its runs or from a written "
                                        "summary.json.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--models-dir", type=Path, default=None,
                        help="the study's trainedModels/ folder (<experiment>/<run>/ below it)")
    source.add_argument("--from-summary", type=Path, default=None, metavar="SUMMARY_JSON",
                        help="re-render from this summary.json alone: the statistics and "
                             "t-tests are recomputed from its per-run values, no run folder "
                             "is read")
    parser.add_argument("--output-dir", type=Path, required=True,
                        help="where summary.md and summary.json go (figures found under it are "
                             "linked)")
    parser.add_argument("--run", action="append", default=None, type=Path, dest="runs",
                        metavar="RUN_DIR",
                        help="read only these run folders under --models-dir (repeatable; "
                             "default: every run there), e.g. a study's members")
    parser.add_argument("--seeds", type=int, nargs="+", default=[], metavar="SEED",
                        help="the seeds each arm should have: missing ones are reported as "
                             "not started")
    parser.add_argument("--command", default=None,
                        help="the study's command, recorded in the summary (default: this "
                             "command)")
    return parser


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    """Write the summary; prints its paths. Returns 0 whatever is missing (it is reported)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    if args.output_dir.exists() and not args.output_dir.is_dir():
        raise JLoneVAEError(f"output folder {args.output_dir} is a file")
    if args.runs is not None and args.models_dir is None:
        raise JLoneVAEError("--run picks run folders under --models-dir; a summary re-rendered "
                            "with --from-summary reads no run folder")
    if args.from_summary is not None:
        # The summary's own time stamp and command are kept: the same bytes each time.
        with summary_values_checked(args.from_summary):
            summary = refresh_summary(load_summary(args.from_summary))
        for path in write_summary(args.output_dir, summary):
            print(f"wrote {path}")
        return 0
    check_summary_source(args.models_dir, "--models-dir", args.output_dir)
    runs, notes = collect_runs(args.models_dir, args.runs)
    runs = add_missing_seeds(runs, args.seeds)
    if args.seeds and not runs:
        notes.append(f"expected seeds {' '.join(map(str, args.seeds))}, but no arm has a run")
    figures = sorted(str(p.relative_to(args.output_dir))
                     for p in args.output_dir.glob("**/*.png"))
    command = args.command or shlex.join(["python", "-m", MODULE, *argv])
    summary = build_summary(
        runs, notes, command=command, machine=machine_info(runs),
        models_dir=str(args.models_dir), figures=figures,
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    for path in write_summary(args.output_dir, summary):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
