"""A run's TensorBoard scalars read back from its event files (docs/formats.md, "Run
folder": TensorBoard tags).

Training logs its loss terms with ``SummaryWriter.add_scalar`` (``KLD/train``, ``NLL/train``,
... at the step of each logged batch) under the run's log folder
(:func:`~jlonevae_lib.runs.layout.log_dir_of_run`). A run resumed from a checkpoint opens a
new event file and logs the batches after the checkpoint again; :func:`read_scalar_series`
keeps, for each step, the value written last.
"""

from __future__ import annotations

from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def read_scalar_series(log_dir: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) pairs of the scalar ``tag`` in the event files of ``log_dir``, in step
    order, one per step (the value written last); [] when the folder or the tag is absent."""
    if not log_dir.is_dir():
        return []
    # size_guidance 0: every event, not TensorBoard's reservoir sample of 10,000.
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    events.Reload()
    if tag not in events.Tags()["scalars"]:
        return []
    by_step = {event.step: float(event.value) for event in events.Scalars(tag)}
    return sorted(by_step.items())
