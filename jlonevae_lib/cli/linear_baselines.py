"""``python -m jlonevae_lib.evaluate.linear_baselines``: fit and save the PCA / FastICA
baselines on natural-image patches (:mod:`jlonevae_lib.evaluate.linear_baselines`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jlonevae_lib.cli.types import ArgumentParser, non_negative_int, positive_int
from jlonevae_lib.data.natural_images import load_patches
from jlonevae_lib.evaluate.linear_baselines import (
    DEFAULT_COMPONENTS,
    DEFAULT_NUM_PATCHES,
    DEFAULT_OUTPUT_DIR,
    DEFAULT_SEED,
    ICA_WHITEN,
    MODELS,
    draw_patches,
    fit_linear_baselines,
    save_linear_baselines,
)
from jlonevae_lib.utils.errors import cli_errors


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    """Fit the baselines on seeded training patches, save them and print their scores."""
    parser = ArgumentParser(
        prog="python -m jlonevae_lib.evaluate.linear_baselines",
        description="Fit PCA and FastICA to natural-image training patches and save their "
                    "components and reconstruction MSE/BCE (the reference's linear comparison).")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="data folder (default: $DISENTANGLEMENT_LIB_DATA, else ./data)")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR,
                        help="where the results go (default: %(default)s)")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--components", nargs="+", type=positive_int,
                        default=list(DEFAULT_COMPONENTS), help="numbers of components")
    parser.add_argument("--num-patches", type=positive_int, default=DEFAULT_NUM_PATCHES,
                        help="training patches to fit on (default %(default)s)")
    parser.add_argument("--seed", type=non_negative_int, default=DEFAULT_SEED,
                        help="seed of the patch draw and of the models (default %(default)s)")
    args = parser.parse_args(argv)
    data = draw_patches(load_patches("train", args.data_root), args.num_patches,
                        np.random.default_rng(args.seed))
    baselines = fit_linear_baselines(data, args.models, args.components, args.seed)
    settings = {"num_patches": args.num_patches, "seed": args.seed,
                "ica_whiten": ICA_WHITEN}
    summary = save_linear_baselines(args.output_dir, baselines, settings)
    for b in baselines:
        note = "" if b.converged else "  (FastICA did not converge)"
        print(f"{b.model} {b.num_components:3d} components: MSE {b.mse:.4f}  BCE {b.bce:.4f}{note}")
    print(f"results: {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
