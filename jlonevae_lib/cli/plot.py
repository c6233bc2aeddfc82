"""``jlonevae-plot``: the paper's figures from trained and evaluated run folders.

Subcommands (each writes PNG + PDF; result commands also a t-test table as CSV + Markdown)::

    jlonevae-plot jacobian-columns [RUN_OR_MODEL_DIR ...] --output FIG.png [--image FILE]
                                   [--scale max|reference|S] [--order each|first]
    jlonevae-plot traversals [RUN_OR_MODEL_DIR ...] --output FIG.png [--image FILE]
                             [--steps 7] [--range 3] [--sigma posterior|prior]
    jlonevae-plot compare-baselines [--models-dir trainedModels] [--baselines-dir DIR]
                                    [--output-dir figures] [--gamma 0.1] [--locality 0.1]
    jlonevae-plot vs-locality       [--models-dir ...] [--comparison beta-vs-jl1|l1-vs-l2|all|
                                                                     all-arms]
    jlonevae-plot scatter           [--models-dir ...] [--locality 0.1|global]
    jlonevae-plot all-metrics       [--models-dir ...] [--locality 0.1|global]

RUN_OR_MODEL_DIR is a run folder (its final ``representation/cache_batch_no<N>/`` is used)
or a saved-model folder; without one (or, besides the given ones, with ``--with-demo``) the
model figures show the package's CPU-scale demo checkpoints (:mod:`jlonevae_lib.demo_models`).
Without ``--image`` the input follows the model's input shape, as in the paper's figures:

- 1×64×64: the three-dots example image (docs/method.md, Figures);
- 1×16×16: the ten neighbouring natural-image crops (image 0, x = 40..49, y = 100, x the row
  index) of ``<data root>/naturalImages/IMAGES.mat``, columns ordered once by the first crop
  (``--order first`` unless ``--order`` is given; traversals use the first crop);
- 3×64×64: the MPI3D-multi example image (four arms, fixed poses) from ``<data root>/mpi3d_real``.

The data root is ``$DISENTANGLEMENT_LIB_DATA``, else ``./data``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np

from jlonevae_lib.cli.types import ArgumentParser, non_negative_float, positive_int
from jlonevae_lib.data.ground_truth import available_datasets, canonical_dataset_name
from jlonevae_lib.runs.layout import (
    FIGURES_DIR,
    STANDARD_MODELS_DIR,
    TRAINED_MODELS_DIR,
    run_of_saved_model,
)
from jlonevae_lib.runs.results import JL1, JL2, Results, discover_results, our_run_info
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError, cli_errors
from jlonevae_lib.visualize import comparisons
from jlonevae_lib.visualize.conventions import REFERENCE_SCALE, SIGMA_SOURCES
from jlonevae_lib.visualize.figure_io import save_figure

# The model-based commands import torch (and the modules that need it) when they run: the
# result plots never touch a model, and torch's import alone takes seconds.

DEFAULT_MODELS_DIR = TRAINED_MODELS_DIR
DEFAULT_BASELINES_DIR = STANDARD_MODELS_DIR
DEFAULT_OUTPUT_DIR = FIGURES_DIR
DEFAULT_PREFIX = "threeDots"


def _scale(text: str) -> float | None:
    if text.lower() == "max":
        return None
    if text.lower() == "reference":
        return REFERENCE_SCALE
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'max', 'reference' or a number, got "
                                         f"{text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"the scale must be > 0, got {text}")
    return value


def _png_path(text: str) -> Path:
    # Checked while parsing, so a typo fails before any model is loaded.
    if not text.lower().endswith(".png"):
        raise argparse.ArgumentTypeError(f"the figure path must end in .png (a .pdf is written "
                                         f"beside it), got {text!r}")
    return Path(text)


def _locality(text: str) -> float | None:
    if text.lower() == "global":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1] or 'global', got "
                                         f"{text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"the locality must be in (0, 1], got {text}")
    return value


def _add_model_list_args(p: argparse.ArgumentParser, parts: str, where: str) -> None:
    """The models a model figure shows: given folders, the demo checkpoints, labels."""
    p.add_argument("models", nargs="*", type=Path, metavar="RUN_OR_MODEL_DIR",
                   help="runs or saved-model folders (default: the package's CPU-scale demo "
                        "checkpoints, a β-VAE and a JL1-VAE)")
    p.add_argument("--with-demo", action="store_true",
                   help=f"draw the demo checkpoints' {parts} (β-VAE, JL1-VAE) {where} the "
                        "given models', for comparison")
    p.add_argument("--label", action="append", default=None, dest="labels", metavar="TEXT",
                   help=f"the label of each given model's {parts[:-1]}, in order (repeat once "
                        "per model; default: the run's method and folder)")


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", required=True, type=_png_path,
                   help="figure path ending in .png (a .pdf is written beside it)")
    p.add_argument("--image", type=Path, default=None,
                   help="input image(s): .npy (H,W[,C]), (C,H,W) or a stack (N,...), or .png; "
                        "default by the model's input: the three-dots example (1×64×64), the "
                        "paper's 10 natural-image crops (1×16×16), the MPI3D-multi example "
                        "(3×64×64)")
    p.add_argument("--device", default="cpu", help="cpu (default), auto, cuda, cuda:N")


def _add_results_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models-dir", type=Path, default=Path(DEFAULT_MODELS_DIR),
                   help=f"our runs: <dir>/<experiment>/<run>/metrics/ "
                        f"(default: {DEFAULT_MODELS_DIR})")
    p.add_argument("--baselines-dir", type=Path, default=None,
                   help="disentanglement_lib baselines: <dir>/<model number>/metrics/ (default: "
                        f"{DEFAULT_BASELINES_DIR} when it exists)")
    p.add_argument("--output-dir", type=Path, default=Path(DEFAULT_OUTPUT_DIR),
                   help=f"where figures and tables go (default: {DEFAULT_OUTPUT_DIR})")
    p.add_argument("--prefix", default=DEFAULT_PREFIX,
                   help=f"file name prefix (default: {DEFAULT_PREFIX})")
    p.add_argument("--dataset", default=None,
                   help="keep only results evaluated on this dataset (e.g. threeDots)")
    p.add_argument("--include", action="append", default=[], metavar="GLOB",
                   help="keep only the runs under the models folder whose experiment name "
                        "matches, or for baselines trained here their arm "
                        "('baseline:factor_vae*', 'baseline:factor_vae:gamma=30'; repeatable)")
    p.add_argument("--run", action="append", default=None, type=Path, dest="runs",
                   metavar="RUN_DIR",
                   help="read only these run folders under the two folders (repeatable; "
                        "default: every run there), e.g. a study's members")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="jlonevae-plot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("jacobian-columns", help="decoder Jacobian columns at an image's mean "
                       "latent (one row per model and image)")
    _add_model_list_args(p, "rows", "above")
    _add_model_args(p)
    # 'max' by default: early or CPU-scale models have small Jacobians that look flat gray at
    # the reference's fixed contrast; the paper's drivers ask for 'reference' explicitly.
    p.add_argument("--scale", type=_scale, default=None,
                   help="gray = 0.5 + scale·J. 'max' (default): scale = 0.5/max|J| per row, "
                        "every row uses the full gray range; 'reference': 20/255, the paper's "
                        "fixed contrast (the reference's J·20 on 0..255), comparable across "
                        "models; or a number")
    p.add_argument("--order", choices=["each", "first"], default=None,
                   help="order columns by each image's activity, or once by the first image's "
                        "(the natural-image figure); default: 'first' for the natural-image "
                        "crops shown to a 16×16 model without --image, else 'each'")
    p.add_argument("--max-columns", type=positive_int, default=None,
                   help="show only the N most active columns")

    p = sub.add_parser("traversals", help="latent traversals μ ± k·σ, one row per latent "
                       "(one grid per model, side by side)")
    _add_model_list_args(p, "grids", "left of")
    _add_model_args(p)
    p.add_argument("--steps", type=positive_int, default=7, help="images per row (default 7)")
    p.add_argument("--range", type=non_negative_float, default=3.0, dest="max_sigmas",
                   help="traverse ±RANGE·σ (default 3)")
    p.add_argument("--sigma", choices=SIGMA_SOURCES, default="posterior",
                   help="σ = the image's posterior s.d. (default) or the prior's (1)")

    p = sub.add_parser("compare-baselines", help="violins of local MIG / modularity per "
                       "method at one locality, with Welch t-tests")
    _add_results_args(p)
    p.add_argument("--gamma", type=non_negative_float, default=0.1,
                   help="JL1-VAE's γ (default 0.1)")
    p.add_argument("--locality", type=_locality, default=0.1, help="default 0.1")
    p.add_argument("--without-gamma0", action="store_true",
                   help="leave out our β-VAE (γ=0) runs (the paper shows baselines only)")

    p = sub.add_parser("vs-locality", help="local MIG / modularity against locality: β-VAE vs "
                       "JL1-VAE and L1 vs L2, with t-tests per locality")
    _add_results_args(p)
    p.add_argument("--comparison", choices=[*comparisons.VS_LOCALITY_COMPARISONS, "all",
                                            comparisons.ALL_ARMS],
                   default="all", help="all: both pairs; all-arms: JL1-VAE, β-VAE (γ=0) and "
                                       "every baseline in one figure per score")
    p.add_argument("--gamma", type=non_negative_float, default=0.1,
                   help="JL1-VAE's γ (default 0.1)")
    p.add_argument("--l2-gamma", type=non_negative_float, default=None,
                   help="JL2-VAE's γ for l1-vs-l2 (default: --gamma)")

    p = sub.add_parser("scatter", help="MIG against modularity per run, coloured by γ")
    _add_results_args(p)
    p.add_argument("--locality", type=_locality, default=0.1,
                   help="local metrics at this locality (default 0.1), or 'global'")
    p.add_argument("--regularization", choices=[JL1, JL2], default=JL1)

    p = sub.add_parser("all-metrics", help="every score the runs have (the paper's, "
                       "disentanglement_lib's suite, local versions, plug-ins'), one panel per "
                       "score")
    _add_results_args(p)
    p.add_argument("--locality", type=_locality, default=0.1,
                   help="local scores at this locality (default 0.1), or 'global': none")
    return parser


def _row_label(path: Path) -> str:
    run_dir = run_of_saved_model(path)
    run = our_run_info(run_dir) if run_dir is not None else None
    return run.title if run is not None else path.name


@dataclass(frozen=True)
class _Inputs:
    """What a model is shown: images (N, C, H, W), a caption (N,) for each figure row ("" for
    none) and the column order that suits them (``each`` or ``first``)."""

    images: np.ndarray
    captions: tuple[str, ...]
    order: str


def _default_inputs(im_channels: int, im_side_len: int) -> _Inputs:
    """The paper's example input for a model of this input shape (see the module docstring)."""
    from jlonevae_lib.data import natural_images as ni
    from jlonevae_lib.data.ground_truth import get_named_ground_truth_data
    from jlonevae_lib.visualize.inputs import example_mpi3d_multi_image, example_three_dots_image

    shape = f"{im_channels}×{im_side_len}×{im_side_len}"
    try:
        if (im_channels, im_side_len) == (1, 64):
            return _Inputs(example_three_dots_image(), ("",), "each")
        if (im_channels, im_side_len) == (1, ni.PATCH_SIDE):
            crops = ni.figure_crops()
            captions = tuple(f"crop x={x}, y={crops.y}" for x in crops.xs)
            # Ordered once, by the first crop, so that a column keeps its place down the rows.
            return _Inputs(crops.images, captions, "first")
        if (im_channels, im_side_len) == (3, 64):
            dataset = get_named_ground_truth_data("mpi3dMulti")
            return _Inputs(example_mpi3d_multi_image(dataset), ("",), "each")
    except DataFileError as err:
        raise DataFileError(f"the default input of a {shape} model needs data: {err}; or pass "
                            "--image FILE") from None
    raise JLoneVAEError(f"no default input image for a {shape} model (the paper's are 1×64×64 "
                        "three-dots, 1×16×16 natural-image crops and 3×64×64 MPI3D-multi); "
                        "pass --image")


def _inputs_for(args: argparse.Namespace, im_channels: int, im_side_len: int) -> _Inputs:
    """``--image``, else the default input of the model's shape."""
    from jlonevae_lib.visualize.inputs import load_images

    if args.image is None:
        return _default_inputs(im_channels, im_side_len)
    images = load_images(args.image, im_channels, im_side_len)
    captions = ("",) if len(images) == 1 else tuple(f"image {i}" for i in range(len(images)))
    return _Inputs(images, captions, "each")


def _demo_models(why: str) -> list[Path]:
    from jlonevae_lib.demo_models import DEMO_LABEL, DEMO_MODELS_DIR, demo_run_dirs

    runs = demo_run_dirs()
    if not runs:
        raise JLoneVAEError(f"{why} but there are no demo checkpoints in {DEMO_MODELS_DIR} "
                            "(an incomplete install?); pass run or saved-model folders")
    print(f"{why}: the checkpoints shipped with the package ({DEMO_LABEL})")
    return runs


def _jacobian_columns(args: argparse.Namespace) -> list[Path]:
    from jlonevae_lib.utils.device import pick_device
    from jlonevae_lib.visualize.inputs import load_model_from
    from jlonevae_lib.visualize.jacobian_columns import (
        compute_jacobian_columns,
        plot_jacobian_columns,
    )

    device = pick_device(args.device)
    inputs_by_shape: dict[tuple[int, int], _Inputs] = {}  # read each data file once
    rows = []
    for path, label in _models_and_labels(args):
        model = load_model_from(path, device)
        inputs = _inputs_of_model(args, model.model_args, inputs_by_shape)
        results = compute_jacobian_columns(model, inputs.images, args.order or inputs.order)
        for caption, result in zip(inputs.captions, results, strict=True):
            rows.append((f"{label}\n{caption}" if caption else label, result))
    fig = plot_jacobian_columns(rows, scale=args.scale, max_columns=args.max_columns)
    return save_figure(fig, args.output)


def _traversals(args: argparse.Namespace) -> list[Path]:
    from jlonevae_lib.utils.device import pick_device
    from jlonevae_lib.visualize.inputs import load_model_from
    from jlonevae_lib.visualize.traversals import compute_traversal, plot_traversals

    device = pick_device(args.device)
    inputs_by_shape: dict[tuple[int, int], _Inputs] = {}
    panels = []
    for path, label in _models_and_labels(args):
        model = load_model_from(path, device)
        images = _inputs_of_model(args, model.model_args, inputs_by_shape).images
        # Without --image, the first of the default inputs (of the natural-image crops, say).
        if args.image is not None and len(images) != 1:
            raise JLoneVAEError(f"{args.image} holds {len(images)} images; traversals take "
                                "one")
        traversal = compute_traversal(model, images[0], num_steps=args.steps,
                                      max_sigmas=args.max_sigmas, sigma_source=args.sigma)
        panels.append((f"{label} ({args.sigma} σ)".replace("\n", " "), traversal))
    return save_figure(plot_traversals(panels), args.output)


def _models_and_labels(args: argparse.Namespace) -> list[tuple[Path, str]]:
    """The models a model figure shows, each with its label: the demo checkpoints (without a
    model, or with ``--with-demo``) first, then the given folders."""
    demos = []
    if not args.models:
        demos = _demo_models("no model given")
    elif args.with_demo:
        demos = _demo_models("--with-demo")
    # The demo's labels say so: make demo trains a run of the same title beside them.
    labels = [f"{_row_label(path)} (demo)" for path in demos]
    labels += [_row_label(path) for path in args.models]
    if args.labels is not None:
        if len(args.labels) != len(args.models):
            raise JLoneVAEError(f"{len(args.labels)} --label for {len(args.models)} models: "
                                "give one --label per model, in the models' order")
        labels[len(labels) - len(args.labels):] = args.labels
    return list(zip([*demos, *args.models], labels, strict=True))


def _inputs_of_model(args: argparse.Namespace, model_args: dict,
                     inputs_by_shape: dict[tuple[int, int], _Inputs]) -> _Inputs:
    """The inputs of a model's shape, read once per shape into ``inputs_by_shape``."""
    shape = (model_args["im_channels"], model_args["im_side_len"])
    if shape not in inputs_by_shape:
        inputs_by_shape[shape] = _inputs_for(args, *shape)
    return inputs_by_shape[shape]


def _discover(args: argparse.Namespace) -> Results:
    if not args.models_dir.is_dir():
        what = "is a file" if args.models_dir.exists() else "does not exist"
        raise JLoneVAEError(f"models folder {args.models_dir} {what}; pass --models-dir (the "
                            "folder that holds trainedModels' experiments)")
    known = available_datasets()
    if args.dataset is not None and canonical_dataset_name(args.dataset) not in known:
        raise JLoneVAEError(f"unknown dataset {args.dataset!r} for --dataset; known: "
                            f"{', '.join(known)}")
    baselines = args.baselines_dir
    if baselines is None:
        default = Path(DEFAULT_BASELINES_DIR)
        baselines = default if default.is_dir() else None
    elif not baselines.is_dir():
        raise JLoneVAEError(f"baselines folder {baselines} does not exist")
    results = discover_results(args.models_dir, baselines, dataset=args.dataset,
                               include=args.include, runs=args.runs)
    print(results.report())
    return results


def _save_sets(sets: Sequence[comparisons.FigureSet], args: argparse.Namespace) -> list[Path]:
    paths = []
    for figure_set in sets:
        for note in figure_set.notes:
            print(f"note: {note}")
        paths += figure_set.save(args.output_dir, args.prefix)
    if not paths:
        raise JLoneVAEError("nothing to plot: " + "; ".join(
            note for figure_set in sets for note in figure_set.notes))
    return paths


def _compare_baselines(args: argparse.Namespace) -> list[Path]:
    results = _discover(args)
    figure_set = comparisons.compare_to_baselines(results, gamma=args.gamma,
                                                  locality=args.locality,
                                                  with_gamma0=not args.without_gamma0)
    return _save_sets([figure_set], args)


def _vs_locality(args: argparse.Namespace) -> list[Path]:
    results = _discover(args)
    if args.comparison == comparisons.ALL_ARMS:
        return _save_sets([comparisons.all_arms_vs_locality(results, gamma=args.gamma)], args)
    chosen = (comparisons.VS_LOCALITY_COMPARISONS if args.comparison == "all"
              else (args.comparison,))
    sets = [comparisons.metric_vs_locality(results, c, gamma=args.gamma, l2_gamma=args.l2_gamma)
            for c in chosen]
    return _save_sets(sets, args)


def _scatter(args: argparse.Namespace) -> list[Path]:
    results = _discover(args)
    figure_set = comparisons.mig_modularity_scatter(results, locality=args.locality,
                                                    regularization=args.regularization)
    return _save_sets([figure_set], args)


def _all_metrics(args: argparse.Namespace) -> list[Path]:
    return _save_sets([comparisons.all_metrics(_discover(args), locality=args.locality)], args)


_COMMANDS = {
    "jacobian-columns": _jacobian_columns,
    "traversals": _traversals,
    "compare-baselines": _compare_baselines,
    "vs-locality": _vs_locality,
    "scatter": _scatter,
    "all-metrics": _all_metrics,
}


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; prints every file written. Returns 0 (user errors exit 2)."""
    # A headless job must never try to open a window, whatever MPLBACKEND says.
    matplotlib.use("Agg")
    args = build_parser().parse_args(argv)
    for path in _COMMANDS[args.command](args):
        print(f"wrote {path}")
    return 0



if __name__ == "__main__":
    raise SystemExit(main())
