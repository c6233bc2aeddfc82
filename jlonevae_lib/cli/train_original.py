"""The reference's natural-image training command, run by our trainer.

Takes the original script's flags (``--experimentName --vaeShape --lossFunction --useDouble
--runId --lr --numBatches --recordLossEvery --batchSize --beta --gamma --latentDim
--annealingBatches``) and trains one run per (β, γ, latent size) combination, as it did. The
paper's runs::

    python jlonevae_lib/train/train_jlonevae_without_disentanglement_lib.py \\
        --experimentName naturalImages --vaeShape tiny16 --numBatches 100000 \\
        --recordLossEvery 100 --batchSize 128 --lr 0.001 --annealingBatches 50000 \\
        --beta 0.01 --latentDim 10 --runId _run0 --gamma 0 0.01

Mapping: ``--experimentName`` named the data folder ``data/<name>/train/``; here it must be
``naturalImages`` (the patches ``<data root>/naturalImages/train/data.npz``, sampled from
IMAGES.mat when missing). ``--vaeShape`` is the architecture preset, ``--recordLossEvery`` the
logging interval. A run goes to ``trainedModels/<experiment>/<run>/`` like every run here
(``jlonevae-train``'s layout): ``<experiment>`` is the original's name without the run id
(``tiny16_lone_beta0_0100_ica0_0000_lat10_batch128_lr0_0010_anneal50000``) and ``<run>`` the
``--runId`` without its leading underscores (``run0``), or ``seed<k>`` without one. Differences:
a run is exactly ``--numBatches`` batches of patches drawn with replacement from ``--seed``
(the original rounded up to whole unseeded passes over the data), and re-running a command
skips finished runs and resumes interrupted ones. The original ignored ``--lossFunction`` (it
always trained the Bernoulli loss): ``bernoulli`` is accepted, anything else refused, and so is
``--useDouble 1`` (float64 training is not implemented here).
"""

from __future__ import annotations

from jlonevae_lib.utils.allocator import tune_glibc_malloc
from jlonevae_lib.utils.threads import limit_openmp_spinning

tune_glibc_malloc()  # before torch allocates anything (see jlonevae_lib.cli.train)
limit_openmp_spinning()  # before torch loads OpenMP

import argparse  # noqa: E402
import itertools  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from jlonevae_lib.cli.types import (  # noqa: E402
    ArgumentParser,
    non_negative_float,
    non_negative_int,
    positive_int,
)
from jlonevae_lib.train.config import TrainConfig, place_run  # noqa: E402
from jlonevae_lib.utils.errors import JLoneVAEError, cli_errors  # noqa: E402

#: The only data folder the original's script is used with, and our dataset of that name.
NATURAL_IMAGES = "naturalImages"


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="train_jlonevae_without_disentanglement_lib", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ref = p.add_argument_group("the original script's flags")
    ref.add_argument("--experimentName", default=NATURAL_IMAGES,
                     help="data folder name; only naturalImages (default)")
    ref.add_argument("--vaeShape", default="tiny16",
                     help="architecture preset (default tiny16, the 16x16 patch model)")
    ref.add_argument("--lossFunction", default="bernoulli",
                     help="reconstruction loss; only bernoulli")
    ref.add_argument("--useDouble", type=int, default=0, help="float64 training; only 0")
    ref.add_argument("--runId", default="", help="run name, e.g. _run0 (run folder run0)")
    ref.add_argument("--lr", type=non_negative_float, default=0.001)
    ref.add_argument("--numBatches", type=positive_int, default=100000)
    ref.add_argument("--recordLossEvery", type=positive_int, default=100,
                     help="batches between TensorBoard scalars")
    ref.add_argument("--batchSize", type=positive_int, default=128)
    ref.add_argument("--beta", type=non_negative_float, nargs="*", default=[1.0],
                     help="one or more β values")
    ref.add_argument("--gamma", type=non_negative_float, nargs="*", default=[0.0],
                     help="one or more γ values (weight of the Jacobian L1 penalty)")
    ref.add_argument("--latentDim", type=positive_int, nargs="*", default=[10],
                     help="one or more latent sizes")
    ref.add_argument("--annealingBatches", type=non_negative_int, default=0,
                     help="batches over which β and γ ramp up linearly from 0")
    new = p.add_argument_group("added flags")
    new.add_argument("--seed", type=non_negative_int, default=0,
                     help="seed of initialisation and batches (default 0)")
    new.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")
    new.add_argument("--output-dir", default=".",
                     help="where trainedModels/ and logs/ go (default: current folder)")
    return p


def configs_from_args(args: argparse.Namespace) -> list[TrainConfig]:
    """One config per (β, γ, latent size), in the original's loop order."""
    if args.experimentName != NATURAL_IMAGES:
        raise JLoneVAEError(
            f"--experimentName {args.experimentName}: only {NATURAL_IMAGES} is supported (the "
            f"patches <data root>/{NATURAL_IMAGES}/train/data.npz); train other data with "
            "jlonevae-train --dataset NAME")
    if args.lossFunction != "bernoulli":
        raise JLoneVAEError(f"--lossFunction {args.lossFunction}: only bernoulli is implemented "
                            "(the original script also trained with it whatever this said)")
    if args.useDouble:
        raise JLoneVAEError("--useDouble: float64 training is not implemented; drop the flag")
    from jlonevae_lib.architecture.registry import available_architectures  # imports torch

    if args.vaeShape not in available_architectures():
        raise JLoneVAEError(f"--vaeShape {args.vaeShape}: unknown; known shapes: "
                            f"{', '.join(available_architectures())} (the original script "
                            "defined only tiny16)")
    for flag in ("beta", "gamma", "latentDim"):
        if not getattr(args, flag):
            raise JLoneVAEError(f"--{flag} needs at least one value")
    run_id = args.runId.lstrip("_") or None
    return [
        TrainConfig(
            dataset=NATURAL_IMAGES, architecture=args.vaeShape, latent_dim=latent_dim,
            beta=beta, gamma=gamma, regularization_type="jlone", batch_size=args.batchSize,
            num_batches=args.numBatches, lr=args.lr, annealing_batches=args.annealingBatches,
            seed=args.seed, log_interval=args.recordLossEvery, device=args.device,
            output_dir=args.output_dir, run_id=run_id,
        )
        for beta, gamma, latent_dim in itertools.product(args.beta, args.gamma, args.latentDim)
    ]


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    configs = configs_from_args(build_parser().parse_args(argv))
    from jlonevae_lib.train.trainer import train  # imports torch: after argument checks

    for config in configs:
        placement = place_run(config)
        print(f"Experiment {config.experiment_name}, run {placement.config.run_name}: "
              f"{placement.reason}", flush=True)
        result = train(placement.config)
        if result.skipped:
            print(f"  already finished ({result.num_batches} batches)")
        else:
            print(f"  trained {result.num_batches} batches")
        print(f"  saved model: {result.model_dir}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
