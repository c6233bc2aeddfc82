"""End to end: ``jlonevae-evaluate`` on a tiny three-dots model with the small configs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from jlonevae_lib.architecture.export import export_torchscript
from jlonevae_lib.architecture.save_model import save_conv_vae
from jlonevae_lib.architecture.vae import build_conv_vae
from jlonevae_lib.cli import evaluate as evaluate_cli
from jlonevae_lib.data import get_named_ground_truth_data
from jlonevae_lib.evaluate import evaluation, metrics, sampling
from jlonevae_lib.evaluate.representation import load_representation
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.metric_table import PAPER_METRICS
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.threads import DEFAULT_SPIN_COUNT

pytestmark = [
    pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

TINY_MIG = """evaluation.evaluation_fn = @mig
evaluation.random_seed = 0
mig.num_train = 400
discretizer.discretizer_fn = @histogram_discretizer
discretizer.num_bins = 20
"""
METRICS = ["small_local_mig", "small_local_modularity"]


def make_run(folder: Path, done: bool = True) -> Path:
    """A finished run: a random-weight defaultConv model, saved and exported."""
    torch.manual_seed(0)
    model = build_conv_vae("defaultConv", im_channels=1, latent_dim=10).eval()
    save_conv_vae(model, folder / "representation" / "cache_batch_no20")
    export_torchscript(model, folder)
    (folder / "config.json").write_text(json.dumps({"dataset": "threeDotsCacheSmall"}))
    if done:
        (folder / "DONE").write_text("")
    return folder


def read_aggregate(run: Path, metric: str) -> dict:
    return json.loads(layout.evaluation_path(run, metric).read_text())


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A run evaluated once with the small local configs and a tiny global MIG config."""
    root = tmp_path_factory.mktemp("eval")
    run = make_run(root / "trainedModels" / "experiment" / "seed1")
    tiny = root / "tiny_mig.gin"
    tiny.write_text(TINY_MIG)
    assert evaluate_cli.main([str(run), "--metrics", *METRICS, str(tiny), "--device", "cpu"]) == 0
    return root, run, tiny


@pytest.mark.slow
def test_results_layout_keys_and_values(evaluated, capsys):
    _, run, _ = evaluated
    aggregate = read_aggregate(run, "small_local_mig")
    assert aggregate["evaluation_config.local_sample_factors.locality_proportion"] == "0.1"
    assert aggregate["evaluation_config.dataset.name"] == "'threeDots'"
    assert aggregate["evaluation_config.evaluation.name"] == "'small_local_mig'"
    assert aggregate["evaluation_config.evaluation.evaluation_fn"] == "@local_mig"
    assert aggregate["evaluation_config.local_mig.num_local_clusters"] == "3"
    assert aggregate["evaluation_config.discretizer.num_bins"] == "5"
    assert isinstance(aggregate["evaluation_results.elapsed_time"], float)
    samples = aggregate["evaluation_results.local_discrete_migs_samples"]
    assert len(samples) == 3
    assert aggregate["evaluation_results.discrete_mig"] == pytest.approx(np.mean(samples))

    # The values are the metric of the model's codes of the reference's local draw.
    data = get_named_ground_truth_data("threeDots")
    represent = load_representation(run / "representation" / "cache_batch_no20", "cpu")
    clusters = sampling.local_codes(data, represent, 1000, 3,
                                    sampling.local_radii([64] * 6, 0.1, 10, ()),
                                    np.random.RandomState(0))
    assert samples == metrics.local_mig(clusters, 5).per_cluster
    modularity = read_aggregate(run, "small_local_modularity")
    assert (modularity["evaluation_results.local_modularity_scores_samples"]
            == metrics.local_modularity(clusters, 5).per_cluster)
    assert 0 < modularity["evaluation_results.modularity_score"] <= 1

    results = layout.metric_results_dir(run, "tiny_mig")
    assert 0 <= read_aggregate(run, "tiny_mig")["evaluation_results.discrete_mig"] <= 1
    assert "mig.num_train = 400" in (results / "gin" / "evaluation.gin").read_text()
    config = json.loads((results / "json" / "evaluation_config.json").read_text())
    assert config["mig.num_train"] == "400"
    assert "discrete_mig" in json.loads((results / "json" / "evaluation_results.json").read_text())


@pytest.mark.slow
def test_same_seed_gives_identical_results(evaluated, tmp_path):
    # A second run, in a fresh process, on a copy of the model.
    _, run, tiny = evaluated
    copy = make_run(tmp_path / "seed1")
    # Bit-identical results are promised for the same machine, seed and thread count: the
    # fresh process gets this one's (a matrix product split over other threads rounds
    # differently).
    result = subprocess.run([sys.executable, "-m", "jlonevae_lib.evaluate.evaluation", str(copy),
                             "--metrics", *METRICS, str(tiny), "--device", "cpu"],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())})
    assert result.returncode == 0, result.stderr
    for metric in [*METRICS, "tiny_mig"]:
        first, second = read_aggregate(run, metric), read_aggregate(copy, metric)
        del first["evaluation_results.elapsed_time"], second["evaluation_results.elapsed_time"]
        assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_existing_results_are_skipped(evaluated, capsys):
    _, run, _ = evaluated
    path = layout.evaluation_path(run, "small_local_mig")
    before = path.read_bytes()
    assert evaluate_cli.main([str(run), "--metrics", "small_local_mig"]) == 0
    assert path.read_bytes() == before
    out = capsys.readouterr().out
    assert "small_local_mig" in out and "existing" in out and "discrete_mig=" in out


def test_a_corrupt_existing_result_is_one_line_that_says_what_to_do(evaluated, tmp_path,
                                                                     capsys):
    _, run, _ = evaluated
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    layout.evaluation_path(copy, "small_local_mig").write_text('{"evaluation_results.discr')
    with pytest.raises(SystemExit) as exited:
        evaluate_cli.main([str(copy), "--metrics", "small_local_mig"])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert str(layout.metric_results_dir(copy, "small_local_mig").parent) in err
    assert "--overwrite" in err


@pytest.mark.parametrize(("flags", "words"), [
    (["--seed", "5"], "at evaluation seed 0, not 5"),
    (["--dataset", "mpi3d_real"], "on threeDots, not mpi3d_real")])
def test_an_existing_result_of_another_seed_or_dataset_is_not_passed_off(evaluated, flags,
                                                                        words, capsys):
    _, run, _ = evaluated
    before = layout.evaluation_path(run, "small_local_mig").read_bytes()
    with pytest.raises(SystemExit) as exited:
        evaluate_cli.main([str(run), "--metrics", "small_local_mig", *flags])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and words in err and "--overwrite" in err
    assert layout.evaluation_path(run, "small_local_mig").read_bytes() == before
    assert evaluate_cli.main([str(run), "--metrics", "small_local_mig", "--seed", "0"]) == 0


def test_a_result_another_process_wrote_meanwhile_is_checked_like_an_existing_one(
        evaluated, tmp_path):
    """Planned at seed 5 with nothing written yet; before this evaluation takes the metric's
    lock another process finishes it at seed 0: that result is refused, not reported."""
    _, run, _ = evaluated
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    results = layout.metric_results_dir(copy, "small_local_mig").parent
    other = tmp_path / "other"
    shutil.move(results, other)
    metric = evaluation.resolve_metrics(["small_local_mig"])
    plans = evaluation.plan_runs([str(copy)], metric, seed=5)
    assert plans[0].todo == metric and not plans[0].existing
    shutil.move(other, results)  # the other process finished (at seed 0)
    with pytest.raises(JLoneVAEError, match="at evaluation seed 0, not 5"):
        evaluation.evaluate_runs(plans, seed=5, device="cpu")
    plans = evaluation.plan_runs([str(copy)], metric, seed=0)
    assert list(plans[0].existing) == ["small_local_mig"]
    rows = evaluation.evaluate_runs(plans, seed=0, device="cpu")
    assert [row[1:4:2] for row in rows] == [("small_local_mig", "existing")]
    assert rows[0][2] == read_aggregate(copy, "small_local_mig")


def test_a_failed_evaluation_leaves_no_empty_metric_folder(tmp_path, monkeypatch):
    """The metric's lock makes its folder; a metric that fails removes it again (an empty
    folder would pass for a metric begun), while one computed earlier in the call stays."""
    run = make_run(tmp_path / "run")
    metrics_list = evaluation.resolve_metrics(METRICS)
    plans = evaluation.plan_runs([str(run)], metrics_list, seed=0)
    real = evaluation.evaluate_metric

    def fail_second(metric, *args, **kwargs):
        if metric.name == METRICS[1]:
            raise JLoneVAEError(f"{metric.name}: broken")
        return real(metric, *args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate_metric", fail_second)
    with pytest.raises(JLoneVAEError, match="broken"):
        evaluation.evaluate_runs(plans, seed=0, device="cpu")
    assert layout.evaluation_path(run, METRICS[0]).is_file()
    assert not layout.metric_results_dir(run, METRICS[1]).parent.exists()


def test_a_folder_that_is_not_a_run_is_named_as_such(tmp_path, capsys):
    experiment = tmp_path / "trainedModels" / "experiment"
    make_run(experiment / "seed1")
    model_file = experiment / "seed1" / "representation" / "pytorch_model.pt"  # TorchScript
    assert model_file.is_file()
    for folder, words in ((experiment, "is not a run folder"),
                          (experiment / "seed1" / "DONE", "is a file, not a run folder"),
                          (model_file, f"is a file, not a run folder; give the run folder "
                                       f"{experiment / 'seed1'} (--representation picks the "
                                       f"model file)")):
        with pytest.raises(SystemExit) as exited:
            evaluate_cli.main([str(folder), "--metrics", "small_local_mig"])
        err = capsys.readouterr().err
        assert exited.value.code == 2 and words in err and err.count("\n") == 1


def test_a_kept_model_never_passes_for_a_missing_final_one(tmp_path, capsys):
    """DONE records the final model; with it deleted, the highest kept model is refused (the
    message says how to evaluate it as what it is), and with it present it is chosen."""
    run = make_run(tmp_path / "run")
    final = layout.saved_model_dir(run, 20)
    kept = layout.saved_model_dir(run, 10)
    shutil.copytree(final, kept)
    layout.done_path(run).write_text(json.dumps({"num_batches": 20,
                                                 "model_dir": "representation/cache_batch_no20"}))
    (plan,) = evaluation.plan_runs([str(run)], evaluation.resolve_metrics(["small_local_mig"]))
    assert plan.representation == final
    shutil.rmtree(final)
    with pytest.raises(SystemExit) as exited:
        evaluate_cli.main([str(run), "--metrics", "small_local_mig"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1
    assert "final model" in err and "--at-batch 10" in err
    assert not layout.metrics_dir(run).exists()


@pytest.mark.slow
def test_overwrite_seed_and_torchscript(evaluated, tmp_path):
    run = make_run(tmp_path / "run")
    args = [str(run), "--metrics", "small_local_mig", "--device", "cpu"]
    assert evaluate_cli.main([*args, "--representation", "torchscript"]) == 0
    first = read_aggregate(run, "small_local_mig")
    assert evaluate_cli.main([*args, "--overwrite", "--seed", "3"]) == 0
    second = read_aggregate(run, "small_local_mig")
    assert second["evaluation_config.evaluation.random_seed"] == "3"
    assert (second["evaluation_results.local_discrete_migs_samples"]
            != first["evaluation_results.local_discrete_migs_samples"])


def test_module_entry_point_reports_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "jlonevae_lib.evaluate.evaluation",
                             str(tmp_path / "missing")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr == f"error: run folder {tmp_path / 'missing'} does not exist\n"


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    unfinished = make_run(tmp_path / "unfinished", done=False)
    finished = make_run(tmp_path / "finished")
    cases = [
        ([str(finished), "--metrics", "no_such_metric"], "unknown metric 'no_such_metric'"),
        ([str(finished), "--metrics", "local_mig_base"], "unknown metric 'local_mig_base'"),
        ([str(finished), "--metrics", "local_mig_0.1"],
         "unknown metric 'local_mig_0.1' (did you mean local_mig_0_1?)"),
        ([str(finished), "--metrics", str(tmp_path / "nowhere.gin")], "does not exist"),
        ([str(finished), str(unfinished), "--metrics", "small_local_mig"],
         "has not finished training"),
        ([str(finished), "--metrics", "small_local_mig", "--dataset", "nope"],
         "no dataset config for 'nope' (the package ships ones for"),
        ([str(finished), "--metrics", "small_local_mig", "--device", "tpu"], "unknown device"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            evaluate_cli.main(args)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not (finished / "metrics").exists() and not (unfinished / "metrics").exists()


def test_skip_unfinished_and_other_datasets(tmp_path, capsys):
    unfinished = make_run(tmp_path / "unfinished", done=False)
    finished = make_run(tmp_path / "finished")
    assert evaluate_cli.main([str(unfinished), str(finished), "--skip-unfinished",
                              "--only-dataset", "mpi3d_real", "--metrics", "small_local_mig"]) == 0
    out = capsys.readouterr().out
    assert "skipping" in out and "not finished" in out and "not mpi3d_real" in out
    assert not (finished / "metrics").exists()


def test_run_without_dataset_needs_the_flag(tmp_path):
    run = make_run(tmp_path / "run")
    (run / "config.json").unlink()
    with pytest.raises(SystemExit) as exit_info:
        evaluate_cli.main([str(run), "--metrics", "small_local_mig"])
    assert exit_info.value.code == 2


def test_earlier_results_are_aggregated(tmp_path):
    run = make_run(tmp_path / "run")
    json_dir = run / "representation" / "results" / "json"
    json_dir.mkdir(parents=True)
    (json_dir / "train_config.json").write_text(json.dumps({"model.name": "'beta_vae'"}))
    earlier = evaluation.previous_results(run / "representation")
    operative = "# c\ndataset.name = 'threeDots'\n"
    aggregate = evaluation.write_results(run, "m", {"discrete_mig": 0.5}, operative,
                                         evaluation.gin_dict(operative), earlier)
    assert aggregate == {"train_config.model.name": "'beta_vae'",
                         "evaluation_config.dataset.name": "'threeDots'",
                         "evaluation_results.discrete_mig": 0.5}
    assert (layout.metric_results_dir(run, "m") / "json" / "train_config.json").is_file()


def test_metric_groups_resolve():
    names = [metric.name for metric in evaluation.resolve_metrics(["paper", "mig"])]
    assert names == list(PAPER_METRICS)
    assert len(names) == 12
    assert set(PAPER_METRICS) <= set(evaluation.available_metrics())


def test_example_driver_scripts_exist():
    root = Path(__file__).resolve().parents[2]
    for script in ("experimentScripts/evaluate_jlonevae/evaluate_threeDots.bash",
                   "exampleScripts/evaluate_jlonevae_threeDots.bash"):
        path = root / script
        assert path.is_file() and shutil.which("bash")
        assert subprocess.run(["bash", "-n", str(path)]).returncode == 0


def test_cli_limits_openmp_spinning_before_torch_loads(tmp_path):
    """The evaluation CLI sets libgomp's short spin (it shares CPUs with training runs)."""
    script = ("import os, sys\n"
              "from jlonevae_lib.cli.evaluate import main\n"
              "try:\n"
              f"    main([{str(tmp_path / 'missing')!r}, '--metrics', 'mig'])\n"
              "except SystemExit:\n"
              "    pass\n"
              "print(os.environ.get('GOMP_SPINCOUNT'))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.stdout.strip() == str(DEFAULT_SPIN_COUNT), done.stderr


def test_a_kept_model_is_evaluated_into_its_own_folder(tmp_path, capsys):
    """--at-batch N evaluates representation/cache_batch_noN (a model kept at batch N), writes
    under metrics_at_batch/N/ and leaves the final model's metrics alone."""
    run = make_run(tmp_path / "run")
    torch.manual_seed(1)  # another model than the final one
    kept = build_conv_vae("defaultConv", im_channels=1, latent_dim=10).eval()
    save_conv_vae(kept, layout.saved_model_dir(run, 8))
    gin_file = tmp_path / "tiny_mig.gin"
    gin_file.write_text(TINY_MIG)
    assert evaluate_cli.main([str(run), "--metrics", str(gin_file), "--at-batch", "8",
                              "--device", "cpu"]) == 0
    name = layout.kept_metric_name("tiny_mig", 8)
    kept_result = layout.evaluation_path(run, name)
    assert kept_result == run / "metrics_at_batch" / "8" / "tiny_mig" / "results" / \
        "aggregate" / "evaluation.json"
    assert kept_result.is_file() and not layout.evaluation_path(run, "tiny_mig").exists()
    assert evaluate_cli.main([str(run), "--metrics", str(gin_file), "--device", "cpu"]) == 0
    final = json.loads(layout.evaluation_path(run, "tiny_mig").read_text())
    at_8 = json.loads(kept_result.read_text())
    key = "evaluation_results.discrete_mig"
    assert final[key] != at_8[key]  # two models, two scores
    with pytest.raises(SystemExit) as exit_:
        evaluate_cli.main([str(run), "--metrics", str(gin_file), "--at-batch", "9"])
    assert exit_.value.code == 2
    assert "kept no model at batch 9" in capsys.readouterr().err


def test_kept_metric_names_round_trip():
    assert layout.parse_kept_metric_name(layout.kept_metric_name("local_mig_0_1", 8000)) == (
        "local_mig_0_1", 8000)
    assert layout.parse_kept_metric_name("local_mig_0_1_evalseed1") == (
        "local_mig_0_1_evalseed1", None)


def test_a_metric_config_named_like_a_kept_models_result_is_refused(tmp_path):
    # <metric>@<N> is how a study names a result of the model kept at batch N: a file
    # my_metric@5.gin would be filed under metrics_at_batch/5/.
    config = tmp_path / "my_metric@5.gin"
    config.write_text("evaluation.evaluation_fn = @mig\n")
    with pytest.raises(JLoneVAEError, match=r"my_metric@5.gin: a metric's name .* may not hold "
                                            r"'@'; rename the file"):
        evaluation.resolve_metrics([str(config)])
