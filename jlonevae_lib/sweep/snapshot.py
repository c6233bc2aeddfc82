"""A study's snapshot: the part of its output folder that another machine needs to resume the
study and to report on it, small enough to keep (in git, say) where machines are not kept.

A snapshot mirrors the output folder's layout (``<models_dir>/<experiment>/<run>/`` and
``logs/<experiment>/<run>/`` of each member), so restoring it is copying its files back. Of each
member's run folder it carries every file except:

- what only a live process owns: dot-files (locks, the temporaries of atomic writes);
- the TorchScript export (``representation/pytorch_model.pt``): evaluation and the figures read
  the saved models, and the export is written again from the same weights by ``jlonevae-train``
  of an unfinished run;
- of a run whose training finished (``DONE``): its checkpoint and progress record (nothing
  resumes it), and each model kept at an earlier batch once every metric of that model is
  computed (the final model stays: the report draws its Jacobian columns).

Everything else is carried: config.json, the markers, the metric results of the final and the
kept models, the sweep's logs, the TensorBoard events and, of an unfinished run, its checkpoint
and every model it kept so far, so training resumes where the snapshot was taken.

:func:`write_snapshot` updates a snapshot in place: a file is copied only when it differs, and
a file the member no longer carries (the checkpoint of a run that has since finished) is
removed from the snapshot. :func:`restore_snapshot` copies a member back only where the output
folder has less of it (nothing, or an unfinished run at an earlier batch) and never deletes
anything there. Checkpoints resume bit-identically on the machine that wrote them; restored on
another CPU, a run continues from the same weights and random state, with that CPU's floating
point from there on (docs/sweeps.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from jlonevae_lib.runs import layout
from jlonevae_lib.sweep.members import Member
from jlonevae_lib.sweep.status import checkpoint_batches, missing_metrics
from jlonevae_lib.train.config import recorded_config
from jlonevae_lib.utils.atomic import atomic_write_bytes
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.lock import lock_holder

#: What a restore did with one member.
RESTORED, SKIPPED = "restored", "skipped"


@dataclass(frozen=True)
class MemberCopy:
    """One member's part of a snapshot or a restore."""

    member: Member
    #: Files copied (new or changed), files left as they were, files removed from the snapshot.
    copied: int = 0
    unchanged: int = 0
    removed: int = 0
    #: Bytes of the member's files in the snapshot after the operation.
    size: int = 0
    #: For a restore: :data:`RESTORED` or :data:`SKIPPED`, and why.
    action: str = ""
    reason: str = ""


def member_folders(member: Member, output_dir: Path) -> tuple[Path, Path]:
    """The member's run folder and TensorBoard folder, relative to the study's output folder.

    Raises :class:`JLoneVAEError` when the run folder lies outside it (a snapshot mirrors the
    output folder, so it cannot hold such a member).
    """
    run = member.run_dir
    try:
        relative = run.resolve().relative_to(output_dir.resolve())
    except ValueError:
        raise JLoneVAEError(f"{member.label}: its run folder {run} is not inside the study's "
                            f"output folder {output_dir}; a snapshot holds only members "
                            "inside it") from None
    return relative, layout.log_dir_of_run(output_dir / relative).relative_to(output_dir)


def _is_own_file(path: Path, root: Path) -> bool:
    """Whether ``path`` (below ``root``) is a plain file no live process owns: no part of its
    path below ``root`` is a dot-name (locks, temporaries)."""
    return path.is_file() and not path.is_symlink() and not any(
        part.startswith(".") for part in path.relative_to(root).parts)


def carried_files(run: Path, metric_names: Sequence[str]) -> list[Path]:
    """The files of the run folder ``run`` that a snapshot carries, relative to ``run`` (the
    rules are the module's docstring); ``metric_names`` are the study's (final and
    ``<metric>@<N>`` of kept models).

    In the order to copy them from a run still training: its progress record, then its
    checkpoint, then the rest by name. The trainer writes a kept model, then the checkpoint,
    then the record, so copied in this order the snapshot's record is never ahead of its
    checkpoint, and a checkpoint past a kept batch comes with that model whole (one before it
    resumes and saves the model again)."""
    if not run.is_dir():
        return []
    skipped_dirs: set[Path] = set()
    skipped_files = {layout.torchscript_path(run)}
    if layout.is_finished(run):
        skipped_dirs.add(layout.checkpoint_path(run).parent)
        missing = missing_metrics(run, metric_names)
        final = layout.final_saved_model(layout.representation_dir(run))
        for kept in layout.saved_model_dirs(layout.representation_dir(run)):
            batches = layout.saved_model_batches(kept)
            still_needed = any(layout.parse_kept_metric_name(name)[1] == batches
                               for name in missing)
            if kept != final and not still_needed:
                skipped_dirs.add(kept)
    carried = []
    for path in run.rglob("*"):
        if not _is_own_file(path, run) or path in skipped_files:
            continue
        if any(folder in path.parents for folder in skipped_dirs):
            continue
        carried.append(path.relative_to(run))
    first = [path.relative_to(run)
             for path in (layout.progress_path(run), layout.checkpoint_path(run))]
    return sorted(carried, key=lambda path: (first.index(path) if path in first else 2, path))


def _own_files(folder: Path) -> list[Path]:
    """Every file below ``folder`` that no live process owns, relative to it, sorted."""
    if not folder.is_dir():
        return []
    return sorted(path.relative_to(folder) for path in folder.rglob("*")
                  if _is_own_file(path, folder))


def _copy_file(source: Path, target: Path) -> bool:
    """Copy ``source`` onto ``target`` atomically, with its modification time, unless they
    already hold the same bytes; whether it copied. A source deleted meanwhile (a marker
    cleared) is not copied."""
    try:
        data = source.read_bytes()
        modified = source.stat().st_mtime
    except FileNotFoundError:
        return False
    if target.is_file() and target.stat().st_size == len(data) and target.read_bytes() == data:
        return False
    atomic_write_bytes(target, data)
    os.utime(target, (modified, modified))
    return True


def _remove_empty_folders(root: Path) -> None:
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(folder.iterdir()):
            folder.rmdir()


def _sync_folder(source: Path, files: Iterable[Path], target: Path) -> tuple[int, int, int, int]:
    """Make ``target`` hold exactly ``files`` (relative) of ``source``: (copied, unchanged,
    removed, bytes)."""
    files = list(files)
    copied = unchanged = size = 0
    for relative in files:
        if _copy_file(source / relative, target / relative):
            copied += 1
        elif (target / relative).is_file():
            unchanged += 1
        else:
            continue
        size += (target / relative).stat().st_size
    wanted = set(files)
    removed = 0
    if target.is_dir():
        for path in sorted(target.rglob("*")):
            if path.is_file() and path.relative_to(target) not in wanted:
                path.unlink()
                removed += 1
        _remove_empty_folders(target)
        if not any(target.iterdir()):
            target.rmdir()
    return copied, unchanged, removed, size


def write_snapshot(members: Sequence[Member], metric_names: Sequence[str], output_dir: Path,
                   snapshot_dir: Path) -> list[MemberCopy]:
    """Bring ``snapshot_dir`` up to date with the members' folders under ``output_dir``.

    Only the members' own folders in the snapshot are touched; a member with no run folder
    yet is left out (and one the snapshot held is kept there: nothing here has replaced it).
    """
    output_dir, snapshot_dir = Path(output_dir), Path(snapshot_dir)
    if snapshot_dir.resolve() == output_dir.resolve():
        raise JLoneVAEError(f"the snapshot folder {snapshot_dir} is the study's output folder; "
                            "give another folder")
    copies = []
    for member in members:
        run, logs = member_folders(member, output_dir)
        if not (output_dir / run).is_dir():
            copies.append(MemberCopy(member, reason="no run folder yet"))
            continue
        totals = [a + b for a, b in zip(
            _sync_folder(output_dir / run, carried_files(output_dir / run, metric_names),
                         snapshot_dir / run),
            _sync_folder(output_dir / logs, _own_files(output_dir / logs),
                         snapshot_dir / logs), strict=True)]
        copies.append(MemberCopy(member, *totals))
    return copies


def _snapshot_progress(run: Path) -> str:
    if layout.is_finished(run):
        return "finished"
    batches = checkpoint_batches(run)
    return "no checkpoint" if batches is None else f"batch {batches}"


def _restore_decision(member: Member, source: Path, target: Path) -> str | None:
    """Why the member's run folder ``target`` must not take the snapshot's ``source``, or None
    when it may (it has less of the run)."""
    recorded = recorded_config(source) if source.is_dir() else None
    if recorded is None:
        return "not in the snapshot"
    if not member.config.same_run_as(recorded):
        raise JLoneVAEError(f"{member.label}: the snapshot's {source} holds other settings "
                            f"({recorded.differences(member.config)}); restore with the "
                            "settings the snapshot was taken with")
    if not target.exists():
        return None
    holder = lock_holder(target)
    if holder is not None and holder.alive:
        return f"in use ({holder.purpose}, pid {holder.pid} on {holder.host})"
    here = recorded_config(target)
    if here is not None and not here.same_run_as(recorded):
        raise JLoneVAEError(f"{target} holds a run with other settings than the snapshot's "
                            f"({here.differences(recorded)}); move it away and restore again")
    if layout.is_finished(target):
        return "already finished here"
    if layout.failed_path(target).is_file():
        return "failed here (see its FAILED; --retry-failed resumes it)"
    if layout.is_finished(source):
        return None
    batches_here, batches_there = checkpoint_batches(target), checkpoint_batches(source)
    if batches_there is None or (batches_here is not None and batches_here >= batches_there):
        return (f"here at {_snapshot_progress(target)}, the snapshot at "
                f"{_snapshot_progress(source)}")
    return None


def restore_snapshot(members: Sequence[Member], snapshot_dir: Path,
                     output_dir: Path) -> list[MemberCopy]:
    """Copy each member from ``snapshot_dir`` into ``output_dir`` where the output folder has
    less of it: no run folder, or an unfinished run at an earlier checkpoint. Nothing in the
    output folder is deleted; files there are replaced atomically."""
    output_dir, snapshot_dir = Path(output_dir), Path(snapshot_dir)
    if not snapshot_dir.is_dir():
        raise JLoneVAEError(f"snapshot folder {snapshot_dir} does not exist; give the folder "
                            "`jlonevae-sweep snapshot --to` wrote")
    copies = []
    for member in members:
        run, logs = member_folders(member, output_dir)
        reason = _restore_decision(member, snapshot_dir / run, output_dir / run)
        if reason is not None:
            copies.append(MemberCopy(member, action=SKIPPED, reason=reason))
            continue
        copied = unchanged = 0
        for folder, files in ((run, _own_files(snapshot_dir / run)),
                              (logs, _own_files(snapshot_dir / logs))):
            for relative in files:
                if _copy_file(snapshot_dir / folder / relative, output_dir / folder / relative):
                    copied += 1
                else:
                    unchanged += 1
        copies.append(MemberCopy(member, copied=copied, unchanged=unchanged, action=RESTORED,
                                 reason=_snapshot_progress(snapshot_dir / run)))
    return copies
