"""A registration run again (a notebook cell re-executed, a reloaded module) replaces the
entry it made before; anything else under a taken name is still refused, in every registry."""

from __future__ import annotations

import functools
import sys

import pytest
import torch.nn as nn

from jlonevae_lib.architecture import registry as architectures
from jlonevae_lib.data import ground_truth
from jlonevae_lib.sweep import studies
from jlonevae_lib.train import objectives
from jlonevae_lib.utils.plugins import is_redefinition


def _defined_twice() -> list[type]:
    """The same class statement executed twice: two class objects, one definition site."""
    made = []
    for _ in range(2):
        class Cell:
            pass
        made.append(Cell)
    return made


def test_is_redefinition():
    first, second = _defined_twice()
    assert first is not second and is_redefinition(first, second)
    assert is_redefinition(first, first)

    class Cell:  # same name, another definition site (this function's)
        pass

    assert not is_redefinition(first, Cell)
    assert not is_redefinition(first, object())  # an instance has no __qualname__
    assert not is_redefinition(len, max)

    def factory(im_channels: int, latent_dim: int) -> None:
        return None

    @functools.wraps(factory)
    def wrapper(im_channels: int, latent_dim: int) -> str:
        return "something else"

    assert not is_redefinition(factory, wrapper)  # wraps copies the module and qualname


@pytest.fixture
def registries(monkeypatch):
    """Copies of the registries, restored after the test."""
    for module in (architectures, ground_truth, studies, objectives):
        module._load_builtins()
        monkeypatch.setattr(module, "_REGISTRY", dict(module._REGISTRY))
    monkeypatch.setattr(ground_truth, "_EVALUATED_ON", dict(ground_truth._EVALUATED_ON))
    monkeypatch.setattr(ground_truth, "_WITHOUT_FACTORS", set(ground_truth._WITHOUT_FACTORS))
    monkeypatch.setattr(ground_truth, "_DATASET_CONFIGS", dict(ground_truth._DATASET_CONFIGS))


def _cells(make, count: int = 2) -> list:
    """``make()`` run ``count`` times from one line: one definition site, as a re-run cell."""
    return [make() for _ in range(count)]


def test_objective_cell_run_again(registries):
    def make():
        class MyObjective(objectives.objective_class("beta_vae")):
            pass
        return MyObjective

    first, second = _cells(make)
    objectives.register_objective("my_cell_objective")(first)
    objectives.register_objective("my_cell_objective")(second)
    assert objectives.objective_class("my_cell_objective") is second
    with pytest.raises(ValueError, match="'beta_vae' is already registered"):
        objectives.register_objective("beta_vae")(second)
    assert objectives.objective_class("beta_vae") is not second


def _factory_cell():
    def tiny(im_channels: int, latent_dim: int) -> nn.Module:
        return nn.Linear(im_channels, latent_dim)
    return tiny


def _study_cell():
    def my_study() -> studies.Study:
        return studies.get_study("threeDots")
    return my_study


@pytest.mark.parametrize(("registry", "register", "make", "builtin", "refusal"), [
    (architectures, architectures.register_architecture, _factory_cell, "dlibConv",
     "'dlibConv' is already registered"),
    (studies, studies.register_study, _study_cell, "threeDots", "registered twice"),
])
def test_factory_cell_run_again(registries, registry, register, make, builtin, refusal):
    first, second = _cells(make)
    register("my_cell_entry")(first)
    register("my_cell_entry")(second)
    assert registry._REGISTRY["my_cell_entry"] is second
    with pytest.raises(ValueError, match=refusal):
        register(builtin)(second)


def test_dataset_cell_run_again(registries):
    def make():
        class MyData(ground_truth.GroundTruthData):
            pass
        return MyData

    first, second = _cells(make)
    ground_truth.register_ground_truth_data("myCellData", evaluated_on="threeDots")(first)
    assert ground_truth.evaluation_dataset_name("myCellData") == "threeDots"
    # The new definition's registration is the one in force, evaluated_on included.
    ground_truth.register_ground_truth_data("myCellData")(second)
    assert ground_truth._REGISTRY["myCellData"] is second
    assert ground_truth.evaluation_dataset_name("myCellData") == "myCellData"
    for taken in ("threeDots", "mpi3d_multi_real"):  # a built-in's name, an alias
        with pytest.raises(ValueError, match="already registered"):
            ground_truth.register_ground_truth_data(taken)(second)
    assert ground_truth.evaluation_dataset_name("threeDotsCache") == "threeDots"


def test_a_relative_dataset_config_is_taken_beside_the_defining_module(registries, tmp_path,
                                                                       monkeypatch):
    """An entry point is imported by evaluations and sweeps from any working directory."""
    package = tmp_path / "site" / "rel_plugin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from jlonevae_lib.data.ground_truth import GroundTruthData, "
        "register_ground_truth_data\n\n"
        "@register_ground_truth_data('relData', dataset_config='relData.gin')\n"
        "class RelData(GroundTruthData):\n    pass\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.chdir(tmp_path)  # elsewhere than the package
    try:
        import rel_plugin  # noqa: F401
        assert ground_truth.registered_dataset_config("relData") == package / "relData.gin"
    finally:
        sys.modules.pop("rel_plugin", None)
