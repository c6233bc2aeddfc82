"""The command lines of the TensorFlow side: ``train``, ``postprocess``, ``step_time`` and
``evaluate``.

``python -m jlonevae_lib.dlib_tf.<module>`` hands over to the matching function here (the
modules' own ``__main__`` guard), so the flags of all four are read in one place (the two
helper programs the PyTorch side calls, ``variables`` for the importer and ``oracle`` for the
tests, keep their few flags beside their code). This package
runs in ``.venv-dlib`` as a program of its own, beside ``jlonevae_lib/cli/`` (which runs in the
PyTorch environment and never imports TensorFlow). Arguments are checked before TensorFlow is
imported (it takes seconds), so a wrong model number or dataset answers at once with one line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from jlonevae_lib.dlib_tf.folders import (
    check_model_dir,
    postprocessing_finished,
    representation_dir,
)
from jlonevae_lib.dlib_tf.study import (
    DEFAULT_DATASET,
    DEFAULT_EVAL_STEPS,
    DLIB_DEFAULT_EVAL_STEPS,
    THREE_DOTS_NAMES,
    check_same_settings,
    study_config,
)
from jlonevae_lib.runs.layout import dlib_tf_model_dir, dlib_training_finished
from jlonevae_lib.runs.study_numbering import METHODS
from jlonevae_lib.utils.atomic import atomic_write_text
from jlonevae_lib.utils.errors import cli_errors


def _train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jlonevae_lib.dlib_tf.train",
        description="Train members of disentanglement_lib's unsupervised study on three-dots "
                    "with disentanglement_lib itself (TensorFlow), into <output-dir>/"
                    "trainedStandardModels/model<N>_on3dots/tf. Finished models are skipped, "
                    "unfinished ones restarted from step 0.")
    parser.add_argument("--model-num", type=int, nargs="+", required=True, metavar="N",
                        help="model number(s) in disentanglement_lib's unsupervised study "
                             "(the paper's 60: 100 + 300*m + s, m = 0..5, s = 0..9)")
    parser.add_argument("--steps", type=int, default=None,
                        help="model.training_steps, in global steps (default: the study's "
                             "300000; FactorVAE advances 2 global steps per iteration)")
    parser.add_argument("--dataset", default=DEFAULT_DATASET,
                        help=f"three-dots dataset: {', '.join(THREE_DOTS_NAMES)} "
                             f"(default {DEFAULT_DATASET})")
    parser.add_argument("--output-dir", default=".",
                        help="folder holding trainedStandardModels/ (default .)")
    parser.add_argument("--eval-steps", type=int, default=DEFAULT_EVAL_STEPS,
                        help=f"model.eval_steps: batches scored after training (default "
                             f"{DEFAULT_EVAL_STEPS}; disentanglement_lib's own default, "
                             f"{DLIB_DEFAULT_EVAL_STEPS}, is slow on a CPU)")
    return parser


@cli_errors
def train_command(argv: list[str] | None = None) -> int:
    args = _train_parser().parse_args(argv)
    # Every argument, and every finished folder's settings, checked before any training.
    finished = set()
    for model_num in args.model_num:
        config = study_config(model_num, args.dataset, args.steps, args.eval_steps)
        model_dir = dlib_tf_model_dir(args.output_dir, model_num)
        if dlib_training_finished(model_dir):
            check_same_settings(model_dir, config)
            finished.add(model_num)
    for model_num in args.model_num:
        model_dir = dlib_tf_model_dir(args.output_dir, model_num)
        if model_num in finished:  # answered without TensorFlow's start-up
            print(f"model {model_num}: already trained, skipped: {model_dir}", flush=True)
            continue
        from jlonevae_lib.dlib_tf.train import train_model  # TensorFlow: seconds to import

        outcome = train_model(model_num, args.output_dir, args.dataset, args.steps,
                              args.eval_steps)
        print(outcome.summary(), flush=True)
    return 0


def _postprocess_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jlonevae_lib.dlib_tf.postprocess",
        description="Write the mean representation of trained disentanglement_lib models "
                    "(disentanglement_lib's postprocess, the study's mean.gin) into "
                    "<model folder>/representation. Finished ones are skipped.")
    parser.add_argument("model_dirs", nargs="+", metavar="TF_MODEL_DIR",
                        help="disentanglement_lib model folder(s), e.g. "
                             "trainedStandardModels/model100_on3dots/tf")
    return parser


@cli_errors
def postprocess_command(argv: list[str] | None = None) -> int:
    args = _postprocess_parser().parse_args(argv)
    for model_dir in args.model_dirs:  # every folder checked before any work starts
        check_model_dir(Path(model_dir))
    for model_dir in args.model_dirs:
        if postprocessing_finished(Path(model_dir)):  # answered without TensorFlow's start-up
            print(f"{model_dir}: already post-processed, skipped: "
                  f"{representation_dir(Path(model_dir))}", flush=True)
            continue
        from jlonevae_lib.dlib_tf.postprocess import postprocess_model  # TensorFlow

        print(postprocess_model(model_dir).summary(), flush=True)
    return 0


def _step_time_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jlonevae_lib.dlib_tf.step_time",
        description="Median wall ms per training session.run of disentanglement_lib's methods "
                    "(batch 64, three-dots images, the study's setting 2), printed as JSON.")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS,
                        metavar="METHOD", help=f"methods to time (default all: "
                                               f"{' '.join(METHODS)})")
    parser.add_argument("--steps", type=int, default=20, help="timed steps (default 20)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed steps first (default 3; the first is reported apart)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="TensorFlow's intra- and inter-op threads (default: the CPUs "
                             "this process may use)")
    parser.add_argument("--inter-op", type=int, default=None,
                        help="the inter-op pool's threads, apart from --threads")
    parser.add_argument("--trace", type=int, default=0, metavar="N",
                        help="also trace N steps per method: summed op time and ms per op type")
    return parser


@cli_errors
def step_time_command(argv: list[str] | None = None) -> int:
    args = _step_time_parser().parse_args(argv)
    if args.steps < 1 or args.warmup < 1 or args.threads < 1 or (
            args.inter_op is not None and args.inter_op < 1) or args.trace < 0:
        print("error: --steps, --warmup, --threads and --inter-op must be at least 1, --trace "
              "at least 0", file=sys.stderr)
        return 2
    from jlonevae_lib.dlib_tf.step_time import step_time_report

    report = step_time_report(tuple(args.methods), args.steps, args.warmup, args.threads,
                              args.trace, args.inter_op)
    print(json.dumps(report, indent=1))
    return 0


def _evaluate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jlonevae_lib.dlib_tf.evaluate",
        description="Score a post-processed disentanglement_lib model with disentanglement_lib's "
                    "own evaluation, one metric config after another, timed; prints a JSON "
                    "report (seconds and results, or the error, per metric).")
    parser.add_argument("model_dir", metavar="TF_MODEL_DIR",
                        help="a post-processed disentanglement_lib model folder")
    parser.add_argument("output_dir", metavar="OUTPUT_DIR",
                        help="where each metric's results go (<config stem>/results/)")
    parser.add_argument("configs", nargs="+", metavar="METRIC.gin",
                        help="metric configs (disentanglement_lib's own, or files including "
                             "them)")
    parser.add_argument("--report", default=None, metavar="FILE.json",
                        help="also write the report here")
    return parser


@cli_errors
def evaluate_command(argv: list[str] | None = None) -> int:
    args = _evaluate_parser().parse_args(argv)
    check_model_dir(Path(args.model_dir))
    missing = [config for config in args.configs if not Path(config).is_file()]
    if missing:
        print(f"error: no metric config {', '.join(missing)}", file=sys.stderr)
        return 2
    if not postprocessing_finished(Path(args.model_dir)):
        print(f"error: {args.model_dir} has no mean representation; run "
              "python -m jlonevae_lib.dlib_tf.postprocess on it first", file=sys.stderr)
        return 2
    from jlonevae_lib.dlib_tf.evaluate import evaluate_model  # TensorFlow

    report = evaluate_model(args.model_dir, args.output_dir, args.configs)
    text = json.dumps(report, indent=1, sort_keys=True)
    if args.report:
        atomic_write_text(args.report, text + "\n")
    print(text)
    return 0
