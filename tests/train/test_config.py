import json

import pytest

from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.utils.errors import JLoneVAEError


def test_experiment_name_matches_reference_layout():
    config = TrainConfig(beta=4, gamma=0.1, latent_dim=10, batch_size=64, lr=0.0001,
                         annealing_batches=100000)
    assert config.experiment_name == (
        "defaultConv_lone_beta4_0000_ica0_1000_lat10_batch64_lr0_0001_anneal100000"
    )


def test_experiment_name_l2_and_no_annealing():
    config = TrainConfig(beta=4, gamma=0.05, regularization_type="jltwo", lr=0.001,
                         annealing_batches=0)
    assert config.experiment_name == "defaultConv_jltwo_beta4_0000_ica0_0500_lat10_batch64_lr0_0010"


def test_run_folder_is_deterministic(tmp_path):
    config = TrainConfig(seed=11, output_dir=str(tmp_path))
    assert config.run_dir == tmp_path / "trainedModels" / config.experiment_name / "seed11"
    assert config.log_dir == tmp_path / "logs" / config.experiment_name / "seed11"
    assert TrainConfig(seed=11, run_id="probe", output_dir=str(tmp_path)).run_dir.name == "probe"


def test_json_round_trip(tmp_path):
    config = TrainConfig(seed=3, jacobian_batch=16, gamma=0.2)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config.to_dict()))
    assert TrainConfig.load(path) == config


def test_minus_zero_names_the_zero_folder():
    assert TrainConfig(beta=-0.0, gamma=-0.0).experiment_name \
        == TrainConfig(beta=0.0, gamma=0.0).experiment_name


@pytest.mark.parametrize(
    "bad",
    [
        {"batch_size": 0},
        {"batch_size": -64},
        {"num_batches": 0},
        {"gamma": -0.1},
        {"beta": float("nan")},
        {"gamma": float("inf")},
        {"lr": float("inf")},
        {"lr": 0},
        {"annealing_batches": -1},
        {"regularization_type": "jlthree"},
        {"jacobian_batch": 0},
        {"run_id": "a/b"},
        {"run_id": ".."},
        {"run_id": "."},
        {"models_dir": ".."},
        {"models_dir": "a/b"},
    ],
)
def test_bad_values_are_refused_with_their_name(bad):
    with pytest.raises(JLoneVAEError, match=next(iter(bad)).split("_")[0]):
        TrainConfig(**bad)


def test_unknown_config_keys_are_refused():
    with pytest.raises(JLoneVAEError, match="unknown keys"):
        TrainConfig.from_dict({"batch_size": 8, "bach_size": 8})


@pytest.mark.parametrize(("key", "value", "words"), [
    ("beta", "1.0", "a number"), ("seed", "1", "an integer"), ("seed", True, "an integer"),
    ("gamma", None, "a number"), ("annealing_batches", None, "an integer"),
    ("keep_models_at", 2, "a list of integers"), ("extended_from", None, "a list of integers"),
    ("jacobian_batch", "8", "an integer or null"), ("models_dir", 3, "a string"),
    ("run_id", 5, "a string or null"), ("deterministic", 1, "true or false"),
    ("objective_params", {"alpha": "1"}, "an object of numbers")])
def test_a_config_value_of_the_wrong_json_type_is_refused_by_name(key, value, words):
    with pytest.raises(JLoneVAEError, match=f"^{key} must be {words}, got"):
        TrainConfig.from_dict({key: value})


def test_json_numbers_stand_for_floats_and_null_for_optional_fields():
    config = TrainConfig.from_dict({"beta": 4, "lr": 0.001, "jacobian_batch": None,
                                    "keep_models_at": [2], "num_batches": 10})
    assert config.beta == 4 and config.keep_models_at == [2]


def test_a_bad_config_file_is_named(tmp_path):
    path = tmp_path / "config.json"
    for text in ('{"beta": "1.0"}', "[1, 2]"):
        path.write_text(text)
        with pytest.raises(JLoneVAEError, match=f"^{path}: .*restore the file"):
            TrainConfig.load(path)


def test_same_run_ignores_where_and_how_often():
    a = TrainConfig(device="cpu", output_dir="a", checkpoint_every=10)
    b = TrainConfig(device="cuda", output_dir="b", checkpoint_every=99)
    assert a.same_run_as(b)
    assert not a.same_run_as(TrainConfig(seed=2))


def test_a_dataset_alias_is_recorded_as_its_dataset():
    """The reference's MPI3D script names the dataset mpi3d_multi_real: the same run as
    mpi3dMulti, in the same folder."""
    alias = TrainConfig(dataset="mpi3d_multi_real", architecture="defaultConv")
    assert alias.dataset == "mpi3dMulti"
    assert alias.same_run_as(TrainConfig(dataset="mpi3dMulti", architecture="defaultConv"))
