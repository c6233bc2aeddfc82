"""disentanglement_lib's nine metric configs on one model: ours against its own evaluation.

    .venv/bin/python benchmarks/bench_dlib_suite.py           # study sizes (10,000 / 5,000)
    .venv/bin/python benchmarks/bench_dlib_suite.py --quick   # tiny sizes: checks that it works

1. A model: ``--tf-model DIR`` (a disentanglement_lib model folder, trained by its ``train``), or
   study member 400 (FactorVAE) trained here for ``--train-steps`` global steps on three-dots by
   disentanglement_lib itself (``jlonevae_lib.dlib_tf.train`` in ``.venv-dlib``); then
   post-processed to its mean representation (``jlonevae_lib.dlib_tf.postprocess``).
2. The same weights in PyTorch: ``jlonevae-import-dlib`` makes a run folder of it.
3. Ours: ``jlonevae-evaluate`` on the imported run with the same config files, timed; shared
   draws are encoded once and independent fits run on ``n_jobs`` = the CPUs (or
   ``OMP_NUM_THREADS``) in joblib processes.
4. Then disentanglement_lib's own ``evaluate_with_gin`` on the TensorFlow model, config after config
   (``jlonevae_lib.dlib_tf.evaluate`` in ``.venv-dlib``, its scikit-learn < 1.6), timed.
5. A table: per metric the seconds of each (disentanglement_lib: its ``evaluate_with_gin`` call,
   TF Hub module load included; ours: the metric's ``elapsed_time``; the model load and the
   imports are in the totals, each side's whole process), and the largest difference of a
   result value. Codes differ by float32 rounding between TensorFlow and PyTorch (~1e-7), which
   can move a point across a histogram bin edge; the scikit-learn versions differ; boosted
   trees break ties with an unseeded random state on both sides: small differences are
   expected, large ones are not.

``--quick`` gives both sides the shipped configs with their sizes made tiny (files that include
them); disentanglement_lib's ``downstream_task_logistic_regression`` then fails as it does on
three-dots with few training points ("inhomogeneous shape": a class missing from a
cross-validation fold), which the table shows. Needs ``.venv-dlib``
(``experimentScripts/train_baseline/build_dlib_env.bash``; ``--build`` runs it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jlonevae_lib.evaluate.predictors import default_n_jobs
from jlonevae_lib.runs import layout
from jlonevae_lib.utils.atomic import atomic_write_json
from jlonevae_lib.utils.dlib_env import default_dlib_python
from jlonevae_lib.utils.timing import cpu_model

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "jlonevae_lib" / "config" / "metrics_configs"
BUILD_SCRIPT = REPO / "experimentScripts" / "train_baseline" / "build_dlib_env.bash"
#: disentanglement_lib's nine study configs, in our suite's order.
SUITE = ("mig", "modularity_explicitness", "dci", "sap_score", "unsupervised",
         "beta_vae_sklearn", "factor_vae_metric", "downstream_task_logistic_regression",
         "downstream_task_boosted_trees")
#: Tiny sizes for --quick (bound after each shipped config).
QUICK = {
    "mig": ["mig.num_train = 300"],
    "modularity_explicitness": ["modularity_explicitness.num_train = 300",
                                "modularity_explicitness.num_test = 100"],
    "dci": ["dci.num_train = 100", "dci.num_test = 50"],
    "sap_score": ["sap_score.num_train = 300", "sap_score.num_test = 100"],
    "unsupervised": ["unsupervised_metrics.num_train = 300"],
    "beta_vae_sklearn": ["beta_vae_sklearn.num_train = 50", "beta_vae_sklearn.num_eval = 20",
                         "beta_vae_sklearn.batch_size = 8"],
    "factor_vae_metric": ["factor_vae_score.num_train = 50", "factor_vae_score.num_eval = 20",
                          "factor_vae_score.num_variance_estimate = 200",
                          "factor_vae_score.batch_size = 8"],
    "downstream_task_logistic_regression": ["downstream_task.num_train = [10, 100]",
                                            "downstream_task.num_test = 50"],
    "downstream_task_boosted_trees": ["downstream_task.num_train = [10, 40]",
                                      "downstream_task.num_test = 50"],
}
#: The study member trained when no model is given: FactorVAE, γ = 30, seed 0.
MODEL_NUM = 400


def run(command: list[str], **kwargs: Any) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``command``; (the finished process, its wall seconds). Fails with its output."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, **kwargs)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... exited {done.returncode}:\n"
                         f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done, seconds


def metric_configs(folder: Path, quick: bool) -> list[Path]:
    """The nine config files both sides read: the shipped ones, or in ``--quick`` files that
    include them (by absolute path: gin 0.4 and 0.5 both find it) and set tiny sizes."""
    if not quick:
        return [CONFIGS / f"{name}.gin" for name in SUITE]
    paths = []
    for name in SUITE:
        path = folder / f"{name}.gin"
        path.write_text(f"include '{CONFIGS / name}.gin'\n" + "\n".join(QUICK[name]) + "\n")
        paths.append(path)
    return paths


def tensorflow_model(python: Path, folder: Path, steps: int) -> Path:
    """Study member :data:`MODEL_NUM` trained for ``steps`` global steps and post-processed."""
    run([str(python), "-m", "jlonevae_lib.dlib_tf.train", "--model-num", str(MODEL_NUM),
         "--steps", str(steps), "--dataset", "threeDots", "--output-dir", str(folder),
         "--eval-steps", "1"])
    (model_dir,) = folder.rglob(f"model{MODEL_NUM}_on3dots/tf")
    return model_dir


def imported_run(python: Path, tf_model: Path, folder: Path) -> Path:
    """The run folder ``jlonevae-import-dlib`` makes of ``tf_model``."""
    run([sys.executable, "-m", "jlonevae_lib.cli.import_dlib", str(tf_model), "--output-dir",
         str(folder), "--dlib-python", str(python)])
    (config,) = folder.rglob(layout.CONFIG_FILE)
    return config.parent


def ours(run_dir: Path, configs: list[Path]) -> tuple[dict[str, dict], float]:
    """Our evaluation of ``run_dir``: ({metric: {"seconds", "results"}}, process seconds)."""
    _, seconds = run([sys.executable, "-m", "jlonevae_lib.cli.evaluate", str(run_dir),
                      "--metrics", *map(str, configs), "--device", "cpu", "--overwrite"])
    report = {}
    for config in configs:
        aggregate = json.loads(layout.evaluation_path(run_dir, config.stem).read_text())
        results = {key.split(".", 1)[1]: value for key, value in aggregate.items()
                   if key.startswith("evaluation_results.")}
        report[config.stem] = {"seconds": results.pop("elapsed_time"), "results": results}
    return report, seconds


def disentanglement_lib(python: Path, tf_model: Path, configs: list[Path], folder: Path
                        ) -> tuple[dict[str, dict], float]:
    """disentanglement_lib's evaluation: ({metric: {"seconds", "results" or "error"}},
    process seconds)."""
    report_file = folder / "dlib_report.json"
    _, seconds = run([str(python), "-m", "jlonevae_lib.dlib_tf.evaluate", str(tf_model),
                      str(folder / "dlib_results"), *map(str, configs), "--report",
                      str(report_file)])
    return json.loads(report_file.read_text()), seconds


def largest_difference(a: dict, b: dict) -> tuple[float, str]:
    """The largest |a[k] − b[k]| over the numeric keys both have, and that key."""
    worst, where = 0.0, "-"
    for key in sorted(set(a) & set(b)):
        if isinstance(a[key], int | float) and isinstance(b[key], int | float):
            difference = abs(float(a[key]) - float(b[key]))
            if not math.isfinite(difference) or difference > worst:
                worst, where = difference, key
    return worst, where


def table(theirs: dict[str, dict], mine: dict[str, dict], theirs_total: float,
          mine_total: float) -> str:
    lines = [f"{'metric':<38}{'dlib s':>9}{'ours s':>9}{'ratio':>8}  largest |Δ| (key)"]
    for name in SUITE:
        them, us = theirs[name], mine[name]
        if "error" in them:
            error = " ".join(them["error"].split())
            lines.append(f"{name:<38}{'failed':>9}{us['seconds']:>9.1f}{'':>8}  "
                         f"disentanglement_lib: {error[:90]}")
            continue
        difference, key = largest_difference(them["results"], us["results"])
        lines.append(f"{name:<38}{them['seconds']:>9.1f}{us['seconds']:>9.1f}"
                     f"{them['seconds'] / max(us['seconds'], 1e-9):>7.1f}×  "
                     f"{difference:.3g} ({key})")
    finished = [name for name in SUITE if "error" not in theirs[name]]
    them_sum = sum(theirs[name]["seconds"] for name in finished)
    us_sum = sum(mine[name]["seconds"] for name in finished)
    lines.append(f"{'metrics both finished':<38}{them_sum:>9.1f}{us_sum:>9.1f}"
                 f"{them_sum / max(us_sum, 1e-9):>7.1f}×")
    lines.append(f"{'whole process (all nine)':<38}{theirs_total:>9.1f}{mine_total:>9.1f}"
                 f"{theirs_total / max(mine_total, 1e-9):>7.1f}×")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that it works")
    parser.add_argument("--tf-model", type=Path, default=None,
                        help="a disentanglement_lib model folder (default: train one here)")
    parser.add_argument("--train-steps", type=int, default=40,
                        help="global steps of the model trained when --tf-model is not given")
    parser.add_argument("--tf-python", type=Path, default=default_dlib_python(os.environ),
                        help="disentanglement_lib's environment (default $DLIB_VENV, else "
                             ".venv-dlib)")
    parser.add_argument("--build", action="store_true",
                        help="build .venv-dlib first (build_dlib_env.bash; a no-op when built)")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write both reports here (ours as soon as it is done)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep the model, results and reports here (default: a temporary "
                             "folder, removed at the end)")
    args = parser.parse_args(argv)
    if args.build:
        run(["bash", str(BUILD_SCRIPT)], timeout=3600)
    if not args.tf_python.exists():
        print(f"no {args.tf_python}: build disentanglement_lib's environment first (bash "
              f"{BUILD_SCRIPT.relative_to(REPO)}, or --build)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench_dlib_suite_") as scratch:
        folder = args.work_dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        tf_model = args.tf_model or tensorflow_model(args.tf_python, folder / "tf",
                                                     args.train_steps)
        run([str(args.tf_python), "-m", "jlonevae_lib.dlib_tf.postprocess", str(tf_model)])
        run_dir = imported_run(args.tf_python, tf_model, folder / "imported")
        configs = metric_configs(folder, args.quick)
        # Ours first: a study-size run of both takes hours, and a failure on our side should
        # show before disentanglement_lib's hour is spent; each report is written when done.
        mine, mine_total = ours(run_dir, configs)
        write_report(args.json, {"ours": mine, "process_seconds": {"ours": mine_total}})
        theirs, theirs_total = disentanglement_lib(args.tf_python, tf_model, configs, folder)
    print(f"disentanglement_lib's nine metric configs{' (--quick sizes)' if args.quick else ''}"
          f" on {tf_model if args.tf_model else f'study member {MODEL_NUM}'}; "
          f"{os.cpu_count()} CPUs, ours n_jobs = "
          f"{default_n_jobs()}")
    print(table(theirs, mine, theirs_total, mine_total))
    write_report(args.json, {"disentanglement_lib": theirs, "ours": mine,
                             "process_seconds": {"disentanglement_lib": theirs_total,
                                                 "ours": mine_total},
                             "cpu": cpu_model(), "cpus": os.cpu_count()})
    return 0


def write_report(path: Path | None, report: dict) -> None:
    """Write ``report`` as JSON to ``path`` (nothing when None), atomically."""
    if path is not None:
        atomic_write_json(path, report)


if __name__ == "__main__":
    raise SystemExit(main())
