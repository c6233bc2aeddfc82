"""``python -m jlonevae_lib.data.cache --num-images N``: build (or check) a three-dots training
cache (:mod:`jlonevae_lib.data.cache`)."""

from __future__ import annotations

from pathlib import Path

from jlonevae_lib.cli.types import ArgumentParser
from jlonevae_lib.data.cache import prepare_training_cache
from jlonevae_lib.data.three_dots import PAPER_CACHE_IMAGES, SMALL_CACHE_IMAGES
from jlonevae_lib.utils.errors import cli_errors


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Build, or validate if present, ``<data root>/threeDots/trainingCache<N>.npz``."""
    parser = ArgumentParser(
        prog="python -m jlonevae_lib.data.cache",
        description="Build, or validate if present, the three-dots training cache "
                    "<data root>/threeDots/trainingCache<N>.npz.")
    parser.add_argument("--num-images", type=int, default=PAPER_CACHE_IMAGES,
                        help=f"cache size (default {PAPER_CACHE_IMAGES}, the paper's; "
                             f"{SMALL_CACHE_IMAGES} for threeDotsCacheSmall)")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="data folder (default: $DISENTANGLEMENT_LIB_DATA, else ./data)")
    args = parser.parse_args(argv)
    if args.num_images < 1:
        parser.error("--num-images must be positive")
    path = prepare_training_cache(args.num_images, root=args.data_root)
    print(f"{path}: {args.num_images} images, valid")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
