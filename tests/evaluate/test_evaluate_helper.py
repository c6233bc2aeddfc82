"""The original's evaluate_helper as its evaluation scripts call it, and ``--dataset-config``."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

import jlonevae_lib.evaluate.evaluate_helper as evaluate
import jlonevae_lib.utils.utils_pytorch as utils_pytorch
from jlonevae_lib.architecture.export import MeanEncoder
from jlonevae_lib.architecture.vae import build_conv_vae
from jlonevae_lib.cli import evaluate as evaluate_cli
from jlonevae_lib.evaluate import evaluation
from jlonevae_lib.runs import layout
from jlonevae_lib.utils.errors import JLoneVAEError

pytestmark = [
    pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

REPO = Path(__file__).resolve().parents[2]
# Local MIG on 2 clusters of 200 points: the small config, made cheaper.
TINY_LOCAL_MIG = """evaluation.evaluation_fn = @local_mig
evaluation.random_seed = 0
local_mig.num_train = 200
local_mig.num_local_clusters = 2
local_sample_factors.continuity_cutoff = 10
discretizer.discretizer_fn = @histogram_discretizer
discretizer.num_bins = 5
local_sample_factors.locality_proportion = 0.1
"""


@pytest.fixture
def experiment(tmp_path, monkeypatch):
    """An AIcrowd-layout experiment exported as the original's training script did; returns
    (experiment folder, the metric config). The working folder is ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AICROWD_OUTPUT_PATH", str(tmp_path / "scratch"))
    monkeypatch.setenv("AICROWD_EVALUATION_NAME", "experiment")
    monkeypatch.setenv("AICROWD_DATASET_NAME", "threeDots")
    torch.manual_seed(0)
    model = build_conv_vae("defaultConv", im_channels=1, latent_dim=3).eval()
    utils_pytorch.export_model(MeanEncoder(model), input_shape=(1, 1, 64, 64))
    metric = tmp_path / "tiny_local_mig.gin"
    metric.write_text(TINY_LOCAL_MIG)
    return tmp_path / "scratch" / "experiment", metric


def original_loop(metric_configs: list[Path]) -> dict[str, float]:
    """The original evaluation.py's loop and score gathering, for these metric configs."""
    exp_config = utils_pytorch.get_config()
    experiment_output_path = os.path.join(exp_config.base_path, exp_config.experiment_name)
    gin_dataset_config = str(
        REPO / f"jlonevae_lib/config/dataset_configs/{exp_config.dataset_name}.gin")
    final_scores = {}
    for gin_eval_config in metric_configs:
        metric_name = str(gin_eval_config).split("/")[-1].replace(".gin", "")
        result_path = os.path.join(experiment_output_path, "metrics", metric_name)
        representation_path = os.path.join(experiment_output_path, "representation")
        eval_bindings = ["evaluation.random_seed = 0", f"evaluation.name = '{metric_name}'"]
        evaluate.evaluate_with_gin(representation_path, result_path, True,
                                   [str(gin_eval_config), gin_dataset_config], eval_bindings)
        path = f"{experiment_output_path}/metrics/{metric_name}/results/aggregate/evaluation.json"
        results = json.loads(Path(path).read_text())
        key = ("evaluation_results.discrete_mig" if "mig" in metric_name
               else "evaluation_results.modularity_score")
        final_scores[metric_name] = results[key]
    return final_scores


def test_original_evaluation_loop_matches_jlonevae_evaluate(experiment):
    folder, metric = experiment
    shipped = evaluation.METRICS_CONFIG_DIR / "small_local_modularity.gin"
    scores = original_loop([metric, shipped])
    assert set(scores) == {"tiny_local_mig", "small_local_modularity"}
    assert 0 <= scores["tiny_local_mig"] <= 1 and 0 < scores["small_local_modularity"] <= 1

    # The same representation evaluated by our CLI, in a run folder of its own.
    run = folder.parent / "run"
    shutil.copytree(folder / "representation", run / "representation")
    (run / "DONE").write_text("")
    (run / "config.json").write_text(json.dumps({"dataset": "threeDots"}))
    assert evaluate_cli.main([str(run), "--metrics", str(metric), "small_local_modularity",
                              "--representation", "torchscript", "--device", "cpu"]) == 0
    for name in scores:
        ours = json.loads(layout.evaluation_path(run, name).read_text())
        theirs = json.loads(layout.evaluation_path(folder, name).read_text())
        assert theirs["evaluation_config.dataset.name"] == "'threeDots'"
        for key in ours:
            if key.startswith("evaluation_results.") and key != "evaluation_results.elapsed_time":
                assert theirs[key] == pytest.approx(ours[key], rel=1e-9, abs=1e-12), key
        gin_text = (layout.metric_results_dir(folder, name) / "gin" / "evaluation.gin").read_text()
        assert "evaluation.random_seed = 0" in gin_text


def test_auto_dataset_overwrite_and_refusals(experiment, tmp_path, monkeypatch):
    folder, metric = experiment
    representation, output = folder / "representation", folder / "metrics" / "auto"
    # disentanglement_lib's metric configs say dataset.name = "auto": $AICROWD_DATASET_NAME.
    auto = ['dataset.name = "auto"', "local_sample_factors.denylist_factors = []"]
    evaluate.evaluate_with_gin(representation, output, False, [metric], auto)
    aggregate = json.loads((output / "results" / "aggregate" / "evaluation.json").read_text())
    assert aggregate["evaluation_config.dataset.name"] == "'threeDots'"

    with pytest.raises(JLoneVAEError, match="already exists"):
        evaluate.evaluate_with_gin(representation, output, False, [metric], auto)
    stale = output / "results" / "json" / "stale.json"
    stale.write_text("{}")
    evaluate.evaluate_with_gin(representation, output, True, [metric], auto)
    assert not stale.exists()
    with pytest.raises(JLoneVAEError, match="does not set dataset.name"):
        evaluate.evaluate_with_gin(representation, folder / "metrics" / "x", False, [metric])
    with pytest.raises(JLoneVAEError, match="no pytorch_model.pt"):
        evaluate.evaluate_with_gin(tmp_path, folder / "metrics" / "y", False, [metric],
                                   ['dataset.name = "threeDots"'])
    # Explicit arguments of evaluate() take the place of the evaluation.* bindings.
    gin_dataset = evaluation.DATASET_CONFIG_DIR / "threeDots.gin"
    with evaluation.gin_config([metric, gin_dataset]):
        evaluate.evaluate(representation, folder / "metrics" / "explicit", random_seed=3)
    explicit = json.loads((folder / "metrics" / "explicit" / "results" / "aggregate"
                           / "evaluation.json").read_text())
    samples = "evaluation_results.local_discrete_migs_samples"
    assert explicit[samples] != aggregate[samples]  # another draw than the config's seed 0
    assert evaluate.get_dataset_name() == "threeDots"


# --------------------------------------------------------------------------- --dataset-config
@pytest.fixture
def cli_run(experiment):
    """A finished run folder WITHOUT a recorded dataset (only --dataset-config can say it)."""
    folder, metric = experiment
    (folder / "DONE").write_text("")
    return folder, metric


def test_dataset_config_file_replaces_the_shipped_one(cli_run, tmp_path):
    run, metric = cli_run
    user = tmp_path / "my_threeDots.gin"
    user.write_text('dataset.name = "threeDots"\nlocal_sample_factors.denylist_factors = (0, 1)\n')
    assert evaluate_cli.main([str(run), "--metrics", str(metric), "--dataset-config", str(user),
                              "--device", "cpu"]) == 0
    aggregate = json.loads(layout.evaluation_path(run, "tiny_local_mig").read_text())
    assert aggregate["evaluation_config.local_sample_factors.denylist_factors"] == "(0, 1)"
    assert aggregate["evaluation_config.dataset.name"] == "'threeDots'"


@pytest.mark.parametrize(("content", "expected"), [
    (None, "does not exist"),
    ("local_sample_factors.denylist_factors = ()\n", "does not set dataset.name"),
    ('dataset.name = "cars3d"\n', "unknown dataset 'cars3d'"),
    ('dataset.name = "threeDots"\nnot gin at all\n', "cannot parse gin config"),
])
def test_bad_dataset_config_is_one_line(cli_run, tmp_path, capsys, content, expected):
    run, metric = cli_run
    user = tmp_path / "user.gin"
    if content is not None:
        user.write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        evaluate_cli.main([str(run), "--metrics", str(metric), "--dataset-config", str(user)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
    assert not (run / "metrics").exists()


def test_dataset_and_dataset_config_exclude_each_other(cli_run, capsys):
    run, metric = cli_run
    gin_file = str(evaluation.DATASET_CONFIG_DIR / "threeDots.gin")
    with pytest.raises(SystemExit) as exit_info:
        evaluate_cli.main([str(run), "--dataset", "threeDots", "--dataset-config", gin_file])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
