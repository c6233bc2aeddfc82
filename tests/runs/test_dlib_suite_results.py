"""The results reader and the summaries on disentanglement_lib's metric suite: each file's
numbers are read as the scores of the metric that wrote it (docs/metrics.md)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from jlonevae_lib.reports.records import value_keys
from jlonevae_lib.runs import layout, results
from jlonevae_lib.runs.metric_table import (
    BETA_VAE,
    DCI_COMPLETENESS,
    DCI_DISENTANGLEMENT,
    DCI_INFORMATIVENESS,
    DOWNSTREAM_BOOSTED,
    DOWNSTREAM_LOGISTIC,
    FACTOR_VAE,
    LOCAL_DCI_COMPLETENESS,
    LOCAL_DCI_DISENTANGLEMENT,
    LOCAL_DCI_INFORMATIVENESS,
    LOCAL_MIG,
    LOCAL_MODULARITY,
    MIG,
    MODULARITY,
    SAP,
    file_scores,
    metric_name,
)

JL1_EXPERIMENT = "defaultConv_lone_beta4_0000_ica0_1000_lat3_batch64_lr0_0010_anneal700"


def aggregate(function: str, results_: dict, **config: str) -> dict:
    """A flat evaluation.json as our evaluation step writes it."""
    data = {"evaluation_config.evaluation.evaluation_fn": f"@{function}",
            "evaluation_config.dataset.name": "'threeDots'",
            "evaluation_results.elapsed_time": 1.0}
    data.update({f"evaluation_config.{key}": value for key, value in config.items()})
    data.update({f"evaluation_results.{key}": value for key, value in results_.items()})
    return data


DOWNSTREAM = {"10000:mean_test_accuracy": 0.7, "10000:mean_train_accuracy": 0.9,
              "10:mean_test_accuracy": 0.2}
FILES = {
    "beta_vae_sklearn": aggregate("beta_vae_sklearn", {"train_accuracy": 0.9,
                                                       "eval_accuracy": 0.8}),
    "factor_vae_metric": aggregate("factor_vae_score", {"train_accuracy": 0.6,
                                                        "eval_accuracy": 0.5,
                                                        "num_active_dims": 10}),
    "dci": aggregate("dci", {"disentanglement": 0.3, "completeness": 0.4,
                             "informativeness_test": 0.5, "informativeness_train": 0.6}),
    "sap_score": aggregate("sap_score", {"SAP_score": 0.05}),
    "downstream_task_logistic_regression": aggregate(
        "downstream_task", DOWNSTREAM, **{"predictor.predictor_fn": "@logistic_regression_cv"}),
    "downstream_task_boosted_trees": aggregate(
        "downstream_task", {**DOWNSTREAM, "10000:mean_test_accuracy": 0.75},
        **{"predictor.predictor_fn": "@gradient_boosting_classifier"}),
    "mig": aggregate("mig", {"discrete_mig": 0.1}),
    "local_dci_0_1": aggregate("local_dci", {
        "disentanglement": 0.5, "local_disentanglement_samples": [0.4, 0.6],
        "completeness": 0.7, "local_completeness_samples": [0.7, 0.7],
        "informativeness_test": 0.8, "local_informativeness_test_samples": [0.8, 0.8]},
        **{"local_sample_factors.locality_proportion": "0.1"}),
    "local_mig_0_1": aggregate("local_mig", {"discrete_mig": 0.2,
                                             "local_discrete_migs_samples": [0.1, 0.3]},
                               **{"local_sample_factors.locality_proportion": "0.1"}),
}


def write_run(root: Path) -> Path:
    """A JL1-VAE run folder under ``root`` holding every file of :data:`FILES`."""
    run_dir = root / JL1_EXPERIMENT / "seed1"
    for name, data in FILES.items():
        path = layout.evaluation_path(run_dir, name)
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(data))
    layout.config_path(run_dir).write_text(json.dumps({"seed": 1}))
    return run_dir


def test_file_scores_follow_the_evaluation_function():
    assert file_scores(FILES["beta_vae_sklearn"], local=False) == (BETA_VAE,)
    assert file_scores(FILES["factor_vae_metric"], local=False) == (FACTOR_VAE,)
    assert file_scores(FILES["dci"], local=False) == (DCI_DISENTANGLEMENT, DCI_COMPLETENESS,
                                                      DCI_INFORMATIVENESS)
    assert file_scores(FILES["downstream_task_boosted_trees"], local=False) == (
        DOWNSTREAM_BOOSTED,)
    assert file_scores(FILES["downstream_task_logistic_regression"], local=False) == (
        DOWNSTREAM_LOGISTIC,)
    assert file_scores(FILES["local_dci_0_1"], local=True) == (
        LOCAL_DCI_DISENTANGLEMENT, LOCAL_DCI_COMPLETENESS, LOCAL_DCI_INFORMATIVENESS)
    assert file_scores(FILES["local_mig_0_1"], local=True) == (LOCAL_MIG,)
    assert file_scores({"evaluation_config.evaluation.evaluation_fn": "@some.module.sap_score"},
                       local=False) == (SAP,)
    # Files that do not name their function (older ones) are read as before.
    assert file_scores({}, local=False) == (MIG, MODULARITY)
    assert file_scores({}, local=True) == (LOCAL_MIG, LOCAL_MODULARITY)


def test_the_reader_reads_each_file_as_its_metric(tmp_path: Path):
    write_run(tmp_path)
    found = results.discover_results(tmp_path)
    values = {record.name: record.value for record in found.records}
    assert values == {
        metric_name(BETA_VAE, None): 0.8, metric_name(FACTOR_VAE, None): 0.5,
        "dci_disentanglement": 0.3, "dci_completeness": 0.4, "dci_informativeness": 0.5,
        "sap": 0.05, "downstream_logistic_regression": 0.7, "downstream_boosted_trees": 0.75,
        "mig": 0.1, "local_dci_disentanglement_0_1": 0.5, "local_dci_completeness_0_1": 0.7,
        "local_dci_informativeness_0_1": 0.8, "local_mig_0_1": pytest.approx(0.2)}
    assert not [note for note in found.notes if "duplicate" in note or "skipped" in note]


def test_the_summaries_list_every_score_read(tmp_path: Path):
    """A study summary's value keys (reports.records.value_keys) take in every score the
    reader found: the local versions after the paper's local scores, the global suite after
    MIG and modularity."""
    write_run(tmp_path)
    values = {record.name: record.value for record in results.discover_results(tmp_path).records}
    keys = value_keys([SimpleNamespace(values=values)])
    assert set(keys) == set(values)
    assert keys[:4] == ["local_mig_0_1", "local_dci_disentanglement_0_1",
                        "local_dci_completeness_0_1", "local_dci_informativeness_0_1"]
    assert keys.index("mig") < keys.index("dci_disentanglement") < keys.index("sap")
