"""``python -m jlonevae_lib.cli.natural_images_summary``: the natural-image study's summary,
figures and README (:func:`jlonevae_lib.reports.natural_images.
write_natural_images_summary`); the summary step of ``jlonevae-sweep run natural_images_cpu``.

Two ways: from the study's runs (``--run RUN_DIR`` per member: figures, linear baselines,
summary.json, summary.md, README.md), or from a written summary alone (``--from-summary
results/natural_images/summary.json``): what follows from its per-run values is recomputed, every
measurement is kept, and summary.json, summary.md and README.md are written again; no run
folder, patch or figure is read. ``--noise-reference OTHER/summary.json`` cites that summary's
collapsed runs in the README when this one has none (what the localisation measure gives noise;
results/natural_images_20k cites results/natural_images).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from jlonevae_lib.cli.types import ArgumentParser
from jlonevae_lib.reports.natural_images import (
    load_summary,
    refresh_summary,
    write_natural_images_summary,
    write_summary_files,
)
from jlonevae_lib.reports.natural_images_text import folder_name, noise_reference
from jlonevae_lib.reports.records import summary_values_checked
from jlonevae_lib.sweep.natural_images_study import PAPER_SETTINGS
from jlonevae_lib.utils.errors import JLoneVAEError, cli_errors


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="python -m jlonevae_lib.cli.natural_images_summary",
        description="Write results/natural_images/: figures, summary.json, summary.md and "
                    "README.md, from the study's runs and the natural-image patches, or the "
                    "three text files from a written summary.json.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", type=Path, action="append", default=[], dest="run_dirs",
                        metavar="RUN_DIR", help="a run folder of the study (repeat for each)")
    source.add_argument("--from-summary", type=Path, default=None, metavar="SUMMARY_JSON",
                        help="re-render summary.json, summary.md and README.md from this "
                             "summary.json alone (no run folder, patch or figure is read)")
    parser.add_argument("--results-dir", type=Path, required=True,
                        help="where the summary and figures go")
    parser.add_argument("--command", default="",
                        help="the study's command, recorded in the summary (with --run)")
    parser.add_argument("--noise-reference", type=Path, default=None, metavar="SUMMARY_JSON",
                        help="another natural-image summary.json whose collapsed runs the "
                             "README cites as what the localisation measure gives noise, when "
                             "this summary has no collapsed run")
    args = parser.parse_args(argv)
    if args.results_dir.exists() and not args.results_dir.is_dir():
        raise JLoneVAEError(f"results folder {args.results_dir} is a file")
    reference = None
    if args.noise_reference is not None:
        reference = noise_reference(load_summary(args.noise_reference),
                                    folder_name(args.noise_reference.parent))
    if args.from_summary is not None:
        with summary_values_checked(args.from_summary):
            summary = refresh_summary(load_summary(args.from_summary))
        for path in write_summary_files(args.results_dir, summary, reference):
            print(f"wrote {path}")
        return 0
    write_natural_images_summary([str(run) for run in args.run_dirs], str(args.results_dir),
                                 command=args.command, paper_settings=PAPER_SETTINGS,
                                 noise_reference=reference)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
