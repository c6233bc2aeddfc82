"""The study ``cpu_penalty_study``: does the Jacobian L1 penalty itself raise local
disentanglement on disentanglement_lib's architecture, and does the gap to its β-VAE grow with
training?

Its design was fixed before any of its runs (the pre-registration in docs/studies.md): three
arms on disentanglement_lib's architecture (``dlibConv``), d = 10, batch 64, lr 1e-3, 30,000
batches from the paper's 500,000-image cache (``threeDotsCache``), seeds 1-10 each:

- ``jl1_dlib``: our ``jlonevae`` objective, β = 4, γ = 0.1, both ramped over 10,000 batches, the
  forward-difference penalty on a random sub-batch of 16;
- ``beta_ramp_dlib``: the same objective and ramp with γ = 0, so the penalty is the only
  difference from ``jl1_dlib``;
- ``beta_vae_dlib``: disentanglement_lib's β-VAE exactly (its loss, β = 4, no ramp), the
  paper's comparator, at lr 1e-3 like the other arms.

Every run also keeps its model after 8,000 and 15,000 batches (``keep_models_at``), the earlier
points of the learning curve. The primary outcome is local MIG at locality 0.1, averaged over
evaluation seeds 0-2, at 30,000 batches; the primary tests are Welch t-tests of ``jl1_dlib``
against each other arm, Holm-corrected over the two.

The summary step is ``python -m jlonevae_lib.cli.penalty_study_summary`` with every member's run
folder (:mod:`jlonevae_lib.reports.penalty_study`): it reports the primary tests only once every
arm has all its seeds finished and evaluated, and says the study is incomplete until then.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from jlonevae_lib.runs import layout
from jlonevae_lib.runs.study_numbering import PAPER_HP_INDEX
from jlonevae_lib.sweep.studies import Axis, Study, StudyPlan, SummaryCommand, register_study
from jlonevae_lib.train.baselines import method_settings
from jlonevae_lib.utils.errors import JLoneVAEError

NAME = "cpu_penalty_study"
OUTPUT_DIR = f"studies/{NAME}"
RESULTS_DIR = f"results/{NAME}"
SUMMARY_COMMAND = (sys.executable, "-m", "jlonevae_lib.cli.penalty_study_summary")

#: The run length (the reference example's), the β/γ ramp of the ConvVAE-objective arms, and
#: the earlier points of each run that are kept for the learning curve.
NUM_BATCHES = 30_000
RAMP_BATCHES = 10_000
KEPT_BATCHES = (8_000, 15_000)
JL1_GAMMA = 0.1
BETA = 4.0
LR = 1e-3

JL1_ARM, BETA_RAMP_ARM, BETA_VAE_ARM = "jl1_dlib", "beta_ramp_dlib", "beta_vae_dlib"
ARMS = (JL1_ARM, BETA_RAMP_ARM, BETA_VAE_ARM)
ARM_LABELS = {JL1_ARM: f"JL1-VAE (γ={JL1_GAMMA:g}, ramp)", BETA_RAMP_ARM: "β-VAE (γ=0, ramp)",
              BETA_VAE_ARM: "β-VAE (disentanglement_lib)"}
SEEDS = tuple(range(1, 11))


def arm_settings(point: Mapping[str, Any]) -> dict[str, Any]:
    """TrainConfig settings of one member from its ``arm`` and ``seed``."""
    arm, seed = point["arm"], point["seed"]
    if arm in (JL1_ARM, BETA_RAMP_ARM):
        return {"objective": "jlonevae", "architecture": "dlibConv", "beta": BETA,
                "gamma": JL1_GAMMA if arm == JL1_ARM else 0.0,
                "annealing_batches": RAMP_BATCHES, "jacobian_batch": 16, "seed": seed}
    if arm == BETA_VAE_ARM:
        settings = method_settings("beta_vae", PAPER_HP_INDEX, seed)
        if settings["beta"] != BETA:
            raise AssertionError(f"disentanglement_lib's β-VAE at index {PAPER_HP_INDEX} has "
                                 f"β = {settings['beta']}, not {BETA}")
        return {**settings, "lr": LR, "num_batches": NUM_BATCHES,
                "models_dir": layout.STANDARD_MODELS_DIR}
    raise JLoneVAEError(f"unknown arm {arm!r}; arms: {', '.join(ARMS)}")


def _summary(plan: StudyPlan) -> list[SummaryCommand]:
    """The report (summary.json, summary.md, README.md, figures/) from every member's run
    folder, given explicitly: a folder that does not exist yet is a run not started."""
    if plan.results_dir is None:
        return []
    command = [*SUMMARY_COMMAND, "--output-dir", str(plan.results_dir.resolve())]
    for member in plan.members:
        command += ["--run", str(member.run_dir.resolve())]
    if plan.command:
        command += ["--command", plan.command]
    return [SummaryCommand(tuple(command))]


@register_study(NAME)
def cpu_penalty_study() -> Study:
    return Study(
        name=NAME,
        description="the pre-registered penalty study: JL1-VAE vs the same objective at γ = 0 "
                    "vs disentanglement_lib's β-VAE, all on dlibConv, seeds 1-10, 30,000 "
                    "batches on the 500,000-image cache, lr 1e-3 (docs/studies.md)",
        base={"dataset": "threeDotsCache", "batch_size": 64, "latent_dim": 10, "lr": LR,
              "num_batches": NUM_BATCHES, "keep_models_at": list(KEPT_BATCHES),
              "device": "cpu", "checkpoint_every": 500, "output_dir": OUTPUT_DIR},
        axes=(Axis("seed", SEEDS), Axis("arm", ARMS)),
        settings_of=arm_settings,
        metrics=("paper", "evalseeds"), kept_metrics=("local_mig_0_1", "local_modularity_0_1",
                                                      "evalseeds"),
        results_dir=RESULTS_DIR, summary=_summary)
