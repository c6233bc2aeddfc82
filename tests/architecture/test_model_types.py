"""Model types a plug-in registers (save_model.register_model_type): a network of a class of its
own saves and loads like the package's two; bad registrations and arguments that are not plain
data are refused in one line. The plug-in discovery of a type is in tests/utils/test_plugins.py.
"""

from __future__ import annotations

import enum
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from jlonevae_lib.architecture import save_model as save_model_module
from jlonevae_lib.architecture.load_model import load_model
from jlonevae_lib.architecture.save_model import (
    MODEL_TYPES,
    find_model_type,
    register_model_type,
    save_model,
)
from jlonevae_lib.runs import layout
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError


@pytest.fixture(autouse=True)
def model_types(monkeypatch):
    """The registry as it was: a test's types do not outlive it."""
    before = dict(MODEL_TYPES)
    monkeypatch.setattr(save_model_module, "load_plugins", lambda group: None)
    yield
    MODEL_TYPES.clear()
    MODEL_TYPES.update(before)


class Linear(nn.Module):
    """A linear 'VAE' of a class of its own: its arguments are attributes, one a list."""

    architecture = "linear_vae"

    def __init__(self, im_side_len: int, latent_dim: int, widths: list[int]) -> None:
        super().__init__()
        self.im_side_len, self.latent_dim, self.widths = im_side_len, latent_dim, widths
        self.encoder = nn.Linear(im_side_len ** 2, 2 * latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))


def test_a_registered_class_saves_and_loads(tmp_path) -> None:
    register_model_type("linear_vae", ("im_side_len", "latent_dim", "widths"))(Linear)
    torch.manual_seed(0)
    model = Linear(4, 2, widths=(8, 3))
    folder = save_model(model, tmp_path / "model")
    assert (folder / "model_type.txt").read_text() == "linear_vae"
    loaded = load_model(folder)
    assert type(loaded) is Linear and loaded.widths == [8, 3] and not loaded.training
    x = torch.rand(5, 1, 4, 4)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_registering_the_same_class_again_replaces_it_and_another_class_is_refused() -> None:
    register_model_type("linear_vae", ("im_side_len", "latent_dim", "widths"))(Linear)
    # Re-running the defining cell or module: the same module and qualified name.
    again = type("Linear", (nn.Module,), {"__module__": Linear.__module__,
                                         "__qualname__": Linear.__qualname__})
    register_model_type("linear_vae", ("im_side_len",))(again)
    assert find_model_type("linear_vae").model_class is again
    with pytest.raises(ValueError, match=r"model type name 'conv_vae' is already registered "
                                         r"\(for jlonevae_lib\.architecture\.vae\.ConvVAE\)"):
        register_model_type("conv_vae", ("latent_dim",))(Linear)


@pytest.mark.parametrize("name, arg_names, message", [
    ("", ("a",), "a letter, then"),
    ("two\nlines", ("a",), "a letter, then"),
    ("1st", ("a",), "a letter, then"),
    ("ok", "latent_dim", "a non-empty sequence of argument names"),
    ("ok", (), "a non-empty sequence of argument names"),
    ("ok", ("not a name",), "a non-empty sequence of argument names"),
    ("ok", ("a", "a"), r"repeat a name"),
])
def test_bad_registrations_are_refused(name, arg_names, message) -> None:
    with pytest.raises(ValueError, match=message):
        register_model_type(name, arg_names)


def test_only_module_classes_register() -> None:
    with pytest.raises(ValueError, match="is not a torch.nn.Module class"):
        register_model_type("ok", ("a",))(lambda: None)


class Colour(enum.IntEnum):
    RED = 1


@pytest.mark.parametrize("widths, what", [
    ([torch.tensor(8)], "a Tensor"),
    ([np.float64(0.5)], "a float64"),       # pickles as a numpy scalar
    ([Colour.RED], "a Colour"),             # an int subclass pickles as its own class
    ([float("nan")], "nan"),                # reads back unequal to itself
    ([[1, float("inf")]], "inf"),
    ([{"a": 1}], "a dict"),
])
def test_arguments_the_loader_could_not_read_back_are_refused_before_writing(
        tmp_path, widths, what) -> None:
    register_model_type("linear_vae", ("im_side_len", "latent_dim", "widths"))(Linear)
    model = Linear(4, 2, widths=widths)
    with pytest.raises(JLoneVAEError, match=rf"^cannot save a Linear: its argument 'widths' "
                                            rf"holds {what}, not plain data"):
        save_model(model, tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_nested_tuples_are_saved_as_lists(tmp_path) -> None:
    register_model_type("linear_vae", ("im_side_len", "latent_dim", "widths"))(Linear)
    folder = save_model(Linear(4, 2, widths=((8, 3), (True, None, "relu", 0.5))),
                        tmp_path / "model")
    assert load_model(folder).widths == [[8, 3], [True, None, "relu", 0.5]]


def test_a_model_it_could_not_save_trains_no_batch(tmp_path, monkeypatch) -> None:
    from jlonevae_lib.architecture import registry
    from jlonevae_lib.train.config import TrainConfig
    from jlonevae_lib.train.trainer import train

    register_model_type("linear_vae", ("im_side_len", "latent_dim", "widths"))(Linear)
    def bad_args(im_channels: int, latent_dim: int) -> Linear:
        return Linear(16, latent_dim, [np.int64(3)])

    monkeypatch.setattr(registry, "_REGISTRY", {**registry._REGISTRY, "badArgs": bad_args})
    config = TrainConfig(architecture="badArgs", dataset="threeDots", num_batches=2,
                         batch_size=2, latent_dim=2, output_dir=str(tmp_path))
    with pytest.raises(JLoneVAEError, match="its argument 'widths' holds a int64"):
        train(config)
    assert not layout.checkpoint_path(Path(config.run_dir)).exists()


def test_an_argument_the_model_lacks_is_refused(tmp_path) -> None:
    register_model_type("linear_vae", ("im_side_len", "latent_dim", "widths"))(Linear)
    model = Linear(4, 2, widths=[1])
    del model.widths
    with pytest.raises(JLoneVAEError, match=r"it has no attribute 'widths'"):
        save_model(model, tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_an_unregistered_type_names_the_way_to_register_one(tmp_path) -> None:
    with pytest.raises(JLoneVAEError, match=r"cannot save a Linear \(model type 'linear_vae'\); "
                                            r"saved models are of type conv_vae, "
                                            r"dlib_conv_vae, or of one a plug-in registers"):
        save_model(Linear(4, 2, [1]), tmp_path / "model")
    register_model_type("linear_vae", ("im_side_len", "latent_dim", "widths"))(Linear)
    folder = save_model(Linear(4, 2, [1]), tmp_path / "model")
    del MODEL_TYPES["linear_vae"]  # loading where the plug-in is not installed
    with pytest.raises(DataFileError, match=r"model_type.txt names model type 'linear_vae'; "
                                            r"only 'conv_vae' or 'dlib_conv_vae' models can be "
                                            r"loaded, or those of an installed plug-in"):
        load_model(folder)


class Picky(Linear):
    architecture = "picky_vae"

    def __init__(self, im_side_len: int, latent_dim: int, widths: list[int]) -> None:
        if latent_dim > 8:
            raise ValueError(f"latent_dim {latent_dim} is above 8")
        super().__init__(im_side_len, latent_dim, widths)


def test_a_plugin_class_refusing_its_saved_arguments_is_one_line(tmp_path) -> None:
    register_model_type("picky_vae", ("im_side_len", "latent_dim", "widths"))(Picky)
    folder = save_model(Picky(4, 2, [1]), tmp_path / "model")
    (folder / "model_args.p").unlink()
    (folder / "model_args.json").write_text('{"im_side_len": 4, "latent_dim": 9, "widths": []}')
    with pytest.raises(DataFileError, match=r"do not build a model: ValueError: latent_dim 9 is "
                                            r"above 8$"):
        load_model(folder)
