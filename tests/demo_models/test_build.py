"""Demo checkpoints: built from a real finished run, float16, small, labelled, loadable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from jlonevae_lib.architecture.load_model import load_model
from jlonevae_lib.cli.demo_build import main
from jlonevae_lib.demo_models import DEMO_LABEL
from jlonevae_lib.demo_models.build import MAX_RUN_BYTES, build_demo_run, folder_bytes
from jlonevae_lib.visualize.inputs import example_three_dots_image, load_model_from
from jlonevae_lib.visualize.jacobian_columns import compute_jacobian_columns
from tests.visualize.result_fixtures import write_all_metrics

TRAIN = [sys.executable, "-m", "jlonevae_lib.train.train_jlonevae_models"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real toy JL1-VAE run (4 batches) with evaluation results beside its model."""
    out = tmp_path_factory.mktemp("demo_source")
    done = subprocess.run([*TRAIN, "--dataset", "threeDots", "--num-batches", "4",
                           "--batch-size", "8", "--latent-dim", "4", "--gamma", "0.1",
                           "--jacobian-batch", "2", "--device", "cpu", "--seed", "1",
                           "--output-dir", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (run_dir,) = (out / "trainedModels").glob("*/seed1")
    write_all_metrics(run_dir, 0.05, np.random.default_rng(0))
    return run_dir


def test_demo_copy_is_float16_small_labelled_and_close(finished_run: Path, tmp_path: Path):
    target = build_demo_run(finished_run, tmp_path)
    assert target == tmp_path / finished_run.parent.name / "seed1"
    assert folder_bytes(target) <= MAX_RUN_BYTES
    state = torch.load(next(target.glob("representation/cache_batch_no4/model_state_dict.pt")),
                       weights_only=True)
    assert {tensor.dtype for tensor in state.values() if tensor.is_floating_point()} == {
        torch.float16}
    assert (target / "config.json").read_bytes() == (finished_run / "config.json").read_bytes()
    assert (target / "DONE").is_file()
    assert len(list(target.glob("metrics/*/results/aggregate/evaluation.json"))) == 12
    notes = (target / "DEMO.md").read_text()
    assert notes.startswith(f"# {DEMO_LABEL}: JL1-VAE (γ=0.1), seed1")
    assert "| local MIG | 0.1 |" in notes and "| MIG | global |" in notes

    # The float16 copy loads into the usual float32 model; DEMO.md says, correctly, how much
    # rounding changed the example's columns (a few % at most here: this near-initial decoder's
    # outputs are saturated, so its small Jacobian is sensitive).
    demo, original = load_model_from(target), load_model_from(finished_run)
    assert next(demo.parameters()).dtype == torch.float32
    latent_order = list(range(4))  # not by activity: near-equal activities may swap
    image = example_three_dots_image()
    ours = compute_jacobian_columns(demo, image, latent_order)[0].columns
    reference = compute_jacobian_columns(original, image, latent_order)[0].columns
    error = float(np.abs(ours - reference).max() / np.abs(reference).max())
    assert 0 < error < 0.1
    assert f"by at most {100 * error:.2g}% of their largest entry" in notes


def test_rebuild_replaces_and_refuses_unfinished_runs(finished_run: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    first = build_demo_run(finished_run, tmp_path)
    (first / "stale.txt").write_text("from an older build")
    assert main([str(finished_run), "--output-dir", str(tmp_path)]) == 0
    assert not (first / "stale.txt").exists() and (first / "DEMO.md").is_file()
    assert not list(tmp_path.glob("*/.*.building"))

    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    with pytest.raises(SystemExit) as stop:
        main([str(unfinished), "--output-dir", str(tmp_path / "out")])
    assert stop.value.code != 0
    assert "not a finished run (no DONE)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_saved_model_loader_reads_the_demo_copy(finished_run: Path, tmp_path: Path) -> None:
    target = build_demo_run(finished_run, tmp_path)
    model = load_model(next(target.glob("representation/cache_batch_no*")))
    assert model.model_args["latent_dim"] == 4
