"""gin: the reference's config files parse and run; shipped configs hold the paper's settings."""

from __future__ import annotations

import importlib
from pathlib import Path

import gin
import numpy as np
import pytest

from jlonevae_lib.evaluate import configurables, evaluation
from jlonevae_lib.evaluate.sampling import DrawCache
from jlonevae_lib.runs.metric_table import PAPER_METRICS, SMALL_METRICS
from jlonevae_lib.utils.errors import JLoneVAEError
from tests.evaluate import dlib_oracle
from tests.evaluate.helpers import IdentityData, mixing_representation

# The reference's files, verbatim in content.
REFERENCE_LOCAL_MIG_BASE = """evaluation.evaluation_fn = @local_mig
evaluation.random_seed = 0
local_mig.num_train=10000
local_mig.num_local_clusters=20
local_sample_factors.continuity_cutoff=10
discretizer.discretizer_fn = @histogram_discretizer
discretizer.num_bins = 5
"""
REFERENCE_LOCAL_MIG_0_1 = """include 'local_mig_base.gin'
local_sample_factors.locality_proportion=0.1
"""
REFERENCE_THREE_DOTS = """dataset.name="threeDots"
local_sample_factors.denylist_factors=[] # all factors ordered. great dataset.
"""


REPRESENTATION = mixing_representation(0)


def run_config(files, bindings=(), data=None, cache=None):
    """Evaluate the metric configured by ``files`` on a small identity dataset."""
    data = data or IdentityData([12, 4, 30, 10])
    with evaluation.gin_config(files, bindings):
        results = configurables.evaluate(lambda name: data, REPRESENTATION, cache)
        return results, gin.operative_config_str()


@pytest.fixture
def reference_files(tmp_path):
    (tmp_path / "local_mig_base.gin").write_text(REFERENCE_LOCAL_MIG_BASE)
    (tmp_path / "local_mig_0_1.gin").write_text(REFERENCE_LOCAL_MIG_0_1)
    (tmp_path / "threeDots.gin").write_text(REFERENCE_THREE_DOTS)
    return tmp_path


def test_reference_files_parse_and_run(reference_files, monkeypatch):
    monkeypatch.chdir(reference_files.parent)  # the include resolves next to the file, not cwd
    results, operative = run_config([reference_files / "local_mig_0_1.gin",
                                     reference_files / "threeDots.gin"])
    assert len(results["local_discrete_migs_samples"]) == 20
    assert 0 <= results["discrete_mig"] <= 1
    config = evaluation.gin_dict(operative)
    assert config["local_mig.num_train"] == "10000"
    assert config["local_sample_factors.locality_proportion"] == "0.1"
    assert config["dataset.name"] == "'threeDots'"
    assert config["evaluation.evaluation_fn"] == "@local_mig"


def test_include_prefers_the_including_files_folder(reference_files):
    # A base file here that differs from the shipped local_mig_base.gin must be the one used.
    (reference_files / "local_mig_base.gin").write_text(
        REFERENCE_LOCAL_MIG_BASE.replace("10000", "50").replace("=20", "=2"))
    results, _ = run_config([reference_files / "local_mig_0_1.gin",
                             reference_files / "threeDots.gin"])
    assert len(results["local_discrete_migs_samples"]) == 2


def test_shipped_include_resolves_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.gin").write_text("include 'local_modularity_base.gin'\n"
                                       "local_sample_factors.locality_proportion = 0.2\n"
                                       "local_modularity.num_train = 100\n")
    results, operative = run_config([tmp_path / "mine.gin",
                                     evaluation.DATASET_CONFIG_DIR / "threeDots.gin"])
    assert len(results["local_modularity_scores_samples"]) == 20
    assert evaluation.gin_dict(operative)["discretizer.num_bins"] == "5"


def test_disentanglement_lib_config_parses():
    # disentanglement_lib's own metric config (with its dataset.name = "auto" line).
    dlib_mig = (Path(dlib_oracle.load().utils.__file__).parents[2] / "config"
                / "unsupervised_study_v1" / "metric_configs" / "mig.gin")
    results, operative = run_config([dlib_mig, evaluation.DATASET_CONFIG_DIR / "threeDots.gin"],
                                    ["mig.num_train = 300"])
    assert 0 <= results["discrete_mig"] <= 1
    assert evaluation.gin_dict(operative)["dataset.name"] == "'threeDots'"


def test_bare_names_stay_ours_next_to_disentanglement_lib():
    dlib_oracle.load()
    with evaluation.gin_config([], ["discretizer.num_bins = 3",
                                    "dlib.discretizer.num_bins = 4"]):
        assert gin.query_parameter("discretizer.num_bins") == 3
        assert configurables.histogram_discretizer.__module__ == configurables.__name__


def test_registration_is_idempotent_and_config_cleared():
    importlib.reload(configurables)  # registers every name again, replacing our entries
    results, _ = run_config([evaluation.METRICS_CONFIG_DIR / "small_local_mig.gin",
                             evaluation.DATASET_CONFIG_DIR / "threeDots.gin"])
    assert len(results["local_discrete_migs_samples"]) == 3
    with evaluation.gin_config([], ["local_mig.num_train = 5"]):
        assert gin.query_parameter("local_mig.num_train") == 5
    with pytest.raises(ValueError):
        gin.query_parameter("local_mig.num_train")


def test_bad_config_is_a_user_error(tmp_path):
    (tmp_path / "bad.gin").write_text("local_mig.no_such_parameter = 3\n")
    with pytest.raises(JLoneVAEError, match="no_such_parameter"):
        with evaluation.gin_config([tmp_path / "bad.gin"]):
            pass
    (tmp_path / "missing_include.gin").write_text("include 'nowhere.gin'\n")
    with pytest.raises(JLoneVAEError, match="nowhere.gin") as raised:
        # The shipped dataset folder is searched anyway: it is listed once all the same.
        with evaluation.gin_config([tmp_path / "missing_include.gin",
                                    evaluation.DATASET_CONFIG_DIR / "threeDots.gin"]):
            pass
    message = str(raised.value)
    assert "\n" not in message and 'line 1' in message
    assert message.count(str(evaluation.DATASET_CONFIG_DIR)) == 2  # the file, then the path


PAPER_LOCALITIES = {"0_1": "0.1", "0_2": "0.2", "0_3": "0.3", "0_6": "0.6", "1_0": "1.0"}


@pytest.mark.parametrize("name", PAPER_METRICS + SMALL_METRICS)
def test_shipped_metric_configs(name):
    dataset = evaluation.DATASET_CONFIG_DIR / "threeDots.gin"
    with evaluation.gin_config([evaluation.METRICS_CONFIG_DIR / f"{name}.gin", dataset]):
        def value(binding):
            return gin.query_parameter(binding)

        assert value("evaluation.random_seed") == 0
        assert value("dataset.name") == "threeDots"
        if name.startswith("local_"):
            metric = "local_mig" if "mig" in name else "local_modularity"
            assert value(f"{metric}.num_train") == 10000
            assert value(f"{metric}.num_local_clusters") == 20
            assert value("discretizer.num_bins") == 5
            assert value("local_sample_factors.continuity_cutoff") == 10
            assert str(value("local_sample_factors.locality_proportion")) == \
                PAPER_LOCALITIES[name[-3:]]
            assert value("local_sample_factors.denylist_factors") == []
        elif name.startswith("small_"):
            metric = name[len("small_"):]
            assert value(f"{metric}.num_train") == 1000
            assert value(f"{metric}.num_local_clusters") == 3
            assert value("local_sample_factors.locality_proportion") == 0.1
        else:
            assert value("discretizer.num_bins") == 20
            assert value(f"{name}.num_train") == 10000


def test_mpi3d_denylist():
    with evaluation.gin_config([evaluation.DATASET_CONFIG_DIR / "mpi3d_real.gin"]):
        assert tuple(gin.query_parameter("local_sample_factors.denylist_factors")) == (0, 1, 4)


def test_local_mig_and_modularity_share_one_draw():
    cache, data = DrawCache(), IdentityData([12, 4, 30, 10])
    small = evaluation.METRICS_CONFIG_DIR
    dataset = evaluation.DATASET_CONFIG_DIR / "threeDots.gin"
    mig, _ = run_config([small / "small_local_mig.gin", dataset], data=data, cache=cache)
    modularity, _ = run_config([small / "small_local_modularity.gin", dataset], data=data,
                               cache=cache)
    assert cache.hits == 1
    uncached, _ = run_config([small / "small_local_modularity.gin", dataset], data=data)
    np.testing.assert_array_equal(modularity["local_modularity_scores_samples"],
                                  uncached["local_modularity_scores_samples"])
    assert len(mig["local_discrete_migs_samples"]) == 3


def test_no_path_not_found_noise(tmp_path, caplog):
    (tmp_path / "mine.gin").write_text(
        f"include '{evaluation.METRICS_CONFIG_DIR / 'local_mig_0_1.gin'}'\n")
    with evaluation.gin_config([tmp_path / "mine.gin"]):
        assert gin.query_parameter("local_mig.num_local_clusters") == 20
    assert "Path not found" not in caplog.text
