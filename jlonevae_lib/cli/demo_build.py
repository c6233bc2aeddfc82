"""``python -m jlonevae_lib.demo_models.build RUN_DIR ...``: rebuild the demo checkpoints from
finished runs (:mod:`jlonevae_lib.demo_models.build`, whose docstring is the help text)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from jlonevae_lib.cli.types import ArgumentParser
from jlonevae_lib.demo_models import DEMO_MODELS_DIR, build
from jlonevae_lib.utils.errors import cli_errors


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m jlonevae_lib.demo_models.build",
                            description=build.__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    parser.add_argument("--output-dir", type=Path, default=DEMO_MODELS_DIR,
                        help="the demo trainedModels folder (default: the package's)")
    return parser


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for run_dir in args.runs:
        target = build.build_demo_run(run_dir, args.output_dir)
        print(f"{target}: {build.folder_bytes(target):,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
