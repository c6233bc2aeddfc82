"""``python -m jlonevae_lib.cli.penalty_study_summary``: the report of the pre-registered study
``cpu_penalty_study`` (summary.json, summary.md, README.md and figures/ in ``--output-dir``,
by default results/cpu_penalty_study); the summary step of ``jlonevae-sweep run
cpu_penalty_study``.

Three ways to find the runs: ``--run RUN_DIR`` once per member (what the study's summary step
passes; a folder that does not exist is a run not started), ``--study-dir`` (every run folder
under the study's output folder), or ``--from-summary summary.json``: no run folder, the
statistics recomputed from the per-run values it stores and the three files written again,
byte for byte what the run folders gave (no time stamp in them; the figures are kept as they
are). A run's arm is read from its config.json, never from its folder's name.

While an arm lacks any of its 10 seeds (finished and evaluated), the files say the study is
incomplete and report no primary test; no outcome is stored, summarised or drawn (summary.json
keeps each run's status and training time only) and no reconstruction is measured. A run that
failed again after ``jlonevae-sweep run cpu_penalty_study --retry-failed`` never gets there:
``--close-with-failures``, once every run has ended, reports the tests on the runs that have
the primary outcome and names the others (docs/studies.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from jlonevae_lib.cli.types import ArgumentParser, check_summary_source
from jlonevae_lib.reports.penalty_study import (
    closing_blockers,
    collect_study_runs,
    is_complete,
    load_summary,
    study_data,
    study_run_dirs,
)
from jlonevae_lib.reports.penalty_study_stats import summarise
from jlonevae_lib.reports.penalty_study_text import write_penalty_summary
from jlonevae_lib.reports.records import FINISHED, machine_info, summary_values_checked
from jlonevae_lib.reports.seven_arms_records import measure_reconstructions
from jlonevae_lib.sweep.penalty_study import RESULTS_DIR
from jlonevae_lib.utils.errors import JLoneVAEError, cli_errors

MODULE = "jlonevae_lib.cli.penalty_study_summary"
#: summary.json's machine entry naming the code that wrote the report.
CODE_ENTRY = "summary written by"


def code_commit() -> str:
    """The git commit of the checkout this package is imported from, and whether the package's
    files differ from it (changed or new, ignored ones aside); "unknown" where git gives none
    (not a git checkout, no git). The report's statistics are this code's, so the report names
    it."""
    package = Path(__file__).resolve().parents[1]
    # The checkout around the package, whatever repository the caller's environment names.
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(package), *args], capture_output=True,
                              text=True, check=True, timeout=30, env=env).stdout.strip()

    try:
        git("ls-files", "--error-unmatch", "__init__.py")  # the package is this checkout's
        commit = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--", ".")
    except (OSError, subprocess.SubprocessError):
        return "unknown (git gave no commit)"
    return f"jlonevae {commit}" + (" with uncommitted changes to the package" if changed else "")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog=f"python -m {MODULE}",
                            description="The report of the pre-registered study "
                                        "cpu_penalty_study: summary.json, summary.md, README.md "
                                        "and figures, from its runs or from a written "
                                        "summary.json.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", type=Path, action="append", default=[], dest="runs",
                        metavar="RUN_DIR", help="a run folder of the study (repeat for each; "
                                                "one that does not exist is not started)")
    source.add_argument("--study-dir", type=Path, default=None,
                        help="the study's output folder (studies/cpu_penalty_study): every run "
                             "folder under its trainedModels/ and trainedStandardModels/")
    source.add_argument("--from-summary", type=Path, default=None, metavar="SUMMARY_JSON",
                        help="re-render from this summary.json alone (statistics recomputed "
                             "from its per-run values; figures kept)")
    parser.add_argument("--output-dir", type=Path, default=Path(RESULTS_DIR),
                        help=f"where the files go (default: {RESULTS_DIR})")
    parser.add_argument("--command", default=None,
                        help="the study's command, recorded in the report (default: this "
                             "command)")
    parser.add_argument("--skip-reconstruction", action="store_true",
                        help="do not measure each run's held-out reconstruction BCE (then "
                             "collapsed runs cannot be flagged; the report says so)")
    parser.add_argument("--no-figures", action="store_true", help="draw no figure")
    parser.add_argument("--close-with-failures", action="store_true",
                        help="report a study whose runs have all ended although some failed "
                             "(again, after --retry-failed) or lack the primary outcome: the "
                             "tests on the others, the missing ones named as deviations")
    return parser


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    """Write the report; prints the paths written. Returns 0 whatever is missing (the report
    says it)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    if args.output_dir.exists() and not args.output_dir.is_dir():
        raise JLoneVAEError(f"output folder {args.output_dir} is a file")
    if args.from_summary is not None and args.close_with_failures:
        raise JLoneVAEError("--close-with-failures reads the runs: give --study-dir or --run "
                            "(a summary.json records whether its study was closed)")
    if args.from_summary is not None:
        with summary_values_checked(args.from_summary):
            summary = summarise(load_summary(args.from_summary))
        for path in write_penalty_summary(args.output_dir, summary):
            print(f"wrote {path}")
        return 0
    if args.study_dir is not None:
        check_summary_source(args.study_dir, "--study-dir", args.output_dir)
    run_dirs = args.runs if args.study_dir is None else study_run_dirs(args.study_dir)
    records, notes, folders = collect_study_runs(run_dirs)
    reference_bce: dict = {}
    reported = is_complete(records) or (args.close_with_failures
                                        and not closing_blockers(records, folders))
    if not args.skip_reconstruction and reported:  # none measured before
        read = [r for r in records if (r.arm, r.seed) in folders and r.status == FINISHED]
        members = [(r.arm, folders[(r.arm, r.seed)]) for r in read]
        measured, reference_bce, bce_notes = measure_reconstructions(members, read)
        by_member = {(r.arm, r.seed): r for r in measured}
        records = [by_member.get((r.arm, r.seed), r) for r in records]
        notes += bce_notes
    elif args.skip_reconstruction and any(r.status == FINISHED for r in records):
        notes.append("held-out reconstruction BCE not measured (--skip-reconstruction)")
    command = args.command or shlex.join(["python", "-m", MODULE, *argv])
    machine = {**machine_info(records), CODE_ENTRY: code_commit()}
    data = study_data(records, notes, command=command, machine=machine,
                      run_dirs=folders, reference_bce=reference_bce,
                      close_with_failures=args.close_with_failures)
    # Analysed exactly as summary.json will be read back, so --from-summary gives these bytes.
    data = json.loads(json.dumps(data, sort_keys=True))
    summary = summarise(data)
    if not args.no_figures and summary["reported"]:
        from jlonevae_lib.reports.penalty_study_figures import draw_figures  # matplotlib

        figures, figure_notes = draw_figures(summary, args.output_dir, folders)
        data["figures"], data["notes"] = figures, [*data["notes"], *figure_notes]
        summary = summarise(data)
    for path in write_penalty_summary(args.output_dir, summary):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
