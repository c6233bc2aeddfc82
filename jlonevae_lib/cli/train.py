"""Train one model: a JL1-VAE by default (β-VAE with ``--gamma 0``), or another registered
method with ``--objective NAME`` (``beta_vae``, ...).

Keeps the reference script's flags (``--batch-size --epochs --no-cuda --seed --log-interval --beta
--gamma --lr --latent-dim --annealingBatches --regularization_type``, an epoch being 5,000
batches) and adds the ones a sweep needs. Example, the paper's main setting (300,000 batches)::

    jlonevae-train --dataset threeDotsCache --beta 4 --gamma 0.1 --epochs 60 \\
        --annealingBatches 100000 --lr 0.0001 --seed 11

or, the same in one flag, ``jlonevae-train --preset paper --seed 11``. Without a preset the
defaults are the reference script's, not the paper's (docs/training.md lists both).

Re-running the same command is idempotent: a finished run is skipped and an interrupted one
resumes from its last checkpoint. A run of the same settings but another length goes to
``seed<k>_batches<N>``; ``--extend`` continues the finished run instead.
"""

from __future__ import annotations

from jlonevae_lib.utils.allocator import tune_glibc_malloc
from jlonevae_lib.utils.threads import limit_openmp_spinning

tune_glibc_malloc()  # before torch allocates anything: see the module's docstring
limit_openmp_spinning()  # before torch loads OpenMP; GOMP_SPINCOUNT/OMP_WAIT_POLICY override it

import argparse  # noqa: E402
import os  # noqa: E402
from collections.abc import Mapping, Sequence  # noqa: E402
from typing import Any  # noqa: E402

from jlonevae_lib.architecture.jacobian import JACOBIAN_PENALTIES  # noqa: E402
from jlonevae_lib.cli.types import (  # noqa: E402
    ArgumentParser,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from jlonevae_lib.data.ground_truth import check_dataset  # noqa: E402
from jlonevae_lib.runs import layout  # noqa: E402
from jlonevae_lib.runs.study_numbering import PAPER_HP_INDEX  # noqa: E402
from jlonevae_lib.train.baselines import method_settings, study_settings  # noqa: E402
from jlonevae_lib.train.config import BATCHES_PER_EPOCH, TrainConfig, place_run  # noqa: E402
from jlonevae_lib.train.objectives import objective_class  # noqa: E402
from jlonevae_lib.train.presets import PRESETS, preset_settings  # noqa: E402
from jlonevae_lib.utils.errors import JLoneVAEError, cli_errors  # noqa: E402
from jlonevae_lib.utils.precision import PRECISIONS  # noqa: E402

#: The seed script's default --gamma.
REFERENCE_GAMMA = 1.0
#: What --deterministic puts in the environment for cuBLAS (jlonevae_lib.train.trainer checks
#: it; spelt here too so that this module need not import torch before parsing).
CUBLAS_WORKSPACE_ENV = "CUBLAS_WORKSPACE_CONFIG"
CUBLAS_DETERMINISTIC = ":4096:8"


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="jlonevae-train", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ref = p.add_argument_group("reference flags (same names and defaults as the seed script)")
    ref.add_argument("--batch-size", type=positive_int, default=None, help="default 64")
    ref.add_argument("--epochs", type=positive_int, default=None,
                     help=f"training length in epochs of {BATCHES_PER_EPOCH} batches (default 10)")
    ref.add_argument("--no-cuda", action="store_true", help="train on the CPU (= --device cpu)")
    ref.add_argument("--seed", type=int, default=None, help="default 1 (0 with --model)")
    ref.add_argument("--log-interval", type=positive_int, default=100,
                     help="batches between TensorBoard scalars")
    ref.add_argument("--beta", type=non_negative_float, default=None, help="default 1")
    ref.add_argument("--gamma", type=non_negative_float, default=None,
                     help="weight of the Jacobian penalty, with any --objective (0 = none, a "
                          "plain β-VAE for jlonevae; default 1 for jlonevae, 0 for the "
                          "baselines); FactorVAE's and AnnealedVAE's own gamma is --param "
                          "gamma=N")
    ref.add_argument("--lr", type=positive_float, default=None, help="default 0.001")
    ref.add_argument("--latent-dim", type=positive_int, default=None, help="default 10")
    ref.add_argument("--annealingBatches", type=int, default=None,
                     help="batches over which β and γ ramp up linearly from 0 (default 0)")
    ref.add_argument("--regularization_type", choices=sorted(JACOBIAN_PENALTIES), default=None,
                     help="L1 (jlone, the paper; default) or L2 (jltwo, appendix) Jacobian "
                          "penalty")
    new = p.add_argument_group("added flags")
    new.add_argument("--preset", choices=sorted(PRESETS), default=None,
                     help="start from a named set of settings, the flags given override it: "
                          "paper (the paper's three-dots run: threeDotsCache, β 4, γ 0.1, lr "
                          "1e-4, 300,000 batches, annealing 100,000) or example (the reference's "
                          "small example: threeDotsCacheSmall, lr 1e-3, 30,000 batches, annealing "
                          "10,000, seed 1)")
    new.add_argument("--objective", default=None,
                     help="training method: jlonevae (the paper's; default) or another registered "
                          "objective, e.g. beta_vae")
    new.add_argument("--num-batches", "--steps", type=positive_int, default=None,
                     help="training length in batches (instead of --epochs)")
    new.add_argument("--dataset", default=None,
                     help="training data by name (default: the --preset's, else "
                          "$AICROWD_DATASET_NAME, else threeDotsCache; also threeDotsCacheSmall, "
                          "threeDots)")
    new.add_argument("--architecture", default=None,
                     help="registered architecture: defaultConv (default), tiny16, dlibConv "
                          "(disentanglement_lib's)")
    new.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")
    new.add_argument("--output-dir", default=".",
                     help="where trainedModels/ and logs/ go (default: current folder)")
    new.add_argument("--run-id", default=None,
                     help="run folder name (default: seed<SEED>, or seed<SEED>_batches<N> when "
                          "seed<SEED> holds the same settings trained to another length)")
    new.add_argument("--jacobian", choices=["fd", "exact"], default="fd",
                     help="forward differences as the paper (fd) or exact forward-mode (exact)")
    new.add_argument("--jacobian-batch", type=positive_int, default=None,
                     help="compute the penalty on a random sub-batch of this many samples "
                          "(unbiased, cheaper; default: the whole batch)")
    new.add_argument("--checkpoint-every", type=positive_int, default=1000,
                     help="batches between checkpoints")
    new.add_argument("--keep-models-at", type=positive_int, nargs="+", default=None,
                     metavar="BATCHES",
                     help="also save the model after these many batches (a saved-model "
                          "folder beside the final one), to evaluate earlier points of the run")
    new.add_argument("--allow-tf32", action="store_true",
                     help="on CUDA, let convolutions and matrix products outside the Jacobian "
                          "use TF32 (faster on Ampere and later; the Jacobian always runs in "
                          "IEEE float32; default off, the paper's arithmetic; docs/gpu.md)")
    new.add_argument("--deterministic", action="store_true",
                     help="deterministic kernels, so that on CUDA a resumed run ends with the "
                          "weights of an uninterrupted one (same GPU model and software; the "
                          f"CPU always is); sets {CUBLAS_WORKSPACE_ENV}={CUBLAS_DETERMINISTIC}")
    new.add_argument("--precision", choices=PRECISIONS, default="float32",
                     help="float32 (IEEE, the paper's; default) or bf16: bfloat16 autocast for "
                          "the encoder, the reconstruction and the baselines' regularisers, "
                          "faster on devices with bf16 instructions, the Jacobian penalty still "
                          "float32; a run keeps it for life (docs/training.md, Mixed precision)")
    new.add_argument("--print-run-dir", action="store_true",
                     help="print the run folder these flags map to, and exit (for scripts)")
    new.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                     help="continue from the run folder's checkpoint if there is one (default)")
    new.add_argument("--extend", action="store_true",
                     help="continue the finished (or interrupted) run of these settings in "
                          "seed<SEED> (or --run-id) to the larger --num-batches, from its final "
                          "checkpoint; the run's config records the earlier length")
    study = p.add_argument_group(
        "disentanglement_lib's baselines (its unsupervised study's settings: dlibConv, batch 64, "
        "lr 1e-4, 300,000 batches; the flags above override them)")
    study.add_argument("--model-num", type=non_negative_int, default=None,
                       help="a member of disentanglement_lib's unsupervised study: its method, "
                            "hyperparameters and seed (dataset·1800 + model·300 + hp·50 + seed)")
    study.add_argument("--model", default=None,
                       help="a study method (beta_vae, factor_vae, dip_vae_i, dip_vae_ii, "
                            "beta_tc_vae, annealed_vae) at --hp-index, with --seed")
    study.add_argument("--hp-index", type=non_negative_int, default=None,
                       help="which of the method's six settings (default 2, the paper's)")
    study.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="an objective parameter (e.g. gamma=30 for factor_vae); repeatable")
    study.add_argument("--models-dir", default=None,
                       help="the folder under --output-dir for the runs (default trainedModels; "
                            "trainedStandardModels with --model-num or --model)")
    return p


#: The seed script's defaults of the flags above that a study member sets otherwise.
REFERENCE_DEFAULTS: dict[str, Any] = {
    "architecture": "defaultConv", "batch_size": 64, "seed": 1, "beta": 1.0, "lr": 0.001,
    "latent_dim": 10, "annealing_batches": 0, "num_batches": 10 * BATCHES_PER_EPOCH,
    "models_dir": layout.TRAINED_MODELS_DIR,
}


def objective_params_from_flags(pairs: Sequence[str]) -> dict[str, float]:
    """``--param NAME=VALUE`` pairs as the objective's parameters (values as floats); a name
    given twice with different values is refused, not settled by the last."""
    params: dict[str, float] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        try:
            value = float(text)
        except ValueError:
            sep = ""
        if not sep or not name:
            raise JLoneVAEError(f"--param {pair!r}: expected NAME=NUMBER, e.g. gamma=30")
        if name in params and params[name] != value:
            raise JLoneVAEError(f"--param {name} is given twice with different values "
                                f"({params[name]:g} and {value:g}); give it once")
        params[name] = value
    return params


def _base_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the explicit flags start from: a study member's, or the seed script's."""
    if args.model_num is not None or args.model is not None:
        if args.model_num is not None and (args.model is not None or args.hp_index is not None):
            raise JLoneVAEError("--model-num names the method and setting: leave out --model "
                                "and --hp-index")
        if args.model_num is not None and args.seed is not None:
            raise JLoneVAEError("--model-num names the seed too: leave out --seed")
        if args.objective is not None:
            raise JLoneVAEError("give --objective or a study member (--model-num, --model), "
                                "not both")
        settings = (study_settings(args.model_num) if args.model_num is not None
                    else method_settings(args.model, PAPER_HP_INDEX if args.hp_index is None
                                         else args.hp_index, args.seed or 0))
        return {**settings, "models_dir": layout.STANDARD_MODELS_DIR}
    if args.hp_index is not None:
        raise JLoneVAEError("--hp-index goes with --model")
    return {**REFERENCE_DEFAULTS, "objective": args.objective or "jlonevae"}


def _check_penalty_gamma(args: argparse.Namespace, objective: str) -> None:
    """Refuse ``--gamma`` > 0 for an objective with a ``gamma`` of its own (FactorVAE,
    AnnealedVAE) unless ``--param gamma=N`` or a study member sets that one: ``--gamma`` is the
    Jacobian penalty's weight, and ``--objective factor_vae --gamma 30`` more likely means
    FactorVAE's γ than a penalty 300 times the paper's."""
    if args.model_num is not None or args.model is not None:
        return
    refusal = penalty_gamma_refusal(args.gamma, objective, objective_params_from_flags(args.param))
    if refusal:
        raise JLoneVAEError(refusal)


def penalty_gamma_refusal(gamma: float | None, objective: str,
                          objective_params: Mapping[str, float]) -> str:
    """Why a penalty ``gamma`` is refused for ``objective`` (see :func:`_check_penalty_gamma`),
    or "" when it is not."""
    if not gamma or "gamma" not in objective_class(objective).hyperparameters \
            or "gamma" in objective_params:
        return ""
    return (f"--gamma {gamma:g} is the weight of the Jacobian penalty added to {objective}, "
            f"not {objective}'s own gamma, which is --param gamma=N: give --param gamma=N alone "
            f"to set {objective}'s, or with --gamma to add the penalty too")


def beta_refusal(objective: str) -> str:
    """Why a β given for ``objective`` is refused (it has none, and would ignore it), or ""
    when the objective reads β."""
    cls = objective_class(objective)
    if cls.uses_beta:
        return ""
    own = ", ".join(sorted(cls.hyperparameters))
    return (f"{objective} has no β, so --beta would be ignored: leave it out"
            + (f" ({objective}'s own settings, {own}, are --param NAME=N)" if own else ""))


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    if args.epochs is not None and args.num_batches is not None:
        raise JLoneVAEError("give --epochs or --num-batches, not both")
    if args.no_cuda and args.device not in ("auto", "cpu"):
        raise JLoneVAEError(f"--no-cuda contradicts --device {args.device}")
    settings = _base_settings(args)
    if args.preset is not None:
        if args.model_num is not None or args.model is not None:
            raise JLoneVAEError("--preset sets a JL1-VAE run of the paper: leave out --model-num "
                                "and --model")
        settings.update(preset_settings(args.preset))
    explicit = {
        "objective": args.objective, "dataset": args.dataset,
        "regularization_type": args.regularization_type,
        "architecture": args.architecture, "batch_size": args.batch_size, "seed": args.seed,
        "beta": args.beta, "lr": args.lr, "latent_dim": args.latent_dim,
        "annealing_batches": args.annealingBatches, "models_dir": args.models_dir,
        "jacobian_batch": args.jacobian_batch,
        "num_batches": args.num_batches or (args.epochs and args.epochs * BATCHES_PER_EPOCH),
    }
    settings.update({name: value for name, value in explicit.items() if value is not None})
    # Set but empty counts as unset, as for every folder variable.
    settings.setdefault("dataset", os.environ.get("AICROWD_DATASET_NAME") or "threeDotsCache")
    settings.setdefault("regularization_type", "jlone")
    implied = objective_class(settings["objective"]).default_settings
    _check_penalty_gamma(args, settings["objective"])
    refusal = beta_refusal(settings["objective"]) if args.beta is not None else ""
    if refusal:
        raise JLoneVAEError(refusal)
    if args.gamma is not None:
        settings["gamma"] = args.gamma
    else:
        settings.setdefault("gamma", implied.get("gamma", REFERENCE_GAMMA))
    settings["objective_params"] = {**settings.get("objective_params", {}),
                                    **objective_params_from_flags(args.param)}
    return TrainConfig(
        **settings, preset=args.preset, jacobian_method=args.jacobian,
        log_interval=args.log_interval, checkpoint_every=args.checkpoint_every,
        keep_models_at=list(args.keep_models_at or []),
        device="cpu" if args.no_cuda else args.device,
        output_dir=args.output_dir, run_id=args.run_id,
        allow_tf32=args.allow_tf32, deterministic=args.deterministic,
        precision=args.precision,
    )


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    placement = place_run(config_from_args(args), extend=args.extend)
    config = placement.config
    if args.print_run_dir:
        check_dataset(config.dataset)  # as training would: no folder for a dataset it refuses
        print(config.run_dir)
        return 0
    if config.deterministic:
        # Before anything starts CUDA: cuBLAS reads it once, then. A value the user set is
        # kept (the trainer refuses one that is not deterministic).
        os.environ.setdefault(CUBLAS_WORKSPACE_ENV, CUBLAS_DETERMINISTIC)
    from jlonevae_lib.train.trainer import Trainer, train  # imports torch: after argument checks

    trainer = Trainer(config)  # a bad dataset or architecture fails here, before the report
    print(f"Experiment {config.experiment_name}, run {config.run_name}")
    print(f"  run folder {config.run_dir}: {placement.reason}")
    print(f"  logging to {config.log_dir}")
    result = train(config, resume=args.resume, trainer=trainer, extend=args.extend)
    if result.skipped:
        print(f"Run already finished ({result.num_batches} batches): {result.run_dir}")
    elif args.extend:
        print(f"Extended the run from {trainer.config.extended_from[-1]} to "
              f"{result.num_batches} batches.")
    else:
        print(f"Trained {result.num_batches} batches.")
    print(f"  run folder:   {result.run_dir}")
    print(f"  saved model:  {result.model_dir}")
    print(f"  TorchScript:  {result.torchscript_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
