"""Registering a score (a plug-in's, runs/metric_table.py): refusals, re-registration, and every
reader of the table seeing it after the built-in ones."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from jlonevae_lib.reports.records import value_keys
from jlonevae_lib.runs import layout, metric_table, results
from jlonevae_lib.runs.metric_table import (
    BUILTIN_SCORES,
    LOCAL_MIG,
    MIG,
    Score,
    all_local_scores,
    describe,
    file_scores,
    global_scores,
    metric_name,
    parse_metric_name,
    register_score,
    score_labels,
    scores,
    summary_result_keys,
)
from jlonevae_lib.utils.errors import JLoneVAEError

SPREAD = Score("code_spread", "code spread", "my_code_spread", False, (), ("code_spread",))
LOCAL_SPREAD = Score("local_code_spread", "local code spread", "my_local_code_spread", True,
                     ("local_spreads_samples",), ("code_spread",))
JL1_EXPERIMENT = "defaultConv_lone_beta4_0000_ica0_1000_lat3_batch64_lr0_0010_anneal700"


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table as the package ships it, restored after each test."""
    monkeypatch.setattr(metric_table, "_REGISTRY", dict(BUILTIN_SCORES))


def test_a_registered_score_comes_after_the_builtin_ones_everywhere():
    assert "code_spread" not in scores() and parse_metric_name("local_code_spread_0_1") is None
    builtin_result_keys = summary_result_keys()
    register_score(LOCAL_SPREAD)
    register_score(SPREAD)
    assert list(scores()) == [*BUILTIN_SCORES, "local_code_spread", "code_spread"]
    assert global_scores()[-1] == "code_spread" and global_scores()[:2] == (MIG, "modularity")
    assert all_local_scores()[-1] == "local_code_spread" and all_local_scores()[0] == LOCAL_MIG
    assert score_labels()["code_spread"] == "code spread"
    assert describe("local_code_spread", 0.3) == "local code spread @0.3"
    # The console's scores column: the built-ins' keys as before, then the new one (once).
    assert summary_result_keys() == (*builtin_result_keys, "code_spread")


def test_names_of_a_registered_score_round_trip():
    register_score(SPREAD)
    register_score(LOCAL_SPREAD)
    assert metric_name("code_spread", None) == "code_spread"
    assert parse_metric_name("code_spread") == ("code_spread", None)
    for locality in (0.1, 1.0, 0.05):
        name = metric_name("local_code_spread", locality)
        assert parse_metric_name(name) == ("local_code_spread", locality)
    assert metric_name("local_code_spread", 0.1) == "local_code_spread_0_1"
    # The built-ins' names read as before.
    assert parse_metric_name("local_mig_0_1") == (LOCAL_MIG, 0.1)
    assert parse_metric_name("mig") == (MIG, None)


def test_identical_registration_is_a_no_op():
    assert register_score(SPREAD) is SPREAD
    again = Score("code_spread", "code spread", "my_code_spread", False, [], ["code_spread"])
    assert register_score(again) == SPREAD  # a module imported again: an equal Score
    assert list(scores()).count("code_spread") == 1
    assert register_score(BUILTIN_SCORES[MIG]) == BUILTIN_SCORES[MIG]


@pytest.mark.parametrize("score, message", [
    (Score("mig", "my MIG", "my_mig", False, (), ("x",)),
     "score key 'mig' is already registered (a score of the package: MIG); choose another key"),
    (Score("", "nothing", "my_fn", False, (), ("x",)),
     "a score's key is letters, digits and underscores, got ''"),
    (Score("my score", "mine", "my_fn", False, (), ("x",)),
     "a score's key is letters, digits and underscores, got 'my score'"),
    (Score("spread_0_1", "spread", "my_fn", False, (), ("x",)),
     "score 'spread_0_1': a key may not end in _<digits>"),
    (Score("spread_evalseed", "spread", "my_fn", False, (), ("x",)),
     "score 'spread_evalseed': a key may not end in _<digits> or hold '_evalseed'"),
    (Score("heldout_bce", "BCE", "my_fn", False, (), ("x",)),
     "score 'heldout_bce': summaries keep a run's heldout_bce under that key"),
    (Score("modularity_explicitness", "m", "my_fn", False, (), ("x",)),
     "score 'modularity_explicitness': summaries name the score 'modularity' so"),
    (Score("spread", " ", "my_fn", False, (), ("x",)), "score 'spread' has no label"),
    (Score("spread", "spread", "@my_fn", False, (), ("x",)),
     "score 'spread': configurable is the gin configurable's name, without '@'"),
    (Score("spread", "spread", "my_fn", True), "score 'spread' is local but names no result key"),
    (Score("spread", "spread", "my_fn", False), "score 'spread' is global but names no scalar"),
    (Score("spread", "spread", "my_fn", False, ("s",), ("x",)),
     "score 'spread' is global: the results reader reads its scalar_keys only"),
])
def test_a_bad_or_taken_score_is_refused_in_one_line(score, message):
    with pytest.raises(JLoneVAEError) as raised:
        register_score(score)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    assert list(scores()) == list(BUILTIN_SCORES)


def test_another_plugins_key_is_refused():
    register_score(SPREAD)
    with pytest.raises(JLoneVAEError, match=r"^score key 'code_spread' is already registered "
                                            r"\(another score: code spread\); choose another"):
        register_score(Score("code_spread", "spread", "other_fn", False, (), ("spread",)))
    assert scores()["code_spread"] == SPREAD


def evaluation(function: str, values: dict, locality: str | None = None) -> dict:
    """A flat evaluation.json as the evaluation step writes it."""
    data = {"evaluation_config.evaluation.evaluation_fn": f"@{function}",
            "evaluation_config.dataset.name": "'threeDots'",
            **{f"evaluation_results.{key}": value for key, value in values.items()}}
    if locality is not None:
        data["evaluation_config.local_sample_factors.locality_proportion"] = locality
    return data


def test_the_reader_and_the_summaries_read_a_registered_score(tmp_path: Path):
    register_score(SPREAD)
    register_score(LOCAL_SPREAD)
    files = {"my_code_spread": evaluation("my_package.metrics.my_code_spread",
                                          {"code_spread": 0.25}),
             "my_local_spread": evaluation("my_local_code_spread",
                                           {"code_spread": 9.0, "local_spreads_samples": [0.1,
                                                                                          0.3]},
                                           locality="0.1"),
             "mig": evaluation("mig", {"discrete_mig": 0.5})}
    assert file_scores(files["my_code_spread"], local=False) == ("code_spread",)
    assert file_scores(files["my_local_spread"], local=True) == ("local_code_spread",)
    assert file_scores(files["mig"], local=False) == (MIG,)
    run_dir = tmp_path / JL1_EXPERIMENT / "seed1"
    for name, data in files.items():
        path = layout.evaluation_path(run_dir, name)
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(data))
    found = results.discover_results(tmp_path)
    values = {record.name: record.value for record in found.records}
    assert values == {"code_spread": 0.25, "local_code_spread_0_1": pytest.approx(0.2),
                      "mig": 0.5}
    assert not found.notes
    assert value_keys([SimpleNamespace(values=values)]) == [
        "local_code_spread_0_1", "mig", "code_spread"]
