"""The metric table: names, localities and scores, and agreement with the shipped gin files."""

from __future__ import annotations

import gin
import pytest

from jlonevae_lib.evaluate import evaluation
from jlonevae_lib.runs.metric_table import (
    LOCAL_MIG,
    LOCAL_MODULARITY,
    METRICS,
    MIG,
    MODULARITY,
    PAPER_METRICS,
    describe,
    locality_token,
    metric_name,
    parse_metric_name,
    scores,
)


def test_locality_tokens_round_trip() -> None:
    assert [locality_token(x) for x in (0.1, 0.6, 1.0, 0.05, 2.0)] == [
        "0_1", "0_6", "1_0", "0_05", "2_0"]
    for x in (0.1, 0.3, 1.0, 0.05):
        assert parse_metric_name(metric_name(LOCAL_MODULARITY, x)) == (LOCAL_MODULARITY, x)


def test_metric_names_are_the_shipped_names() -> None:
    assert metric_name(LOCAL_MIG, 1.0) == "local_mig_1_0"
    assert metric_name(LOCAL_MIG, 1.0) in METRICS
    assert (metric_name(MIG, None), metric_name(MODULARITY, None)) == (
        "mig", "modularity_explicitness")
    assert parse_metric_name("modularity_explicitness") == (MODULARITY, None)
    assert parse_metric_name("small_local_mig") is None
    assert PAPER_METRICS[:4] == ("mig", "modularity_explicitness", "local_mig_0_1",
                                 "local_modularity_0_1")
    assert len(PAPER_METRICS) == 12
    assert describe(LOCAL_MIG, 0.1) == "local MIG @0.1"
    assert METRICS["local_modularity_0_6"].label == "local modularity @0.6"


def test_the_table_lists_every_shipped_metric_config() -> None:
    shipped = {path.stem for path in evaluation.METRICS_CONFIG_DIR.glob("*.gin")
               if not path.stem.endswith("_base")}
    assert shipped == set(METRICS)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_each_config_computes_its_score_at_its_locality(name: str) -> None:
    spec = METRICS[name]
    config = evaluation.METRICS_CONFIG_DIR / spec.gin_file
    with evaluation.gin_config([config]):
        function = gin.query_parameter("evaluation.evaluation_fn")
        assert function.selector == scores()[spec.score].configurable
        if spec.local:
            locality = gin.query_parameter("local_sample_factors.locality_proportion")
            assert float(locality) == spec.locality
        else:
            with pytest.raises(ValueError):
                gin.query_parameter("local_sample_factors.locality_proportion")
