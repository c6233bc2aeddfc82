"""The study's ledger of Slurm submissions (:mod:`jlonevae_lib.sweep.ledger`) without a
cluster: a fake ``squeue`` on PATH answers what a real one does (Slurm 22.05, measured in
tests/sweep/test_slurm_backend.py), and ``jlonevae-sweep`` must show the members whose jobs are
queued, submit none of them again, and ask Slurm nothing when there is no ledger."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from jlonevae_lib.cli import sweep as sweep_cli
from jlonevae_lib.runs import layout
from jlonevae_lib.sweep import ledger, slurm
from jlonevae_lib.sweep.ledger import SchedulerUnavailable, squeue_states
from jlonevae_lib.sweep.status import MemberStatus
from jlonevae_lib.sweep.studies import get_study, plan_study

SEEDS = ("1", "2", "3")
STUDY = ["cpu_study", "--seeds", *SEEDS, "--gammas", "0", "--set", "num_batches=10",
         "--set", "device=cpu"]
STAGES = ["train", "evaluate", "summary"]


def report_dir(out_dir: Path) -> list[str]:
    """``--results-dir`` beside the members: a study run with other settings writes no report
    over the study's own (committed) one."""
    return ["--results-dir", str(out_dir.parent / "report")]


@pytest.fixture
def fake_squeue(tmp_path: Path, monkeypatch):
    """Put a ``squeue`` on PATH that records its arguments and prints ``answer`` (exit status
    ``rc``, ``stderr``); returns a function that sets the answer, and the calls file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls, answer, error = tmp_path / "squeue.calls", tmp_path / "squeue.out", tmp_path / "err"
    script = bin_dir / "squeue"
    script.write_text(f'#!/bin/sh\necho "$@" >> {calls}\ncat {answer}\ncat {error} >&2\n'
                      'exit "$(cat ' + str(tmp_path / "squeue.rc") + ')"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def set_answer(text: str, rc: int = 0, stderr: str = "") -> None:
        answer.write_text(text)
        error.write_text(stderr)
        (tmp_path / "squeue.rc").write_text(str(rc))

    set_answer("")
    return set_answer, calls


@pytest.fixture
def no_squeue(tmp_path: Path, monkeypatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    # PATH without squeue, sbatch or anything else of Slurm's (a laptop).
    monkeypatch.setenv("PATH", str(empty))


def study_members(out: Path):
    return plan_study(get_study("cpu_study"),
                      overrides={"output_dir": str(out), "num_batches": 10, "device": "cpu"},
                      axes={"seed": tuple(int(s) for s in SEEDS), "gamma": (0.0,)}).members


def write_ledger(out: Path, metrics: tuple[str, ...]) -> None:
    """One earlier submission: array 12 trains every member, job 13 evaluates."""
    ledger.record_submission(
        layout.ledger_path(out, "cpu_study"), folder=out / "sweeps" / "submitit" / "x",
        array_job_id="12", tasks=[(m, f"12_{i}") for i, m in enumerate(study_members(out))],
        evaluate_job_id="13", metrics=metrics, stages=STAGES)


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    try:
        code = sweep_cli.main(args)
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_squeue_is_asked_once_for_the_arrays_and_jobs(fake_squeue) -> None:
    set_answer, calls = fake_squeue
    set_answer("12_1 PENDING\n12_2 PENDING\n13 PENDING\n12_0 RUNNING\n")
    assert squeue_states(["12", "13"]) == {"12_0": "RUNNING", "12_1": "PENDING",
                                           "12_2": "PENDING", "13": "PENDING"}
    assert calls.read_text().splitlines() == ["-h -r -o %i %T -j 12,13"]


def test_jobs_that_slurm_forgot_are_gone(fake_squeue) -> None:
    set_answer, _ = fake_squeue
    # What Slurm 22.05 answers when every id given has ended long ago.
    set_answer("", rc=1, stderr="slurm_load_jobs error: Invalid job id specified\n")
    assert squeue_states(["12"]) == {}
    set_answer("", rc=1, stderr="slurm_load_jobs error: Unable to contact slurm controller\n")
    with pytest.raises(SchedulerUnavailable, match="Unable to contact"):
        squeue_states(["12"])


def test_no_ledger_asks_slurm_nothing(fake_squeue, tmp_path: Path, capsys) -> None:
    _, calls = fake_squeue
    code, out = run_cli(["status", *STUDY, "--output-dir", str(tmp_path / "runs")], capsys)
    assert code == 0, out
    assert "3 pending" in out.splitlines()[0]
    assert not calls.exists()


def test_status_shows_the_members_whose_jobs_are_queued(fake_squeue, tmp_path: Path,
                                                        capsys) -> None:
    set_answer, calls = fake_squeue
    out_dir = tmp_path / "runs"
    write_ledger(out_dir, ())
    set_answer("12_0 PENDING\n12_1 RUNNING\n13 PENDING\n")  # 12_2 has ended
    code, out = run_cli(["status", *STUDY, "--output-dir", str(out_dir)], capsys)
    assert code == 0, out
    lines = out.splitlines()
    assert "1 running, 1 queued" in lines[0] and "1 pending" in lines[0], out
    assert lines[-3].split()[1] == "queued" and "Slurm job 12_0 pending" in lines[-3]
    assert lines[-2].split()[1] == "running" and "Slurm job 12_1 running" in lines[-2]
    assert "no training lock yet" in lines[-2]
    assert lines[-1].split()[1] == "pending"
    assert len(calls.read_text().splitlines()) == 1  # one squeue per status

    # The dry run shows the same and plans no training for them.
    code, out = run_cli(["run", *STUDY, "--output-dir", str(out_dir), *report_dir(out_dir),
                         "--dry-run"], capsys)
    assert code == 0, out
    assert "state: queued; to do: nothing; queued: Slurm job 12_0 pending" in out
    assert "state: running; to do: nothing" in out
    assert "state: pending; to do: train" in out


def test_status_without_squeue_says_so_in_one_line(no_squeue, tmp_path: Path, capsys) -> None:
    out_dir = tmp_path / "runs"
    write_ledger(out_dir, ())
    code, out = run_cli(["status", *STUDY, "--output-dir", str(out_dir)], capsys)
    assert code == 0, out
    notes = [line for line in out.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "squeue is not on PATH" in notes[0], out
    assert "3 pending" in out


def test_a_submission_cannot_go_on_without_asking_slurm(no_squeue, tmp_path: Path,
                                                        capsys) -> None:
    out_dir = tmp_path / "runs"
    write_ledger(out_dir, ())
    code, out = run_cli(["run", *STUDY, "--output-dir", str(out_dir), *report_dir(out_dir),
                         "--backend", "slurm"], capsys)
    assert code == 2 and "cannot tell which jobs of the ledger" in out, out


class FakeJob(SimpleNamespace):
    job_id: str


def test_queued_members_are_not_submitted_again(fake_squeue, tmp_path: Path, capsys,
                                                monkeypatch) -> None:
    set_answer, _ = fake_squeue
    out_dir = tmp_path / "runs"
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path / "data"))
    metrics = plan_study(get_study("cpu_study")).metrics
    write_ledger(out_dir, metrics)
    set_answer("12_0 PENDING\n12_1 RUNNING\n13 PENDING\n")
    submitted = {}

    def fake_submit(plan, decisions, options, *, stages, metric_names, overwrite,
                    evaluation_queued):
        # The study's lock is held while Slurm is asked and the jobs are submitted.
        lock = layout.sweep_dir(out_dir, "cpu_study") / ".lock"
        submitted.update(lock=json.loads(lock.read_text())["purpose"], queued=evaluation_queued,
                         train=[d.member.index for d in decisions if "train" in d.steps])
        trained = tuple(d.member for d in decisions if "train" in d.steps)
        return slurm.Submission(folder=tmp_path / "folder", train_jobs=(FakeJob(job_id="14"),),
                                evaluate_job=FakeJob(job_id="15"), trained=trained)

    monkeypatch.setattr(slurm, "submit", fake_submit)
    code, out = run_cli(["run", *STUDY, "--output-dir", str(out_dir), *report_dir(out_dir),
                         "--backend", "slurm"], capsys)
    assert code == 0, out
    assert submitted == {"lock": "submission", "queued": "13", "train": [2]}
    assert "[0] seed=1 gamma=0.0: queued: Slurm job 12_0 pending" in out
    assert "submitted training array 14 (1 tasks)" in out
    entries = ledger.read_ledger(layout.ledger_path(out_dir, "cpu_study"))["submissions"]
    assert len(entries) == 2
    assert entries[-1]["tasks"] == {"2": {"job_id": "14", "label": "seed=3 gamma=0.0",
                                          "run_dir": str(study_members(out_dir)[2].run_dir
                                                         .resolve())}}
    assert entries[-1]["evaluate_job_id"] == "15" and entries[-1]["backend"] == "slurm"
    assert not (layout.sweep_dir(out_dir, "cpu_study") / ".lock").exists()


def test_nothing_is_submitted_while_everything_is_queued(fake_squeue, tmp_path: Path, capsys,
                                                         monkeypatch) -> None:
    """The real submit: no member to train, and the queued evaluation job (same metrics and
    stages) evaluates them when it runs: no job at all, and the ledger is unchanged."""
    set_answer, _ = fake_squeue
    out_dir = tmp_path / "runs"
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path / "data"))
    write_ledger(out_dir, plan_study(get_study("cpu_study")).metrics)
    set_answer("12_0 PENDING\n12_1 PENDING\n12_2 RUNNING\n13 PENDING\n")
    code, out = run_cli(["run", *STUDY, "--output-dir", str(out_dir), *report_dir(out_dir),
                         "--backend", "slurm"], capsys)
    assert code == 0, out
    assert "nothing to submit" in out and "evaluation job 13 is still queued" in out
    assert "submitted" not in out
    entries = ledger.read_ledger(layout.ledger_path(out_dir, "cpu_study"))["submissions"]
    assert len(entries) == 1


def test_with_jobs_leaves_members_at_work_or_finished_alone(tmp_path: Path) -> None:
    members = study_members(tmp_path)
    view = ledger.LedgerView(jobs={str(m.run_dir.resolve()): ledger.Job(f"12_{i}", "PENDING")
                                   for i, m in enumerate(members)},
                             evaluation=ledger.Job("13", "PENDING"))
    statuses = [MemberStatus(members[0], "running", "training, pid 5 on n1"),
                MemberStatus(members[1], "failed", "non-finite loss"),
                MemberStatus(members[2], "trained", "trained; 2 of 2 metrics to compute")]
    out = ledger.with_jobs(statuses, view)
    assert [s.state for s in out] == ["running", "failed", "trained"]
    assert out[0].detail == "training, pid 5 on n1"
    assert out[2].detail.endswith("evaluation: Slurm job 13 pending")
