"""The side-by-side benchmark of disentanglement_lib's nine metric configs runs end to end in
quick mode on a model disentanglement_lib trained (benchmarks/bench_dlib_suite.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tests.dlib_tf.conftest import REPO

pytestmark = pytest.mark.slow


def test_bench_dlib_suite_quick(dlib_python, dlib_trained_model, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "bench_dlib_suite", REPO / "benchmarks" / "bench_dlib_suite.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    report, work = tmp_path / "report.json", tmp_path / "work"
    assert bench.main(["--quick", "--tf-model", str(dlib_trained_model), "--tf-python",
                       str(dlib_python), "--json", str(report), "--work-dir", str(work)]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in bench.SUITE)
    both = json.loads(report.read_text())
    ours, theirs = both["ours"], both["disentanglement_lib"]
    assert set(ours) == set(theirs) == set(bench.SUITE)
    assert both["cpus"] >= 1 and both["cpu"]
    # --work-dir keeps both sides' files: disentanglement_lib's result folders, the imported run.
    assert (work / "dlib_results" / "mig").is_dir() and any(work.glob("imported/**/config.json"))
    # Deterministic metrics on the same weights: equal up to float32 rounding of the codes
    # (TensorFlow vs PyTorch), which can at most move a point across a bin edge.
    for name, key in (("mig", "discrete_mig"), ("unsupervised", "gaussian_total_correlation"),
                      ("sap_score", "SAP_score")):
        assert ours[name]["results"][key] == pytest.approx(theirs[name]["results"][key],
                                                           abs=0.02), name
    # With few training points disentanglement_lib's cross-validated logistic regression
    # fails (a class missing from a fold); ours gives numbers.
    assert "error" in theirs["downstream_task_logistic_regression"]
    assert "10:mean_test_accuracy" in ours["downstream_task_logistic_regression"]["results"]
    assert Path(bench.CONFIGS / "dci.gin").is_file()
