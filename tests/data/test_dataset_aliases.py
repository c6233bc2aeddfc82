"""The original's dataset names: ``mpi3d_multi_real`` and gin's ``dataset.name``."""

from __future__ import annotations

import json
import shutil

import gin
import pytest

from jlonevae_lib.cli import evaluate as evaluate_cli
from jlonevae_lib.data import ground_truth
from jlonevae_lib.data.ground_truth import (
    available_datasets,
    canonical_dataset_name,
    get_named_ground_truth_data,
    lacks_ground_truth_factors,
    register_ground_truth_data,
)
from jlonevae_lib.data.mpi3d import Mpi3dMulti
from jlonevae_lib.data.three_dots import ThreeDots
from jlonevae_lib.evaluate import evaluation
from jlonevae_lib.runs import layout
from jlonevae_lib.utils.errors import JLoneVAEError
from tests.visualize.dataset_fixtures import write_sparse_mpi3d

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")

TINY_MIG = """evaluation.evaluation_fn = @mig
evaluation.random_seed = 0
mig.num_train = 100
discretizer.discretizer_fn = @histogram_discretizer
discretizer.num_bins = 5
"""


@pytest.fixture
def mpi3d_root(tmp_path, monkeypatch):
    """A data root with the real-shape MPI3D file (sparse, a few MB); deleted afterwards."""
    root = tmp_path / "data"
    if write_sparse_mpi3d(root) is None:
        pytest.skip("this file system does not keep the 12.7 GB MPI3D test file sparse")
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(root))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()


def test_alias_is_a_name_not_a_second_dataset():
    assert "mpi3d_multi_real" in available_datasets()
    assert available_datasets() == sorted(available_datasets())
    assert canonical_dataset_name("mpi3d_multi_real") == "mpi3dMulti"
    assert canonical_dataset_name("threeDots") == "threeDots"
    assert not lacks_ground_truth_factors("mpi3d_multi_real")
    assert "mpi3d_multi_real" not in ground_truth._REGISTRY
    with pytest.raises(ValueError, match="already registered"):
        register_ground_truth_data("mpi3d_multi_real")(ThreeDots)
    with pytest.raises(JLoneVAEError, match="mpi3d_multi_real"):
        get_named_ground_truth_data("mpi3d_multi")  # the known names are listed


def test_alias_builds_the_mpi3d_multi_dataset(mpi3d_root):
    data = get_named_ground_truth_data("mpi3d_multi_real")
    assert type(data) is Mpi3dMulti
    assert data.factors_num_values == get_named_ground_truth_data("mpi3dMulti").factors_num_values


def test_name_from_gin_as_disentanglement_lib(clean_gin, mpi3d_root):
    with pytest.raises(JLoneVAEError, match="dataset.name is not bound"):
        get_named_ground_truth_data()
    gin.parse_config_file(str(evaluation.DATASET_CONFIG_DIR / "threeDots.gin"))
    assert type(get_named_ground_truth_data()) is ThreeDots
    gin.clear_config()
    gin.parse_config(['dataset.name = "mpi3d_multi_real"'])
    assert type(get_named_ground_truth_data()) is Mpi3dMulti


def test_evaluation_maps_the_alias_to_its_config(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"dataset": "mpi3d_multi_real"}))
    assert evaluation.evaluation_dataset(run, None) == "mpi3dMulti"
    assert evaluation.evaluation_dataset(run, "mpi3d_multi_real") == "mpi3dMulti"
    assert evaluation.dataset_config("mpi3d_multi_real") == (
        evaluation.DATASET_CONFIG_DIR / "mpi3dMulti.gin")


def test_original_mpi3d_script_trains_and_evaluates(mpi3d_root, tmp_path, monkeypatch):
    # The original's train_mpi3d_multi.bash: AICROWD_DATASET_NAME=mpi3d_multi_real and
    # train_jlonevae_models.py --beta --gamma --latent-dim --epochs --annealingBatches --lr --seed
    # (here a few batches).
    from jlonevae_lib.cli.train import main as train_main

    monkeypatch.setenv("AICROWD_DATASET_NAME", "mpi3d_multi_real")
    out = tmp_path / "out"
    assert train_main(["--beta", "0.01", "--gamma", "0.01", "--latent-dim", "3",
                       "--num-batches", "2", "--batch-size", "4", "--annealingBatches", "1",
                       "--lr", "0.0001", "--seed", "11", "--device", "cpu",
                       "--output-dir", str(out)]) == 0
    (run,) = (out / "trainedModels").glob("*/seed11")
    # Recorded under the dataset's own name: the alias and the name are one run.
    assert json.loads((run / "config.json").read_text())["dataset"] == "mpi3dMulti"
    assert (run / "DONE").is_file()

    metric = tmp_path / "tiny_mig.gin"
    metric.write_text(TINY_MIG)
    assert evaluate_cli.main([str(run), "--metrics", str(metric), "--device", "cpu",
                              "--only-dataset", "mpi3d_multi_real"]) == 0
    aggregate = json.loads(layout.evaluation_path(run, "tiny_mig").read_text())
    assert aggregate["evaluation_config.dataset.name"] == "'mpi3dMulti'"
    assert 0 <= aggregate["evaluation_results.discrete_mig"] <= 1


def test_unknown_gin_name_is_refused(clean_gin):
    gin.parse_config(['dataset.name = "cars3d"'])
    with pytest.raises(JLoneVAEError, match="unknown dataset 'cars3d'"):
        get_named_ground_truth_data()

