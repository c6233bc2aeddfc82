"""``python -m jlonevae_lib.data.natural_images``: sample the natural-image patch files
(:mod:`jlonevae_lib.data.natural_images`; ``data/sampleNatualImagePatches.py`` runs it too)."""

from __future__ import annotations

import time
from pathlib import Path

from jlonevae_lib.cli.types import ArgumentParser, non_negative_int, positive_int
from jlonevae_lib.data.natural_images import (
    DEFAULT_PATCHES_PER_IMAGE,
    DEFAULT_SEED,
    patches_path,
    write_patch_files,
)
from jlonevae_lib.utils.errors import cli_errors


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Sample both patch files from IMAGES.mat (the reference's sampleNatualImagePatches.py),
    or from the offline fallback when there is no IMAGES.mat."""
    parser = ArgumentParser(
        prog="python -m jlonevae_lib.data.natural_images",
        description="Sample the seeded 16x16 natural-image patches from "
                    "<data root>/naturalImages/IMAGES.mat into "
                    "<data root>/naturalImages/{train,test}/data.npz (replacing them). Without "
                    "IMAGES.mat, they are cut from an offline fallback (two photographs shipped "
                    "with scikit-learn, grey and whitened alike), and labelled as such.")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="data folder (default: $DISENTANGLEMENT_LIB_DATA, else ./data)")
    parser.add_argument("--seed", type=non_negative_int, default=DEFAULT_SEED,
                        help=f"seed of the patch positions (default {DEFAULT_SEED})")
    parser.add_argument("--train-per-image", type=positive_int,
                        default=DEFAULT_PATCHES_PER_IMAGE["train"],
                        help="training patches per image (default %(default)s)")
    parser.add_argument("--test-per-image", type=positive_int,
                        default=DEFAULT_PATCHES_PER_IMAGE["test"],
                        help="test patches per image (default %(default)s)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    written, source = write_patch_files(
        args.data_root, args.seed, {"train": args.train_per_image, "test": args.test_per_image})
    for split, patches in written.items():
        print(f"{patches_path(split, args.data_root)}: {len(patches)} patches")
    print(f"source {source}, seed {args.seed}, {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
