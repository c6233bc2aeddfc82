"""``jlonevae-evaluate``: compute disentanglement metrics of trained runs.

The evaluation step, the metrics' configs and the results layout are
:mod:`jlonevae_lib.evaluate.evaluation`'s (its docstring describes the options in full).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from jlonevae_lib.cli.types import ArgumentParser, positive_int, seed_int
from jlonevae_lib.evaluate.evaluation import (
    evaluate_runs,
    plan_runs,
    resolve_metrics,
    summary_table,
)
from jlonevae_lib.runs import layout
from jlonevae_lib.utils.allocator import tune_glibc_malloc
from jlonevae_lib.utils.errors import cli_errors
from jlonevae_lib.utils.threads import limit_openmp_spinning


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="jlonevae-evaluate",
        description="Compute disentanglement metrics of trained runs (disentanglement_lib "
                    "result layout).")
    parser.add_argument("runs", nargs="+", metavar="RUN",
                        help="run folders (trainedModels/<experiment>/<run>)")
    parser.add_argument("--metrics", nargs="+", default=["paper"], metavar="METRIC",
                        help="metric names, groups (paper, small, evalseeds, dlib: "
                             "disentanglement_lib's nine, dlib_local: their local versions) "
                             "or .gin files "
                             "(default: paper); <metric>_evalseed<K> is a metric at "
                             "evaluation seed K, in its own results folder")
    datasets = parser.add_mutually_exclusive_group()
    datasets.add_argument("--dataset", default=None,
                          help="dataset to evaluate on (default: the run's training dataset)")
    datasets.add_argument("--dataset-config", default=None, metavar="FILE.gin",
                          help="your own dataset config (e.g. another denylist) instead of the "
                               "shipped one; its dataset.name picks the dataset")
    parser.add_argument("--seed", type=seed_int, default=None,
                        help="evaluation seed (default: the config's, 0 for the shipped ones)")
    parser.add_argument("--overwrite", action="store_true",
                        help="recompute metrics whose results exist")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--representation", default="auto",
                        choices=["auto", "saved_model", "torchscript"],
                        help="model to evaluate: the final saved model (auto prefers it) or "
                             f"{layout.REPRESENTATION_DIR}/{layout.TORCHSCRIPT_FILE}")
    parser.add_argument("--skip-unfinished", action="store_true",
                        help=f"skip runs without a {layout.DONE_FILE} marker instead of failing")
    parser.add_argument("--only-dataset", default=None, metavar="NAME",
                        help="skip runs evaluated on another dataset")
    parser.add_argument("--at-batch", type=positive_int, default=None, metavar="N",
                        help="evaluate the model each run kept at batch N (jlonevae-train "
                             "--keep-models-at) instead of its final one; results in "
                             f"{layout.KEPT_METRICS_DIR}/N/")
    return parser


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tune_glibc_malloc()
    limit_openmp_spinning()  # evaluations often share the CPU with training runs
    # torch is imported only now (by the planning), after the allocator and OpenMP's waiting
    # are tuned.
    metrics = resolve_metrics(args.metrics)
    plans = plan_runs(args.runs, metrics, dataset=args.dataset,
                      dataset_config_file=args.dataset_config, only_dataset=args.only_dataset,
                      representation=args.representation,
                      skip_unfinished=args.skip_unfinished, overwrite=args.overwrite,
                      seed=args.seed, at_batch=args.at_batch)
    rows = evaluate_runs(plans, seed=args.seed, device=args.device, overwrite=args.overwrite)
    print()
    print(summary_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
