"""The study numbering against disentanglement_lib's own sweep definition (sweep.get_config()).

``sweep.py`` imports without TensorFlow (it needs only disentanglement_lib's hyperparameter
helpers), so its 12,600 binding dicts are the oracle: each member's dataset, ``model.name``,
the method's gin parameters and ``model.random_seed``.
"""

from __future__ import annotations

import functools

import pytest
from disentanglement_lib.config.unsupervised_study_v1 import sweep

from jlonevae_lib.runs import study_numbering as study
from jlonevae_lib.utils.errors import JLoneVAEError

#: The gin scope of each method's parameters in the sweep's bindings.
GIN_SCOPE = {"beta_vae": "vae", "factor_vae": "factor_vae", "dip_vae_i": "dip_vae",
             "dip_vae_ii": "dip_vae", "beta_tc_vae": "beta_tc_vae",
             "annealed_vae": "annealed_vae"}


@functools.cache
def dlib_config() -> list[dict]:
    return sweep.get_config()


def expected(model_num: int) -> tuple[str, str, dict, int]:
    """(dataset, method, hyperparameters, seed) of a member, read off the sweep's bindings."""
    bindings = dlib_config()[model_num]
    method = bindings["model.name"]
    scope = GIN_SCOPE[method] + "."
    hyper = {key[len(scope):]: value for key, value in bindings.items()
             if key.startswith(scope) and key != "dip_vae.dip_type"}
    if method.startswith("dip_vae"):
        assert bindings["dip_vae.dip_type"] == method.rsplit("_", 1)[1]
    return bindings["dataset.name"], method, hyper, bindings["model.random_seed"]


def check_both_ways(model_num: int) -> None:
    dataset, method, hyper, seed = expected(model_num)
    member = study.study_member(model_num)
    assert (member.dataset, member.method, member.hyperparameters, member.seed) == \
        (dataset, method, hyper, seed), model_num
    assert study.model_number(method, member.hp_index, seed, dataset) == model_num
    assert study.model_number(method, member.hp_index, seed, member.dataset_index) == model_num


def test_the_study_has_the_sweeps_size_and_hp_index_is_its_position_in_the_grid():
    assert len(dlib_config()) == study.STUDY_SIZE == 12600
    assert study.DATASET_BLOCK == 1800
    # hp_index counts the method's settings in the sweep's order: the 50 seeds of a setting
    # are consecutive numbers, seed fastest.
    for model_num in range(0, study.DATASET_BLOCK, study.NUM_SEEDS):
        member = study.study_member(model_num)
        assert member.seed == 0
        assert expected(model_num + 49)[2] == member.hyperparameters


def test_every_member_of_the_first_dataset_block_maps_both_ways():
    for model_num in range(study.DATASET_BLOCK):
        check_both_ways(model_num)


def test_a_sample_of_the_whole_study_maps_both_ways():
    # Every block's first and last members and a stride through all 12,600.
    sample = set(range(0, study.STUDY_SIZE, 37))
    for block in range(len(study.DATASETS)):
        sample |= {block * study.DATASET_BLOCK, (block + 1) * study.DATASET_BLOCK - 1}
    for model_num in sorted(sample):
        check_both_ways(model_num)


def test_the_papers_members_are_hp_index_2():
    papers = {method: study.GRIDS[method][study.PAPER_HP_INDEX] for method in study.METHODS}
    assert papers == {
        "beta_vae": {"beta": 4.0},
        "factor_vae": {"gamma": 30.0},
        "dip_vae_i": {"lambda_od": 5.0, "lambda_d_factor": 10.0},
        "dip_vae_ii": {"lambda_od": 5.0, "lambda_d_factor": 1.0},
        "beta_tc_vae": {"beta": 4.0},
        "annealed_vae": {"c_max": 25.0, "gamma": 1000, "iteration_threshold": 100000},
    }
    numbers = [study.model_number(method, 2, seed) for method in study.METHODS
               for seed in range(10)]
    assert numbers == [100 + 300 * m + s for m in range(6) for s in range(10)]
    assert study.study_member(1309).method == "beta_tc_vae"


@pytest.mark.parametrize("model_num", [-1, 12600, 10**9])
def test_out_of_range_numbers_are_one_clear_line(model_num):
    with pytest.raises(JLoneVAEError, match=r"model number .* give 0 to 12599") as err:
        study.study_member(model_num)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("args", "message"), [
    (("beta_vae", 6, 0), "hyperparameter index 6 .* give 0 to 5"),
    (("beta_vae", 2, 50), "seed 50 .* give 0 to 49"),
    (("jlonevae", 2, 0), "unknown study method 'jlonevae'"),
    (("beta_vae", 2, 0, "threeDots"), "unknown study dataset 'threeDots'"),
    (("beta_vae", 2, 0, 7), "dataset index 7 .* give 0 to 6"),
    (("beta_vae", 2.0, 0), "hyperparameter index must be a whole number"),
    (("beta_vae", True, 0), "hyperparameter index must be a whole number"),
])
def test_bad_members_are_one_clear_line(args, message):
    with pytest.raises(JLoneVAEError, match=message) as err:
        study.model_number(*args)
    assert "\n" not in str(err.value)


def test_the_results_reader_labels_every_method_of_the_study():
    from jlonevae_lib.runs.results import BASELINE_METHODS

    assert tuple(BASELINE_METHODS) == study.METHODS


def test_factor_vae_counts_two_global_steps_per_vae_update():
    assert study.vae_updates("factor_vae", 22) == 11
    assert study.vae_updates("beta_vae", 22) == 22
