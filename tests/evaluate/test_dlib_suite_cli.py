"""End to end: ``jlonevae-evaluate`` with disentanglement_lib's metric suite on a tiny three-dots
model (each shipped config included unchanged, its sizes made small)."""

from __future__ import annotations

import json
import math

import pytest

from jlonevae_lib.cli import evaluate as evaluate_cli
from jlonevae_lib.evaluate import evaluation
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.metric_table import DLIB_LOCAL_METRIC_NAMES, DLIB_METRICS, METRICS
from tests.evaluate.test_dlib_suite_values import SMALL
from tests.evaluate.test_evaluation_cli import make_run

pytestmark = [
    pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]


def test_the_groups_resolve_to_the_shipped_files():
    suite = evaluation.resolve_metrics(["dlib"])
    assert [metric.name for metric in suite] == list(DLIB_METRICS) and len(suite) == 9
    assert all(metric.config == evaluation.METRICS_CONFIG_DIR / METRICS[metric.name].gin_file
               and metric.config.is_file() for metric in suite)
    local = evaluation.resolve_metrics(["dlib_local"])
    assert [metric.name for metric in local] == list(DLIB_LOCAL_METRIC_NAMES)
    assert len(local) == 30 and all(metric.config.is_file() for metric in local)


@pytest.mark.slow
def test_the_suite_evaluates_a_run(tmp_path, capsys):
    run = make_run(tmp_path / "trainedModels" / "experiment" / "seed1")
    configs = []
    for name in DLIB_METRICS:
        path = tmp_path / f"tiny_{name}.gin"
        path.write_text(f"include '{name}.gin'\n" + "\n".join(SMALL[name]) + "\n")
        configs.append(str(path))
    assert evaluate_cli.main([str(run), "--metrics", *configs, "--device", "cpu"]) == 0
    table = capsys.readouterr().out
    for name in DLIB_METRICS:
        aggregate = json.loads(layout.evaluation_path(run, f"tiny_{name}").read_text())
        assert aggregate["evaluation_config.dataset.name"] == "'threeDots'"
        values = [v for k, v in aggregate.items() if k.startswith("evaluation_results.")]
        assert all(math.isfinite(v) for v in values if isinstance(v, float))
        assert f"tiny_{name}" in table
    dci = json.loads(layout.evaluation_path(run, "tiny_dci").read_text())
    assert {"evaluation_results.disentanglement", "evaluation_results.completeness",
            "evaluation_results.informativeness_test"} <= set(dci)
    assert "disentanglement=" in table and "SAP_score=" in table
