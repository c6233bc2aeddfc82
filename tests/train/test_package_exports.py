"""The training entry points a user imports from Python."""

import subprocess
import sys

import pytest


def test_train_and_config_import_from_the_package() -> None:
    from jlonevae_lib.train import TrainConfig, train
    from jlonevae_lib.train.config import TrainConfig as config_class
    from jlonevae_lib.train.trainer import train as train_function

    assert TrainConfig is config_class
    assert train is train_function


def test_unknown_names_raise_attribute_error() -> None:
    import jlonevae_lib.train

    with pytest.raises(AttributeError, match="no attribute 'trainer_of_dreams'"):
        jlonevae_lib.train.trainer_of_dreams  # noqa: B018


def test_a_submodule_alone_does_not_load_the_trainer() -> None:
    code = ("import sys, jlonevae_lib.train.dlib_losses; "
            "print('jlonevae_lib.train.trainer' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
