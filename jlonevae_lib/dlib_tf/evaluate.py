"""disentanglement_lib's own evaluation of a post-processed model, timed (TensorFlow).

Usage (in ``.venv-dlib``; the benchmark ``benchmarks/bench_dlib_suite.py`` runs it)::

    .venv-dlib/bin/python -m jlonevae_lib.dlib_tf.evaluate TF_MODEL_DIR OUTPUT_DIR \\
        METRIC.gin [METRIC.gin ...] [--report report.json]

For each metric config (disentanglement_lib's own files, e.g. the copies in
``jlonevae_lib/config/metrics_configs/``, or files that include them and change sizes),
disentanglement_lib's ``evaluate_with_gin`` scores ``TF_MODEL_DIR/representation`` (the mean
representation :mod:`jlonevae_lib.dlib_tf.postprocess` writes) into
``OUTPUT_DIR/<config stem>/results/``, as its own pipeline does: ``dataset.name = "auto"`` reads
the model's dataset, and our three-dots names resolve (:func:`datasets.install`). A metric that
fails inside disentanglement_lib is reported with its error and the next one runs.

The report (JSON, printed and written to ``--report``) holds per metric the wall seconds of its
``evaluate_with_gin`` call (the TensorFlow Hub module loaded, the samples drawn and encoded, the
metric computed), its result dict, or its error.
"""

from __future__ import annotations

if __name__ == "__main__":
    # ``python -m`` runs this file as ``__main__``; the command imports it as a module.
    from jlonevae_lib.dlib_tf.commands import evaluate_command

    raise SystemExit(evaluate_command())

import shutil
import time
import traceback
from pathlib import Path
from typing import Any

import gin.tf
from disentanglement_lib.evaluation import evaluate as dlib_evaluate

from jlonevae_lib.dlib_tf import datasets
from jlonevae_lib.dlib_tf.folders import check_model_dir, representation_dir
from jlonevae_lib.dlib_tf.tf_logging import quiet_tensorflow_logging
from jlonevae_lib.runs.layout import DLIB_RESULTS_DIR, aggregate_file, read_json_object


def _plain(value: Any) -> Any:
    """A JSON value from disentanglement_lib's results (NumPy scalars become numbers)."""
    return value.item() if hasattr(value, "item") else value


def evaluate_model(model_dir: str | Path, output_dir: str | Path,
                   metric_configs: list[str | Path]) -> dict[str, Any]:
    """Run disentanglement_lib's evaluation of ``model_dir``'s mean representation with each
    config; returns ``{metric: {"seconds", "results"} or {"seconds", "error"}}``."""
    representation = representation_dir(check_model_dir(Path(model_dir)))
    datasets.install()
    quiet_tensorflow_logging(progress=False)
    report: dict[str, Any] = {}
    for config in metric_configs:
        config = Path(config).resolve()
        folder = Path(output_dir) / config.stem
        if folder.exists():
            shutil.rmtree(folder)
        start = time.perf_counter()
        try:
            dlib_evaluate.evaluate_with_gin(str(representation), str(folder),
                                            gin_config_files=[str(config)])
        except Exception as err:  # reported, and the next metric runs
            gin.clear_config()
            lines = traceback.format_exception_only(type(err), err)
            report[config.stem] = {"seconds": time.perf_counter() - start,
                                   "error": " ".join(line.strip() for line in lines)}
            continue
        seconds = time.perf_counter() - start
        flat = read_json_object(aggregate_file(folder / DLIB_RESULTS_DIR))
        results = {key.split(".", 1)[1]: _plain(value) for key, value in flat.items()
                   if key.startswith("evaluation_results.")}
        report[config.stem] = {"seconds": seconds, "results": results}
    return report
