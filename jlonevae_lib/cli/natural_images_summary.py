"""``python -m jlonevae_lib.cli.natural_images_summary``: the natural-image study's summary,
figures and README (:func:`jlonevae_lib.reports.natural_images.
write_natural_images_summary`); the summary step of ``jlonevae-sweep run natural_images_cpu``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from jlonevae_lib.cli.types import ArgumentParser
from jlonevae_lib.reports.natural_images import write_natural_images_summary
from jlonevae_lib.sweep.natural_images_study import PAPER_SETTINGS
from jlonevae_lib.utils.errors import cli_errors


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="python -m jlonevae_lib.cli.natural_images_summary",
        description="Write results/natural_images/: figures, summary.json, summary.md and "
                    "README.md, from the study's runs and the natural-image patches.")
    parser.add_argument("--run", type=Path, action="append", required=True, dest="run_dirs",
                        metavar="RUN_DIR", help="a run folder of the study (repeat for each)")
    parser.add_argument("--results-dir", type=Path, required=True,
                        help="where the summary and figures go")
    parser.add_argument("--command", default="",
                        help="the study's command, recorded in the summary")
    args = parser.parse_args(argv)
    write_natural_images_summary([str(run) for run in args.run_dirs], str(args.results_dir),
                                 command=args.command, paper_settings=PAPER_SETTINGS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
