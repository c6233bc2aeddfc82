"""The study ``cpu_seven_arms``: the paper's seven-method comparison at CPU scale.

Eight arms, seeds 1-5 each (40 runs), every arm on the same CPU budget:

- JL1-VAE (γ = 0.1) and β-VAE (γ = 0) on the ConvVAE (``defaultConv``), exactly the members of
  the study ``cpu_study``: the same settings and run folders (``studies/cpu_study``), so runs
  finished there are reused, not trained again;
- disentanglement_lib's six methods (β-VAE, FactorVAE, DIP-VAE-I, DIP-VAE-II, β-TCVAE,
  AnnealedVAE) on its architecture (``dlibConv``) at hyperparameter index 2, as in the paper's
  figure, under ``studies/cpu_seven_arms/trainedStandardModels``.

Deviations from the paper's settings (docs/studies.md says why):

- 8,000 batches of 64 from the 20,000-image cache (``threeDotsCacheSmall``) instead of 300,000
  from the 500,000-image cache: under an hour of CPU per run instead of days (docs/studies.md);
- lr 1e-3 instead of 1e-4 for every arm (the FactorVAE discriminator's too, which follows the
  run's lr): the short runs need the larger step to get anywhere;
- every schedule scaled by the run-length factor 8,000 / 300,000: the ConvVAE arms' β and γ ramp
  100,000 -> 2,667 batches and AnnealedVAE's capacity ramp (``iteration_threshold``)
  100,000 -> 2,667; no other baseline hyperparameter is a schedule;
- the Jacobian penalty of JL1-VAE on a random sub-batch of 16 images (the paper: all 64);
- training seeds 1-5 instead of 0-9 (baselines) and 11-20 (ours);
- besides the paper's 12 metrics, local MIG and local modularity at locality 0.1 at evaluation
  seeds 1 and 2 (``evalseeds``), averaged with seed 0's in the summary.

``--set num_batches=N`` changes every arm's length and rescales the schedules with it;
``--set hp_index=K`` picks the baselines' setting; ``--set lr=...`` any other TrainConfig field
applies to every arm. The summary step is :mod:`jlonevae_lib.reports.seven_arms`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jlonevae_lib.runs import layout
from jlonevae_lib.runs.metric_table import EXTRA_EVALUATION_SEEDS, LOCAL_MIG, metric_name
from jlonevae_lib.runs.results import BASELINE_METHODS, RunInfo, run_records
from jlonevae_lib.runs.study_numbering import METHODS, PAPER_HP_INDEX, vae_updates
from jlonevae_lib.sweep.studies import (
    PLOT_COMMAND,
    Axis,
    Study,
    StudyPlan,
    SummaryCommand,
    cpu_study,
    register_study,
)
from jlonevae_lib.train.baselines import method_settings
from jlonevae_lib.utils.errors import JLoneVAEError

NAME = "cpu_seven_arms"
OUTPUT_DIR = "studies/cpu_seven_arms"
RESULTS_DIR = "results/cpu_seven_arms"
SEVEN_ARMS_SUMMARY_COMMAND = (sys.executable, "-m", "jlonevae_lib.cli.seven_arms_summary")

#: The paper's run length, and the schedules it scaled with it (batches).
PAPER_BATCHES = 300_000
PAPER_ANNEALING_BATCHES = 100_000
#: This study's run length.
CPU_BATCHES = 8000
#: JL1-VAE's penalty weight.
JL1_GAMMA = 0.1

#: The arms (values of the ``arm`` axis): our two ConvVAE arms, then disentanglement_lib's
#: methods in its study's order.
JL1_ARM, BETA_ARM = "jl1_vae", "beta_vae_gamma0"
ARMS = (JL1_ARM, BETA_ARM, *METHODS)
#: How summaries and figures name the arms (the baselines as the results reader labels them).
ARM_LABELS = {JL1_ARM: f"JL1-VAE (γ={JL1_GAMMA:g})", BETA_ARM: "β-VAE (γ=0)",
              **{method: BASELINE_METHODS[method] for method in METHODS}}
#: The paper's mean local MIG at locality 0.1 per method (its seven-method figure; 300,000
#: batches), keyed by our arm: the β-VAE of that figure is disentanglement_lib's, so our
#: ConvVAE β-VAE (γ = 0) has no paper value.
PAPER_LOCAL_MIG_0_1 = {JL1_ARM: 0.123, "dip_vae_i": 0.080, "beta_vae": 0.061,
                       "beta_tc_vae": 0.058, "dip_vae_ii": 0.052, "factor_vae": 0.037,
                       "annealed_vae": 0.021}
#: The paper's names of those methods.
PAPER_NAMES = {JL1_ARM: "JL1-VAE", "beta_vae": "β-VAE", **{
    method: BASELINE_METHODS[method] for method in METHODS if method != "beta_vae"}}


def paper_batches(arm: str) -> int:
    """The batches (VAE updates) of the paper's run of ``arm``: its runs were 300,000 steps,
    and disentanglement_lib counts two global steps per FactorVAE batch (a VAE and a
    discriminator update, :func:`~jlonevae_lib.runs.study_numbering.vae_updates`), so the
    paper's FactorVAE took 150,000 batches and every other method 300,000."""
    return vae_updates(arm, PAPER_BATCHES)


def scaled_schedule(paper_batches: int, num_batches: int) -> int:
    """A schedule of the paper's ``paper_batches`` (of its 300,000-batch runs) scaled to a run
    of ``num_batches``, rounded to whole batches: 100,000 -> 2,667 at 8,000 batches."""
    return round(paper_batches * num_batches / PAPER_BATCHES)


def arm_settings(point: Mapping[str, Any]) -> dict[str, Any]:
    """TrainConfig settings of one member: ``arm``, ``seed`` and the study parameters
    ``num_batches`` and ``hp_index``."""
    arm, seed, num_batches = point["arm"], point["seed"], point["num_batches"]
    annealing = scaled_schedule(PAPER_ANNEALING_BATCHES, num_batches)
    if arm in (JL1_ARM, BETA_ARM):
        settings = {**cpu_study().base, "seed": seed, "num_batches": num_batches,
                    "annealing_batches": annealing,
                    "gamma": JL1_GAMMA if arm == JL1_ARM else 0.0}
        return settings
    if arm not in METHODS:
        raise JLoneVAEError(f"unknown arm {arm!r}; arms: {', '.join(ARMS)}")
    settings = method_settings(arm, point["hp_index"], seed)
    params = dict(settings.get("objective_params", {}))
    if "iteration_threshold" in params:
        params["iteration_threshold"] = float(scaled_schedule(
            int(params["iteration_threshold"]), num_batches))
    return {**settings, "objective_params": params, "num_batches": num_batches,
            "lr": cpu_study().base["lr"], "models_dir": layout.STANDARD_MODELS_DIR,
            "output_dir": OUTPUT_DIR}


#: What each figure of the summary shows (by file stem), for summary.md.
FIGURE_CAPTIONS = {
    "jacobian_columns_per_arm": "decoder Jacobian columns of one model per arm, the run whose "
                                "local MIG at 0.1 is its arm's median (row labels give the "
                                "seed), at the paper's example image",
    "threeDots_local_mig_0_1_compareToStandard": "local MIG at 0.1 per arm, one point per "
                                                 "model (the paper's seven-method figure)",
    "threeDots_local_modularity_0_1_compareToStandard": "local modularity at 0.1 per arm",
    "threeDots_local_mig_allArms_varyingRho": "local MIG against locality, every arm",
    "threeDots_local_modularity_allArms_varyingRho": "local modularity against locality, "
                                                     "every arm",
}


def median_index(values: list[float]) -> int:
    """The position in ``values`` (non-empty) of their median, the lower one of an even
    count: [0.3, 0.1, 0.2] -> 2; ties keep the earlier position."""
    if not values:
        raise ValueError("no values")
    order = sorted(range(len(values)), key=lambda i: (values[i], i))
    return order[(len(values) - 1) // 2]


def _local_mig_0_1(run: Path) -> float | None:
    """A finished run's local MIG at 0.1 (evaluation seed 0), None when not evaluated yet."""
    info = RunInfo(run_dir=run, group=run.parent.name, method="", label="", run_id=run.name)
    try:
        records = run_records(run, info)
    except JLoneVAEError:
        return None  # an unreadable result: the summary notes it
    wanted = metric_name(LOCAL_MIG, 0.1)
    return next((record.value for record in records if record.name == wanted), None)


def representative_runs(runs: list[tuple[str, Path]]) -> dict[str, Path]:
    """Per arm, the finished run whose local MIG at 0.1 is the arm's median (the first
    finished run when none is evaluated): the model the Jacobian figure shows."""
    chosen: dict[str, Path] = {}
    for arm in dict.fromkeys(arm for arm, _ in runs):
        finished = [run for a, run in runs if a == arm and layout.is_finished(run)]
        scored = [(run, score) for run in finished
                  if (score := _local_mig_0_1(run)) is not None]
        if scored:
            chosen[arm] = scored[median_index([score for _, score in scored])][0]
        elif finished:
            chosen[arm] = finished[0]
    return chosen


def _summary(plan: StudyPlan) -> list[SummaryCommand]:
    """Figures (the seven-method violins at 0.1, scores vs locality for every arm, Jacobian
    columns of one model per arm) and summary.md / summary.json / README.md."""
    if plan.results_dir is None:
        return []
    results_dir = plan.results_dir.resolve()
    figures = results_dir / layout.FIGURES_DIR
    runs = [(m.point["arm"], m.run_dir.resolve()) for m in plan.members]
    commands = []
    shown = representative_runs(runs)
    if shown:
        arms = [arm for arm in ARMS if arm in shown]
        labels = [arg for arm in arms
                  for arg in ("--label", f"{ARM_LABELS[arm]}\n{shown[arm].name}")]
        commands.append(SummaryCommand((*PLOT_COMMAND, "jacobian-columns",
                                        *(str(shown[arm]) for arm in arms), *labels,
                                        "--output",
                                        str(figures / "jacobian_columns_per_arm.png")),
                                       required=False))
    # The arms' folders, given explicitly: never ./trainedStandardModels of the working folder.
    ours = sorted({str(run.parents[1]) for arm, run in runs if arm in (JL1_ARM, BETA_ARM)})
    baselines = sorted({str(run.parents[1]) for arm, run in runs if arm not in (JL1_ARM,
                                                                                 BETA_ARM)})
    if len(ours) == 1 and len(baselines) <= 1:
        folders = ["--models-dir", ours[0], *(["--baselines-dir", baselines[0]]
                                              if baselines else [])]
        members = [arg for _, run in runs for arg in ("--run", str(run))]
        common = [*folders, *members, "--output-dir", str(figures), "--gamma",
                  f"{JL1_GAMMA:g}"]
        commands += [
            SummaryCommand((*PLOT_COMMAND, "compare-baselines", *common, "--locality", "0.1"),
                           required=False),
            SummaryCommand((*PLOT_COMMAND, "vs-locality", *common, "--comparison", "all-arms"),
                           required=False),
        ]
    summary = [*SEVEN_ARMS_SUMMARY_COMMAND, "--output-dir", str(results_dir)]
    for arm, run in runs:
        summary += ["--run", f"{arm}={run}"]
    summary += ["--evaluation-seeds", "0", *map(str, EXTRA_EVALUATION_SEEDS)]
    if plan.command:
        summary += ["--command", plan.command]
    return [*commands, SummaryCommand(tuple(summary))]


@register_study(NAME)
def cpu_seven_arms() -> Study:
    return Study(
        name=NAME,
        description="the paper's seven methods at CPU scale: JL1-VAE (γ = 0.1) and β-VAE "
                    "(γ = 0) as in cpu_study, plus disentanglement_lib's six at hp index 2, "
                    "seeds 1-5, 8,000 batches of 64 on the 20,000-image cache, lr 1e-3, "
                    "schedules scaled by 8,000/300,000 (docs/studies.md)",
        base={"dataset": "threeDotsCacheSmall", "batch_size": 64, "latent_dim": 10,
              "device": "cpu", "checkpoint_every": 500, "output_dir": OUTPUT_DIR},
        axes=(Axis("seed", (1, 2, 3, 4, 5)), Axis("arm", ARMS)),
        params={"num_batches": CPU_BATCHES, "hp_index": PAPER_HP_INDEX},
        settings_of=arm_settings,
        metrics=("paper", "evalseeds"), results_dir=RESULTS_DIR, summary=_summary)
