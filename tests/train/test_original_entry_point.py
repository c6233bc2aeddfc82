"""The original's natural-image command line (train_jlonevae_without_disentanglement_lib.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from jlonevae_lib.architecture.load_model import load_model
from jlonevae_lib.cli.train_original import main
from tests.data.test_natural_images import write_source

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "jlonevae_lib" / "train" / "train_jlonevae_without_disentanglement_lib.py"
MODULE = "jlonevae_lib.train.train_jlonevae_without_disentanglement_lib"
# The original train_naturalImages.bash's flags, shortened to 3 batches of 8 and 3 latents.
COMMON_FLAGS = ["--experimentName", "naturalImages", "--vaeShape", "tiny16", "--numBatches", "3",
                "--recordLossEvery", "1", "--batchSize", "8", "--lr", "0.001",
                "--annealingBatches", "2", "--beta", "0.01", "--latentDim", "3"]
EXPERIMENT = "tiny16_lone_beta0_0100_ica{}_lat3_batch8_lr0_0010_anneal2"


@pytest.fixture
def workdir(tmp_path):
    """A working folder with a synthetic data/naturalImages/IMAGES.mat; removed afterwards."""
    write_source(tmp_path / "data")
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


def run(workdir: Path, *command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DISENTANGLEMENT_LIB_DATA": str(workdir / "data"),
           "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, *command], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_original_command_line_trains_a_few_batches(workdir):
    # As train_naturalImages.bash runs it: the script's path, --runId _run0, two γ values.
    result = run(workdir, str(SCRIPT), *COMMON_FLAGS, "--runId", "_run0", "--gamma", "0", "0.01")
    assert result.returncode == 0, result.stderr
    for gamma in ("0_0000", "0_0100"):
        folder = workdir / "trainedModels" / EXPERIMENT.format(gamma) / "run0"
        assert (folder / "DONE").is_file(), result.stdout
        config = json.loads((folder / "config.json").read_text())
        assert {key: config[key] for key in (
            "dataset", "architecture", "latent_dim", "beta", "gamma", "batch_size", "num_batches",
            "lr", "annealing_batches", "log_interval", "run_id", "regularization_type")} == {
            "dataset": "naturalImages", "architecture": "tiny16", "latent_dim": 3,
            "beta": 0.01, "gamma": float(gamma.replace("_", ".")), "batch_size": 8,
            "num_batches": 3, "lr": 0.001, "annealing_batches": 2, "log_interval": 1,
            "run_id": "run0", "regularization_type": "jlone"}
        model = load_model(folder / "representation" / "cache_batch_no3")
        assert model.decode(torch.zeros(1, 3)).shape == (1, 1, 16, 16)
    assert "trained 3 batches" in result.stdout

    # The module form, same command: both runs are finished, so both are skipped.
    again = run(workdir, "-m", MODULE, *COMMON_FLAGS, "--runId", "_run0", "--gamma", "0", "0.01")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already finished (3 batches)") == 2


def test_without_run_id_the_run_is_named_by_seed(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(workdir / "data"))
    assert main([*COMMON_FLAGS, "--numBatches", "1", "--seed", "4", "--device", "cpu",
                 "--output-dir", "out"]) == 0
    folder = workdir / "out" / "trainedModels" / EXPERIMENT.format("0_0000") / "seed4"
    assert (folder / "representation" / "cache_batch_no1").is_dir()
    assert json.loads((folder / "config.json").read_text())["beta"] == 0.01


@pytest.mark.parametrize(("flags", "expected"), [
    (["--experimentName", "myPatches"], "only naturalImages is supported"),
    (["--lossFunction", "gaussian"], "only bernoulli"),
    (["--useDouble", "1"], "float64 training is not implemented"),
    (["--gamma"], "--gamma needs at least one value"),
    (["--vaeShape", "tiny15"], "--vaeShape tiny15: unknown"),
    (["--runId", "a/b"], "run_id must be a plain folder name"),
])
def test_unsupported_flags_are_one_clear_error(workdir, monkeypatch, capsys, flags, expected):
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(workdir / "data"))
    with pytest.raises(SystemExit) as exit_info:
        main([*COMMON_FLAGS, "--device", "cpu", *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and err.strip().count("\n") == 0
    assert not (workdir / "trainedModels").exists()


def test_module_form_reports_a_bad_flag_in_one_line(workdir):
    result = run(workdir, "-m", MODULE, *COMMON_FLAGS, "--useDouble", "1")
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: --useDouble: float64 training is not implemented; "
                                     "drop the flag")
