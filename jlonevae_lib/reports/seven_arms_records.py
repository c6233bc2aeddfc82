"""Reading the seven-arm study (``cpu_seven_arms``): its members' run folders as records, each
finished run's reconstruction measured on fixed images, and a written summary.json read back.

- :func:`collect_member_runs`: the study's members (arm, run folder), exactly the runs the
  summary step passes, as :class:`~jlonevae_lib.reports.records.RunRecord` (a folder that does
  not exist yet is a run not started), through :mod:`jlonevae_lib.reports.records`;
- :func:`measure_reconstructions`: each finished run's held-out reconstruction BCE and each
  dataset's reference points, measured by :mod:`jlonevae_lib.evaluate.reconstruction` (this
  module runs no model itself);
- :func:`load_summary` and :func:`records_from_summary`: summary.json and its runs as records,
  which is all ``--from-summary`` needs.

The statistics are :mod:`jlonevae_lib.reports.seven_arms_comparisons`, the summary's assembly
:mod:`jlonevae_lib.reports.seven_arms`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from jlonevae_lib.evaluate.reconstruction import reference_images, run_reconstruction_bce
from jlonevae_lib.reports.records import (
    FINISHED,
    HELDOUT_BCE,
    NOT_STARTED,
    RunRecord,
    json_object_or_note,
    read_summary_json,
    run_scores,
    seed_of,
    training_state,
)
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.metric_table import parse_evaluation_seed_name
from jlonevae_lib.runs.results import RunInfo
from jlonevae_lib.sweep.seven_arms import ARM_LABELS, JL1_ARM, JL1_GAMMA
from jlonevae_lib.utils.errors import JLoneVAEError

#: The fixed images every run's reconstruction is scored on, and the seed that draws them.
EVALUATION_IMAGES = 2_000
EVALUATION_IMAGES_SEED = 0


def collect_member_runs(members: Sequence[tuple[str, Path]]
                        ) -> tuple[list[RunRecord], list[str], dict[str, list[int]]]:
    """The study's members (arm, run folder) as records, notes on anything missing or
    unreadable, and the evaluation seeds of each local score that has repeats
    (``{"local_mig_0_1": [0, 1, 2]}``: the seeds its own files name plus the repeats')."""
    notes: list[str] = []
    runs = []
    seeds_of: dict[str, set[int]] = {}
    for arm, run_dir in members:
        run_dir = Path(run_dir)
        label = ARM_LABELS.get(arm, arm)
        gamma = JL1_GAMMA if arm == JL1_ARM else 0.0
        common = {"arm": arm, "label": label, "method": arm, "gamma": gamma, "settings": "",
                  "run_id": run_dir.name}
        if not run_dir.is_dir():
            runs.append(RunRecord(**common, seed=seed_of(run_dir, {}), status=NOT_STARTED))
            continue
        config = {}
        if layout.config_path(run_dir).is_file():
            config = json_object_or_note(layout.config_path(run_dir), notes) or {}
        status, detail, trained, trained_on = training_state(run_dir, notes)
        info = RunInfo(run_dir=run_dir, group=arm, method=arm, label=label,
                       run_id=run_dir.name)
        scores, seconds, own_seeds = run_scores(run_dir, info, notes)
        for key, seeds in own_seeds.items():
            seeds_of.setdefault(key, set()).update(seeds)
        runs.append(RunRecord(**common, seed=seed_of(run_dir, config), status=status,
                              values={**scores, **trained}, evaluation_seconds=seconds,
                              detail=detail, config=config, trained_on=trained_on))
    for run in runs:
        for key in run.values:
            parsed = parse_evaluation_seed_name(key)
            if parsed is not None:
                seeds_of.setdefault(parsed[0], set()).add(parsed[1])
    repeated = {parsed[0] for run in runs for key in run.values
                if (parsed := parse_evaluation_seed_name(key)) is not None}
    return runs, notes, {key: sorted(seeds_of[key]) for key in sorted(repeated)}


def measure_reconstructions(members: Sequence[tuple[str, Path]], runs: Sequence[RunRecord],
                            num_images: int = EVALUATION_IMAGES,
                            seed: int = EVALUATION_IMAGES_SEED
                            ) -> tuple[list[RunRecord], dict[str, dict[str, float]], list[str]]:
    """Each finished run's reconstruction BCE per image (:data:`HELDOUT_BCE`) on the same
    ``num_images`` images of its dataset drawn with ``seed``
    (:func:`~jlonevae_lib.evaluate.reconstruction.reference_images`), and each dataset's
    reference points on them: ``mean_image``, what a model that reconstructs nothing scores,
    and ``perfect``, what an exact reconstruction scores.

    ``runs``: :func:`collect_member_runs`' records of ``members``, in the same order. Returns
    (the runs with the values added, {dataset: {"mean_image", "perfect"}}, notes)."""
    images_of: dict[str, Any] = {}
    reference: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    measured = []
    for (_, run_dir), run in zip(members, runs, strict=True):
        dataset = run.config.get("dataset")
        if run.status != FINISHED or not isinstance(dataset, str):
            measured.append(run)
            continue
        if dataset not in images_of:
            images_of[dataset], reference[dataset] = reference_images(dataset, num_images, seed)
        try:
            bce = run_reconstruction_bce(Path(run_dir), images_of[dataset])
        except JLoneVAEError as err:  # a note, never fatal: the summary reports what it has
            notes.append(f"{run.label} {run.run_id}: no held-out reconstruction ({err})")
            measured.append(run)
            continue
        measured.append(replace(run, values={**run.values, HELDOUT_BCE: bce}))
    return measured, reference, notes


def records_from_summary(summary: Mapping[str, Any]) -> list[RunRecord]:
    """The runs of a written summary (summary.json's ``runs``) as records: arm, label, seed,
    status and per-run values (nulls left out), enough for every statistic of the summary."""
    settings = {arm["arm"]: arm.get("settings") or {} for arm in summary["arms"]}
    return [RunRecord(arm=run["arm"], label=run["label"], method=run["arm"],
                      gamma=JL1_GAMMA if run["arm"] == JL1_ARM else 0.0, settings="",
                      run_id=run["run_id"], seed=run["seed"], status=run["status"],
                      values={k: v for k, v in run["values"].items() if v is not None},
                      evaluation_seconds=run.get("evaluation_seconds") or 0.0,
                      detail=run.get("detail") or "", config=settings.get(run["arm"], {}),
                      trained_on=run.get("trained_on") or "")
            for run in summary["runs"]]


def load_summary(path: str | Path) -> dict[str, Any]:
    """summary.json as written by
    :func:`~jlonevae_lib.reports.seven_arms_text.write_seven_arm_summary`."""
    return read_summary_json(path, ("arms", "runs", "noise", "paper_ordering"),
                             "a seven-arm summary")
