"""Bad files and concurrent evaluations, through the real CLIs: clear errors, nothing lost."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from jlonevae_lib.utils.lock import FolderLock
from tests.reliability.conftest import (
    TOY_FLAGS,
    TRAIN,
    CodePayload,
    find_run_dir,
    kill_while_writing,
    limit_file_size,
    make_stale,
    one_line_error,
    run_cli,
)

pytestmark = pytest.mark.slow

EVALUATE = [sys.executable, "-m", "jlonevae_lib.evaluate.evaluation"]
PLOT = [sys.executable, "-m", "jlonevae_lib.visualize.cli"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished toy run (3 batches) to copy into each test."""
    out = tmp_path_factory.mktemp("trained")
    result = run_cli([*TRAIN, *TOY_FLAGS, "--num-batches", "3"], cwd=out)
    assert result.returncode == 0, result.stderr
    return find_run_dir(out)


@pytest.fixture
def run_dir(trained, tmp_path) -> Path:
    copy = tmp_path / "trainedModels" / trained.parent.name / trained.name
    shutil.copytree(trained, copy)
    return copy


def _model_dir(run: Path) -> Path:
    (folder,) = (run / "representation").glob("cache_batch_no*")
    return folder


@pytest.mark.parametrize("cli", ["evaluate", "plot"])
def test_malicious_model_args_pickle_is_refused_and_never_runs(run_dir, tmp_path, cli):
    marker = tmp_path / "payload-ran"
    model_dir = _model_dir(run_dir)
    (model_dir / "model_args.p").write_bytes(pickle.dumps({"latent_dim": CodePayload(marker)}))
    (model_dir / "model_args.json").unlink(missing_ok=True)
    command = ([*EVALUATE, str(run_dir), "--metrics", "small_local_mig"] if cli == "evaluate"
               else [*PLOT, "jacobian-columns", str(run_dir), "--output", str(tmp_path / "j.png")])
    message = one_line_error(run_cli(command, cwd=tmp_path))
    assert "posix.system" in message or "os.system" in message
    assert not marker.exists()
    assert not (run_dir / "metrics" / "small_local_mig" / "results").exists()


def test_malicious_checkpoint_is_refused_on_resume_and_never_runs(tmp_path):
    marker = tmp_path / "payload-ran"
    stopped = run_cli([*TRAIN, *TOY_FLAGS, "--num-batches", "2"], cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stderr
    run = find_run_dir(tmp_path)
    (run / "DONE").unlink()  # pretend it was interrupted, then plant a code-carrying checkpoint
    torch.save({"format": 1, "step": CodePayload(marker)}, run / "checkpoints" / "checkpoint.pt")
    message = one_line_error(run_cli([*TRAIN, *TOY_FLAGS, "--num-batches", "2"], cwd=tmp_path))
    assert "checkpoint.pt" in message and "cannot be read: it is damaged or not one this " \
        "package wrote" in message
    assert not marker.exists()


def test_state_dict_of_another_latent_size_is_refused(run_dir, tmp_path):
    model_dir = _model_dir(run_dir)
    state = torch.load(model_dir / "model_state_dict.pt", weights_only=True)
    state["fcmu.weight"] = torch.zeros(5, state["fcmu.weight"].shape[1])
    state["fcmu.bias"] = torch.zeros(5)
    torch.save(state, model_dir / "model_state_dict.pt")
    message = one_line_error(run_cli(
        [*PLOT, "jacobian-columns", str(run_dir), "--output", str(tmp_path / "j.png")],
        cwd=tmp_path))
    assert "fcmu.weight" in message


def test_image_of_the_wrong_size_is_refused(run_dir, tmp_path):
    np.save(tmp_path / "small.npy", np.ones((32, 32), dtype=np.float32))
    message = one_line_error(run_cli(
        [*PLOT, "jacobian-columns", str(run_dir), "--image", str(tmp_path / "small.npy"),
         "--output", str(tmp_path / "j.png")], cwd=tmp_path))
    assert "32" in message and "64" in message
    assert not (tmp_path / "j.png").exists()


def test_unknown_metric_and_missing_folder(run_dir, tmp_path):
    message = one_line_error(run_cli([*EVALUATE, str(run_dir), "--metrics", "local_mig_0_5"],
                                      cwd=tmp_path))
    assert "local_mig_0_6" in message  # the error lists what exists
    message = one_line_error(run_cli([*EVALUATE, str(tmp_path / "nowhere")], cwd=tmp_path))
    assert "does not exist" in message
    assert not (run_dir / "metrics").exists()


def test_truncated_cache_is_rebuilt_and_training_goes_on(tmp_path):
    data = tmp_path / "data"
    flags = [*TOY_FLAGS, "--dataset", "threeDotsCacheSmall", "--num-batches", "2"]
    env = {**os.environ, "DISENTANGLEMENT_LIB_DATA": str(data)}
    first = run_cli([*TRAIN, *flags, "--run-id", "a"], cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    cache = data / "threeDots" / "trainingCache20000.npz"
    whole = cache.read_bytes()
    cache.write_bytes(whole[: len(whole) // 3])
    second = run_cli([*TRAIN, *flags, "--run-id", "b"], cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    assert str(cache) in second.stderr
    assert cache.read_bytes() == whole  # rebuilt: same seed, same bytes


def test_evaluation_json_survives_a_failed_rewrite(run_dir, tmp_path):
    done = run_cli([*EVALUATE, str(run_dir), "--metrics", "small_local_mig"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result_file = run_dir / "metrics" / "small_local_mig" / "results" / "aggregate"
    before = (result_file / "evaluation.json").read_bytes()

    # Room for the metric's lock record (a few hundred bytes), not for its results.
    failed = run_cli([*EVALUATE, str(run_dir), "--metrics", "small_local_mig", "--overwrite"],
                     cwd=tmp_path, preexec_fn=limit_file_size(512))
    message = one_line_error(failed)
    assert "could not write" in message and "previous version is intact" in message
    assert (result_file / "evaluation.json").read_bytes() == before
    assert [p.name for p in result_file.iterdir()] == ["evaluation.json"]


def test_evaluation_skips_a_metric_another_live_process_owns(run_dir, tmp_path):
    metric_dir = run_dir / "metrics" / "small_local_mig"
    with FolderLock(metric_dir, "evaluation"):  # held by this (live) test process
        result = run_cli([*EVALUATE, str(run_dir), "--metrics", "small_local_mig",
                          "small_local_modularity"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "skipping small_local_mig" in result.stdout
    assert not (metric_dir / "results").exists()
    assert (run_dir / "metrics" / "small_local_modularity" / "results" / "aggregate"
            / "evaluation.json").exists()


def test_evaluation_takes_over_the_stale_lock_of_a_crashed_process(run_dir, tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    metric_dir = run_dir / "metrics" / "small_local_mig"
    metric_dir.mkdir(parents=True)
    (metric_dir / ".lock").write_text(json.dumps(
        {"host": socket.gethostname(), "pid": int(dead.stdout), "purpose": "evaluation"}))
    result = run_cli([*EVALUATE, str(run_dir), "--metrics", "small_local_mig"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (metric_dir / "results" / "aggregate" / "evaluation.json").exists()
    assert not (metric_dir / ".lock").exists()


CACHE = [sys.executable, "-m", "jlonevae_lib.data.cache"]


def test_cache_write_that_fails_leaves_nothing_and_says_so(tmp_path):
    data = tmp_path / "data"
    failed = run_cli([*CACHE, "--num-images", "2000", "--data-root", str(data)], cwd=tmp_path,
                     preexec_fn=limit_file_size(1 << 20))  # the cache takes 8 MB
    assert failed.returncode == 2 and "Traceback" not in failed.stderr, failed.stderr
    building, message = failed.stderr.strip().splitlines()  # the progress note, the error
    assert building.startswith("Building the three-dots training cache")
    cache = data / "threeDots" / "trainingCache2000.npz"
    assert f"could not write {cache}" in message and "nothing was written" in message
    assert list(cache.parent.iterdir()) == []

    built = run_cli([*CACHE, "--num-images", "2000", "--data-root", str(data)], cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert "2000 images, valid" in built.stdout


def test_cache_build_killed_mid_write_is_never_read_and_its_leftover_goes(tmp_path):
    data = tmp_path / "data"
    folder = data / "threeDots"
    args = [*CACHE, "--num-images", "60000", "--data-root", str(data)]  # 246 MB, ~1 s to write
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    cache = folder / "trainingCache60000.npz"
    leftover = kill_while_writing(proc, cache, suffix=".npz")
    assert not cache.exists()  # the half-written file never got the cache's name

    # An hour later, the next build finds no cache, builds one, and deletes the leftover.
    make_stale(leftover)
    rebuilt = run_cli(args, cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "60000 images, valid" in rebuilt.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["trainingCache60000.npz"]


def test_export_that_fails_keeps_the_previous_torchscript(run_dir, tmp_path):
    exported = run_dir / "representation" / "pytorch_model.pt"
    before = exported.read_bytes()
    script = ("from jlonevae_lib.architecture.export import export_torchscript\n"
              "from jlonevae_lib.architecture.load_model import load_model\n"
              "from jlonevae_lib.utils.atomic import WriteError\n"
              f"model = load_model({str(_model_dir(run_dir))!r})\n"
              "try:\n"
              f"    export_torchscript(model, {str(run_dir)!r})\n"
              "except WriteError as err:\n"
              "    print(err)\n")
    failed = run_cli([sys.executable, "-c", script], cwd=tmp_path,
                     preexec_fn=limit_file_size(len(before) // 2))
    assert failed.returncode == 0 and "Traceback" not in failed.stderr, failed.stderr
    assert f"could not write {exported}" in failed.stdout
    assert "previous version is intact" in failed.stdout
    assert exported.read_bytes() == before
    assert sorted(p.name for p in exported.parent.iterdir()) == [
        "cache_batch_no3", "pytorch_model.pt", "results"]
