"""Member states from run folders, the skip / resume / retry decisions, the division of cores
and GPUs among workers, and the command line's planning (no training here)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import socket
import subprocess
import sys

import pytest
import torch

from jlonevae_lib.cli import sweep as sweep_cli
from jlonevae_lib.cli import train as train_cli
from jlonevae_lib.runs import layout
from jlonevae_lib.sweep import runner
from jlonevae_lib.sweep.exits import classify_exit
from jlonevae_lib.sweep.local import plan_workers, slot_environment
from jlonevae_lib.sweep.runner import (
    EVALUATE,
    SUMMARY,
    TRAIN,
    clear_failure,
    decide,
    evaluate_member,
)
from jlonevae_lib.sweep.status import (
    DONE,
    FAILED,
    INTERRUPTED,
    PENDING,
    RUNNING,
    TRAINED,
    MemberStatus,
    member_status,
    render_status,
    state_counts,
    study_status,
    summary_state,
)
from jlonevae_lib.sweep.studies import get_study, plan_study
from jlonevae_lib.utils.errors import JLoneVAEError

METRICS = ["tiny_a", "tiny_b"]


@pytest.fixture
def plan(tmp_path):
    return plan_study(get_study("cpu_study"), overrides={"output_dir": str(tmp_path)},
                      axes={"seed": (1, 2, 3)})


def write_json(path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_summary_is_dated_by_its_own_stamp_not_its_files(plan, tmp_path) -> None:
    results = tmp_path / "results"
    assert summary_state(results, []) == f"summary: not written yet ({results})"
    write_json(results / "summary.json", {"generated_at": "2026-11-28 06:28 UTC"})
    os.utime(results / "summary.json")  # a fresh clone's date
    done = plan.members[0]
    write_json(layout.done_path(done.run_dir), {"num_batches": 8000})
    old = 1764000000  # 2025-11-24, before the summary was generated
    os.utime(layout.done_path(done.run_dir), (old, old))
    statuses = [MemberStatus(done, DONE)]
    assert summary_state(results, statuses) == (
        f"summary: {results} generated 2026-11-28 06:28 UTC")
    os.utime(layout.done_path(done.run_dir))  # finished after it
    assert summary_state(results, statuses) == (
        f"summary: {results} generated 2026-11-28 06:28 UTC; 1 member(s) finished since: run "
        "the study again to redo it")
    write_json(results / "summary.json", {})  # no stamp: the file's date, said to be one
    assert summary_state(results, statuses).startswith(f"summary: {results} file dated ")


def test_states_from_the_run_folder(plan) -> None:
    pending, interrupted, running, trained, done, failed = plan.members
    layout.checkpoint_path(interrupted.run_dir).parent.mkdir(parents=True)
    torch.save({"step": 7}, layout.checkpoint_path(interrupted.run_dir))
    write_json(layout.progress_path(interrupted.run_dir), {"step": 7, "num_batches": 8000})
    # A lock left by a process that is gone does not make the member running.
    write_json(interrupted.run_dir / ".lock", {"host": socket.gethostname(), "pid": dead_pid(),
                                               "purpose": "training"})
    write_json(running.run_dir / ".lock", {"host": socket.gethostname(), "pid": os.getpid(),
                                           "purpose": "training"})
    for member in (trained, done):
        write_json(layout.done_path(member.run_dir), {"num_batches": 8000})
    write_json(layout.evaluation_path(trained.run_dir, "tiny_a"), {})
    for name in METRICS:
        write_json(layout.evaluation_path(done.run_dir, name), {})
    write_json(layout.failed_path(failed.run_dir),
               {"reason": "non-finite loss", "step": 12, "message": "the loss became nan"})

    statuses = study_status(plan.members, METRICS)
    states = [s.state for s in statuses]
    assert states == [PENDING, INTERRUPTED, RUNNING, TRAINED, DONE, FAILED]
    assert statuses[1].batches == 7 and statuses[1].detail == (
        "resumes at batch 7/8000 (its lock is stale: process "
        f"{json.loads((interrupted.run_dir / '.lock').read_text())['pid']} is gone)")
    assert f"pid {os.getpid()}" in statuses[2].detail and "batch 0/8000" in statuses[2].detail
    assert "1 of 2 metrics" in statuses[3].detail
    assert statuses[5].detail == "non-finite loss: the loss became nan"
    assert state_counts(statuses) == {"done": 1, "trained": 1, "running": 1, "queued": 0,
                                      "failed": 1, "pending": 2}
    report = render_status("cpu_study", statuses)
    assert report.splitlines()[0] == ("cpu_study: 6 members: 1 done, 1 trained (evaluation not "
                                      "run), 1 running, 0 queued, 1 failed, 2 pending")
    assert "the loss became nan" in report


def test_a_metric_being_evaluated_makes_the_member_running(plan) -> None:
    member = plan.members[0]
    write_json(layout.done_path(member.run_dir), {})
    write_json(layout.metric_results_dir(member.run_dir, "tiny_b").parent / ".lock",
               {"host": socket.gethostname(), "pid": os.getpid(), "purpose": "evaluation"})
    status = member_status(member, METRICS)
    assert status.state == RUNNING and "evaluating tiny_b" in status.detail


@pytest.mark.parametrize("purpose, state", [("evaluation", RUNNING), ("training", TRAINED)])
def test_a_sweeps_evaluation_lock_on_a_trained_run_makes_it_running(plan, purpose,
                                                                     state) -> None:
    # Between two evaluation processes no metric is locked: the run's lock tells. A training
    # lock left on a finished run is no work in progress.
    member = plan.members[0]
    write_json(layout.done_path(member.run_dir), {})
    write_json(member.run_dir / ".lock", {"host": socket.gethostname(), "pid": os.getpid(),
                                          "purpose": purpose})
    status = member_status(member, METRICS)
    assert status.state == state
    if state == RUNNING:
        assert status.detail == (f"evaluation, pid {os.getpid()} on {socket.gethostname()}: "
                                 f"2 of 2 metrics to go")


def trained_member_keeping_a_model(plan):
    """The first member, trained, keeping a model at batch 1000: two evaluation processes."""
    member = plan.members[0]
    member = dataclasses.replace(member, config=dataclasses.replace(member.config,
                                                                    keep_models_at=[1000]))
    write_json(layout.done_path(member.run_dir), {"num_batches": 8000})
    return member


def test_a_sweep_holds_the_run_from_its_first_evaluation_process_to_its_last(
        plan, monkeypatch) -> None:
    member = trained_member_keeping_a_model(plan)
    seen = []

    def stream(command, **kwargs):  # each evaluation process: what status says meanwhile
        seen.append(member_status(member, METRICS).state)
        return 0, []

    monkeypatch.setattr(runner, "stream", stream)
    outcome = evaluate_member(member, ["tiny"], METRICS, only_dataset=None, overwrite=False,
                              env=None, output=lambda line: None, kept_metrics=["tiny"])
    assert seen == [RUNNING, RUNNING]  # the final model's metrics, then the kept model's
    assert outcome.result == "evaluation failed"  # the fake processes wrote no results
    assert not (member.run_dir / ".lock").exists()
    # A second sweep finds the member busy and starts no process.
    write_json(member.run_dir / ".lock", {"host": socket.gethostname(), "pid": os.getpid(),
                                          "purpose": "evaluation"})
    seen.clear()
    outcome = evaluate_member(member, ["tiny"], METRICS, only_dataset=None, overwrite=False,
                              env=None, output=lambda line: None)
    assert outcome.result == "busy" and "evaluation" in outcome.detail and seen == []


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_model_whose_metrics_are_all_computed_gets_no_process(plan, monkeypatch,
                                                                overwrite) -> None:
    # A study's snapshot leaves out a kept model whose metrics are computed: restored while its
    # later kept model was being evaluated, the member must not start a process for the model
    # that is gone (it failed on the missing model; seen in the penalty study).
    member = trained_member_keeping_a_model(plan)
    member = dataclasses.replace(member, config=dataclasses.replace(member.config,
                                                                    keep_models_at=[1000, 2000]))
    names = ["tiny_a", layout.kept_metric_name("tiny_a", 1000),
             layout.kept_metric_name("tiny_a", 2000)]
    for name in names[:2]:
        write_json(layout.evaluation_path(member.run_dir, name), {})
    started = []

    def stream(command, **kwargs):
        started.append(command)
        write_json(layout.evaluation_path(member.run_dir, names[2]), {})
        return 0, []

    monkeypatch.setattr(runner, "stream", stream)
    outcome = evaluate_member(member, ["tiny_a"], names, only_dataset=None, overwrite=overwrite,
                              env=None, output=lambda line: None, kept_metrics=["tiny_a"])
    assert outcome.result == "done"
    at_batch = [command[command.index("--at-batch") + 1] if "--at-batch" in command else None
                for command in started]
    # Only the model with a metric to compute; every model's again under --overwrite.
    assert at_batch == ([None, "1000", "2000"] if overwrite else ["2000"])


def test_the_sweep_refreshes_the_runs_lock_while_it_evaluates_and_stops_when_it_is_lost(
        plan, monkeypatch) -> None:
    from jlonevae_lib.utils.lock import FolderLock, LockedError

    member = trained_member_keeping_a_model(plan)
    calls = []

    def stream(command, **kwargs):
        calls.append("process")
        for _ in range(3):
            kwargs["output"]("evaluating a metric ...")
        return 0, []

    def refresh(lock):
        calls.append("refresh")
        if calls.count("refresh") == 3:
            raise LockedError("taken over as stale by pid 7 on node-b")

    monkeypatch.setattr(runner, "stream", stream)
    monkeypatch.setattr(runner, "LOCK_REFRESH_S", -1.0)
    monkeypatch.setattr(FolderLock, "refresh", refresh)
    outcome = evaluate_member(member, ["tiny"], METRICS, only_dataset=None, overwrite=False,
                              env=None, output=lambda line: None, kept_metrics=["tiny"])
    # Refreshed before the process and with its output; lost at the third refresh, the
    # process ends and the kept model's is not started.
    assert calls == ["refresh", "process", "refresh", "refresh"]
    assert (outcome.result, outcome.detail) == ("busy", "taken over as stale by pid 7 on node-b")


def test_a_training_lock_left_on_a_trained_run_does_not_stop_its_evaluation(
        plan, monkeypatch) -> None:
    # Its process killed after DONE on another host: status reads the member as trained, so
    # the sweep evaluates it (each metric's lock still keeps evaluations apart).
    member = plan.members[0]
    write_json(layout.done_path(member.run_dir), {"num_batches": 8000})
    write_json(member.run_dir / ".lock", {"host": "node-elsewhere", "pid": 4242,
                                          "purpose": "training"})
    assert member_status(member, METRICS).state == TRAINED
    started = []
    monkeypatch.setattr(runner, "stream",
                        lambda command, **kwargs: (started.append(command), (0, []))[1])
    evaluate_member(member, ["tiny"], METRICS, only_dataset=None, overwrite=False, env=None,
                    output=lambda line: None)
    assert len(started) == 1
    assert json.loads((member.run_dir / ".lock").read_text())["host"] == "node-elsewhere"


@pytest.mark.parametrize("host, purpose", [
    ("here", "training"),                 # live on this host: a rerun or a resume at work
    ("node-elsewhere", "extending the run"),  # jlonevae-train --extend reopening the run
])
def test_a_live_training_or_an_extension_keeps_the_sweep_away(plan, monkeypatch, host,
                                                              purpose) -> None:
    member = plan.members[0]
    write_json(layout.done_path(member.run_dir), {"num_batches": 8000})
    write_json(member.run_dir / ".lock", {
        "host": socket.gethostname() if host == "here" else host, "pid": os.getpid(),
        "purpose": purpose})
    monkeypatch.setattr(runner, "stream", lambda command, **kwargs: pytest.fail("started"))
    outcome = evaluate_member(member, ["tiny"], METRICS, only_dataset=None, overwrite=False,
                              env=None, output=lambda line: None)
    assert outcome.result == "busy" and purpose in outcome.detail


@pytest.mark.parametrize("how", ["metric in progress elsewhere", "lock lost"])
def test_an_evaluation_another_process_goes_on_with_is_busy_not_failed(plan, monkeypatch,
                                                                       how) -> None:
    from jlonevae_lib.utils.lock import FolderLock, LockedError

    member = plan.members[0]
    write_json(layout.done_path(member.run_dir), {"num_batches": 8000})

    def stream(command, **kwargs):
        if how == "metric in progress elsewhere":  # the process skipped it and exited 0
            write_json(layout.metric_results_dir(member.run_dir, "tiny_b").parent / ".lock",
                       {"host": socket.gethostname(), "pid": os.getpid(),
                        "purpose": "evaluation"})
        else:
            kwargs["output"]("evaluating tiny_a ...")
        return 0, []

    def refresh(lock):
        if how == "lock lost" and refresh.calls:
            raise LockedError("taken over as stale by pid 7 on node-b")
        refresh.calls += 1

    refresh.calls = 0
    monkeypatch.setattr(runner, "stream", stream)
    monkeypatch.setattr(runner, "LOCK_REFRESH_S", -1.0)
    monkeypatch.setattr(FolderLock, "refresh", refresh)
    outcome = evaluate_member(member, ["tiny"], METRICS, only_dataset=None, overwrite=False,
                              env=None, output=lambda line: None)
    assert outcome.result == "busy", outcome
    assert not layout.evaluation_failed_path(member.run_dir).exists()


def test_a_sweep_evaluating_every_metric_again_reads_as_running(plan) -> None:
    member = plan.members[0]
    write_json(layout.done_path(member.run_dir), {})
    for name in METRICS:
        write_json(layout.evaluation_path(member.run_dir, name), {})
    assert member_status(member, METRICS).state == DONE
    write_json(member.run_dir / ".lock", {"host": socket.gethostname(), "pid": os.getpid(),
                                          "purpose": "evaluation"})
    status = member_status(member, METRICS)
    assert (status.state, status.detail.split(": ")[-1]) == (
        RUNNING, "all 2 metrics evaluated again")


def test_a_lock_held_on_another_host_counts_as_running(plan) -> None:
    member = plan.members[0]
    write_json(member.run_dir / ".lock", {"host": "node-elsewhere", "pid": 1,
                                          "purpose": "training"})
    status = member_status(member, METRICS)
    assert status.state == RUNNING and "node-elsewhere" in status.detail


ALL = (TRAIN, EVALUATE, SUMMARY)


@pytest.mark.parametrize("state, stages, retry, steps", [
    (PENDING, ALL, False, (TRAIN, EVALUATE)),
    (INTERRUPTED, ALL, False, (TRAIN, EVALUATE)),
    (INTERRUPTED, (TRAIN,), False, (TRAIN,)),
    (PENDING, (EVALUATE,), False, ()),
    (TRAINED, ALL, False, (EVALUATE,)),
    (TRAINED, (TRAIN,), False, ()),
    (DONE, ALL, True, ()),
    (RUNNING, ALL, True, ()),
    (FAILED, ALL, False, ()),
    (FAILED, ALL, True, (TRAIN, EVALUATE)),
    (FAILED, (EVALUATE,), True, ()),
])
def test_decide(plan, state, stages, retry, steps) -> None:
    status = MemberStatus(plan.members[0], state, "why")
    decision = decide(status, stages, evaluated=True, retry_failed=retry)
    assert decision.steps == steps
    assert decision.retry == (state == FAILED and bool(steps))
    if state == FAILED and not steps:
        assert "--retry-failed" in decision.note or TRAIN not in stages


@pytest.mark.parametrize("stages, retry, steps", [
    (ALL, False, ()),
    (ALL, True, (EVALUATE,)),   # trained already: only the evaluation runs again
    ((TRAIN,), True, ()),
])
def test_decide_on_a_failed_evaluation(plan, stages, retry, steps) -> None:
    status = MemberStatus(plan.members[0], FAILED, "why", evaluation_failed=True)
    decision = decide(status, stages, evaluated=True, retry_failed=retry)
    assert decision.steps == steps and decision.retry == bool(steps)


def test_a_failed_evaluation_is_marked_listed_and_cleared(plan, monkeypatch) -> None:
    member = plan.members[0]
    write_json(layout.done_path(member.run_dir), {"num_batches": 8000})
    fail = [sys.executable, "-c",
            "import sys; print('error: metric tiny_b needs 10 factors; see docs'); sys.exit(2)"]
    monkeypatch.setattr(runner, "evaluate_command", lambda *args, **kwargs: fail)
    outcome = evaluate_member(member, ["tiny"], METRICS, only_dataset=None, overwrite=False,
                              env=None, output=lambda line: None)
    assert outcome.result == "evaluation failed"
    status = member_status(member, METRICS)
    assert (status.state, status.evaluation_failed) == (FAILED, True)
    assert status.detail == ("evaluation exited with status 2: metric tiny_b needs 10 "
                             "factors; see docs")
    marker = json.loads(layout.evaluation_failed_path(member.run_dir).read_text())
    assert marker["metrics"] == METRICS
    # Not retried by a plain run; retried (evaluation only) with --retry-failed.
    assert decide(status, ALL, evaluated=True).steps == ()
    assert decide(status, ALL, evaluated=True, retry_failed=True).steps == (EVALUATE,)
    # A successful evaluation removes the marker.
    paths = [str(layout.evaluation_path(member.run_dir, name)) for name in METRICS]
    succeed = [sys.executable, "-c", "import pathlib, sys\nfor p in sys.argv[1:]:\n"
               "    pathlib.Path(p).parent.mkdir(parents=True, exist_ok=True)\n"
               "    pathlib.Path(p).write_text('{}')", *paths]
    monkeypatch.setattr(runner, "evaluate_command", lambda *args, **kwargs: succeed)
    outcome = evaluate_member(member, ["tiny"], METRICS, only_dataset=None, overwrite=False,
                              env=None, output=lambda line: None)
    assert outcome.result == "done"
    assert not layout.evaluation_failed_path(member.run_dir).exists()
    assert member_status(member, METRICS).state == DONE


def test_metrics_computed_by_hand_outweigh_a_stale_evaluation_marker(plan) -> None:
    member = plan.members[0]
    write_json(layout.done_path(member.run_dir), {})
    write_json(layout.evaluation_failed_path(member.run_dir), {"reason": "r", "message": "m"})
    assert member_status(member, METRICS).state == FAILED
    clear_failure(member)
    assert member_status(member, METRICS).state == TRAINED
    write_json(layout.evaluation_failed_path(member.run_dir), {"reason": "r", "message": "m"})
    for name in METRICS:
        write_json(layout.evaluation_path(member.run_dir, name), {})
    assert member_status(member, METRICS).state == DONE


def test_a_study_without_metrics_is_never_evaluated(plan) -> None:
    status = MemberStatus(plan.members[0], PENDING)
    assert decide(status, ALL, evaluated=False).steps == (TRAIN,)


def test_failure_marker_written_kept_and_cleared(plan) -> None:
    member = plan.members[0]
    verdict = classify_exit(member.run_dir, 1, ["loading", "error: no data in /x; download it"])
    assert verdict.verdict == "failed"
    status = member_status(member, METRICS)
    assert status.state == FAILED
    assert status.detail == "training exited with status 1: no data in /x; download it"
    # The trainer's own marker (a diverged loss) is never overwritten.
    write_json(layout.failed_path(member.run_dir), {"reason": "non-finite loss", "message": "m"})
    classify_exit(member.run_dir, 1, ["other"])
    assert member_status(member, METRICS).detail == "non-finite loss: m"
    clear_failure(member)
    assert member_status(member, METRICS).state == PENDING


@pytest.mark.parametrize("jobs, cores, gpus, threads, expected", [
    (None, 2, (), None, (1, 2, (None,))),
    (2, 2, (), None, (2, 1, (None, None))),
    (3, 8, (), None, (3, 2, (None,) * 3)),
    (4, 2, (), None, (2, 1, (None, None))),           # capped: jobs × threads ≤ cores
    (4, 2, (), 1, (4, 1, (None,) * 4)),               # an explicit thread count is kept
    (None, 16, ("0", "1", "2", "3"), None, (4, 4, ("0", "1", "2", "3"))),
    (6, 12, ("4", "7"), None, (6, 2, ("4", "7", "4", "7", "4", "7"))),
])
def test_plan_workers(jobs, cores, gpus, threads, expected) -> None:
    plan = plan_workers(jobs, cores, gpus, threads)
    assert (plan.jobs, plan.threads, plan.devices) == expected
    if not gpus and threads is None:
        assert plan.jobs * plan.threads <= cores
    assert bool(plan.note) == (jobs == 4 and threads is None)


def test_slot_environment() -> None:
    plan = plan_workers(2, 8, ("3", "5"))
    env = slot_environment({"PATH": "/bin"}, plan, 1)
    assert env == {"PATH": "/bin", "OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4",
                   "CUDA_VISIBLE_DEVICES": "5"}
    with pytest.raises(JLoneVAEError):
        plan_workers(0, 2)


# ------------------------------------------------------------------------------ command line


def test_dry_run_lists_the_papers_50_three_dots_runs(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the study's folders are relative: nothing trained here
    assert sweep_cli.main(["run", "threeDots", "--dry-run"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if re.match(r"^ *\d+  seed=", line)]
    assert len(lines) == 50
    assert lines[0].split() == [
        "0", "seed=11", "gamma=0.0",
        "trainedModels/defaultConv_lone_beta4_0000_ica0_0000_lat10_batch64_lr0_0001_anneal100000"
        "/seed11"]
    assert out.count("jlonevae-train --objective jlonevae --seed ") == 50
    assert out.count("to do: train+evaluate") == 50
    assert "; this command gives" not in out.splitlines()[0]


def test_dry_run_header_names_what_this_command_changes(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert sweep_cli.main(["run", "cpu_study", "--dry-run", "--seeds", "1", "--set",
                           "num_batches=40", "--results-dir", "toy", "--lr", "0.01"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header.startswith("cpu_study: 2 members (as registered: ")
    assert header.endswith("; this command gives --set num_batches=40, --seeds 1, --lr 0.01; "
                           "each member's settings below)")


def test_a_run_with_other_settings_writes_no_report_over_the_studys(tmp_path, monkeypatch,
                                                                    capsys) -> None:
    monkeypatch.chdir(tmp_path)  # the study's results folder is relative: results/cpu_study
    report = tmp_path / "results" / "cpu_study"
    report.mkdir(parents=True)
    (report / "summary.json").write_text("{}")
    toy = ["run", "cpu_study", "--dry-run", "--seeds", "1", "--set", "num_batches=40"]
    with pytest.raises(SystemExit) as exit_:
        sweep_cli.main(toy)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: results/cpu_study holds the results of cpu_study as "
                   "registered, and this run changes the study (--set num_batches=40, "
                   "--seeds 1): give "
                   "--results-dir DIR for this run's report, or --replace-results to write "
                   "over that one")
    # Another folder for the report, a replacement asked for, no report written, the study
    # as registered, or no report there yet.
    for extra in (["--results-dir", "toy_report"], ["--replace-results"],
                  ["--stages", "train", "evaluate"]):
        assert sweep_cli.main([*toy, *extra]) == 0
    assert sweep_cli.main(["run", "cpu_study", "--dry-run"]) == 0
    # A running study's folder holds its snapshot before any report: kept just the same.
    (report / "summary.json").unlink()
    (report / "snapshot").mkdir()
    (report / "snapshot" / "snapshot.json").write_text("{}")
    with pytest.raises(SystemExit):
        sweep_cli.main(toy)
    assert "holds the results of cpu_study" in capsys.readouterr().err
    # Other files (the paper's studies draw into figures/, which other figures share) do not.
    (report / "snapshot" / "snapshot.json").unlink()
    (report / "columns.png").write_bytes(b"")
    assert sweep_cli.main(toy) == 0


def test_train_flags_become_settings_and_axes(tmp_path, capsys) -> None:
    assert sweep_cli.main(["run", "baselines", "--dry-run", "--seeds", "0", "1",
                           "--output-dir", str(tmp_path), "--steps", "24", "--device", "cpu",
                           "--model", "factor_vae", "--param", "gamma=30"]) == 0
    header, out = capsys.readouterr().out.split("\n", 1)
    assert header.startswith("baselines: 2 members") and "--device cpu" in header
    assert out.count("--num-batches 24 ") == 2 and out.count("--device cpu ") == 2
    assert out.count("--param gamma=30.0") == 2 and "method=factor_vae" in out


def test_only_the_train_flags_given_become_settings() -> None:
    def overrides(flags: list[str]) -> dict:
        return sweep_cli._train_flag_overrides(flags, "run")

    assert overrides([]) == {}
    # A flag given at jlonevae-train's own default still counts: the study's may differ.
    assert overrides(["--log-interval", "100"]) == {"log_interval": 100}
    assert overrides(["--no-cuda", "--epochs", "2"]) == {
        "device": "cpu", "num_batches": 2 * sweep_cli.BATCHES_PER_EPOCH}
    assert overrides(["--param", "gamma=30", "--param", "c_max=5"]) == {
        "objective_params": {"gamma": 30.0, "c_max": 5.0}}


def test_every_train_flag_is_mapped_or_refused() -> None:
    """A jlonevae-train flag given to jlonevae-sweep run either sets a TrainConfig field or is
    refused in one line; none falls through to a KeyError."""
    dests = {action.dest for action in train_cli.build_parser()._actions} - {"help"}
    handled = (set(sweep_cli.TRAIN_FLAG_SETTINGS) | set(sweep_cli.TRAIN_FLAGS_REFUSED)
               | {"epochs", "no_cuda", "param"})
    assert dests <= handled, dests - handled


@pytest.mark.parametrize("argv, message", [
    (["run", "nope"], "unknown study 'nope'"),
    (["run", "threeDots", "--print-run-dir"], "does not apply to a study"),
    (["run", "threeDots", "--extend"], "--extend does not apply to a study"),
    (["run", "threeDots", "--preset", "paper"], "--preset does not apply to a study"),
    (["run", "threeDots", "--set", "num_batches"], "expected KEY=VALUE"),
    (["status", "threeDots", "--axis", "seed"], "expected NAME=V1,V2"),
    (["status", "threeDots", "--axis", "seed=1,,3"], "an empty value between commas"),
    (["status", "threeDots", "--axis", "seed=1,2,"], "an empty value between commas"),
    (["status", "threeDots", "--axis", "seed="], "give at least one value for axis seed"),
    (["run", "cpu_study", "--dry-run", "--set", "num_batches=5", "--steps", "3"],
     "num_batches is given twice with different values"),
    (["run", "cpu_study", "--dry-run", "--seeds", "1", "--axis", "seed=2"],
     "seed is given twice with different values (--axis seed and --seeds)"),
    (["run", "cpu_study", "--dry-run", "--partition", "gpu"],
     "--partition is a Slurm option; add --backend slurm or leave it out"),
    (["restore", "cpu_study", "--from", "/nonexistent/snapshot"],
     "/nonexistent/snapshot is not a snapshot"),
    (["snapshot", "cpu_study"], "the following arguments are required: --to"),
    (["run", "cpu_study", "--dry-run", "--epochs", "2", "--num-batches", "5"],
     "give --epochs or --num-batches, not both"),
    (["run", "cpu_study", "--dry-run", "--device", "cuda", "--no-cuda"],
     "--no-cuda contradicts --device cuda"),
    (["run", "cpu_study", "--dry-run", "--set", "output_dir=/tmp/a", "--output-dir", "/tmp/b"],
     "output_dir is given twice with different values"),
    (["run", "baselines", "--dry-run", "--seeds", "0", "--methods", "beta_vae", "--objective",
      "beta_tc_vae"], "whose number fixes its method: choose the method with --methods"),
    (["run", "threeDots", "--dry-run", "--seeds", "11", "--objective", "factor_vae", "--gamma",
      "30"], "--gamma 30 is the weight of the Jacobian penalty added to factor_vae"),
    (["run", "threeDots", "--dry-run", "--seeds", "11", "--objective", "factor_vae",
      "--annealingBatches", "0"],
     "seed=11 gamma=0.1: the study gives it the Jacobian penalty's gamma = 0.1, "
                     "which factor_vae would take on top of its own gamma"),
    (["run", "cpu_study", "--dry-run", "--gpus", "1"], "--gpus is a Slurm option"),
    (["run", "baselines", "--dry-run", "--seeds", "0", "--methods", "factor_vae", "--set",
      "beta=2"], "factor_vae has no β, so a β (--set beta / --axis beta) would be ignored"),
    # A run command pasted into status: run's own options named, not "unrecognized".
    (["status", "cpu_study", "--seeds", "1", "--jobs", "2", "--stages", "train"],
     "--jobs, --stages: options of `jlonevae-sweep run`; `jlonevae-sweep status` takes only "
     "the study's settings"),
    (["snapshot", "cpu_study", "--to", "/tmp/x", "--backend=slurm"],
     "--backend: an option of `jlonevae-sweep run`; `jlonevae-sweep snapshot` takes only"),
    (["run", "cpu_study", "--dry-run", "--set", "dataset=threeDotz"],
     "unknown dataset 'threeDotz'; known datasets: "),
    (["run", "cpu_study", "--dry-run", "--dataset", "threeDotz"], "unknown dataset 'threeDotz'"),
    (["status", "cpu_study", "--frobnicate"],
     "jlonevae-sweep status: error: unrecognized arguments: --frobnicate (see jlonevae-sweep "
     "status --help)"),
    (["run", "cpu_study", "--dry-run", "--backend", "slurm", "--mem", "nan"], "--mem"),
    (["run", "cpu_study", "--dry-run", "--backend", "slurm", "--gpus", "-1"], "--gpus"),
])
def test_cli_errors_are_one_line(argv, message, capsys) -> None:
    """Bad or conflicting flags: one line, exit 2 (never a silent choice between two)."""
    with pytest.raises(SystemExit) as exit_:
        sweep_cli.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_an_output_folder_that_is_a_file_is_one_line(tmp_path, capsys) -> None:
    (tmp_path / "afile").write_text("")
    for command in ("run", "status"):
        with pytest.raises(SystemExit) as exit_:
            sweep_cli.main([command, "cpu_study", "--output-dir", str(tmp_path / "afile")])
        assert exit_.value.code == 2
        assert capsys.readouterr().err == (f"error: output folder {tmp_path / 'afile'} is a "
                                           "file; give --output-dir a folder\n")


def test_one_output_folder_written_two_ways_is_one(tmp_path, capsys) -> None:
    assert sweep_cli.main(["run", "cpu_study", "--dry-run", "--set",
                           f"output_dir={tmp_path}", "--output-dir", f"{tmp_path}/",
                           "--results-dir", str(tmp_path / "report")]) == 0


def test_status_of_an_untouched_study(tmp_path, capsys) -> None:
    assert sweep_cli.main(["status", "cpu_study", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == ("cpu_study: 10 members: 0 done, 0 trained, 0 running, "
                                   "0 queued, 0 failed, 10 pending")
    assert out.splitlines()[1].startswith("summary: ")
    assert len(out.splitlines()) == 12


def test_status_of_60_members_reads_no_checkpoint(tmp_path, monkeypatch) -> None:
    plan = plan_study(get_study("cpu_study"), overrides={"output_dir": str(tmp_path)},
                      axes={"seed": tuple(range(1, 31))})
    assert len(plan.members) == 60
    for member in plan.members[::2]:
        layout.checkpoint_path(member.run_dir).parent.mkdir(parents=True)
        torch.save({"step": 500}, layout.checkpoint_path(member.run_dir))
        write_json(layout.progress_path(member.run_dir), {"step": 500, "num_batches": 8000})

    def no_load(*args, **kwargs):
        raise AssertionError("status read a checkpoint")

    monkeypatch.setattr(torch, "load", no_load)
    statuses = study_status(plan.members, METRICS)
    assert state_counts(statuses)["pending"] == 60
    assert [s.batches for s in statuses[:2]] == [500, None]
    assert statuses[0].detail == "resumes at batch 500/8000"


def test_a_training_only_run_reads_as_trained(plan) -> None:
    for member in plan.members:
        write_json(layout.done_path(member.run_dir), {"num_batches": 8000})
    report = render_status("cpu_study", study_status(plan.members, METRICS))
    assert report.splitlines()[0] == ("cpu_study: 6 members: 0 done, 6 trained (evaluation not "
                                      "run), 0 running, 0 queued, 0 failed, 0 pending")
