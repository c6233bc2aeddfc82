"""The natural-image experiment at CPU scale: the study ``natural_images_cpu``.

JL1-VAE (γ = 0.01) and β-VAE (γ = 0) on tiny16, β = 0.01, seeds 0 and 1, on 16×16 natural-image
patches (IMAGES.mat when present, otherwise the offline fallback of
:mod:`jlonevae_lib.data.natural_images`, which every output labels), then one summary step:
:func:`jlonevae_lib.reports.natural_images.write_natural_images_summary` draws the
Jacobian-crops figure of every model beside the PCA and FastICA filters (fitted by that step on
the same patches), scores reconstruction on held-out patches and measures how localised the
Jacobian columns and the filters are (docs/natural_images.md).

Deviations from the paper's setting (the ``naturalImages`` study): 4,000 batches of 128 instead
of 100,000, the β/γ ramp scaled by the same factor (2,000 instead of 50,000 batches), the
Jacobian penalty estimated on a random sub-batch of 16 of the 128 images (unbiased, and a
fraction of the full batch's cost), on the CPU, and two seeds per arm instead of one. How the
budget was chosen from one measured step of each arm: docs/natural_images.md.

The summary step is ``python -m jlonevae_lib.cli.natural_images_summary`` (figures and
summary: :mod:`jlonevae_lib.reports.natural_images`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jlonevae_lib.runs import layout
from jlonevae_lib.sweep.studies import Axis, Study, StudyPlan, SummaryCommand, register_study

STUDY_NAME = "natural_images_cpu"
RESULTS_DIR = "results/natural_images"
SUMMARY_COMMAND = (sys.executable, "-m", "jlonevae_lib.cli.natural_images_summary")
#: The default length's summary: a longer variant (``--set num_batches=20000 --results-dir
#: results/natural_images_20k``) cites its collapsed runs as what the localisation measure gives
#: noise, when the variant has none of its own.
NOISE_REFERENCE = Path(RESULTS_DIR) / layout.SUMMARY_JSON

#: The CPU budget and the paper's length (docs/natural_images.md).
CPU_NUM_BATCHES = 4000
PAPER_NUM_BATCHES = 100_000
#: Settings every member shares: the paper's naturalImages settings but the length (and the
#: ramp, scaled with it), the penalty's sub-batch and the device.
NATURAL_IMAGES_CPU: Mapping[str, Any] = {
    "dataset": "naturalImages", "architecture": "tiny16", "objective": "jlonevae",
    "beta": 0.01, "latent_dim": 10, "batch_size": 128, "lr": 1e-3,
    "num_batches": CPU_NUM_BATCHES, "annealing_batches": CPU_NUM_BATCHES // 2,
    "jacobian_batch": 16, "device": "cpu", "checkpoint_every": 500,
    "output_dir": "studies/natural_images_cpu",
}
SEEDS = (0, 1)
GAMMAS = (0.0, 0.01)
#: What the summary records as the paper's setting, to state the deviations from it.
PAPER_SETTINGS = {"num_batches": PAPER_NUM_BATCHES, "annealing_batches": 50_000,
                  "jacobian_batch": None, "seeds": [0], "device": "GPU"}


def summary_arguments(plan: StudyPlan) -> list[str]:
    """The summary command's arguments for ``plan``: every member's run folder, the results
    folder and the study's command; for results written elsewhere than the default folder,
    the default's summary as the noise reference (:data:`NOISE_REFERENCE`) if it exists."""
    assert plan.results_dir is not None
    runs = [arg for m in plan.members for arg in ("--run", str(m.run_dir.resolve()))]
    arguments = [*runs, "--results-dir", str(plan.results_dir.resolve()),
                 "--command", plan.command]
    if (plan.results_dir.resolve() != NOISE_REFERENCE.parent.resolve()
            and NOISE_REFERENCE.is_file()):
        arguments += ["--noise-reference", str(NOISE_REFERENCE.resolve())]
    return arguments


def _summary_commands(plan: StudyPlan) -> list[SummaryCommand]:
    if plan.results_dir is None:
        return []
    return [SummaryCommand((*SUMMARY_COMMAND, *summary_arguments(plan)))]


@register_study(STUDY_NAME)
def natural_images_cpu() -> Study:
    return Study(
        name=STUDY_NAME,
        description="natural images at CPU scale: tiny16, β = 0.01, β-VAE (γ = 0) vs JL1-VAE "
                    "(γ = 0.01), seeds 0-1, 4,000 batches of 128, then the Jacobian-crops "
                    "figures, PCA/ICA filters, held-out errors and localisation",
        base={**NATURAL_IMAGES_CPU, "models_dir": layout.TRAINED_MODELS_DIR},
        axes=(Axis("seed", SEEDS), Axis("gamma", GAMMAS)),
        results_dir=RESULTS_DIR, summary=_summary_commands)
