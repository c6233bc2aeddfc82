"""Runs that grow: ``train(..., extend=True)`` continues a finished or interrupted run to a larger
length, and a run of the same settings but another length gets ``seed<k>_batches<N>``."""

from __future__ import annotations

import json

import pytest
import torch

from jlonevae_lib.architecture.load_model import load_model
from jlonevae_lib.runs import layout
from jlonevae_lib.train.config import TrainConfig, place_run
from jlonevae_lib.train.trainer import Trainer, TrainingInterrupted, train
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.lock import FolderLock, LockedError
from tests.train.resume import assert_bitwise_equal, final_checkpoint
from tests.train.test_trainer import tiny_config

#: The short run and its extension. The β/γ ramp (annealing_batches=3) runs across the old
#: end, so the extension must continue the schedules at the global batch count.
SHORT, LONG = 2, 4


def config_of(tmp_path, name: str, **overrides) -> TrainConfig:
    return tiny_config(tmp_path / name, annealing_batches=3, checkpoint_every=3, **overrides)


def assert_same_training(a: TrainConfig, b: TrainConfig, batches: list[int]) -> None:
    """Final checkpoints (model, optimiser, objective, every random stream) and the saved
    models at ``batches`` of two run folders equal bit for bit."""
    first, second = final_checkpoint(a), final_checkpoint(b)
    assert first["step"] == second["step"] == a.num_batches
    for part in ("model", "optimizer", "objective", "torch_rng", "data_rng", "objective_rng",
                 "last_scalars"):
        assert_bitwise_equal(first.get(part), second.get(part), part)
    for n in batches:
        ours = load_model(layout.saved_model_dir(b.run_dir, n), "cpu").state_dict()
        for name, value in load_model(layout.saved_model_dir(a.run_dir, n),
                                      "cpu").state_dict().items():
            assert torch.equal(ours[name], value), (n, name)


def test_an_extended_run_is_the_run_trained_to_its_length_in_one_go(tmp_path):
    """Bit for bit on the CPU: the data order, the schedules and every random stream depend on
    the batch count, never on num_batches, and the final checkpoint holds all of them."""
    straight = config_of(tmp_path, "straight", num_batches=LONG, keep_models_at=[SHORT])
    train(straight)
    short = config_of(tmp_path, "extended", num_batches=SHORT)
    train(short)
    old_done = json.loads(layout.done_path(short.run_dir).read_text())
    result = train(config_of(tmp_path, "extended", num_batches=LONG), extend=True)

    run = short.run_dir
    assert result.run_dir == run and result.num_batches == LONG and not result.skipped
    assert_same_training(straight, config_of(tmp_path, "extended", num_batches=LONG),
                         [SHORT, LONG])
    recorded = json.loads(layout.config_path(run).read_text())
    assert (recorded["num_batches"], recorded["extended_from"], recorded["keep_models_at"]) == (
        LONG, [SHORT], [SHORT])
    assert json.loads(layout.done_path(run).read_text())["num_batches"] == LONG
    assert old_done["num_batches"] == SHORT
    assert sorted(p.name for p in layout.representation_dir(run).glob("cache_batch_no*")) == [
        f"cache_batch_no{SHORT}", f"cache_batch_no{LONG}"]
    # The same settings at the new length, without --extend: this run, finished.
    assert train(config_of(tmp_path, "extended", num_batches=LONG)).skipped


def test_the_old_ends_results_become_those_of_the_kept_model(tmp_path):
    short = config_of(tmp_path, "run", num_batches=SHORT)
    train(short)
    run = short.run_dir
    result = layout.evaluation_path(run, "mig")
    result.parent.mkdir(parents=True)
    result.write_text('{"evaluation_results.discrete_mig": 0.25}')
    layout.evaluation_failed_path(run).write_text("{}")
    longer = config_of(tmp_path, "run", num_batches=LONG)
    # An evaluation writing a metric now: refused; the run is no longer finished (no new
    # evaluation starts on it), and the same command goes on once the evaluation is over.
    with FolderLock(layout.metric_results_dir(run, "mig").parent, "evaluation"):
        with pytest.raises(LockedError):
            train(longer, extend=True)
    assert not layout.is_finished(run) and result.is_file()
    train(longer, extend=True)
    kept = layout.evaluation_path(run, layout.kept_metric_name("mig", SHORT))
    assert json.loads(kept.read_text()) == {"evaluation_results.discrete_mig": 0.25}
    assert not layout.metrics_dir(run).exists()  # the new end is not evaluated yet
    assert not layout.evaluation_failed_path(run).exists()


def test_an_interrupted_extension_resumes_with_the_same_command(tmp_path):
    straight = config_of(tmp_path, "straight", num_batches=LONG)
    train(straight)
    train(config_of(tmp_path, "extended", num_batches=SHORT))
    longer = config_of(tmp_path, "extended", num_batches=LONG)
    trainer = Trainer(longer)
    trainer.stop_requested = True  # what SIGTERM sets: stop after the next batch
    with pytest.raises(TrainingInterrupted):
        train(longer, trainer=trainer, extend=True)
    run = longer.run_dir
    assert not layout.is_finished(run)
    assert json.loads(layout.config_path(run).read_text())["extended_from"] == [SHORT]
    assert final_checkpoint(longer)["step"] == SHORT + 1
    result = train(config_of(tmp_path, "extended", num_batches=LONG), extend=True)
    assert result.num_batches == LONG and not result.skipped
    assert_same_training(straight, longer, [LONG])
    assert json.loads(layout.config_path(run).read_text())["extended_from"] == [SHORT]


def test_resumed_without_the_flags_that_started_it_a_run_keeps_its_record(tmp_path):
    """An interrupted extension resumed without --extend (as docs/training.md allows), and a
    run resumed without its --keep-models-at: the history and the kept models stay recorded,
    and the kept models are still saved."""
    straight = config_of(tmp_path, "straight", num_batches=LONG + 2, keep_models_at=[SHORT, 5])
    train(straight)
    train(config_of(tmp_path, "extended", num_batches=SHORT))
    longer = config_of(tmp_path, "extended", num_batches=LONG + 2, keep_models_at=[5])
    trainer = Trainer(longer)
    trainer.stop_requested = True
    with pytest.raises(TrainingInterrupted):
        train(longer, trainer=trainer, extend=True)
    assert final_checkpoint(longer)["step"] == SHORT + 1
    train(config_of(tmp_path, "extended", num_batches=LONG + 2))  # no --extend, no kept model
    recorded = json.loads(layout.config_path(longer.run_dir).read_text())
    assert (recorded["extended_from"], recorded["keep_models_at"]) == ([SHORT], [SHORT, 5])
    assert_same_training(straight, longer, [SHORT, 5, LONG + 2])


def test_an_interrupted_run_extends_and_keeps_its_old_end(tmp_path):
    """A run stopped before its end extends too; its old end is saved on the way."""
    straight = config_of(tmp_path, "straight", num_batches=LONG, keep_models_at=[SHORT])
    train(straight)
    short = config_of(tmp_path, "extended", num_batches=SHORT)
    trainer = Trainer(short)
    trainer.stop_requested = True
    with pytest.raises(TrainingInterrupted):
        train(short, trainer=trainer)
    train(config_of(tmp_path, "extended", num_batches=LONG), extend=True)
    assert_same_training(straight, config_of(tmp_path, "extended", num_batches=LONG),
                         [SHORT, LONG])


@pytest.mark.parametrize(("prepare", "overrides", "message"), [
    ("nothing", {}, "holds no run to extend; train it first"),
    ("finished", {"num_batches": SHORT}, f"already has {SHORT} batches, give --num-batches "
                                         r"above that \(it is this run: leave out --extend\)"),
    ("finished", {"num_batches": 1}, f"already has {SHORT} batches, .*a run of 1 batches "
                                     "without --extend goes to a folder of its own"),
    # Only the setting that differs is named: not the length, which an extension changes.
    ("finished", {"jacobian_batch": 3}, r"holds other settings \(jacobian_batch: 2 there vs 3 "
                                        r"now\)$"),
    ("no checkpoint", {}, "continues the final checkpoint, and .* is missing"),
])
def test_an_extension_that_does_not_lengthen_the_run_there_is_refused(tmp_path, prepare,
                                                                      overrides, message):
    short = config_of(tmp_path, "run", num_batches=SHORT)
    if prepare != "nothing":
        train(short)
    if prepare == "no checkpoint":
        layout.checkpoint_path(short.run_dir).unlink()
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(JLoneVAEError, match=message) as refused:
        train(config_of(tmp_path, "run", **{"num_batches": LONG, **overrides}), extend=True)
    assert "\n" not in str(refused.value)
    # Nothing changed, not even an empty run folder made (the lock file comes and goes).
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_extend_needs_the_checkpoint(tmp_path):
    train(config_of(tmp_path, "run", num_batches=SHORT))
    with pytest.raises(JLoneVAEError, match="leave out --no-resume"):
        train(config_of(tmp_path, "run", num_batches=LONG), resume=False, extend=True)


def test_another_length_of_the_same_settings_gets_its_own_folder(tmp_path):
    short = config_of(tmp_path, "run", num_batches=SHORT)
    assert place_run(short).run_dir.name == "seed5"
    train(short)
    longer = config_of(tmp_path, "run", num_batches=LONG)
    placed = place_run(longer)
    assert placed.run_dir == short.run_dir.parent / f"seed5_batches{LONG}"
    assert f"seed5 holds the same settings trained to {SHORT} batches" in placed.reason
    result = train(longer)
    assert result.run_dir == placed.run_dir and result.num_batches == LONG
    # The config there names its own folder; seed5 keeps the first run.
    assert TrainConfig.load(layout.config_path(placed.run_dir)).run_dir == placed.run_dir
    assert json.loads(layout.done_path(short.run_dir).read_text())["num_batches"] == SHORT
    assert train(config_of(tmp_path, "run", num_batches=LONG)).skipped
    assert place_run(short).run_dir == short.run_dir  # the first run stays where it was
    # --run-id and --extend name their folder whatever is there.
    assert place_run(config_of(tmp_path, "run", num_batches=LONG, run_id="x")).run_dir.name == "x"
    assert place_run(longer, extend=True).run_dir == short.run_dir


def test_extension_history_must_lie_below_the_length(tmp_path):
    assert config_of(tmp_path, "a", num_batches=8, extended_from=[2, 4]).extended_from == [2, 4]
    for bad in ([8], [4, 2], [0], [2, 2]):
        with pytest.raises(JLoneVAEError, match="extended_from"):
            config_of(tmp_path, "a", num_batches=8, extended_from=bad)


def test_reopening_drops_a_failed_evaluations_empty_metric_folder(tmp_path) -> None:
    """A metric folder an evaluation that failed left empty (or that its lock made again) is
    not carried to the old end's results: only metrics with results move."""
    from jlonevae_lib.train.trainer import _reopen_run

    run = tmp_path / "run"
    written = layout.metric_results_dir(run, "mig")
    written.mkdir(parents=True)
    (written / "x.json").write_text("{}")
    (layout.metrics_dir(run) / "local_mig_0_1").mkdir()  # a failed evaluation's
    layout.done_path(run).write_text("{}")
    _reopen_run(run, 100)
    kept = layout.kept_metrics_dir(run, 100)
    assert sorted(path.name for path in kept.iterdir()) == ["mig"]
    assert not layout.metrics_dir(run).exists() and not layout.done_path(run).exists()
