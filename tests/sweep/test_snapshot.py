"""A study's snapshot: what it carries of each run folder, how it is kept up to date, when a
restore copies a member back, and a run stopped, snapshotted and restored into another folder
that finishes with the weights of a run that never stopped."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from jlonevae_lib.cli import sweep as sweep_cli
from jlonevae_lib.runs import layout
from jlonevae_lib.sweep.snapshot import (
    RESTORED,
    SKIPPED,
    _copy_file,
    carried_files,
    restore_snapshot,
    write_snapshot,
)
from jlonevae_lib.sweep.studies import get_study, plan_study
from jlonevae_lib.train.trainer import Trainer, TrainingInterrupted, train
from jlonevae_lib.utils.atomic import atomic_write_json
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.lock import FolderLock
from tests.train.resume import assert_bitwise_equal, final_checkpoint

METRICS = ["local_mig_0_1", "local_mig_0_1@8", "local_mig_0_1@15"]
#: A tiny cpu_penalty_study (its JL1 arm, seed 1) for the runs that really train.
TINY = {"dataset": "threeDots", "num_batches": 6, "keep_models_at": [2, 4],
        "checkpoint_every": 1, "batch_size": 4, "latent_dim": 3}


def _plan(output_dir: Path, seeds=(1, 2), **settings):
    return plan_study(get_study("cpu_penalty_study"),
                      overrides={"output_dir": str(output_dir), **settings},
                      axes={"seed": seeds, "arm": ("jl1_dlib",)})


def _touch(path: Path, text: str = "x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _plant_run(run: Path, config_text: str, *, finished: bool, batches: int,
               metrics: list[str] = (), locked: bool = True) -> None:
    """A run folder with what training and evaluation leave: config, checkpoint and its progress
    record, saved models at 8 and 15 (and 30 when finished), the TorchScript export, a lock, an
    atomic write's temporary, TensorBoard events, and the given metrics' result files."""
    _touch(layout.config_path(run), config_text)
    _touch(layout.checkpoint_path(run), f"weights at {batches}")
    _touch(layout.progress_path(run), json.dumps({"step": batches, "num_batches": 30}))
    for kept in (8, 15, 30) if finished else (8, 15):
        for name in ("model_state_dict.pt", "model_type.txt"):
            _touch(layout.saved_model_dir(run, kept) / name)
    _touch(layout.torchscript_path(run))
    if locked:
        _touch(run / ".lock", "{}")
    _touch(run / layout.CHECKPOINTS_DIR / ".progress.json.abc.tmp")
    _touch(layout.sweep_log_path(run, "train"), "=== a log\n")
    _touch(layout.log_dir_of_run(run) / "events.out.tfevents.1.vm.1.0")
    if finished:
        _touch(layout.done_path(run), json.dumps({"num_batches": 30}))
    for name in metrics:
        _touch(layout.evaluation_path(run, name), "{}")


def test_an_unfinished_run_carries_its_checkpoint_and_kept_models(tmp_path) -> None:
    run = tmp_path / "run"
    _plant_run(run, "{}", finished=False, batches=20)
    carried = {str(path) for path in carried_files(run, METRICS)}
    assert carried == {"config.json", "checkpoints/checkpoint.pt", "checkpoints/progress.json",
                       "representation/cache_batch_no8/model_state_dict.pt",
                       "representation/cache_batch_no8/model_type.txt",
                       "representation/cache_batch_no15/model_state_dict.pt",
                       "representation/cache_batch_no15/model_type.txt",
                       "sweep_logs/train.log"}
    # The order a live run is copied in: its record never ahead of its checkpoint.
    assert carried_files(run, METRICS)[:2] == [Path("checkpoints/progress.json"),
                                               Path("checkpoints/checkpoint.pt")]


def test_a_finished_run_sheds_its_checkpoint_and_evaluated_earlier_models(tmp_path) -> None:
    run = tmp_path / "run"
    _plant_run(run, "{}", finished=True, batches=30,
               metrics=["local_mig_0_1", "local_mig_0_1@8"])  # the model at 15 not evaluated
    carried = {str(path) for path in carried_files(run, METRICS)}
    assert carried == {"config.json", "DONE", "sweep_logs/train.log",
                       "representation/cache_batch_no15/model_state_dict.pt",
                       "representation/cache_batch_no15/model_type.txt",
                       "representation/cache_batch_no30/model_state_dict.pt",
                       "representation/cache_batch_no30/model_type.txt",
                       "metrics/local_mig_0_1/results/aggregate/evaluation.json",
                       "metrics_at_batch/8/local_mig_0_1/results/aggregate/evaluation.json"}
    _touch(layout.evaluation_path(run, "local_mig_0_1@15"), "{}")
    assert not any("cache_batch_no15" in str(path) for path in carried_files(run, METRICS))


def test_a_snapshot_is_brought_up_to_date_in_place(tmp_path) -> None:
    plan = _plan(tmp_path / "out")
    first, second = plan.members
    config_text = json.dumps(first.config.to_dict())
    _plant_run(first.run_dir, config_text, finished=False, batches=20)
    snap = tmp_path / "snap"
    copies = write_snapshot(plan.members, METRICS, plan.output_dir, snap)
    assert (copies[0].copied, copies[0].removed) == (9, 0)  # 8 of the run, 1 log
    assert copies[1].reason == "no run folder yet"
    run_in_snap = snap / first.run_dir.relative_to(plan.output_dir)
    assert layout.checkpoint_path(run_in_snap).read_text() == "weights at 20"
    assert not (run_in_snap / ".lock").exists()
    assert not layout.torchscript_path(run_in_snap).exists()
    assert (layout.log_dir_of_run(run_in_snap) / "events.out.tfevents.1.vm.1.0").is_file()

    again = write_snapshot(plan.members, METRICS, plan.output_dir, snap)
    assert (again[0].copied, again[0].unchanged, again[0].removed) == (0, 9, 0)

    # The run finishes and is evaluated: the snapshot drops its checkpoint and earlier models.
    _plant_run(first.run_dir, config_text, finished=True, batches=30, metrics=METRICS)
    done = write_snapshot(plan.members, METRICS, plan.output_dir, snap)
    assert done[0].removed == 6  # checkpoint, progress record, two files of each earlier model
    assert not layout.checkpoint_path(run_in_snap).parent.exists()
    assert [p.name for p in layout.saved_model_dirs(layout.representation_dir(run_in_snap))] \
        == ["cache_batch_no30"]
    assert done[0].size == sum(p.stat().st_size for p in run_in_snap.rglob("*") if p.is_file()) \
        + sum(p.stat().st_size for p in layout.log_dir_of_run(run_in_snap).rglob("*"))


def test_a_file_deleted_while_it_is_copied_is_left_out(tmp_path) -> None:
    assert not _copy_file(tmp_path / "FAILED", tmp_path / "snap" / "FAILED")
    assert not (tmp_path / "snap" / "FAILED").exists()


def test_the_snapshot_may_not_be_the_output_folder(tmp_path) -> None:
    plan = _plan(tmp_path)
    with pytest.raises(JLoneVAEError, match="is the study's output folder"):
        write_snapshot(plan.members, METRICS, plan.output_dir, tmp_path)


def _snapshot_of(tmp_path: Path, batches: int, *, finished: bool = False):
    source = _plan(tmp_path / "source", seeds=(1,))
    (member,) = source.members
    _plant_run(member.run_dir, json.dumps(member.config.to_dict()), finished=finished,
               batches=batches)
    write_snapshot(source.members, METRICS, source.output_dir, tmp_path / "snap")
    return tmp_path / "snap"


def test_restore_copies_a_member_only_where_the_output_folder_has_less(tmp_path) -> None:
    snap = _snapshot_of(tmp_path, 20)
    target = _plan(tmp_path / "target", seeds=(1,))
    (member,) = target.members
    (copy,) = restore_snapshot(target.members, snap, target.output_dir)
    assert (copy.action, copy.reason, copy.copied) == (RESTORED, "batch 20", 9)
    assert layout.checkpoint_path(member.run_dir).read_text() == "weights at 20"
    assert (layout.log_dir_of_run(member.run_dir) / "events.out.tfevents.1.vm.1.0").is_file()
    source_checkpoint = layout.checkpoint_path(
        tmp_path / "source" / member.run_dir.relative_to(target.output_dir))
    assert layout.checkpoint_path(member.run_dir).stat().st_mtime \
        == source_checkpoint.stat().st_mtime  # status tells the checkpoint's age from it

    (again,) = restore_snapshot(target.members, snap, target.output_dir)
    assert (again.action, again.reason) == (SKIPPED, "here at batch 20, the snapshot at batch 20")

    # Training went on here: a snapshot behind it is not restored over it.
    layout.progress_path(member.run_dir).write_text(json.dumps({"step": 25, "num_batches": 30}))
    (behind,) = restore_snapshot(target.members, snap, target.output_dir)
    assert behind.action == SKIPPED and "here at batch 25" in behind.reason
    assert layout.checkpoint_path(member.run_dir).read_text() == "weights at 20"

    layout.done_path(member.run_dir).write_text("{}")
    (finished,) = restore_snapshot(target.members, snap, target.output_dir)
    assert (finished.action, finished.reason) == (SKIPPED, "already finished here")


def test_restore_leaves_a_run_in_use_alone(tmp_path) -> None:
    snap = _snapshot_of(tmp_path, 20)
    target = _plan(tmp_path / "target", seeds=(1,))
    (member,) = target.members
    member.run_dir.mkdir(parents=True)
    with FolderLock(member.run_dir, purpose="training"):
        (copy,) = restore_snapshot(target.members, snap, target.output_dir)
    assert copy.action == SKIPPED and copy.reason.startswith("in use (training")
    assert not layout.config_path(member.run_dir).exists()


def test_restore_refuses_other_settings(tmp_path) -> None:
    snap = _snapshot_of(tmp_path, 20)
    target = _plan(tmp_path / "target", seeds=(1,))
    (member,) = target.members
    config = layout.config_path(snap / member.run_dir.relative_to(target.output_dir))
    config.write_text(json.dumps({**json.loads(config.read_text()), "beta": 2.0}))
    with pytest.raises(JLoneVAEError, match="holds other settings .*beta"):
        restore_snapshot(target.members, snap, target.output_dir)
    with pytest.raises(JLoneVAEError, match="does not exist"):
        restore_snapshot(target.members, tmp_path / "nowhere", target.output_dir)


def test_a_finished_snapshot_completes_an_unfinished_run(tmp_path) -> None:
    snap = _snapshot_of(tmp_path, 30, finished=True)
    target = _plan(tmp_path / "target", seeds=(1,))
    (member,) = target.members
    _plant_run(member.run_dir, json.dumps(member.config.to_dict()), finished=False, batches=10,
               locked=False)
    (copy,) = restore_snapshot(target.members, snap, target.output_dir)
    assert (copy.action, copy.reason) == (RESTORED, "finished")
    assert layout.is_finished(member.run_dir)


def _stop_after(config, stops: int) -> None:
    """Train ``stops`` batches, one a session, each ended as SIGTERM ends one, with the
    config.json that ``train`` writes first."""
    config.run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(layout.config_path(config.run_dir), config.to_dict())
    for _ in range(stops):
        trainer = Trainer(config)
        trainer.load_checkpoint()
        trainer.stop_requested = True
        with pytest.raises(TrainingInterrupted):
            trainer.fit()


def test_a_run_snapshotted_and_restored_elsewhere_ends_as_one_never_stopped(
        tmp_path, monkeypatch) -> None:
    flags = [arg for key, value in TINY.items() for arg in (
        "--set", f"{key}={','.join(map(str, value)) if isinstance(value, list) else value}")]
    flags += ["--seeds", "1", "--axis", "arm=jl1_dlib"]
    straight, stopped, restored = (_plan(tmp_path / name, seeds=(1,), **TINY).members[0].config
                                   for name in ("straight", "stopped", "restored"))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="jacobian_batch")  # 16 > the batch of 4
        train(straight)
        _stop_after(stopped, 3)
        assert sweep_cli.main(["snapshot", "cpu_penalty_study", *flags, "--output-dir",
                               str(tmp_path / "stopped"), "--to", str(tmp_path / "snap")]) == 0
        assert sweep_cli.main(["restore", "cpu_penalty_study", *flags, "--output-dir",
                               str(tmp_path / "restored"), "--from",
                               str(tmp_path / "snap")]) == 0
        assert layout.saved_model_dir(restored.run_dir, 2).is_dir()  # kept before the stop
        steps = []
        step = Trainer.training_step
        monkeypatch.setattr(Trainer, "training_step",
                            lambda self: steps.append(1) or step(self))
        train(restored)
    assert len(steps) == 3  # it resumed at the snapshot's batch 3
    a, b = final_checkpoint(straight), final_checkpoint(restored)
    assert a["step"] == b["step"] == 6
    for part in ("model", "optimizer", "objective", "torch_rng", "data_rng", "objective_rng"):
        assert_bitwise_equal(a.get(part), b.get(part), part)
    assert [p.name for p in layout.saved_model_dirs(layout.representation_dir(restored.run_dir))] \
        == ["cache_batch_no2", "cache_batch_no4", "cache_batch_no6"]
