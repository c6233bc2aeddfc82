"""Saved-model folders: round trip, the reference's format, hostile and damaged files."""

from __future__ import annotations

import builtins
import json
import os
import pickle
from pathlib import Path

import pytest
import torch

from jlonevae_lib.architecture.load_model import (
    load_model,
    load_model_args,
    load_state_dict_file,
)
from jlonevae_lib.architecture.save_model import save_conv_vae
from jlonevae_lib.architecture.vae import ConvVAE, build_conv_vae, conv_vae_args
from jlonevae_lib.utils.errors import DataFileError, UnsafePickleError
from jlonevae_lib.utils.safe_pickle import safe_load_pickle
from tests.architecture.reference_forward import reference_decode, reference_encode
from tests.architecture.test_vae import TINY16_STATE


class OpensAFile:
    """Unpickling this calls builtins.open(marker, "w"): it creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return builtins.open, (self.marker, "w")


class RunsAShellCommand:
    """Unpickling this calls os.system("touch marker")."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A saved tiny16 model (d = 4) and the model itself; tests copy it before damaging it."""
    torch.manual_seed(0)
    model = build_conv_vae("tiny16", latent_dim=4).eval()
    folder = save_conv_vae(model, tmp_path_factory.mktemp("saved") / "cache_batch_no10")
    return folder, model


@pytest.fixture
def copy_of_saved(saved, tmp_path):
    folder, _ = saved
    copy = tmp_path / "model"
    copy.mkdir()
    for file in folder.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    return copy


def test_round_trip(saved):
    folder, model = saved
    assert sorted(p.name for p in folder.iterdir()) == [
        "model_args.json", "model_args.p", "model_state_dict.pt", "model_type.txt"]
    assert (folder / "model_type.txt").read_text() == "conv_vae"
    assert safe_load_pickle(folder / "model_args.p") == model.model_args
    assert json.loads((folder / "model_args.json").read_text()) == model.model_args
    loaded = load_model(folder, device=torch.device("cpu"))
    assert not loaded.training
    assert loaded.model_args == model.model_args
    x = torch.rand(3, 1, 16, 16)
    torch.testing.assert_close(loaded.encode(x), model.encode(x), rtol=0, atol=0)
    torch.testing.assert_close(loaded.noiseless_autoencode(x)[0], model.noiseless_autoencode(x)[0],
                               rtol=0, atol=0)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("final_activation", [None, "sigmoid"])
def test_loads_a_folder_in_the_reference_format(tmp_path, protocol, final_activation):
    # Written the way the reference's save_conv_vae did: pickle.dump + torch.save, no JSON.
    args = conv_vae_args("tiny16", im_channels=1, latent_dim=10)
    if final_activation is not None:  # later reference versions saved this 13th key
        args["final_activation"] = final_activation
    generator = torch.Generator().manual_seed(protocol)
    state = {name: 0.05 * torch.randn(shape, generator=generator) for name, shape in TINY16_STATE}
    (tmp_path / "model_type.txt").write_text("conv_vae")
    with open(tmp_path / "model_args.p", "wb") as f:
        pickle.dump(args, f, protocol=protocol)
    torch.save(state, tmp_path / "model_state_dict.pt")

    model = load_model(tmp_path)
    x = torch.rand(2, 1, 16, 16, generator=generator)
    ref_mu, ref_logvar = reference_encode(state, args, x)
    mu, logvar = model.encode(x)
    torch.testing.assert_close(mu, ref_mu)
    torch.testing.assert_close(logvar, ref_logvar)
    torch.testing.assert_close(model.decode(mu), reference_decode(state, args, mu))


@pytest.mark.parametrize("payload", [OpensAFile, RunsAShellCommand])
def test_code_running_model_args_is_refused(copy_of_saved, tmp_path, payload):
    marker = tmp_path / "pwned"
    (copy_of_saved / "model_args.p").write_bytes(pickle.dumps({"latent_dim": payload(marker)}))
    with pytest.raises(UnsafePickleError, match="not plain data"):
        load_model(copy_of_saved)
    # Even with a readable model_args.json beside it, the tampered pickle is not worked around.
    assert (copy_of_saved / "model_args.json").exists()
    assert not marker.exists()


def test_the_payload_is_real(tmp_path):
    # Control for the test above: a plain pickle.loads of the same bytes does create the marker.
    marker = tmp_path / "control"
    pickle.loads(pickle.dumps(OpensAFile(marker))).close()
    assert marker.exists()


def test_code_running_state_dict_is_refused(copy_of_saved, tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"fcmu.weight": OpensAFile(marker)}, copy_of_saved / "model_state_dict.pt")
    with pytest.raises(UnsafePickleError, match="model_state_dict.pt asks for objects that are "
                                                "not tensors"):
        load_model(copy_of_saved)
    assert not marker.exists()


def test_missing_folder(tmp_path):
    with pytest.raises(DataFileError, match="does not exist"):
        load_model(tmp_path / "nowhere")


@pytest.mark.parametrize("name,message", [
    ("model_type.txt", "model_type.txt is missing: .* not a saved model folder"),
    ("model_state_dict.pt", "model_state_dict.pt is missing"),
])
def test_missing_files(copy_of_saved, name, message):
    (copy_of_saved / name).unlink()
    with pytest.raises(DataFileError, match=message):
        load_model(copy_of_saved)


def test_a_run_folder_points_to_its_saved_model(saved, tmp_path):
    """A run folder (or its representation/) is not a saved model, but names the one it holds."""
    folder, model = saved
    run = tmp_path / "seed1"
    final = run / "representation" / "cache_batch_no10"
    save_conv_vae(model, run / "representation" / "cache_batch_no5")
    save_conv_vae(model, final)
    for given in (run, run / "representation"):
        with pytest.raises(DataFileError, match=rf"^{given} is not a saved model folder but holds "
                                                rf"one: load {final}$"):
            load_model(given)


def test_unknown_model_type(copy_of_saved):
    (copy_of_saved / "model_type.txt").write_text("dense_vae\n")
    with pytest.raises(DataFileError, match="model type 'dense_vae'; only 'conv_vae'"):
        load_model(copy_of_saved)


def test_args_fall_back_to_json_when_pickle_is_missing(copy_of_saved, saved):
    (copy_of_saved / "model_args.p").unlink()
    assert load_model(copy_of_saved).model_args == saved[1].model_args


def test_args_fall_back_to_json_with_a_warning_when_pickle_is_corrupt(copy_of_saved, saved):
    args_file = copy_of_saved / "model_args.p"
    args_file.write_bytes(args_file.read_bytes()[:20])
    with pytest.warns(UserWarning, match="model_args.p is not a readable pickle"):
        assert load_model_args(copy_of_saved) == saved[1].model_args


def test_corrupt_pickle_without_json(copy_of_saved):
    (copy_of_saved / "model_args.json").unlink()
    args_file = copy_of_saved / "model_args.p"
    args_file.write_bytes(args_file.read_bytes()[:20])
    with pytest.raises(DataFileError, match="not a readable pickle.*no model_args.json to fall"):
        load_model(copy_of_saved)


def test_missing_pickle_and_json(copy_of_saved):
    (copy_of_saved / "model_args.json").unlink()
    (copy_of_saved / "model_args.p").unlink()
    with pytest.raises(DataFileError, match="model_args.p does not exist"):
        load_model(copy_of_saved)


def test_corrupt_json_is_ignored_with_a_warning(copy_of_saved, saved):
    (copy_of_saved / "model_args.json").write_text("{not json")
    with pytest.warns(UserWarning, match="model_args.json is not readable JSON"):
        assert load_model_args(copy_of_saved) == saved[1].model_args


def test_pickle_and_json_disagreeing(copy_of_saved):
    args = json.loads((copy_of_saved / "model_args.json").read_text())
    args["latent_dim"] = 5
    (copy_of_saved / "model_args.json").write_text(json.dumps(args))
    with pytest.raises(DataFileError, match="disagree on latent_dim"):
        load_model(copy_of_saved)


@pytest.mark.parametrize("edit,message", [
    (lambda a: a.pop("gen_first_im_side_len"), "missing gen_first_im_side_len"),
    (lambda a: a.update(dropout=0.5), "unknown dropout"),
    (lambda a: a.update(final_activation="linear"), "final_activation='linear'"),
    (lambda a: a.update(im_side_len=32), "do not build a model: the decoder produces"),
])
def test_bad_model_args(copy_of_saved, edit, message):
    (copy_of_saved / "model_args.json").unlink()
    args = safe_load_pickle(copy_of_saved / "model_args.p")
    edit(args)
    (copy_of_saved / "model_args.p").write_bytes(pickle.dumps(args))
    with pytest.raises(DataFileError, match=message):
        load_model(copy_of_saved)


def test_model_args_not_a_dict(copy_of_saved):
    (copy_of_saved / "model_args.json").unlink()
    (copy_of_saved / "model_args.p").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(DataFileError, match="holds a list, not a dict"):
        load_model(copy_of_saved)


def test_truncated_state_dict(copy_of_saved):
    path = copy_of_saved / "model_state_dict.pt"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataFileError, match="model_state_dict.pt is not a readable torch file"):
        load_model(copy_of_saved)


def test_state_dict_mismatches_are_reported_together(copy_of_saved):
    path = copy_of_saved / "model_state_dict.pt"
    state = load_state_dict_file(path)
    del state["fcmu.bias"]
    state["extra.weight"] = torch.zeros(1)
    state["gen_convs.2.weight"] = torch.zeros(32, 3, 3, 3)
    torch.save(state, path)
    with pytest.raises(DataFileError) as info:
        load_model(copy_of_saved)
    message = str(info.value)
    assert "missing: fcmu.bias" in message
    assert "unexpected: extra.weight" in message
    assert "wrong shape: gen_convs.2.weight (32, 3, 3, 3) (model (32, 1, 3, 3))" in message


def test_state_dict_file_that_is_not_a_state_dict(copy_of_saved):
    torch.save([torch.zeros(1)], copy_of_saved / "model_state_dict.pt")
    with pytest.raises(DataFileError, match="does not hold a state dict"):
        load_model(copy_of_saved)


def test_saved_model_rebuilds_with_plain_constructor(saved):
    folder, model = saved
    rebuilt = ConvVAE(**json.loads((folder / "model_args.json").read_text()))
    assert list(rebuilt.state_dict()) == list(model.state_dict())


def test_a_model_saved_on_a_gpu_loads_on_a_cpu(tmp_path, monkeypatch):
    """A folder written by a CUDA run tags every tensor ``cuda:0``; it opens on a CPU machine."""
    torch.manual_seed(0)
    model = build_conv_vae("tiny16", latent_dim=3)
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        save_conv_vae(model, tmp_path)
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(tmp_path / "model_state_dict.pt", weights_only=True)
    loaded = load_model(tmp_path, "cpu")
    for name, tensor in loaded.state_dict().items():
        assert tensor.device.type == "cpu" and torch.equal(tensor, model.state_dict()[name])


def test_a_damaged_weights_file_is_reported_in_one_short_line(tmp_path):
    save_conv_vae(build_conv_vae("tiny16", latent_dim=3), tmp_path)
    weights = tmp_path / "model_state_dict.pt"
    weights.write_bytes(weights.read_bytes()[:300])
    with pytest.raises(DataFileError) as raised:
        load_model(tmp_path)
    message = str(raised.value)
    assert "\n" not in message and len(message) < len(str(weights)) + 300, message
    assert message.startswith(f"{weights} is not a readable torch file (")


def test_the_loading_snippet_of_docs_formats_runs() -> None:
    """docs/formats.md's "Loading from Python" block, as a reader would paste it."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "formats.md").read_text()
    block = text.split("**Loading from Python**", 1)[1].split("```python\n", 1)[1]
    namespace: dict = {}
    exec(compile(block.split("```", 1)[0], "docs/formats.md", "exec"), namespace)  # noqa: S102
    assert namespace["mu"].shape == (1, namespace["model"].latent_dim)
    assert namespace["reconstruction"].shape == (1, 1, 64, 64)
    assert 0 <= float(namespace["reconstruction"].min()) <= float(
        namespace["reconstruction"].max()) <= 1
