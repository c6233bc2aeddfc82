"""The training loop at toy scale: real data, real checkpoints, real TensorBoard files."""

import json
import warnings

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from jlonevae_lib.architecture.load_model import load_model
from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.train.trainer import (
    Trainer,
    TrainingDivergedError,
    _seed_streams,
    train,
)
from jlonevae_lib.utils.errors import JLoneVAEError
from tests.train.resume import (
    assert_bitwise_equal,
    assert_resumes_bit_identically,
    final_checkpoint,
)

SCALARS = {"ICALoss/train", "ELBO/train", "KLD/train", "MuDiv/train", "VarDiv/train",
           "NLL/train", "beta", "gamma"}


def tiny_config(out, **overrides) -> TrainConfig:
    settings = dict(dataset="threeDots", latent_dim=3, beta=4.0, gamma=0.1, batch_size=4,
                    num_batches=6, lr=1e-3, annealing_batches=2, jacobian_batch=2, seed=5,
                    log_interval=2, checkpoint_every=2, device="cpu", output_dir=str(out))
    settings.update(overrides)
    return TrainConfig(**settings)


def test_run_writes_reference_layout_and_tensorboard(tmp_path):
    config = tiny_config(tmp_path)
    result = train(config)
    run = config.run_dir
    assert result.num_batches == 6 and not result.skipped
    assert (run / "representation" / "cache_batch_no6" / "model_state_dict.pt").exists()
    assert (run / "representation" / "pytorch_model.pt").exists()
    assert (run / "representation" / "results").is_dir()
    assert json.loads((run / "config.json").read_text()) == config.to_dict()
    assert json.loads((run / "DONE").read_text())["num_batches"] == 6
    model = load_model(result.model_dir, "cpu")
    assert model.model_args["latent_dim"] == 3

    events = EventAccumulator(str(config.log_dir))
    events.Reload()
    assert set(events.Tags()["scalars"]) == SCALARS
    assert [e.step for e in events.Scalars("ELBO/train")] == [2, 4, 6]
    # γ is annealed over 2 batches; the scalar logged at step 2 is that of the second batch
    # (1 batch taken before it: γ = 0.1 · 1/2), as in the reference.
    assert [round(e.value, 6) for e in events.Scalars("gamma")] == [0.05, 0.1, 0.1]


def test_rerun_of_a_finished_run_is_skipped(tmp_path):
    config = tiny_config(tmp_path, num_batches=2)
    train(config)
    before = (config.run_dir / "DONE").stat().st_mtime_ns
    assert train(config).skipped
    assert (config.run_dir / "DONE").stat().st_mtime_ns == before


def test_a_finished_run_a_sweep_evaluates_is_skipped_and_not_extended(tmp_path):
    import os
    import socket

    from jlonevae_lib.utils.lock import LockedError

    config = tiny_config(tmp_path, num_batches=2)
    train(config)
    # The sweep's lock on the run (sweep/runner.py): a plain rerun finds the run finished.
    (config.run_dir / ".lock").write_text(json.dumps(
        {"host": socket.gethostname(), "pid": os.getpid(), "purpose": "evaluation"}))
    assert train(config).skipped
    with pytest.raises(LockedError, match="evaluation"):
        train(tiny_config(tmp_path, num_batches=3), extend=True)


def test_a_config_json_that_is_a_folder_is_refused_not_read_as_finished(tmp_path):
    config = tiny_config(tmp_path, num_batches=2)
    train(config)
    path = config.run_dir / "config.json"
    path.unlink()
    path.mkdir()
    with pytest.raises(JLoneVAEError, match="config.json is not a file; restore"):
        train(config)


def test_folder_holding_another_run_is_refused(tmp_path):
    """Settings other than the length: refused (another length gets a folder of its own,
    tests/train/test_extend.py)."""
    train(tiny_config(tmp_path, num_batches=2))
    with pytest.raises(JLoneVAEError, match="jacobian_batch: 2 there vs 3 now") as refused:
        train(tiny_config(tmp_path, num_batches=4, jacobian_batch=3, log_interval=3))
    # Only what changes the computation is named: not how often the run logs.
    assert "log_interval" not in str(refused.value)


def test_the_run_id_names_the_folder_and_is_no_setting(tmp_path):
    """The default folder given by name is the same run; another seed there is refused with
    the seed alone named, and told to pick another name."""
    train(tiny_config(tmp_path, num_batches=2, seed=1))
    assert train(tiny_config(tmp_path, num_batches=2, seed=1, run_id="seed1")).skipped
    with pytest.raises(JLoneVAEError, match=r"other settings \(seed: 1 there vs 2 now\); pass "
                                            r"another --run-id NAME to start a separate run"):
        train(tiny_config(tmp_path, num_batches=2, seed=2, run_id="seed1"))


def test_a_sub_batch_above_the_batch_is_said_to_mean_the_whole_batch(tmp_path):
    with pytest.warns(UserWarning, match="jacobian_batch 6 is above batch_size 4: the penalty "
                                         "covers each whole batch"):
        train(tiny_config(tmp_path / "above", num_batches=2, jacobian_batch=6))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="jacobian_batch")
        train(tiny_config(tmp_path / "within", num_batches=2, jacobian_batch=4))
        train(tiny_config(tmp_path / "off", num_batches=2, jacobian_batch=6, gamma=0.0))


def test_resumed_run_ends_with_identical_weights(tmp_path):
    assert_resumes_bit_identically(tiny_config(tmp_path / "a", checkpoint_every=1),
                                   tiny_config(tmp_path / "b", checkpoint_every=1))


def test_different_seeds_draw_different_batches_and_same_seed_the_same():
    def first_indices(seed):
        _, rng, gen = _seed_streams(seed)
        return rng.integers(0, 1000, size=8), torch.randperm(64, generator=gen)[:16]

    a1, p1 = first_indices(1)
    a2, p2 = first_indices(1)
    b, q = first_indices(2)
    assert np.array_equal(a1, a2) and torch.equal(p1, p2)
    assert not np.array_equal(a1, b) and not torch.equal(p1, q)


def test_seed_changes_training_data(tmp_path):
    batches = []
    for seed in (1, 2):
        trainer = Trainer(tiny_config(tmp_path / str(seed), seed=seed))
        batches.append(trainer.dataset.sample_training_batch(4, trainer.data_rng))
    assert not np.array_equal(*batches)


def test_diverging_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    config = tiny_config(tmp_path, lr=1e12, num_batches=50, checkpoint_every=1, gamma=0.0)
    with pytest.raises(TrainingDivergedError, match="smaller --lr"):
        train(config)
    failed = json.loads((config.run_dir / "FAILED").read_text())
    state = torch.load(config.run_dir / "checkpoints" / "checkpoint.pt", weights_only=True)
    assert state["step"] == failed["step"]
    assert all(torch.isfinite(t).all() for t in state["model"].values())
    assert not (config.run_dir / "DONE").exists()
    with pytest.raises(JLoneVAEError, match="failed earlier: .* Delete the folder to train it "
                                            "again .*--retry-failed"):
        train(config)


def _stop_after_two_batches(config: TrainConfig) -> None:
    config.run_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(config)
    trainer.training_step()
    trainer.training_step()
    trainer.save_checkpoint()


def test_a_resume_deletes_the_half_writes_a_killed_trainer_left(tmp_path):
    """A SIGKILL during any of training's writes leaves atomic_path's temporary beside that
    file; the resumed run (holding the run's lock) deletes them all. FAILED's is left: the
    sweep also writes that marker, without the lock."""
    config = tiny_config(tmp_path, keep_models_at=(4,))
    _stop_after_two_batches(config)
    run = config.run_dir
    kept = run / "representation" / "cache_batch_no4"  # a kept model's save, cut short
    kept.mkdir(parents=True)
    planted = [path.with_name(f".{path.name}.k1ll3d_x.tmp")
               for path in (run / "config.json", run / "DONE",
                            run / "checkpoints" / "checkpoint.pt",
                            run / "checkpoints" / "progress.json",
                            run / "representation" / "pytorch_model.pt",
                            kept / "model_state_dict.pt", kept / "model_args.p",
                            kept / "model_args.json", kept / "model_type.txt")]
    not_ours = run / ".FAILED.k1ll3d_x.tmp"
    for half_write in [*planted, not_ours]:
        half_write.write_bytes(b"{")
    assert train(config).num_batches == 6
    assert not [path for path in planted if path.exists()]
    assert not_ours.exists()
    assert load_model(kept, "cpu").model_args["latent_dim"] == 3


def test_resume_reads_the_checkpoint_to_the_cpu_whatever_the_training_device(tmp_path):
    """On a GPU the trainer's device is CUDA; mapping the checkpoint there would put the saved
    RNG states on the GPU, and ``torch.set_rng_state`` refuses any non-CPU tensor. The meta
    device stands in for the GPU: a checkpoint read onto it cannot be restored."""
    straight, resumed = tiny_config(tmp_path / "a"), tiny_config(tmp_path / "b")
    train(straight)
    _stop_after_two_batches(resumed)
    trainer = Trainer(resumed)
    trainer.device = torch.device("meta")  # the device training would run on
    assert trainer.load_checkpoint() and trainer.step == 2
    trainer.device = torch.device("cpu")
    trainer.fit()
    final = torch.load(straight.run_dir / "checkpoints" / "checkpoint.pt", weights_only=True)
    for name, tensor in trainer.model.state_dict().items():
        assert torch.equal(tensor, final["model"][name]), name


def test_a_checkpoint_with_the_old_penalty_rng_key_resumes_bit_identically(tmp_path):
    """Checkpoints written before issue 24 hold the objective's generator as ``penalty_rng``.
    The JL1 penalty draws its sub-batches from it after the resume (γ > 0 from batch 2), so a
    generator left unrestored would end in another state and train other weights."""
    straight, resumed = tiny_config(tmp_path / "a"), tiny_config(tmp_path / "b")
    train(straight)
    _stop_after_two_batches(resumed)
    path = resumed.run_dir / "checkpoints" / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    state["penalty_rng"] = state.pop("objective_rng")
    torch.save(state, path)
    train(resumed)
    a, b = final_checkpoint(straight), final_checkpoint(resumed)
    for part in ("model", "optimizer", "objective", "torch_rng", "data_rng", "objective_rng"):
        assert_bitwise_equal(a[part], b[part], part)


def test_a_checkpoint_written_on_a_gpu_resumes_on_a_cpu(tmp_path, monkeypatch):
    """Every tensor of the file is tagged ``cuda:0``, as a GPU run writes it; loading such a
    file without mapping it fails on a machine without CUDA."""
    config = tiny_config(tmp_path)
    config.run_dir.mkdir(parents=True)
    trainer = Trainer(config)
    trainer.training_step()
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        trainer.save_checkpoint()
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(trainer.checkpoint_path, weights_only=True)
    resumed = Trainer(config)
    assert resumed.load_checkpoint() and resumed.step == 1
    assert torch.equal(torch.get_rng_state(), trainer.state_dict()["torch_rng"])
    for name, tensor in resumed.model.state_dict().items():
        assert tensor.device.type == "cpu" and torch.equal(tensor, trainer.model.state_dict()[name])


@pytest.mark.parametrize("marker", ["not json {", "[1, 2]", '"a string"', ""])
def test_an_unreadable_failed_marker_still_refuses_in_one_line(tmp_path, marker):
    """issue 28: a FAILED marker that is not a JSON object ended in a traceback."""
    config = tiny_config(tmp_path, num_batches=2)
    config.run_dir.mkdir(parents=True)
    (config.run_dir / "FAILED").write_text(marker)
    with pytest.raises(JLoneVAEError) as raised:
        train(config)
    message = str(raised.value)
    assert "\n" not in message
    assert "failed earlier" in message and "unreadable" in message
    assert "delete the folder" in message.lower() and "--retry-failed" in message
    assert not (config.run_dir / "DONE").exists()


def test_kept_models_are_the_runs_weights_at_those_batches(tmp_path):
    """keep_models_at saves the model after those batches: equal to a run of that length (same
    seed, so the same batches and draws), and changing it does not make another run."""
    kept = train(tiny_config(tmp_path / "kept", keep_models_at=[2, 4]))
    short = train(tiny_config(tmp_path / "short", num_batches=4))
    representation = kept.run_dir / "representation"
    assert sorted(p.name for p in representation.glob("cache_batch_no*")) == [
        "cache_batch_no2", "cache_batch_no4", "cache_batch_no6"]
    at_4 = load_model(representation / "cache_batch_no4", "cpu").state_dict()
    for name, value in load_model(short.model_dir, "cpu").state_dict().items():
        assert torch.equal(at_4[name], value), name
    assert kept.model_dir.name == "cache_batch_no6"  # the end stays the run's model
    assert tiny_config(tmp_path, keep_models_at=[2]).same_run_as(tiny_config(tmp_path))


@pytest.mark.parametrize("bad", [[0], [6], [7], [-1]])
def test_kept_batches_must_lie_inside_the_run(tmp_path, bad):
    with pytest.raises(JLoneVAEError, match=r"keep_models_at \(--keep-models-at\) takes batch "
                                            r"counts between 1 and .*; the final model is always "
                                            r"saved$"):
        tiny_config(tmp_path, keep_models_at=bad)


def test_every_checkpoint_has_a_progress_record(tmp_path):
    config = tiny_config(tmp_path, checkpoint_every=4)
    train(config)
    progress = json.loads((config.run_dir / "checkpoints" / "progress.json").read_text())
    assert progress["step"] == 6 and progress["num_batches"] == 6


def test_an_interrupted_run_exits_with_its_signals_status():
    """143 for SIGTERM (what schedulers expect), 130 for Ctrl-C, as a shell reports them."""
    import signal as signals

    from jlonevae_lib.train.trainer import TrainingInterrupted

    assert TrainingInterrupted("stopped").exit_code == 143
    assert TrainingInterrupted("stopped", signals.SIGTERM).exit_code == 143
    assert TrainingInterrupted("stopped", signals.SIGINT).exit_code == 130
