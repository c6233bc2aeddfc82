"""A study's snapshot: what it carries of each run folder, how it is kept up to date (never
behind what it held, never a checkpoint past a kept model it lacks), when a restore copies a
member back (with the files' times, which git does not keep), and a run stopped, snapshotted
and restored into another folder that finishes with the weights of a run that never stopped."""

from __future__ import annotations

import json
import os
import socket
import warnings
from pathlib import Path

import pytest

from jlonevae_lib.cli import sweep as sweep_cli
from jlonevae_lib.runs import layout
from jlonevae_lib.sweep import snapshot as snapshot_module
from jlonevae_lib.sweep.runner import decide
from jlonevae_lib.sweep.snapshot import (
    COPIED,
    MANIFEST,
    SKIPPED,
    carried_files,
    restore_snapshot,
    write_snapshot,
)
from jlonevae_lib.sweep.status import DONE, TRAINED, member_status
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
    _touch(layout.saved_model_dir(run, 99) / "model_state_dict.pt")  # a save under way
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
    assert (copies[1].action, copies[1].reason) == (SKIPPED, "no run folder yet")
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


def test_a_snapshot_is_never_put_back_by_a_run_behind_it(tmp_path) -> None:
    """A study started afresh on a new machine (``run`` before ``restore``) must not wipe the
    snapshot's further progress at its next snapshot."""
    snap = _snapshot_of(tmp_path, 20)
    fresh = _plan(tmp_path / "fresh", seeds=(1,))
    (member,) = fresh.members
    _plant_run(member.run_dir, json.dumps(member.config.to_dict()), finished=False, batches=5)
    (copy,) = write_snapshot(fresh.members, METRICS, fresh.output_dir, snap)
    assert (copy.action, copy.reason) == (
        SKIPPED, "the snapshot has it further along (batch 20; here batch 5)")
    relative = member.run_dir.relative_to(fresh.output_dir)
    assert layout.checkpoint_path(snap / relative).read_text() == "weights at 20"


def test_a_live_run_is_copied_checkpoint_first(tmp_path, monkeypatch) -> None:
    """The trainer saves a kept model and a newer checkpoint while the snapshot copies: the
    snapshot keeps the checkpoint it copied first, with no record ahead of it, and the kept
    model whole."""
    plan = _plan(tmp_path / "out", seeds=(1,))
    (member,) = plan.members
    run = member.run_dir
    _plant_run(run, json.dumps(member.config.to_dict()), finished=False, batches=20)
    listed = carried_files

    def trainer_moves_on(folder, metric_names):
        if folder == run:
            for name in ("model_state_dict.pt", "model_type.txt"):
                _touch(layout.saved_model_dir(run, 24) / name)
            _touch(layout.checkpoint_path(run), "weights at 25")
            _touch(layout.progress_path(run), json.dumps({"step": 25, "num_batches": 30}))
        return listed(folder, metric_names)

    monkeypatch.setattr(snapshot_module, "carried_files", trainer_moves_on)
    write_snapshot(plan.members, METRICS, plan.output_dir, tmp_path / "snap")
    in_snap = tmp_path / "snap" / run.relative_to(plan.output_dir)
    assert layout.checkpoint_path(in_snap).read_text() == "weights at 20"
    assert json.loads(layout.progress_path(in_snap).read_text())["step"] == 20
    assert (layout.saved_model_dir(in_snap, 24) / "model_type.txt").is_file()


def test_a_file_deleted_meanwhile_leaves_the_snapshot(tmp_path) -> None:
    plan = _plan(tmp_path / "out", seeds=(1,))
    (member,) = plan.members
    _plant_run(member.run_dir, json.dumps(member.config.to_dict()), finished=False, batches=20)
    _touch(layout.failed_path(member.run_dir), json.dumps({"reason": "killed"}))
    write_snapshot(plan.members, METRICS, plan.output_dir, tmp_path / "snap")
    in_snap = tmp_path / "snap" / member.run_dir.relative_to(plan.output_dir)
    assert layout.failed_path(in_snap).is_file()
    layout.failed_path(member.run_dir).unlink()  # --retry-failed cleared it
    (copy,) = write_snapshot(plan.members, METRICS, plan.output_dir, tmp_path / "snap")
    assert copy.removed == 1 and not layout.failed_path(in_snap).exists()


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
    relative = member.run_dir.relative_to(target.output_dir)
    source_checkpoint = layout.checkpoint_path(tmp_path / "source" / relative)
    os.utime(source_checkpoint, (1.7e9, 1.7e9))
    write_snapshot(_plan(tmp_path / "source", seeds=(1,)).members, METRICS,
                   tmp_path / "source", snap)
    for path in snap.rglob("*"):  # what a git checkout does to the files' times
        if path.is_file() and path.name != MANIFEST:
            os.utime(path, (2e9, 2e9))
    (copy,), others = restore_snapshot(target.members, snap, target.output_dir)
    assert (copy.action, copy.reason, copy.copied, others) == (COPIED, "batch 20", 9, 0)
    assert layout.checkpoint_path(member.run_dir).read_text() == "weights at 20"
    assert (layout.log_dir_of_run(member.run_dir) / "events.out.tfevents.1.vm.1.0").is_file()
    # status tells the checkpoint's age, and the report when results were written, from them
    assert layout.checkpoint_path(member.run_dir).stat().st_mtime == 1.7e9
    assert not (member.run_dir / ".lock").exists()  # the restore's lock, released

    (again,), _ = restore_snapshot(target.members, snap, target.output_dir)
    assert (again.action, again.reason) == (SKIPPED, "here at batch 20, the snapshot at batch 20")

    # Training went on here: a snapshot behind it is not restored over it.
    layout.progress_path(member.run_dir).write_text(json.dumps({"step": 25, "num_batches": 30}))
    (behind,), _ = restore_snapshot(target.members, snap, target.output_dir)
    assert behind.action == SKIPPED and "here at batch 25" in behind.reason
    assert layout.checkpoint_path(member.run_dir).read_text() == "weights at 20"

    layout.done_path(member.run_dir).write_text("{}")
    (finished,), _ = restore_snapshot(target.members, snap, target.output_dir)
    assert (finished.action, finished.reason) == (SKIPPED, "already finished here")


def test_restore_leaves_a_run_in_use_alone(tmp_path) -> None:
    snap = _snapshot_of(tmp_path, 20)
    target = _plan(tmp_path / "target", seeds=(1,))
    (member,) = target.members
    member.run_dir.mkdir(parents=True)
    with FolderLock(member.run_dir, purpose="training"):
        (copy,), _ = restore_snapshot(target.members, snap, target.output_dir)
    assert copy.action == SKIPPED and copy.reason.startswith("in use (training")
    assert not layout.config_path(member.run_dir).exists()


def test_restore_refuses_other_settings_before_copying_anything(tmp_path) -> None:
    source = _plan(tmp_path / "source")
    for member in source.members:
        _plant_run(member.run_dir, json.dumps(member.config.to_dict()), finished=False,
                   batches=20)
    snap = tmp_path / "snap"
    write_snapshot(source.members, METRICS, source.output_dir, snap)
    target = _plan(tmp_path / "target")
    first, second = target.members
    config = layout.config_path(snap / second.run_dir.relative_to(target.output_dir))
    config.write_text(json.dumps({**json.loads(config.read_text()), "beta": 2.0}))
    with pytest.raises(JLoneVAEError, match="seed=2 arm=jl1_dlib: the snapshot's .* holds "
                                            "other settings .*beta"):
        restore_snapshot(target.members, snap, target.output_dir)
    assert not first.run_dir.exists()
    # Settings that place every member elsewhere find none of the snapshot's runs.
    other = _plan(tmp_path / "target", latent_dim=4)
    with pytest.raises(JLoneVAEError, match=r"none of the 2 runs in .* is a member of this "
                                            r"plan; restore with the settings the snapshot was "
                                            r"taken with \(one run's are in .*/config\.json\)$"):
        restore_snapshot(other.members, snap, other.output_dir)
    # A subset of the members is fine: the others are counted, not refused.
    config.write_text(json.dumps({**json.loads(config.read_text()), "beta": 4.0}))
    (copy,), others = restore_snapshot(_plan(tmp_path / "target", seeds=(1,)).members, snap,
                                       target.output_dir)
    assert (copy.action, others) == (COPIED, 1)
    with pytest.raises(JLoneVAEError, match="is not a snapshot"):
        restore_snapshot(target.members, tmp_path / "nowhere", target.output_dir)


def test_a_finished_snapshot_completes_an_unfinished_or_failed_run(tmp_path) -> None:
    snap = _snapshot_of(tmp_path, 30, finished=True)
    target = _plan(tmp_path / "target", seeds=(1,))
    (member,) = target.members
    _plant_run(member.run_dir, json.dumps(member.config.to_dict()), finished=False, batches=10,
               locked=False)
    _touch(layout.failed_path(member.run_dir), json.dumps({"reason": "killed"}))
    _touch(layout.killed_path(member.run_dir), json.dumps({"step": 10, "count": 1}))
    (copy,), _ = restore_snapshot(target.members, snap, target.output_dir)
    # FAILED and KILLED (status would read the finished run as failed), the checkpoint and its
    # record (they would pass for the finished run's: --extend).
    assert (copy.action, copy.reason, copy.removed) == (COPIED, "finished", 4)
    assert layout.is_finished(member.run_dir)
    assert member_status(member, METRICS).state == TRAINED  # no metric computed yet
    assert not layout.checkpoint_path(member.run_dir).parent.exists()
    # A finished run's snapshot never carries such markers (left by an older restore).
    _touch(layout.failed_path(member.run_dir), "{}")
    assert layout.FAILED_FILE not in {str(p) for p in carried_files(member.run_dir, METRICS)}


def test_a_member_placed_beside_another_length_is_restored_to_its_folder(tmp_path) -> None:
    source = _plan(tmp_path / "source", seeds=(1,))
    (member,) = source.members
    seed1 = member.run_dir  # taken by a run of the same settings trained to another length
    _touch(layout.config_path(seed1),
           json.dumps({**member.config.to_dict(), "num_batches": 20_000}))
    assert member.run_dir.name == "seed1_batches30000"
    _plant_run(member.run_dir, json.dumps(member.config.to_dict()), finished=False, batches=20)
    write_snapshot(source.members, METRICS, source.output_dir, tmp_path / "snap")
    target = _plan(tmp_path / "target", seeds=(1,))
    (copy,), others = restore_snapshot(target.members, tmp_path / "snap", target.output_dir)
    assert (copy.action, others) == (COPIED, 0)
    (restored,) = target.members
    assert restored.run_dir.name == "seed1_batches30000"  # where `run` now looks for it
    assert layout.checkpoint_path(restored.run_dir).read_text() == "weights at 20"


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


# ------------------------------------------------------------------------------ round trips
# A study can come back to a machine that still holds part of it, and a restore can be stopped
# halfway: no result computed anywhere is lost or computed again, no member is mislabelled.


def _finished_snapshot(tmp_path: Path, metrics: list[str]) -> Path:
    """A snapshot of seed 1 finished (30 batches) with ``metrics`` computed."""
    source = _plan(tmp_path / "source", seeds=(1,))
    (member,) = source.members
    _plant_run(member.run_dir, json.dumps(member.config.to_dict()), finished=True, batches=30,
               metrics=metrics, locked=False)
    write_snapshot(source.members, METRICS, source.output_dir, tmp_path / "snap")
    return tmp_path / "snap"


def _target(tmp_path: Path, **plant):
    target = _plan(tmp_path / "target", seeds=(1,))
    (member,) = target.members
    if plant:
        _plant_run(member.run_dir, json.dumps(member.config.to_dict()), locked=False, **plant)
    return target, member


def test_a_restore_brings_the_results_a_finished_run_lacks_here(tmp_path) -> None:
    snap = _finished_snapshot(tmp_path, METRICS)
    target, member = _target(tmp_path, finished=True, batches=30, metrics=["local_mig_0_1"])
    mine = layout.evaluation_path(member.run_dir, "local_mig_0_1")
    mine.write_text('{"computed": "here"}')
    _touch(layout.evaluation_failed_path(member.run_dir), "{}")
    # A metric a live process evaluates here is left to it.
    evaluating = layout.metric_results_dir(member.run_dir, "local_mig_0_1@15").parent
    atomic_write_json(evaluating / ".lock", {"host": socket.gethostname(), "pid": os.getpid(),
                                             "purpose": "evaluation"})
    (copy,), _ = restore_snapshot(target.members, snap, target.output_dir)
    assert (copy.action, copy.reason, copy.copied) == (
        COPIED, "finished; the results it lacked here", 1)
    assert not layout.evaluation_path(member.run_dir, "local_mig_0_1@15").exists()
    (skipped,), _ = restore_snapshot(target.members, snap, target.output_dir)
    assert (skipped.action, skipped.reason) == (
        SKIPPED, "finished here; the results it lacks are being evaluated here")
    (evaluating / ".lock").unlink()
    (copy,), _ = restore_snapshot(target.members, snap, target.output_dir)
    assert (copy.action, copy.copied) == (COPIED, 1)
    status = member_status(member, METRICS)
    assert status.state == DONE
    assert decide(status, ["train", "evaluate", "summary"], evaluated=True).steps == ()
    assert mine.read_text() == '{"computed": "here"}'  # its own results are never replaced
    # Nothing left to bring: skipped as before.
    (again,), _ = restore_snapshot(target.members, snap, target.output_dir)
    assert (again.action, again.reason) == (SKIPPED, "already finished here")
    # A failure marker an older restore left beside DONE goes, with nothing else to bring.
    _touch(layout.failed_path(member.run_dir), json.dumps({"reason": "exited with status 1"}))
    (markers,), _ = restore_snapshot(target.members, snap, target.output_dir)
    assert (markers.action, markers.copied, markers.removed) == (COPIED, 0, 1)
    assert member_status(member, METRICS).state == DONE


def test_another_training_of_a_finished_member_takes_none_of_its_results(tmp_path) -> None:
    # The same member trained on two machines: other weights (the last bits differ), so the
    # snapshot's results are not this model's.
    snap = _finished_snapshot(tmp_path, METRICS)
    target, member = _target(tmp_path, finished=True, batches=30)
    (layout.saved_model_dir(member.run_dir, 30) / "model_state_dict.pt").write_text("other")
    (copy,), _ = restore_snapshot(target.members, snap, target.output_dir)
    assert (copy.action, copy.reason) == (SKIPPED, "already finished here")
    assert not layout.evaluation_path(member.run_dir, "local_mig_0_1").exists()


def test_a_snapshot_taken_again_keeps_the_results_it_holds_of_the_same_model(tmp_path) -> None:
    snap = _finished_snapshot(tmp_path, METRICS)
    here, member = _target(tmp_path, finished=True, batches=30, metrics=["local_mig_0_1"])
    # A metric being computed here (its files partial) leaves the snapshot's complete ones.
    partial = layout.metric_results_dir(member.run_dir, "local_mig_0_1@8") / "json" / "x.json"
    _touch(partial, "partial")
    (copy,) = write_snapshot(here.members, METRICS, here.output_dir, snap)
    in_snap = snap / member.run_dir.relative_to(here.output_dir)
    assert not (in_snap / partial.relative_to(member.run_dir)).exists()
    assert [name for name in METRICS if layout.evaluation_path(in_snap, name).is_file()] == \
        METRICS
    manifest = json.loads((snap / MANIFEST).read_text())["mtimes"]
    kept = layout.evaluation_path(in_snap, "local_mig_0_1@8").relative_to(snap).as_posix()
    assert kept in manifest
    # Of another training of the member, the snapshot's results are replaced.
    (layout.saved_model_dir(member.run_dir, 30) / "model_state_dict.pt").write_text("other")
    write_snapshot(here.members, METRICS, here.output_dir, snap)
    assert not layout.evaluation_path(in_snap, "local_mig_0_1@8").exists()


class _Interrupted(BaseException):
    """A Ctrl-C (or a full disk, a killed process) in the middle of a restore's copying."""


def _restore_interrupted(monkeypatch, snap: Path, target, copies: int):
    """A restore stopped after ``copies`` files, then the same restore again."""
    real, done = snapshot_module._copy_file, []

    def copy(source, destination, mtime=None):
        if len(done) == copies:
            raise _Interrupted()
        done.append(destination)
        return real(source, destination, mtime)

    with monkeypatch.context() as patch:
        patch.setattr(snapshot_module, "_copy_file", copy)
        with pytest.raises(_Interrupted):
            restore_snapshot(target.members, snap, target.output_dir)
    return restore_snapshot(target.members, snap, target.output_dir)


@pytest.mark.parametrize("copies", [1, 4, 8])
def test_a_restore_stopped_halfway_is_completed_by_the_next(tmp_path, monkeypatch,
                                                            copies) -> None:
    # DONE is copied last: stopped before it, the run is behind and copied again.
    snap = _finished_snapshot(tmp_path, ["local_mig_0_1"])
    target, member = _target(tmp_path)
    (again,), _ = _restore_interrupted(monkeypatch, snap, target, copies)
    assert again.action == COPIED
    assert (layout.saved_model_dir(member.run_dir, 30) / "model_type.txt").is_file()
    assert layout.evaluation_path(member.run_dir, "local_mig_0_1").is_file()


def test_a_stopped_restore_never_leaves_a_checkpoint_past_a_missing_kept_model(
        tmp_path, monkeypatch) -> None:
    # The checkpoint and its record come after the kept models: stopped anywhere, the run is
    # never at batch 20 without its models kept at 8 and 15 (a resumed run would not save
    # them again).
    source = _plan(tmp_path / "source", seeds=(1,))
    (src,) = source.members
    _plant_run(src.run_dir, json.dumps(src.config.to_dict()), finished=False, batches=20,
               locked=False)
    write_snapshot(source.members, METRICS, source.output_dir, tmp_path / "snap")
    target, member = _target(tmp_path)
    (again,), _ = _restore_interrupted(monkeypatch, tmp_path / "snap", target, copies=2)
    assert again.action == COPIED
    for kept in (8, 15):
        assert (layout.saved_model_dir(member.run_dir, kept) / "model_type.txt").is_file()
