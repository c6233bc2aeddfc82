"""Metrics at extra evaluation seeds: their names, their resolution to a config and a seed,
their bindings, and the results readers leaving their folders out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jlonevae_lib.evaluate.evaluation import METRICS_CONFIG_DIR, metric_bindings, resolve_metrics
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.metric_table import (
    METRIC_GROUPS,
    evaluation_seed_name,
    parse_evaluation_seed_name,
)
from jlonevae_lib.runs.results import discover_results
from jlonevae_lib.utils.errors import JLoneVAEError


def test_names_round_trip() -> None:
    assert evaluation_seed_name("local_mig_0_1", 2) == "local_mig_0_1_evalseed2"
    assert parse_evaluation_seed_name("local_mig_0_1_evalseed2") == ("local_mig_0_1", 2)
    assert parse_evaluation_seed_name("local_mig_0_1") is None
    assert parse_evaluation_seed_name("local_mig_0_1_evalseed") is None
    # One spelling per seed, within NumPy's 32 bits: no second folder for seed 1, no traceback.
    assert parse_evaluation_seed_name("local_mig_0_1_evalseed01") is None
    assert parse_evaluation_seed_name("local_mig_0_1_evalseed0") == ("local_mig_0_1", 0)
    assert parse_evaluation_seed_name("local_mig_0_1_evalseed4294967295")[1] == 2**32 - 1
    assert parse_evaluation_seed_name("local_mig_0_1_evalseed4294967296") is None
    for name in ("local_mig_0_1_evalseed01", "local_mig_0_1_evalseed4294967296"):
        with pytest.raises(JLoneVAEError, match=f"^{name}: write its evaluation seed without "
                                                "leading zeros, from 0 to 4294967295"):
            resolve_metrics([name])
    assert METRIC_GROUPS["evalseeds"] == (
        "local_mig_0_1_evalseed1", "local_modularity_0_1_evalseed1",
        "local_mig_0_1_evalseed2", "local_modularity_0_1_evalseed2")


def test_resolution_and_bindings(tmp_path: Path) -> None:
    gin = tmp_path / "tiny_local_mig_0_1_evalseed3.gin"
    gin.write_text("evaluation.random_seed = 0\n")
    metrics = resolve_metrics(["evalseeds", "local_mig_0_1", str(gin)])
    assert [(m.name, m.seed) for m in metrics] == [
        ("local_mig_0_1_evalseed1", 1), ("local_modularity_0_1_evalseed1", 1),
        ("local_mig_0_1_evalseed2", 2), ("local_modularity_0_1_evalseed2", 2),
        ("local_mig_0_1", None), ("tiny_local_mig_0_1_evalseed3", 3)]
    assert metrics[0].config == METRICS_CONFIG_DIR / "local_mig_0_1.gin"
    # The name's seed wins over --seed; a plain metric takes --seed.
    assert metric_bindings(metrics[0], 7)[-1] == "evaluation.random_seed = 1"
    assert metric_bindings(metrics[4], 7)[-1] == "evaluation.random_seed = 7"
    assert len(metric_bindings(metrics[4], None)) == 1
    with pytest.raises(JLoneVAEError, match="unknown metric 'nonsense_evalseed1'"):
        resolve_metrics(["nonsense_evalseed1"])


def _write(run: Path, metric: str, value: float) -> None:
    path = layout.evaluation_path(run, metric)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({
        "evaluation_config.local_sample_factors.locality_proportion": "0.1",
        "evaluation_results.local_discrete_migs_samples": [value, value]}))


def test_readers_leave_repeats_out(tmp_path: Path) -> None:
    run = tmp_path / "models" / "defaultConv_lone_beta4_0000_ica0_1000_lat10_batch64_lr0_0010" \
        / "seed1"
    _write(run, "local_mig_0_1", 0.1)
    _write(run, "local_mig_0_1_evalseed1", 0.3)
    assert [p.parts[-4] for p in layout.evaluation_files(run)] == ["local_mig_0_1"]
    assert [p.parts[-4] for p in layout.evaluation_seed_repeat_files(run)] == [
        "local_mig_0_1_evalseed1"]
    assert layout.evaluation_files_under(tmp_path / "models") == layout.evaluation_files(run)
    results = discover_results(tmp_path / "models")
    assert [r.value for r in results.records] == [0.1]
    assert not any("duplicate" in note for note in results.notes)
