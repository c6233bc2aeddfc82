"""``jlonevae-sweep``: run a study (train, evaluate, summarise), see where it stands, list them.

::

    jlonevae-sweep list
    jlonevae-sweep run threeDots --dry-run          # the 50 runs, their folders and settings
    jlonevae-sweep run threeDots --jobs 4           # 4 at a time (one per GPU when there are 4)
    jlonevae-sweep run threeDots --backend slurm --partition gpu --gpus 1 --time 1440
    jlonevae-sweep status threeDots
    jlonevae-sweep snapshot threeDots --to kept/threeDots   # what resumes it elsewhere
    jlonevae-sweep restore threeDots --from kept/threeDots  # ... and back, on that machine

Re-running ``run`` skips finished work and resumes interrupted runs; failed ones are listed
with their reason and tried again only with ``--retry-failed``; members whose Slurm job is still
queued (the study's ledger, one ``squeue``) are left to it. ``status`` reads the run folders,
whoever ran them, and that ledger. Settings: ``--set num_batches=8000`` (any TrainConfig field,
or a study parameter such as the baselines' ``hp_index``), axes: ``--seeds``, ``--gammas``,
``--methods`` or ``--axis NAME=V1,V2``; flags of ``jlonevae-train`` given after the others
(``--steps 24 --device cuda:1``) set the same settings. ``status`` must be given the same
settings and ``--output-dir`` as the ``run`` it reports on.
"""

from __future__ import annotations

from jlonevae_lib.utils.allocator import tune_glibc_malloc
from jlonevae_lib.utils.threads import limit_openmp_spinning, thread_count_of, usable_cpus

tune_glibc_malloc()
limit_openmp_spinning()

import argparse  # noqa: E402
import os  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from jlonevae_lib.cli import train as train_cli  # noqa: E402
from jlonevae_lib.cli.types import (  # noqa: E402
    ArgumentParser,
    non_negative_int,
    positive_float,
    positive_int,
)
from jlonevae_lib.data.ground_truth import DATA_ROOT_ENV, check_dataset  # noqa: E402
from jlonevae_lib.runs import layout  # noqa: E402
from jlonevae_lib.sweep import ledger  # noqa: E402
from jlonevae_lib.sweep.local import plan_workers, run_local  # noqa: E402
from jlonevae_lib.sweep.members import train_arguments  # noqa: E402
from jlonevae_lib.sweep.runner import (  # noqa: E402
    EVALUATE,
    STAGES,
    SUMMARY,
    TRAIN,
    decide,
    run_summary,
)
from jlonevae_lib.sweep.snapshot import (  # noqa: E402
    COPIED,
    SKIPPED,
    restore_snapshot,
    write_snapshot,
)
from jlonevae_lib.sweep.snapshot import MANIFEST as SNAPSHOT_MANIFEST  # noqa: E402
from jlonevae_lib.sweep.status import (  # noqa: E402
    DONE,
    FAILED,
    TRAINED,
    MemberStatus,
    counts_line,
    render_status,
    state_counts,
    study_status,
    summary_state,
)
from jlonevae_lib.sweep.studies import (  # noqa: E402
    StudyPlan,
    available_studies,
    get_study,
    parse_axis_values,
    parse_setting,
    plan_study,
)
from jlonevae_lib.train.config import BATCHES_PER_EPOCH  # noqa: E402
from jlonevae_lib.utils.errors import JLoneVAEError, cli_errors  # noqa: E402

PROG = "jlonevae-sweep"
#: jlonevae-train's flags (their argparse names) -> the TrainConfig field or study parameter
#: they set in a sweep.
TRAIN_FLAG_SETTINGS = {
    "batch_size": "batch_size", "seed": "seed", "log_interval": "log_interval", "beta": "beta",
    "gamma": "gamma", "lr": "lr", "latent_dim": "latent_dim",
    "annealingBatches": "annealing_batches", "regularization_type": "regularization_type",
    "objective": "objective", "num_batches": "num_batches", "dataset": "dataset",
    "architecture": "architecture", "device": "device", "output_dir": "output_dir",
    "run_id": "run_id", "jacobian": "jacobian_method", "jacobian_batch": "jacobian_batch",
    "checkpoint_every": "checkpoint_every", "keep_models_at": "keep_models_at",
    "models_dir": "models_dir", "hp_index": "hp_index",
    "model": "method", "allow_tf32": "allow_tf32", "deterministic": "deterministic",
    "precision": "precision",
}
#: jlonevae-train flags that make no sense for a whole study.
TRAIN_FLAGS_REFUSED = {"print_run_dir": "--print-run-dir", "resume": "--resume/--no-resume",
                       "model_num": "--model-num", "extend": "--extend",
                       "preset": "--preset"}


def _add_plan_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", help=f"a study: {', '.join(available_studies())}")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                   help="a setting for every member: a TrainConfig field (num_batches=8000, "
                        "device=cuda) or a study parameter (hp_index=3); repeatable")
    p.add_argument("--axis", action="append", default=[], metavar="NAME=V1,V2",
                   help="the values of one of the study's axes (seed, gamma, method); "
                        "repeatable")
    p.add_argument("--seeds", nargs="+", default=None, metavar="SEED", help="= --axis seed=...")
    p.add_argument("--gammas", nargs="+", default=None, metavar="GAMMA",
                   help="= --axis gamma=...")
    p.add_argument("--methods", nargs="+", default=None, metavar="METHOD",
                   help="= --axis method=... (the baselines)")
    p.add_argument("--output-dir", default=None,
                   help="where the members' trainedModels/ and logs/ go (default: the study's)")
    p.add_argument("--metrics", nargs="+", default=None, metavar="METRIC",
                   help="metric names, groups or .gin files instead of the study's")
    p.add_argument("--results-dir", default=None,
                   help="where the summary and figures go (default: the study's)")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog=PROG, description=__doc__, allow_abbrev=False,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("list", help="the studies, their sizes and what they are")

    run = commands.add_parser(
        "run", allow_abbrev=False, help="train, evaluate and summarise a study",
        description="Train, evaluate and summarise a study; jlonevae-train flags after the "
                    "others set the members' settings (--steps 24 --device cuda:1).")
    _add_plan_flags(run)
    run.add_argument("--dry-run", action="store_true",
                     help="print each member's index, state, run folder and settings; run "
                          "nothing")
    run.add_argument("--backend", choices=["local", "slurm"], default="local")
    run.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES),
                     help="which stages to run (default: all three)")
    run.add_argument("--retry-failed", action="store_true",
                     help="train failed members again (from their last checkpoint)")
    run.add_argument("--overwrite", action="store_true", help="recompute existing metrics")
    run.add_argument("--record-command", default=None, metavar="TEXT",
                     help="the command recorded in the summary (default: this one)")
    run.add_argument("--replace-results", action="store_true",
                     help="with settings other than the study's, write its report over the "
                          "study's own results folder anyway (default: refused while that "
                          "folder holds a report or a snapshot; give --results-dir instead)")
    local = run.add_argument_group("local backend")
    local.add_argument("--jobs", type=positive_int, default=None,
                       help="members at once (default: one per visible GPU, else 1)")
    local.add_argument("--threads", type=positive_int, default=None,
                       help="threads per member (default: $OMP_NUM_THREADS, else cores / jobs)")
    slurm = run.add_argument_group("slurm backend")
    slurm.add_argument("--partition", default=None)
    slurm.add_argument("--time", type=positive_int, default=24 * 60, metavar="MINUTES",
                       help="time limit of each training task (default 1440; a task that "
                            "reaches it checkpoints and is requeued)")
    slurm.add_argument("--evaluate-time", type=positive_int, default=12 * 60, metavar="MINUTES")
    slurm.add_argument("--gpus", type=non_negative_int, default=0,
                       help="GPUs per task (default 0)")
    slurm.add_argument("--cpus", type=positive_int, default=1, help="CPUs per task (default 1)")
    slurm.add_argument("--mem", type=positive_float, default=None, metavar="GB",
                       help="memory per task")
    slurm.add_argument("--array-parallelism", type=positive_int, default=None, metavar="N",
                       help="at most N training tasks at once")
    slurm.add_argument("--signal-delay", type=positive_int, default=120, metavar="SECONDS",
                       help="checkpoint signal this long before the time limit (default 120)")
    slurm.add_argument("--wait", action="store_true",
                       help="wait for the jobs to end, then print the status")

    status = commands.add_parser(
        "status", allow_abbrev=False,
        help="done / running / queued / failed / pending members of a study",
        description="Each member's state from its run folder; give the settings of the run "
                    "it reports on (jlonevae-train flags too).")
    _add_plan_flags(status)
    # What status, snapshot and restore are told when given run's own options (a pasted run
    # command): they take the study's settings only.
    parser.set_defaults(run_only_flags=sorted(
        {flag for action in run._actions for flag in action.option_strings}
        - {flag for action in status._actions for flag in action.option_strings}))

    snapshot = commands.add_parser(
        "snapshot", allow_abbrev=False,
        help="copy what resumes and reports the study into a folder kept elsewhere (in git)",
        description="Update a snapshot of the study: each member's run and TensorBoard "
                    "folders without what can be done without (locks, temporaries, the "
                    "TorchScript export, a finished run's checkpoint and its evaluated earlier "
                    "models), and snapshot.json with the files' times. A member the snapshot "
                    "holds further along is left there as it is. Give the settings of the run "
                    "it copies (jlonevae-train flags too).")
    _add_plan_flags(snapshot)
    snapshot.add_argument("--to", required=True, metavar="FOLDER", dest="snapshot_dir",
                          help="the snapshot folder (created, or brought up to date)")

    restore = commands.add_parser(
        "restore", allow_abbrev=False,
        help="copy a snapshot's members back where the output folder has less of them",
        description="Copy each member of a snapshot into the study's output folder when that "
                    "folder has less of it (no run, or an unfinished run at an earlier "
                    "batch); then `run` resumes the study. Nothing there is deleted but the "
                    "checkpoint of an unfinished run that the snapshot's finished one "
                    "replaces. Give the settings the snapshot was taken with.")
    _add_plan_flags(restore)
    restore.add_argument("--from", required=True, metavar="FOLDER", dest="snapshot_dir",
                         help="the folder `snapshot --to` wrote")
    return parser


class _GivenOnly(argparse.Namespace):
    """A namespace that ends up holding only the flags given: argparse writes a flag's default
    only where the attribute is missing, and here none reads as missing (an absent one is
    None, which an ``append`` flag starts its list from)."""

    def __getattr__(self, name: str) -> None:
        if name.startswith("_"):  # argparse's own bookkeeping, e.g. _unrecognized_args
            raise AttributeError(name)
        return None


def _train_flag_overrides(extra: Sequence[str], command: str = "run") -> dict[str, Any]:
    """Settings from ``jlonevae-train`` flags: only the flags given, by their TrainConfig
    name (or the study parameter / axis they stand for)."""
    if not extra:
        return {}
    parser = train_cli.build_parser()
    parser.prog = f"{PROG} {command}"
    given = vars(parser.parse_args(list(extra), namespace=_GivenOnly()))
    settings: dict[str, Any] = {}
    for dest, value in given.items():
        if dest in TRAIN_FLAGS_REFUSED:
            raise JLoneVAEError(f"{TRAIN_FLAGS_REFUSED[dest]} does not apply to a study")
        if dest == "epochs":
            if given.get("num_batches") is not None:
                raise JLoneVAEError("give --epochs or --num-batches, not both")
            settings["num_batches"] = value * BATCHES_PER_EPOCH
        elif dest == "no_cuda":
            if given.get("device") not in (None, "auto", "cpu"):
                raise JLoneVAEError(f"--no-cuda contradicts --device {given['device']}")
            settings["device"] = "cpu"
        elif dest == "param":
            settings["objective_params"] = train_cli.objective_params_from_flags(value)
        elif value is not None:
            settings[TRAIN_FLAG_SETTINGS[dest]] = value
    return settings


def _plan(args: argparse.Namespace, extra: Sequence[str], command: str,
          absolute: bool = False) -> StudyPlan:
    study = get_study(args.study)
    axis_names = [axis.name for axis in study.axes]
    settings: dict[str, Any] = {}
    axes: dict[str, tuple[Any, ...]] = {}
    given_by: dict[str, str] = {}

    def put(into: dict[str, Any], key: str, value: Any, flag: str) -> None:
        """Set ``key`` once: two flags that give it different values are an error, not a
        silent choice of one of them."""
        if key in into and not (into[key] == value or key == "output_dir"
                                and Path(into[key]).resolve() == Path(value).resolve()):
            raise JLoneVAEError(f"{key} is given twice with different values ({given_by[key]} "
                                f"and {flag}); give it once")
        into[key], given_by[key] = value, flag

    for key, value in _train_flag_overrides(extra, args.command).items():
        if key in axis_names:
            put(axes, key, (value,), f"the jlonevae-train flag for {key}")
        else:
            put(settings, key, value, f"the jlonevae-train flag for {key}")
    for pair in args.settings:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise JLoneVAEError(f"--set {pair!r}: expected KEY=VALUE, e.g. num_batches=8000")
        key = key.strip()
        if key in axis_names:
            put(axes, key, parse_axis_values(study, key, [text]), f"--set {key}")
        else:
            put(settings, key, parse_setting(study, key, text), f"--set {key}")
    for pair in args.axis:
        name, sep, texts = pair.partition("=")
        if not sep:
            raise JLoneVAEError(f"--axis {pair!r}: expected NAME=V1,V2, e.g. seed=1,2,3")
        values = [text.strip() for text in texts.split(",")] if texts.strip() else []
        if "" in values:
            raise JLoneVAEError(f"--axis {pair!r}: an empty value between commas; write the "
                                "values as NAME=V1,V2 with none left out")
        put(axes, name.strip(), parse_axis_values(study, name.strip(), values),
            f"--axis {name.strip()}")
    for name, values in (("seed", args.seeds), ("gamma", args.gammas),
                         ("method", args.methods)):
        if values is not None:
            put(axes, name, parse_axis_values(study, name, values), f"--{name}s")
    if args.output_dir is not None:
        put(settings, "output_dir", args.output_dir, "--output-dir")
    if absolute:  # a Slurm job runs in its submitit folder: every path must be absolute
        settings["output_dir"] = str(Path(settings.get("output_dir", study.base.get(
            "output_dir", "."))).resolve())
    results_dir = args.results_dir
    if absolute and (results_dir or study.results_dir):
        results_dir = str(Path(results_dir or study.results_dir).resolve())
    metrics = args.metrics
    if absolute and metrics:
        metrics = [str(Path(m).resolve()) if m.endswith(".gin") else m for m in metrics]
    plan = plan_study(study, overrides=settings, axes=axes, metrics=metrics,
                      results_dir=results_dir, command=command)
    if plan.output_dir.exists() and not plan.output_dir.is_dir():
        raise JLoneVAEError(f"output folder {plan.output_dir} is a file; give --output-dir a "
                            "folder")
    _check_objective_override(plan, settings, gamma_given="gamma" in settings or "gamma" in axes)
    if "beta" in settings or "beta" in axes:
        _check_beta_used(plan)
    if "dataset" in settings:
        # Refused now, as jlonevae-train refuses it, not as each member's failure (which a
        # rerun with the name mended would still report until --retry-failed).
        check_dataset(settings["dataset"])
    return plan


def _changes(args: argparse.Namespace, extra: Sequence[str]) -> list[str]:
    """The flags by which this command may change the study as registered: ``--set``,
    an axis, ``--output-dir``, ``--metrics`` (one entry per flag, with its values) and the
    jlonevae-train flags passed on (one entry, all of them)."""
    changes = [shlex.join(["--set", setting]) for setting in args.settings]
    changes += [shlex.join(["--axis", axis]) for axis in args.axis]
    for flag, values in (("--seeds", args.seeds), ("--gammas", args.gammas),
                         ("--methods", args.methods), ("--metrics", args.metrics)):
        if values:
            changes.append(shlex.join([flag, *map(str, values)]))
    if args.output_dir is not None:
        changes.append(shlex.join(["--output-dir", str(args.output_dir)]))
    if extra:
        changes.append(shlex.join(extra))
    return changes


def _check_report_kept(args: argparse.Namespace, extra: Sequence[str],
                       plan: StudyPlan) -> None:
    """Refuse a run whose members or metrics are not the study's own (``--set``, an axis,
    ``--output-dir``, ``--metrics``, jlonevae-train flags) that would write its report into
    the study's own results folder while that holds the study's report or the snapshot of a
    running study (for the CPU studies, the committed ``results/<study>/``): a toy run would
    replace or stand beside the study's results without a word. (The paper's studies draw
    into ``figures/``, which other figures share: only a report there counts.)"""
    if (SUMMARY not in args.stages or args.results_dir is not None or args.replace_results
            or not plan.results_dir or not plan.summary_commands()):
        return
    changed = _changes(args, extra)
    report = Path(plan.results_dir)
    holds_report = any((report / name).is_file()
                       for name in (layout.SUMMARY_JSON, layout.README_MD))
    holds_snapshot = report.is_dir() and any(report.glob(f"*/{SNAPSHOT_MANIFEST}"))
    if changed and (holds_report or holds_snapshot):
        raise JLoneVAEError(
            f"{report} holds the results of {plan.study.name} as registered, and this run "
            f"changes the study ({', '.join(changed)}): give --results-dir DIR for this run's "
            f"report, or --replace-results to write over that one")


def _check_objective_override(plan: StudyPlan, settings: dict[str, Any], *,
                              gamma_given: bool) -> None:
    """Refuse what ``jlonevae-train`` refuses of an objective given on the command line: for a
    disentanglement_lib-numbered member (its number fixes the method), and with a penalty
    ``gamma`` (given on the command line, or the study's) for an objective with a gamma of its
    own unless that one is given too."""
    if "objective" not in settings:
        return
    for member in plan.members:
        config = member.config
        if config.model_num is not None:
            raise JLoneVAEError(f"{member.label} is disentanglement_lib's model "
                                f"{config.model_num}, whose number fixes its method: choose "
                                "the method with --methods, not the objective")
        refusal = train_cli.penalty_gamma_refusal(config.gamma, config.objective,
                                                  settings.get("objective_params", {}))
        if refusal and gamma_given:
            raise JLoneVAEError(refusal)
        if refusal:  # the penalty's gamma is the study's, not a flag the user gave
            raise JLoneVAEError(
                f"{member.label}: the study gives it the Jacobian penalty's gamma = "
                f"{config.gamma:g}, which {config.objective} would take on top of its own gamma: "
                f"give {config.objective}'s with --param gamma=N, and --gammas 0 (or --set "
                "gamma=0) for no penalty")


def _check_beta_used(plan: StudyPlan) -> None:
    """Refuse a β given on the command line when no member's method reads it (in a study of
    several methods, those with a β take it and the others keep theirs)."""
    refusals = [train_cli.beta_refusal(m.config.objective) for m in plan.members]
    if plan.members and all(refusals):
        raise JLoneVAEError(refusals[0].replace("--beta", "a β (--set beta / --axis beta)"))


def _metric_names(plan: StudyPlan) -> list[str]:
    return plan.metric_names()


def _visible_gpus(plan: StudyPlan) -> list[str]:
    """The GPUs to share out round-robin: none if a member names its device (cpu, cuda:N)."""
    if any(m.config.device not in ("auto", "cuda") for m in plan.members):
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip()]
    import torch

    return [str(k) for k in range(torch.cuda.device_count())]


def _threads(args: argparse.Namespace) -> int | None:
    if args.threads is not None:
        return args.threads
    return thread_count_of(os.environ)


def _statuses(plan: StudyPlan, metric_names: Sequence[str],
              view: ledger.LedgerView | None = None) -> list[MemberStatus]:
    """The members' states from their run folders, with the study's Slurm jobs that are still
    queued (:mod:`jlonevae_lib.sweep.ledger`; one squeue call, none without a ledger)."""
    if view is None:
        view = ledger.scheduler_view(plan.output_dir, plan.study.name, strict=False)
    if view.note:
        print(view.note, flush=True)
    return ledger.with_jobs(study_status(plan.members, metric_names), view)


def _print_dry_run(plan: StudyPlan, metric_names: Sequence[str], stages: Sequence[str],
                   retry_failed: bool, changes: Sequence[str] = ()) -> None:
    study = plan.study
    # The description is the study's as registered; each member's flags below are this run's.
    # The flags as given, not compared with the registered values: the reproduce scripts
    # pass every setting, most of them equal to the study's.
    changed = f"; this command gives {', '.join(changes)}" if changes else ""
    print(f"{study.name}: {len(plan.members)} members (as registered: {study.description}"
          f"{changed}; each member's settings below)")
    print("  axes: " + "; ".join(f"{a.name} = {', '.join(map(str, a.values))}"
                                  for a in plan.axes))
    print(f"  metrics: {' '.join(plan.metrics) or '(none)'}; summary: "
          f"{plan.results_dir or '(none)'}")
    for status in _statuses(plan, metric_names):
        decision = decide(status, stages, evaluated=bool(metric_names),
                          retry_failed=retry_failed)
        member = status.member
        todo = "+".join(decision.steps) or "nothing"
        print(f"{member.index:>4}  {member.label}  {member.run_dir}")
        print(f"      state: {status.state}; to do: {todo}; {decision.note}")
        print(f"      jlonevae-train {shlex.join(train_arguments(member.config))}")


def _final_report(plan: StudyPlan, metric_names: Sequence[str], stages: Sequence[str]) -> int:
    statuses = study_status(plan.members, metric_names)
    counts = state_counts(statuses)
    print(f"== {plan.study.name}: {counts_line(counts, bool(metric_names))}")
    for status in statuses:
        if status.state == FAILED:
            print(f"   failed: [{status.member.index}] {status.member.label}: {status.detail}")
    wanted = {DONE} if (EVALUATE in stages and metric_names) else {DONE, TRAINED}
    if TRAIN not in stages:  # evaluating only: members not trained yet are not this run's
        wanted |= {s.state for s in statuses if s.state not in (TRAINED, FAILED)}
    left = [s for s in statuses if s.state not in wanted]
    if left:
        members = "member" if len(left) == 1 else "members"
        print(f"   {len(left)} {members} not finished; run the same command again to continue"
              + (" (with --retry-failed for the failed ones, once their cause is mended)"
                 if counts["failed"] else ""))
        return 1
    return 0


def _run_local(args: argparse.Namespace, plan: StudyPlan, metric_names: list[str]) -> int:
    # No study lock: each member's own lock makes a second local run skip what the first one
    # trains (its training process exits busy). Members queued on Slurm are left to Slurm.
    statuses = _statuses(plan, metric_names)
    decisions = [decide(s, args.stages, evaluated=bool(metric_names),
                        retry_failed=args.retry_failed) for s in statuses]
    for decision in decisions:
        if not decision.steps:
            print(f"[{decision.member.index}] {decision.member.label}: {decision.note}")
    work = [d for d in decisions if d.steps]
    if work:
        workers = plan_workers(args.jobs, usable_cpus(), _visible_gpus(plan),
                               _threads(args))
        if workers.note:
            print(f"note: {workers.note}")
        print(f"== {len(work)} of {len(decisions)} members to run, {workers.jobs} at a time, "
              f"{workers.threads} threads each"
              + (f", GPUs {', '.join(d for d in workers.devices if d)}"
                 if any(workers.devices) else ""), flush=True)
        run_local(work, workers, base_env=dict(os.environ), metrics=plan.metrics,
                  metric_names=metric_names, kept_metrics=plan.kept_metrics,
                  only_dataset=plan.study.only_dataset,
                  overwrite=args.overwrite, print_line=lambda line: print(line, flush=True))
    if SUMMARY in args.stages and plan.summary_commands():
        if not run_summary(plan, output=lambda line: print(line, flush=True)):
            _final_report(plan, metric_names, args.stages)
            return 1
    return _final_report(plan, metric_names, args.stages)


def _run_slurm(args: argparse.Namespace, plan: StudyPlan, metric_names: list[str]) -> int:
    from jlonevae_lib.sweep.slurm import SlurmOptions, submit

    options = SlurmOptions(partition=args.partition, time_min=args.time,
                           evaluate_time_min=args.evaluate_time, gpus=args.gpus,
                           cpus=args.cpus, mem_gb=args.mem,
                           array_parallelism=args.array_parallelism,
                           signal_delay_s=args.signal_delay)
    # Jobs start in their submitit folder: without this, the data cache would be built there.
    if not os.environ.get(DATA_ROOT_ENV):  # set but empty counts as unset, as in data_root()
        os.environ[DATA_ROOT_ENV] = str(Path("data").resolve())
    study = plan.study.name
    # Under the study's lock, from asking Slurm to recording what was submitted: a second
    # submission at once would otherwise submit the same members again.
    with ledger.study_lock(plan.output_dir, study):
        view = ledger.scheduler_view(plan.output_dir, study, strict=True)
        statuses = _statuses(plan, metric_names, view)
        decisions = [decide(s, args.stages, evaluated=bool(metric_names),
                            retry_failed=args.retry_failed) for s in statuses]
        for decision in decisions:
            if not decision.steps:
                print(f"[{decision.member.index}] {decision.member.label}: {decision.note}")
        queued = (view.evaluation.job_id
                  if view.evaluation is not None
                  and view.evaluation_covers(plan.metrics, args.stages) else None)
        submission = submit(plan, decisions, options, stages=args.stages,
                            metric_names=metric_names, overwrite=args.overwrite,
                            evaluation_queued=queued)
        if submission.train_jobs or submission.evaluate_job is not None:
            ledger.record_submission(
                layout.ledger_path(plan.output_dir, study), folder=submission.folder,
                array_job_id=submission.array_id, tasks=submission.tasks,
                evaluate_job_id=(submission.evaluate_job.job_id
                                 if submission.evaluate_job is not None else None),
                metrics=plan.metrics, stages=args.stages)
    if submission.train_jobs:
        print(f"submitted training array {submission.array_id} "
              f"({len(submission.train_jobs)} tasks)")
    if submission.evaluate_job is not None:
        print(f"submitted evaluation job {submission.evaluate_job.job_id}"
              + (f" (after array {submission.array_id}, whatever its outcome)"
                 if submission.train_jobs else ""))
    if submission.evaluation_note:
        print(submission.evaluation_note)
    if not submission.train_jobs and submission.evaluate_job is None:
        print("nothing to submit")
    else:
        print(f"logs: {submission.folder}")
    print(f"status: {PROG} status {study} (with this run's settings)", flush=True)
    if args.wait:
        jobs = [*submission.train_jobs,
                *([submission.evaluate_job] if submission.evaluate_job is not None else [])]
        while not all(job.done() for job in jobs):
            time.sleep(10)
        return _final_report(plan, metric_names, args.stages)
    return 0


def _snapshot(plan: StudyPlan, metric_names: Sequence[str], snapshot_dir: Path) -> int:
    copies = write_snapshot(plan.members, metric_names, plan.output_dir, snapshot_dir)
    for copy in copies:
        if copy.action == SKIPPED:
            print(f"  {copy.member.label}: not copied ({copy.reason})")
        else:
            print(f"  {copy.member.label}: {copy.copied} copied, {copy.unchanged} unchanged, "
                  f"{copy.removed} removed ({copy.size / 2**20:.1f} MiB)")
    total = sum(copy.size for copy in copies)
    held = sum(1 for copy in copies if copy.action == COPIED)
    print(f"{plan.study.name}: {held} of {len(copies)} members brought up to date in "
          f"{snapshot_dir} ({total / 2**20:.1f} MiB of them); restore with: {PROG} restore "
          f"{plan.study.name} --from {snapshot_dir} (and the same settings)")
    return 0


def _restore(plan: StudyPlan, snapshot_dir: Path) -> int:
    copies, others = restore_snapshot(plan.members, snapshot_dir, plan.output_dir)
    for copy in copies:
        if copy.action == COPIED:
            removed = f", {copy.removed} of an older checkpoint removed" if copy.removed else ""
            print(f"  {copy.member.label}: restored ({copy.reason}; {copy.copied} files "
                  f"copied, {copy.unchanged} already here{removed})")
        else:
            print(f"  {copy.member.label}: not restored ({copy.reason})")
    restored = sum(1 for copy in copies if copy.action == COPIED)
    print(f"{plan.study.name}: {restored} of {len(copies)} members restored from "
          f"{snapshot_dir} into {plan.output_dir}"
          + (f"; {others} runs of the snapshot are members of other settings, left there"
             if others else ""))
    return 0


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, extra = build_parser().parse_known_args(argv)
    if args.command == "list":
        if extra:
            raise JLoneVAEError(f"unexpected arguments: {' '.join(extra)}")
        names = available_studies()
        width = max(map(len, names))
        for name in names:
            plan = plan_study(get_study(name))
            print(f"{name:<{width}} {len(plan.members):>3} runs  {plan.study.description}")
        return 0
    command = getattr(args, "record_command", None) or shlex.join([PROG, *argv])
    slurm = args.command == "run" and args.backend == "slurm"
    if args.command == "run" and not slurm:
        given = [flag for flag, value in (("--partition", args.partition), ("--mem", args.mem),
                                          ("--array-parallelism", args.array_parallelism),
                                          ("--wait", args.wait),
                                          ("--gpus", args.gpus)) if value]
        if given:
            what = "is a Slurm option" if len(given) == 1 else "are Slurm options"
            raise JLoneVAEError(f"{', '.join(given)} {what}; add --backend slurm or leave "
                                f"{'it' if len(given) == 1 else 'them'} out")
    if args.command != "run":
        misplaced = [token.split("=", 1)[0] for token in extra
                     if token.split("=", 1)[0] in args.run_only_flags]
        if misplaced:
            raise JLoneVAEError(
                f"{', '.join(misplaced)}: {'an option' if len(misplaced) == 1 else 'options'} "
                f"of `{PROG} run`; `{PROG} {args.command}` takes only the study's settings "
                f"(--set, --seeds / --axis, --output-dir and jlonevae-train flags, as the run "
                f"was given them)")
    plan = _plan(args, extra, command, absolute=slurm)
    metric_names = _metric_names(plan)
    if args.command == "status":
        statuses = _statuses(plan, metric_names)
        print(render_status(plan.study.name, statuses, evaluated=bool(metric_names),
                            summary=summary_state(plan.results_dir, statuses)))
        return 0
    if args.command == "snapshot":
        return _snapshot(plan, metric_names, Path(args.snapshot_dir))
    if args.command == "restore":
        return _restore(plan, Path(args.snapshot_dir))
    _check_report_kept(args, extra, plan)
    if args.dry_run:
        _print_dry_run(plan, metric_names, args.stages, args.retry_failed,
                       _changes(args, extra))
        return 0
    if slurm:
        return _run_slurm(args, plan, metric_names)
    return _run_local(args, plan, metric_names)


if __name__ == "__main__":
    raise SystemExit(main())
