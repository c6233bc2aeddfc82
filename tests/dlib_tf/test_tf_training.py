"""disentanglement_lib's own training and post-processing of a study member on three-dots.

The TensorFlow side runs in ``.venv-dlib`` (``dlib_python``); this process (no TensorFlow) reads
what it wrote. The session's trained model (conftest: member 400, FactorVAE γ = 30 seed 0,
40 global steps on procedural three-dots, post-processed) is trained once more here, into a
folder holding an interrupted run, and the two checkpoints compared; one more process reads
checkpoints and hubs.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from jlonevae_lib.data import get_named_ground_truth_data
from jlonevae_lib.data.cache import load_training_cache
from jlonevae_lib.data.three_dots import SMALL_CACHE_IMAGES
from jlonevae_lib.data.three_dots_render import levels_to_images
from jlonevae_lib.runs.layout import (
    DLIB_CHECKPOINT_DIR,
    DLIB_HUB_DIR,
    DLIB_REPRESENTATION_DIR,
    DLIB_TRAIN_RESULTS,
    dlib_tf_model_dir,
    dlib_training_finished,
)
from jlonevae_lib.runs.study_numbering import study_member
from tests.dlib_tf.conftest import (
    REPO,
    TRAINED_MODEL_NUM,
    TRAINED_STEPS,
    dlib_env,
    run_dlib,
)

INSPECT = Path(__file__).with_name("dlib_inspect.py")


def train_args(output_dir: Path, steps: int = TRAINED_STEPS) -> list[str]:
    """The arguments the session's model was trained with (conftest.dlib_trained_model)."""
    return ["-m", "jlonevae_lib.dlib_tf.train", "--model-num", str(TRAINED_MODEL_NUM),
            "--steps", str(steps), "--dataset", "threeDots", "--output-dir", str(output_dir),
            "--eval-steps", "1"]


def test_model_400_is_the_papers_factor_vae_seed_0() -> None:
    member = study_member(TRAINED_MODEL_NUM)
    assert (member.method, member.hp_index, member.seed, member.dataset) == (
        "factor_vae", 2, 0, "dsprites_full")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory):
    """A fresh data root for the module (the small cache is built there, 20,000 images)."""
    with pytest.MonkeyPatch.context() as patch:
        root = tmp_path_factory.mktemp("data")
        patch.setenv("DISENTANGLEMENT_LIB_DATA", str(root))
        yield root


@pytest.fixture(scope="module")
def trained(dlib_python: Path, dlib_trained_model: Path,
            tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The session's model (``a``) trained again into ``b`` over an interrupted run; their
    checkpoints compared, and ``a``'s hubs applied to 32 images."""
    work = tmp_path_factory.mktemp("dlib_train")
    out_a = dlib_trained_model.parents[2]
    out_b = work / "b"
    # An interrupted run: a folder without results/aggregate/train.json, with a stray file.
    stale = dlib_tf_model_dir(out_b, TRAINED_MODEL_NUM) / DLIB_CHECKPOINT_DIR / "model.ckpt-7.index"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by a killed run")
    second = run_dlib(dlib_python, train_args(out_b))
    images = get_named_ground_truth_data("threeDots").sample_observations(
        32, np.random.RandomState(11))
    np.savez(work / "images.npz", images=images)
    run_dlib(dlib_python, [
        str(INSPECT),
        "checkpoints", str(dlib_trained_model / DLIB_CHECKPOINT_DIR),
        str(dlib_tf_model_dir(out_b, TRAINED_MODEL_NUM) / DLIB_CHECKPOINT_DIR),
        str(work / "cmp.json"),
        "representation", str(dlib_trained_model), str(work / "images.npz"),
        str(work / "rep.npz")])
    step = int((dlib_trained_model / DLIB_CHECKPOINT_DIR / "checkpoint").read_text()
               .split('"')[1].rpartition("-")[2])
    return {"out_a": out_a, "out_b": out_b, "model_a": dlib_trained_model, "second": second,
            "global_step": step,
            "images": images, "checkpoints": json.loads((work / "cmp.json").read_text()),
            "hubs": dict(np.load(work / "rep.npz"))}


@pytest.mark.slow
def test_training_writes_disentanglement_libs_model_folder(trained: dict) -> None:
    model = trained["model_a"]
    assert dlib_training_finished(model)
    assert (model / DLIB_CHECKPOINT_DIR / "checkpoint").is_file()
    # FactorVAE's doubled step: 40 global steps ran 20 iterations (checkpoint of the 40th or,
    # as disentanglement_lib's hook stops one iteration late, the 42nd).
    assert sorted(p.name for p in (model / DLIB_CHECKPOINT_DIR).glob("model.ckpt-*.index")) \
        == [f"model.ckpt-{trained['global_step']}.index"]
    assert (model / DLIB_HUB_DIR / "saved_model.pb").is_file()
    results = json.loads((model / DLIB_TRAIN_RESULTS).read_text())
    expected = {"model.name": "'factor_vae'", "model.model": "@factor_vae()",
                "factor_vae.gamma": "30.0", "discriminator.discriminator_fn": "@fc_discriminator",
                "model.random_seed": "0", "model.model_num": str(TRAINED_MODEL_NUM),
                "model.training_steps": str(TRAINED_STEPS), "model.eval_steps": "1",
                "dataset.name": "'threeDots'", "model.batch_size": "64",
                "encoder.num_latent": "10", "encoder.encoder_fn": "@conv_encoder"}
    assert {key: results.get(f"train_config.{key}") for key in expected} == expected
    assert results["train_results.global_step"] == trained["global_step"]
    assert np.isfinite(results["train_results.loss"])


@pytest.mark.slow
def test_the_summary_counts_factor_vaes_iterations(trained: dict) -> None:
    step = trained["global_step"]
    assert step in (TRAINED_STEPS, TRAINED_STEPS + 2)
    assert (f"model {TRAINED_MODEL_NUM} (factor_vae): trained (an unfinished folder was "
            f"restarted from step 0): ") in trained["second"].stdout
    assert (f"global step {step} = {step // 2} iterations (FactorVAE: 2 global steps per "
            "iteration)") in trained["second"].stdout


@pytest.mark.slow
def test_the_same_model_number_gives_bit_identical_checkpoints(trained: dict) -> None:
    compared = trained["checkpoints"]
    assert compared["names_a"] == compared["names_b"]
    # Weights, their Adam slots, the discriminator and the step: the whole checkpoint.
    assert compared["shapes"]["encoder/e1/kernel"] == [4, 4, 1, 32]
    assert "encoder/e1/kernel/Adam" in compared["names_a"]
    assert "discriminator/d1/kernel" in compared["names_a"]
    assert "global_step" in compared["names_a"]
    assert compared["differing"] == []


@pytest.mark.slow
def test_an_unfinished_folder_is_restarted_cleanly(trained: dict) -> None:
    assert "restarted from step 0" in trained["second"].stdout
    checkpoints = dlib_tf_model_dir(trained["out_b"], TRAINED_MODEL_NUM) / DLIB_CHECKPOINT_DIR
    assert not (checkpoints / "model.ckpt-7.index").exists()
    assert dlib_training_finished(checkpoints.parent)


@pytest.mark.slow
def test_the_mean_representation_maps_images_to_ten_means(trained: dict) -> None:
    representation = trained["model_a"] / DLIB_REPRESENTATION_DIR
    assert (representation / DLIB_HUB_DIR / "saved_model.pb").is_file()
    hubs = trained["hubs"]
    assert hubs["representation"].shape == (len(trained["images"]), 10)
    assert np.isfinite(hubs["representation"]).all()
    # The representation is the trained encoder's mean, image by image (not a constant).
    np.testing.assert_allclose(hubs["representation"], hubs["mean"], rtol=0, atol=1e-6)
    assert np.ptp(hubs["representation"], axis=0).max() > 1e-4


@pytest.mark.slow
def test_finished_folders_are_skipped_and_other_settings_refused(dlib_python: Path,
                                                                 trained: dict) -> None:
    model = trained["model_a"]
    before = sorted((p.relative_to(model), p.stat().st_mtime_ns) for p in model.rglob("*"))
    again = run_dlib(dlib_python, train_args(trained["out_a"]), timeout=60)
    assert f"model {TRAINED_MODEL_NUM}: already trained, skipped" in again.stdout
    post_again = run_dlib(dlib_python, ["-m", "jlonevae_lib.dlib_tf.postprocess", str(model)],
                          timeout=60)
    assert "already post-processed, skipped" in post_again.stdout
    other = subprocess.run([str(dlib_python), *train_args(trained["out_a"], steps=50)],
                           cwd=REPO, capture_output=True, text=True, env=dlib_env(), timeout=60)
    assert other.returncode == 2
    assert other.stderr.strip().splitlines() == [
        f"error: {model} was trained with model.training_steps = {TRAINED_STEPS}, not 50; give "
        "the same settings to keep it, or delete the folder to train it again"]
    assert sorted((p.relative_to(model), p.stat().st_mtime_ns) for p in model.rglob("*")) \
        == before


@pytest.mark.slow
def test_our_datasets_named_in_disentanglement_lib_give_our_images(
        dlib_python: Path, data_root: Path, tmp_path: Path) -> None:
    run_dlib(dlib_python, [str(INSPECT), "datasets", str(tmp_path / "datasets.npz")])
    seen = np.load(tmp_path / "datasets.npz")
    ours = get_named_ground_truth_data("threeDots")
    np.testing.assert_array_equal(seen["factors"],
                                  ours.sample_factors(8, np.random.RandomState(3)))
    np.testing.assert_array_equal(seen["images"],
                                  ours.sample_observations_from_factors(seen["factors"], None))
    assert seen["images"].dtype == np.float32 and seen["images"].shape == (8, 64, 64, 1)
    # The cache's training draw is the reference's: RandomState.choice over the cached images.
    levels = load_training_cache(SMALL_CACHE_IMAGES, data_root).imgs
    chosen = np.random.RandomState(5).choice(SMALL_CACHE_IMAGES, (8,))
    np.testing.assert_array_equal(seen["training"], levels_to_images(levels[chosen]))
    assert list(seen["observation_shape"]) == [64, 64, 1]
    assert str(seen["dummy"]) == "DummyData"  # disentanglement_lib's own names still resolve


@pytest.mark.parametrize(("args", "message"), [
    (["-m", "jlonevae_lib.dlib_tf.train", "--model-num", "12600"],
     "error: model number 12600 is outside disentanglement_lib's unsupervised study"),
    (["-m", "jlonevae_lib.dlib_tf.train", "--model-num", "100", "--dataset", "dsprites"],
     "error: unknown dataset 'dsprites'"),
    (["-m", "jlonevae_lib.dlib_tf.train", "--model-num", "100", "--steps", "0"],
     "error: the number of training steps must be a whole number of at least 1"),
    (["-m", "jlonevae_lib.dlib_tf.postprocess", str(REPO / "docs")],
     "is not a finished disentanglement_lib model folder"),
])
def test_bad_input_gives_one_line(dlib_python: Path, tmp_path: Path, args: list[str],
                                  message: str) -> None:
    done = subprocess.run([str(dlib_python), *args, *(["--output-dir", str(tmp_path)]
                                                      if "train" in args[1] else [])],
                          cwd=REPO, capture_output=True, text=True, env=dlib_env(), timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not list(tmp_path.iterdir())  # nothing written


def test_the_commands_explain_themselves(dlib_python: Path) -> None:
    for module in ("train", "postprocess", "step_time"):
        done = subprocess.run([str(dlib_python), "-m", f"jlonevae_lib.dlib_tf.{module}",
                               "--help"], cwd=REPO, capture_output=True, text=True,
                              env=dlib_env(), timeout=60)
        assert done.returncode == 0, done.stderr
        assert f"python -m jlonevae_lib.dlib_tf.{module}" in done.stdout



def test_step_time_times_and_traces_disentanglement_libs_step(dlib_python: Path) -> None:
    """The TensorFlow step timing that bench_baselines.py --tf reads, with its tracer: the ops
    of a β-VAE step (convolutions and their gradients, Adam) and their summed time."""
    done = subprocess.run([str(dlib_python), "-m", "jlonevae_lib.dlib_tf.step_time",
                           "--methods", "beta_vae", "--steps", "2", "--warmup", "1",
                           "--threads", "1", "--inter-op", "1", "--trace", "2"],
                          cwd=REPO, capture_output=True, text=True, env=dlib_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout[done.stdout.index("{"):])
    assert report["ms_per_step"]["beta_vae"] > 0
    assert (report["threads"], report["inter_op_threads"]) == (1, 1)
    trace = report["trace"]["beta_vae"]
    assert trace["traced_steps"] == 2 and trace["wall_ms"] > 0
    ops = trace["op_ms"]
    assert any("Conv2DBackpropFilter" in op for op in ops), list(ops)
    assert any("ApplyAdam" in op for op in ops), list(ops)
    assert trace["sum_op_ms"] == pytest.approx(sum(ops.values()), abs=0.05)
