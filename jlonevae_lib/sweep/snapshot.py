"""A study's snapshot: the part of its output folder that another machine needs to resume the
study and to report on it, small enough to keep (in git, say) where machines are not kept.

A snapshot mirrors the output folder's layout (``<models_dir>/<experiment>/<run>/`` and
``logs/<experiment>/<run>/`` of each member), plus ``snapshot.json``: each file's modification
time (the report reads when a run's results were written from them, and git does not keep
them) and the placement files (below). Of each member's run folder it carries every file but:

- what only a live process owns: dot-files (locks, the temporaries of atomic writes), and a
  saved model still being written (its ``model_type.txt``, written last, not there yet);
- the TorchScript export (``representation/pytorch_model.pt``): evaluation and the figures read
  the saved models;
- of a run whose training finished (``DONE``): its checkpoint and progress record, and each
  model kept at an earlier batch once every metric of that model is computed (the final model
  stays: the report draws its Jacobian columns). Such a run can no longer be ``--extend``-ed
  from the snapshot.

A member placed in ``seed<k>_batches<N>`` (its ``seed<k>`` holds the same settings trained to
another length) also brings ``seed<k>/config.json``, so that it is placed in the same folder
where it is restored.

:func:`write_snapshot` updates a snapshot in place: a file is copied when it differs, a file the
member no longer carries (the checkpoint of a run that has since finished) is removed, and a
member the snapshot holds further along (finished, or at a later checkpoint) is left as it is
there, or the same finished model with results this folder lacks (they stay).
:func:`restore_snapshot` decides for every member before it copies anything, copies a member
only where the output folder has less of it (nothing, an unfinished run at an earlier batch, a
failed one that the snapshot has finished, or the same finished model with fewer results:
then only the results it lacks) under that run's lock, in the order training writes
(``DONE`` last), and removes nothing there but what the copy replaces: the checkpoint of
an unfinished run that a finished one replaces, and its training's failure markers.
Checkpoints resume bit-identically on the machine that wrote them; restored on another CPU, a
run continues from the same weights and random state, with that CPU's floating point from there
on (docs/sweeps.md).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jlonevae_lib.architecture.save_model import MODEL_TYPE_FILE
from jlonevae_lib.runs import layout
from jlonevae_lib.sweep.members import Member
from jlonevae_lib.sweep.status import checkpoint_batches, missing_metrics
from jlonevae_lib.train.config import place_run, recorded_config
from jlonevae_lib.utils.atomic import atomic_write_bytes, atomic_write_json
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.lock import FolderLock, LockedError, lock_holder

#: The snapshot's own record: ``{"mtimes": {path: seconds}, "placements": [path, ...]}``, paths
#: relative to the snapshot folder.
MANIFEST = "snapshot.json"
#: What a snapshot or a restore did with one member.
COPIED, SKIPPED = "copied", "skipped"


@dataclass(frozen=True)
class MemberCopy:
    """One member's part of a snapshot or a restore."""

    member: Member
    #: :data:`COPIED` or :data:`SKIPPED`; why it was skipped, or (restore) how far the copy is.
    action: str
    reason: str = ""
    #: Files copied (new or changed), files left as they were, files removed.
    copied: int = 0
    unchanged: int = 0
    removed: int = 0
    #: Bytes of the member's files in the snapshot after a snapshot.
    size: int = 0


# ------------------------------------------------------------------------------ which files


def _is_own_file(path: Path, root: Path) -> bool:
    """Whether ``path`` (below ``root``) is a plain file no live process owns: no part of its
    path below ``root`` is a dot-name (locks, temporaries)."""
    return path.is_file() and not path.is_symlink() and not any(
        part.startswith(".") for part in path.relative_to(root).parts)


def _own_files(folder: Path) -> list[Path]:
    """Every file below ``folder`` that no live process owns, relative to it, sorted."""
    if not folder.is_dir():
        return []
    return sorted(path.relative_to(folder) for path in folder.rglob("*")
                  if _is_own_file(path, folder))


def _stale_when_finished(run: Path) -> tuple[Path, ...]:
    """The markers of an unfinished run's training (a failure, SIGKILLs at its checkpoint),
    which mean nothing beside ``DONE``."""
    return layout.failed_path(run), layout.killed_path(run)


#: A metric's results folder is complete once its aggregate file, written last, is there.
_AGGREGATE_TAIL = f"{layout.RESULTS_DIR}/{layout.AGGREGATE_DIR}/{layout.EVALUATION_FILE}"


def computed_metric_folders(run: Path) -> set[Path]:
    """The metric folders of ``run`` (``metrics/<metric>``, ``metrics_at_batch/<N>/<metric>``)
    whose results are complete, relative to ``run``."""
    patterns = (f"{layout.METRICS_DIR}/*/{_AGGREGATE_TAIL}",
                f"{layout.KEPT_METRICS_DIR}/*/*/{_AGGREGATE_TAIL}")
    return {path.relative_to(run).parents[2] for pattern in patterns
            for path in run.glob(pattern) if _is_own_file(path, run)}


def _saved_models(run: Path) -> list[Path]:
    """The run's whole saved models (``model_type.txt``, written last, there), by batch."""
    return [folder for folder in layout.saved_model_dirs(layout.representation_dir(run))
            if (folder / MODEL_TYPE_FILE).is_file()]


def same_trained_model(a: Path, b: Path) -> bool:
    """Whether the run folders ``a`` and ``b`` both finished training with the same final
    model (its saved files byte for byte): one run's copies, whose results are each other's.
    Two trainings of one member on two machines differ in the last bits, and do not."""
    if not (layout.is_finished(a) and layout.is_finished(b)):
        return False
    finals = [_saved_models(run)[-1:] for run in (a, b)]
    if not finals[0] or not finals[1] or finals[0][0].name != finals[1][0].name:
        return False
    finals = [final[0] for final in finals]
    files = _own_files(finals[0])
    return bool(files) and files == _own_files(finals[1]) and all(
        (finals[0] / name).read_bytes() == (finals[1] / name).read_bytes() for name in files)


def carried_files(run: Path, metric_names: Sequence[str]) -> list[Path]:
    """The files of the run folder ``run`` that a snapshot carries, relative to ``run``, sorted
    (the rules are the module's docstring); ``metric_names`` are the study's (final and
    ``<metric>@<N>`` of kept models).

    A saved model's files sort with ``model_type.txt`` last, the file its writer writes last.
    """
    if not run.is_dir():
        return []
    skipped_dirs: set[Path] = set()
    skipped_files = {layout.torchscript_path(run)}
    saved = _saved_models(run)
    skipped_dirs.update(set(layout.saved_model_dirs(layout.representation_dir(run))) - set(saved))
    if layout.is_finished(run):
        skipped_dirs.add(layout.checkpoint_path(run).parent)
        # Markers of the unfinished run it once was (a restore of the finished run over a
        # failed one could leave them): status would read the run as failed.
        skipped_files.update(_stale_when_finished(run))
        missing = missing_metrics(run, metric_names)
        final = saved[-1] if saved else None
        for kept in saved:
            batches = layout.saved_model_batches(kept)
            still_needed = any(layout.parse_kept_metric_name(name)[1] == batches
                               for name in missing)
            if kept != final and not still_needed:
                skipped_dirs.add(kept)
    return [path for path in _own_files(run)
            if run / path not in skipped_files
            and not any(folder in (run / path).parents for folder in skipped_dirs)]


# ------------------------------------------------------------------------------ copying


def _copy_file(source: Path, target: Path, mtime: float | None = None) -> bool:
    """Copy ``source`` onto ``target`` atomically unless they already hold the same bytes, and
    give it ``mtime`` (default: the source's); whether it copied. Raises FileNotFoundError when
    the source is gone (a marker cleared meanwhile)."""
    data = source.read_bytes()
    mtime = source.stat().st_mtime if mtime is None else mtime
    same = (target.is_file() and target.stat().st_size == len(data)
            and target.read_bytes() == data)
    if not same:
        atomic_write_bytes(target, data)
    if not same or target.stat().st_mtime != mtime:
        os.utime(target, (mtime, mtime))
    return not same


def _remove_empty_folders(root: Path) -> None:
    if not root.is_dir():
        return
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(folder.iterdir()):
            folder.rmdir()
    if not any(root.iterdir()):
        root.rmdir()


def _read_manifest(snapshot_dir: Path) -> dict[str, Any]:
    path = snapshot_dir / MANIFEST
    if not path.is_file():
        return {"mtimes": {}, "placements": []}
    manifest = layout.read_json_object(path)
    if not isinstance(manifest.get("mtimes"), dict) or not isinstance(
            manifest.get("placements"), list):
        raise JLoneVAEError(f"{path} is not a snapshot's record (no mtimes and placements); "
                            "take the snapshot again into an empty folder")
    return manifest


# ------------------------------------------------------------------------------ members


def member_folders(member: Member, output_dir: Path) -> tuple[Path, Path]:
    """The member's run folder and TensorBoard folder, relative to the study's output folder
    (where :func:`~jlonevae_lib.train.config.place_run` puts it there).

    Raises :class:`JLoneVAEError` when the run folder lies outside it (a snapshot mirrors the
    output folder, so it cannot hold such a member).
    """
    config = dataclasses.replace(member.config, output_dir=str(output_dir))
    run = place_run(config).run_dir
    try:
        relative = run.resolve().relative_to(output_dir.resolve())
    except ValueError:
        raise JLoneVAEError(f"{member.label}: its run folder {run} is not inside the study's "
                            f"output folder {output_dir}; a snapshot holds only members "
                            "inside it") from None
    return relative, layout.log_dir_of_run(output_dir / relative).relative_to(output_dir)


def _placement_file(member: Member, run: Path) -> Path | None:
    """``seed<k>/config.json`` beside a member placed in ``seed<k>_batches<N>`` (relative, like
    ``run``); None for a member in its own ``seed<k>``."""
    default = layout.default_run_name(member.config.seed)
    if member.config.run_id is not None or run.name == default:
        return None
    return layout.config_path(run.parent / default)


def _progress(run: Path) -> tuple[int, int]:
    """How far a run folder is, comparable: finished > a checkpoint's batch > nothing."""
    if layout.is_finished(run):
        return 2, 0
    batches = checkpoint_batches(run)
    return (0, 0) if batches is None else (1, batches)


def _describe(run: Path) -> str:
    kind, batches = _progress(run)
    return ("finished", f"batch {batches}", "no checkpoint")[(2, 1, 0).index(kind)]


def _check_settings(member: Member, run: Path, where: str) -> None:
    recorded = recorded_config(run) if run.is_dir() else None
    if recorded is not None and not member.config.same_run_as(recorded):
        raise JLoneVAEError(f"{member.label}: {where} {run} holds other settings "
                            f"({recorded.differences(member.config)}); use the settings the "
                            "snapshot was taken with")


# ------------------------------------------------------------------------------ snapshot


def _snapshot_member(member: Member, run: Path, logs: Path, metric_names: Sequence[str],
                     output_dir: Path, snapshot_dir: Path, mtimes: dict[str, float],
                     placements: set[str]) -> MemberCopy:
    """Bring one member's folders in the snapshot up to date (``mtimes`` and ``placements``,
    the manifest's, updated in place).

    Where the snapshot holds the same finished model, the results it has and this folder lacks
    (computed on another machine, restored here only in part) stay in it as they are.
    """
    here, there = output_dir / run, snapshot_dir / run
    only_there = ({run / folder for folder in
                   computed_metric_folders(there) - computed_metric_folders(here)}
                  if same_trained_model(there, here) else set())
    counts = {"copied": 0, "unchanged": 0, "size": 0}
    kept: set[Path] = set()

    def carry(folder: Path, relative: Path) -> None:
        key = folder / relative
        if only_there.intersection(key.parents):  # this folder's own are partial at most
            return
        try:
            changed = _copy_file(output_dir / key, snapshot_dir / key)
        except FileNotFoundError:  # deleted meanwhile (a marker cleared): not carried
            return
        counts["copied" if changed else "unchanged"] += 1
        mtimes[key.as_posix()] = (snapshot_dir / key).stat().st_mtime
        counts["size"] += (snapshot_dir / key).stat().st_size
        kept.add(key)

    # A training run's progress record, then its checkpoint, and only then the list of
    # the rest: the trainer writes a kept model, the checkpoint, then the record, so the
    # snapshot's record is never ahead of its checkpoint, and a checkpoint past a kept
    # batch finds that model whole when the rest is listed (one before it resumes and
    # saves the model again).
    first = [] if layout.is_finished(here) else [
        path.relative_to(here)
        for path in (layout.progress_path(here), layout.checkpoint_path(here))]
    for relative in first:
        carry(run, relative)
    for relative in carried_files(here, metric_names):
        if relative not in first:
            carry(run, relative)
    for relative in _own_files(output_dir / logs):
        carry(logs, relative)
    placement = _placement_file(member, run)
    if placement is not None and (output_dir / placement).is_file():
        _copy_file(output_dir / placement, snapshot_dir / placement)
        mtimes[placement.as_posix()] = (snapshot_dir / placement).stat().st_mtime
        placements.add(placement.as_posix())
    removed = 0
    for folder in (run, logs):
        for path in sorted((snapshot_dir / folder).rglob("*")):
            relative = path.relative_to(snapshot_dir)
            if path.is_file() and relative not in kept and not only_there.intersection(
                    relative.parents):
                path.unlink()
                mtimes.pop(relative.as_posix(), None)
                removed += 1
        _remove_empty_folders(snapshot_dir / folder)
    return MemberCopy(member, COPIED, "", counts["copied"], counts["unchanged"], removed,
                      counts["size"])


def write_snapshot(members: Sequence[Member], metric_names: Sequence[str], output_dir: Path,
                   snapshot_dir: Path) -> list[MemberCopy]:
    """Bring ``snapshot_dir`` up to date with the members' folders under ``output_dir``.

    Only the members' own folders in the snapshot are touched. A member with no run folder
    here, or one the snapshot holds further along, is left as the snapshot has it; a finished
    run the snapshot holds with more results of the same model keeps them.
    """
    output_dir, snapshot_dir = Path(output_dir), Path(snapshot_dir)
    if snapshot_dir.resolve() == output_dir.resolve():
        raise JLoneVAEError(f"the snapshot folder {snapshot_dir} is the study's output folder; "
                            "give another folder")
    manifest = _read_manifest(snapshot_dir)
    mtimes: dict[str, float] = manifest["mtimes"]
    placements = set(manifest["placements"])
    folders = [member_folders(member, output_dir) for member in members]
    for member, (run, _) in zip(members, folders, strict=True):  # before anything is copied
        _check_settings(member, snapshot_dir / run, "the snapshot's")
    copies = []
    for member, (run, logs) in zip(members, folders, strict=True):
        here, there = output_dir / run, snapshot_dir / run
        if not here.is_dir():
            copies.append(MemberCopy(member, SKIPPED, "no run folder yet"))
            continue
        if _progress(there) > _progress(here):
            copies.append(MemberCopy(member, SKIPPED, f"the snapshot has it further along "
                                     f"({_describe(there)}; here {_describe(here)})"))
            continue
        copies.append(_snapshot_member(member, run, logs, metric_names, output_dir,
                                       snapshot_dir, mtimes, placements))
    atomic_write_json(snapshot_dir / MANIFEST,
                      {"mtimes": dict(sorted(mtimes.items())), "placements": sorted(placements)})
    return copies


# ------------------------------------------------------------------------------ restore


@dataclass(frozen=True)
class _Decision:
    member: Member
    run: Path
    logs: Path
    #: None: copy it; else why not.
    skip: str | None
    #: Copy only the results the output folder's run of the same model lacks.
    merge: bool = False


def _decide(member: Member, snapshot_dir: Path, output_dir: Path) -> _Decision:
    # Placed against the snapshot, whose placement files put a member in seed<k>_batches<N>
    # as on the machine it came from.
    run, logs = member_folders(member, snapshot_dir)
    source, target = snapshot_dir / run, output_dir / run
    if not source.is_dir() or recorded_config(source) is None:
        return _Decision(member, run, logs, "not in the snapshot")
    _check_settings(member, source, "the snapshot's")
    _check_settings(member, target, "the output folder's")
    if not target.exists():
        return _Decision(member, run, logs, None)
    holder = lock_holder(target)
    if holder is not None and holder.alive:
        return _Decision(member, run, logs,
                         f"in use ({holder.purpose}, pid {holder.pid} on {holder.host})")
    if layout.is_finished(target):
        if same_trained_model(source, target) and (
                computed_metric_folders(source) - computed_metric_folders(target)
                or any(marker.is_file() for marker in _stale_when_finished(target))):
            return _Decision(member, run, logs, None, merge=True)
        return _Decision(member, run, logs, "already finished here")
    if layout.is_finished(source):
        return _Decision(member, run, logs, None)
    if layout.failed_path(target).is_file():
        return _Decision(member, run, logs,
                         f"failed here (see its {layout.FAILED_FILE}; --retry-failed "
                         "resumes it)")
    if _progress(source) > _progress(target):
        return _Decision(member, run, logs, None)
    return _Decision(member, run, logs, f"here at {_describe(target)}, the snapshot at "
                                        f"{_describe(source)}")


def _copy_files(files: Sequence[Path], run: Path, snapshot_dir: Path, output_dir: Path,
                mtimes: dict[str, float]) -> tuple[int, int]:
    """Copy ``files`` (relative to both folders) of the run folder ``run`` from the snapshot, in
    :func:`_restore_rank`'s order; how many were copied and how many were already there."""
    copied = unchanged = 0
    for key in sorted(files, key=lambda key: _restore_rank(key, run)):
        if _copy_file(snapshot_dir / key, output_dir / key, mtimes.get(key.as_posix())):
            copied += 1
        else:
            unchanged += 1
    return copied, unchanged


def _merge_results(run: Path, snapshot_dir: Path, output_dir: Path,
                   mtimes: dict[str, float]) -> tuple[int, int]:
    """Copy the complete metric folders of the snapshot's run ``run`` that the output folder's
    run of the same model lacks, each under that metric's lock (the one evaluation takes: a
    metric being evaluated here is left to its process); as :func:`_copy_files`."""
    source, target = snapshot_dir / run, output_dir / run
    copied = unchanged = 0
    for folder in sorted(computed_metric_folders(source) - computed_metric_folders(target)):
        lock = FolderLock(target / folder, "restoring")
        try:
            lock.acquire()
        except LockedError:
            continue
        try:
            done = _copy_files([run / folder / name for name in _own_files(source / folder)],
                               run, snapshot_dir, output_dir, mtimes)
        finally:
            lock.release()
        copied, unchanged = copied + done[0], unchanged + done[1]
    return copied, unchanged


def _drop_stale_markers(source: Path, target: Path) -> int:
    """Remove the markers of the target's training (a failure, SIGKILLs at its checkpoint)
    that the snapshot's run ``source`` lacks; how many. Beside a finished run's ``DONE`` status
    would read it as failed."""
    removed = 0
    for marker in _stale_when_finished(target):
        if marker.is_file() and not (source / marker.name).is_file():
            marker.unlink()
            removed += 1
    return removed


def _clear_replaced(source: Path, target: Path) -> int:
    """Before ``source`` (the snapshot's run) is copied over ``target``, remove what of the
    target's would outlive the copy wrongly; how many files. The markers of its training (a
    failure, SIGKILLs at its checkpoint) that the source lacks, and the checkpoint of an
    unfinished run that a finished one replaces (beside the finished run's DONE it would be
    taken for the finished one's by --extend)."""
    removed = _drop_stale_markers(source, target)
    checkpoints = layout.checkpoint_path(target).parent
    if layout.is_finished(source) and checkpoints.is_dir():
        removed += len(_own_files(checkpoints))
        shutil.rmtree(checkpoints)
    return removed


def _restore_rank(key: Path, run: Path) -> int:
    """Where a file (relative to the output folder) comes in a member's restore: in the order
    the trainer and evaluation write them, so that a restore stopped halfway (Ctrl-C, a full
    disk) leaves a run the next restore sees as behind and copies again. The rest first (a
    saved model's ``model_type.txt`` last among its files, as sorting puts it), then each
    metric's aggregate file (its results complete), the checkpoint, its progress record,
    ``DONE``."""
    if key.as_posix().endswith(f"/{_AGGREGATE_TAIL}"):
        return 1
    order = (layout.checkpoint_path(run), layout.progress_path(run), layout.done_path(run))
    return order.index(key) + 2 if key in order else 0


def _snapshot_runs(snapshot_dir: Path, placements: set[str]) -> set[Path]:
    """Every run folder the snapshot holds (a folder with a config.json that is not only a
    placement file), relative to it."""
    return {path.parent.relative_to(snapshot_dir) for path in snapshot_dir.rglob(layout.CONFIG_FILE)
            if path.relative_to(snapshot_dir).as_posix() not in placements
            and _is_own_file(path, snapshot_dir)}


def restore_snapshot(members: Sequence[Member], snapshot_dir: Path,
                     output_dir: Path) -> tuple[list[MemberCopy], int]:
    """Copy each member from ``snapshot_dir`` into ``output_dir`` where the output folder has
    less of it: no run folder, or an unfinished run at an earlier checkpoint. Returns what was
    done with each member and how many of the snapshot's runs are members of none.

    Every member is decided first: settings that differ from the snapshot's raise before
    anything is copied, as does a snapshot none of whose runs is a member.
    """
    output_dir, snapshot_dir = Path(output_dir), Path(snapshot_dir)
    if not (snapshot_dir / MANIFEST).is_file():
        raise JLoneVAEError(f"{snapshot_dir} is not a snapshot (it has no {MANIFEST}); give "
                            "the folder `jlonevae-sweep snapshot --to` wrote")
    manifest = _read_manifest(snapshot_dir)
    mtimes: dict[str, float] = manifest["mtimes"]
    placements = set(manifest["placements"])
    decisions = [_decide(member, snapshot_dir, output_dir) for member in members]
    runs = _snapshot_runs(snapshot_dir, placements)
    matched = runs & {d.run for d in decisions if d.skip != "not in the snapshot"}
    if runs and not matched:
        example = snapshot_dir / min(runs) / layout.CONFIG_FILE
        raise JLoneVAEError(f"none of the {len(runs)} runs in {snapshot_dir} is a member of "
                            f"this plan; restore with the settings the snapshot was taken with "
                            f"(one run's are in {example})")
    for placement in sorted(placements):  # before any member: they decide its folder here
        target = output_dir / placement
        if not target.exists() and (snapshot_dir / placement).is_file():
            _copy_file(snapshot_dir / placement, target, mtimes.get(placement))
    copies = []
    for decision in decisions:
        if decision.skip is not None:
            copies.append(MemberCopy(decision.member, SKIPPED, decision.skip))
            continue
        target = output_dir / decision.run
        target.mkdir(parents=True, exist_ok=True)
        lock = FolderLock(target, "restoring")
        try:
            lock.acquire()
        except LockedError as err:
            copies.append(MemberCopy(decision.member, SKIPPED, f"in use ({err})"))
            continue
        try:
            source = snapshot_dir / decision.run
            if decision.merge:
                removed = _drop_stale_markers(source, target)
                copied, unchanged = _merge_results(decision.run, snapshot_dir, output_dir,
                                                   mtimes)
            else:
                removed = _clear_replaced(source, target)
                files = [folder / relative for folder in (decision.run, decision.logs)
                         for relative in _own_files(snapshot_dir / folder)]
                copied, unchanged = _copy_files(files, decision.run, snapshot_dir, output_dir,
                                                mtimes)
        finally:
            lock.release()
        if not decision.merge:
            copies.append(MemberCopy(decision.member, COPIED, _describe(source), copied,
                                     unchanged, removed))
        elif copied or unchanged or removed:
            copies.append(MemberCopy(decision.member, COPIED, "finished; the results it lacked "
                                     "here", copied, unchanged, removed))
        else:
            copies.append(MemberCopy(decision.member, SKIPPED, "finished here; the results it "
                                     "lacks are being evaluated here"))
    return copies, len(runs - matched)
