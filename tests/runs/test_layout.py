"""The run-folder layout: names, the saved-model finder and the evaluation files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from jlonevae_lib.runs import layout
from jlonevae_lib.utils.errors import DataFileError


def test_paths_of_a_run_folder(tmp_path: Path) -> None:
    run = layout.run_dir(tmp_path, "exp", "seed1")
    assert run == tmp_path / "trainedModels" / "exp" / "seed1"
    assert layout.log_dir(tmp_path, "exp", "seed1") == tmp_path / "logs" / "exp" / "seed1"
    assert layout.log_dir_of_run(run) == tmp_path / "logs" / "exp" / "seed1"
    baseline = layout.run_dir(tmp_path, "dlib", "seed2", layout.STANDARD_MODELS_DIR)
    assert layout.log_dir_of_run(baseline) == tmp_path / "logs" / "dlib" / "seed2"
    assert layout.config_path(run) == run / "config.json"
    assert (layout.done_path(run), layout.failed_path(run)) == (run / "DONE", run / "FAILED")
    assert layout.checkpoint_path(run) == run / "checkpoints" / "checkpoint.pt"
    assert layout.saved_model_dir(run, 30) == run / "representation" / "cache_batch_no30"
    assert layout.torchscript_path(run) == run / "representation" / "pytorch_model.pt"
    assert layout.evaluation_path(run, "mig") == (
        run / "metrics" / "mig" / "results" / "aggregate" / "evaluation.json")
    assert layout.run_of_evaluation(layout.evaluation_path(run, "mig")) == run


def test_the_final_saved_model_is_the_highest_batch_number(tmp_path: Path) -> None:
    run = tmp_path / "run"
    for batches in (5, 40, 100):
        layout.saved_model_dir(run, batches).mkdir(parents=True)
    (layout.representation_dir(run) / "cache_batch_no7.tmp").mkdir()
    (layout.representation_dir(run) / "cache_batch_no999").write_text("a file, not a model")
    final = layout.saved_model_dir(run, 100)
    assert layout.final_saved_model(layout.representation_dir(run)) == final
    assert layout.find_saved_model(run) == final
    assert layout.find_saved_model(layout.representation_dir(run)) == final
    assert layout.find_saved_model(tmp_path) is None
    assert layout.saved_model_batches(final) == 100
    assert layout.saved_model_batches(run) is None
    assert layout.run_of_saved_model(final) == run
    assert layout.run_of_saved_model(run) == run
    assert layout.run_of_saved_model(tmp_path) is None


def test_model_runs_and_evaluation_files(tmp_path: Path) -> None:
    models = tmp_path / "trainedModels"
    with_model = models / "exp" / "seed2"
    layout.representation_dir(with_model).mkdir(parents=True)
    (models / "exp" / "seed1").mkdir()
    assert layout.model_runs(models) == [with_model]
    assert layout.run_folders(models) == [models / "exp" / "seed1", with_model]
    files = [layout.evaluation_path(with_model, name) for name in ("mig", "local_mig_0_1")]
    baseline = layout.evaluation_path(tmp_path / "baselines" / "401", "mig")
    for path in (*files, baseline):
        path.parent.mkdir(parents=True)
        path.write_text("{}")
    assert layout.evaluation_files(with_model) == sorted(files)
    assert layout.evaluation_files_under(models) == sorted(files)
    assert layout.evaluation_files_under(tmp_path / "baselines") == [baseline]
    assert layout.is_finished(with_model) is False
    layout.done_path(with_model).write_text("{}")
    assert layout.is_finished(with_model) is True


def test_a_sweep_logs_attempt_line_gives_its_time_back() -> None:
    moment = datetime(2026, 12, 5, 21, 37, 1)
    line = layout.sweep_log_attempt_line(["jlonevae-train", "--seed", "3"], moment)
    assert line == "=== 2026-12-05T21:37:01 jlonevae-train --seed 3\n"
    assert layout.sweep_log_attempt_time(line) == moment
    assert layout.sweep_log_attempt_time("[6] seed3:  13%| 4000/30000") is None
    assert layout.sweep_log_attempt_time("=== not a time jlonevae-train") is None


def test_the_seed_of_a_default_run_name() -> None:
    assert layout.seed_of_run_name(layout.default_run_name(12)) == 12
    for name in ("seed", "seed3_batches8000", "run7", "seed-1", "xseed3"):
        assert layout.seed_of_run_name(name) is None, name


def test_a_models_folder_is_told_from_a_run_or_an_experiment_folder(tmp_path: Path,
                                                                     monkeypatch) -> None:
    """What a notebook or figure is pointed at: a folder of experiments, or one line saying
    what the folder is instead and which to give."""
    models = tmp_path / "trainedModels"
    run = models / "experiment" / "seed1"
    (layout.representation_dir(run) / "cache_batch_no10").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert layout.check_models_dir("trainedModels") == models
    assert layout.runs_below(models) == [run] == layout.runs_below(run.parent)
    with pytest.raises(DataFileError, match=f"{run} is one run's folder: give the folder that "
                                            f"holds the experiments' folders, {models}$"):
        layout.check_models_dir(run)
    with pytest.raises(DataFileError, match=f"{run.parent} is one experiment's folder: give "
                                            f"the folder above it, {models}$"):
        layout.check_models_dir(run.parent)
    with pytest.raises(DataFileError, match=f"models folder {tmp_path / 'nothing'} does not "
                                            f"exist \\(a relative path is read from {tmp_path}\\)"):
        layout.check_models_dir("nothing")
    # Another tool's config.json does not make a run folder; a run's settings do.
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text('{"lr": 0.1}')
    assert not layout.is_run_folder(other)
    (other / "config.json").write_text(
        '{"dataset": "threeDots", "architecture": "defaultConv", "num_batches": 9, "seed": 1}')
    assert layout.is_run_folder(other)
