"""Plug-ins (utils/plugins.py): the example package of docs/plugins.md, built here from that page
and "installed" without pip (its folder and a ``.dist-info`` on ``sys.path``), registers an
objective, an architecture, a dataset, a metric and a study that the registries, training,
evaluation and studies find by name; a broken plug-in is one line naming it."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from jlonevae_lib.architecture import registry as architectures
from jlonevae_lib.architecture import save_model
from jlonevae_lib.data import ground_truth
from jlonevae_lib.runs import layout, metric_table, results
from jlonevae_lib.sweep import studies
from jlonevae_lib.train import objectives
from jlonevae_lib.utils import plugins
from jlonevae_lib.utils.errors import JLoneVAEError

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "plugins.md"
EXAMPLE = "my_jlonevae_plugins"


def doc_files() -> dict[str, str]:
    """The page's code blocks whose first line is ``# <file name>``, by that name."""
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", DOC.read_text(encoding="utf-8"),
                        flags=re.MULTILINE | re.DOTALL)
    named = (re.fullmatch(r"# ([\w/.-]+\.(?:py|toml|gin))", block.partition("\n")[0])
             for block in blocks)
    return {match.group(1): block for match, block in zip(named, blocks, strict=True) if match}


def install(site: Path, distribution: str, files: Mapping[str, str],
            entry_points: Mapping[str, Mapping[str, str]]) -> None:
    """Write ``files`` under ``site`` with the ``.dist-info`` folder pip would write beside
    them: what ``importlib.metadata`` reads the entry points from."""
    for name, text in files.items():
        path = site / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    dist_info = site / f"{distribution.replace('-', '_')}-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1\n", encoding="utf-8")
    (dist_info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in points.items())
        for group, points in entry_points.items()), encoding="utf-8")


def entry_point_tables(pyproject: str) -> tuple[str, dict[str, dict[str, str]]]:
    """The project's name and its ``[project.entry-points."<group>"]`` tables (a reader of
    just these: tomllib is not in Python 3.10)."""
    name = re.search(r'^name = "([^"]+)"$', pyproject, flags=re.MULTILINE).group(1)
    tables = re.findall(r'^\[project\.entry-points\."([^"]+)"\]\n((?:\w+ = "[^"]+"\n)+)',
                        pyproject, flags=re.MULTILINE)
    return name, {group: dict(re.findall(r'^(\w+) = "([^"]+)"$', body, flags=re.MULTILINE))
                  for group, body in tables}


def install_example(site: Path) -> None:
    files = doc_files()
    distribution, entry_points = entry_point_tables(files["pyproject.toml"])
    package = {name: text for name, text in files.items() if name.startswith(f"{EXAMPLE}/")}
    install(site, distribution, {f"{EXAMPLE}/__init__.py": "", **package}, entry_points)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on ``sys.path`` for plug-ins, with every registry restored afterwards."""
    # The built-ins first, so that they are in the copies the test registers into.
    for available in (objectives.available_objectives, architectures.available_architectures,
                      ground_truth.available_datasets, studies.available_studies):
        available()
    for module in (objectives, architectures, ground_truth, studies):
        monkeypatch.setattr(module, "_REGISTRY", dict(module._REGISTRY))
    monkeypatch.setattr(ground_truth, "_WITHOUT_FACTORS", set(ground_truth._WITHOUT_FACTORS))
    monkeypatch.setattr(ground_truth, "_EVALUATED_ON", dict(ground_truth._EVALUATED_ON))
    monkeypatch.setattr(ground_truth, "_DATASET_CONFIGS", dict(ground_truth._DATASET_CONFIGS))
    monkeypatch.setattr(save_model, "MODEL_TYPES", dict(save_model.MODEL_TYPES))
    monkeypatch.setattr(metric_table, "_REGISTRY", dict(metric_table.BUILTIN_SCORES))
    monkeypatch.setattr(results, "_OBJECTIVE_LABELS", {})
    monkeypatch.setattr(plugins, "_LOADED", set())
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    yield site
    # The plug-ins' modules only: a later test's plug-in of the same name is a new module.
    for name, module in list(sys.modules.items()):
        if Path(getattr(module, "__file__", None) or "/").is_relative_to(site):
            del sys.modules[name]


@pytest.fixture
def example(site: Path) -> Path:
    install_example(site)
    return site


def test_the_example_declares_every_group():
    assert set(entry_point_tables(doc_files()["pyproject.toml"])[1]) == set(plugins.GROUPS)


def test_the_example_registers_its_objective_architecture_dataset_and_study(example):
    from jlonevae_lib.architecture.vae import ConvVAE
    from jlonevae_lib.sweep.studies import get_study, plan_study
    from jlonevae_lib.train.config import TrainConfig

    method = objectives.objective_class("my_method")
    assert method.name == "my_method" and "my_method" in objectives.available_objectives()
    model = architectures.build_architecture("myConv", 1, 3)
    assert isinstance(model, ConvVAE) and model.im_side_len == 16
    assert type(architectures.build_architecture("myDense", 1, 3)).__name__ == "DenseVAE"
    data = ground_truth.get_named_ground_truth_data("myData")
    assert data.image_shape == (1, 16, 16) and not ground_truth.lacks_ground_truth_factors("myData")
    config = TrainConfig(objective="my_method", architecture="myConv", dataset="myData",
                         gamma=0.0, annealing_batches=0, latent_dim=3)
    assert config.objective_params == {"sparsity": 0.1, "weight": 2.0}
    assert config.experiment_name.startswith("myConv_my_method_sparsity0_1000_weight2_0000_lat3")
    members = plan_study(get_study("myStudy")).members
    assert [member.config.seed for member in members] == [1, 2, 3]


def test_the_example_dataset_draws_a_square(example):
    import numpy as np

    data = ground_truth.get_named_ground_truth_data("myData")
    images = data.sample_observations_from_factors(np.array([[0, 12]]), np.random.RandomState(0))
    assert images.shape == (1, 16, 16, 1) and images.sum() == 16
    assert images[0, :4, 12:, 0].all()


def test_the_example_model_of_its_own_class_saves_and_loads_by_its_type(example, tmp_path):
    import torch

    from jlonevae_lib.architecture.load_model import load_model

    torch.manual_seed(0)
    model = architectures.build_architecture("myDense", 1, 3)
    folder = save_model.save_model(model, tmp_path / "model")
    assert (folder / "model_type.txt").read_text() == "my_dense_vae"
    # Loading in a process that has not imported the plug-in finds the type through it.
    del save_model.MODEL_TYPES["my_dense_vae"]
    del sys.modules[f"{EXAMPLE}.architectures"]
    plugins._LOADED.clear()
    loaded = load_model(folder)
    assert type(loaded).__name__ == "DenseVAE" and loaded.model_args == model.model_args
    x = torch.rand(2, 1, 16, 16)
    torch.testing.assert_close(loaded.encode(x), model.encode(x), rtol=0, atol=0)


@pytest.mark.parametrize("lookup", [
    lambda: objectives.objective_class("nope"),
    lambda: architectures.check_architecture("nope"),
    lambda: ground_truth.get_named_ground_truth_data("nope"),
    lambda: studies.get_study("nope"),
])
def test_unknown_names_point_to_plugins(lookup):
    with pytest.raises(JLoneVAEError, match=r"unknown .*; a plug-in package registers more: "
                                            r"docs/plugins\.md$"):
        lookup()


def test_a_broken_plugin_is_one_line_naming_it_every_time(site):
    install(site, "broken-plugin", {"broken_plugin/__init__.py": "import no_such_module_xyz\n"},
            {plugins.OBJECTIVES: {"broken": "broken_plugin"}})
    message = ("plug-in 'broken-plugin' (entry point jlonevae.objectives: broken = broken_plugin) "
               "failed to import: ModuleNotFoundError: No module named 'no_such_module_xyz'; "
               "fix or uninstall it")
    for _ in range(2):  # not remembered as loaded: the next lookup says it again
        with pytest.raises(JLoneVAEError) as raised:
            objectives.objective_class("beta_vae")
        assert str(raised.value) == message


def test_a_plugin_taking_a_builtin_name_is_refused(site):
    code = ("from jlonevae_lib.train.objectives import objective_class, register_objective\n"
            "register_objective('beta_vae')(objective_class('jlonevae'))\n")
    install(site, "greedy-plugin", {"greedy_plugin.py": code},
            {plugins.OBJECTIVES: {"beta_vae": "greedy_plugin"}})
    with pytest.raises(JLoneVAEError, match=r"^plug-in 'greedy-plugin' .* ValueError: objective "
                                            r"name 'beta_vae' is already registered; fix"):
        objectives.available_objectives()


def metric_module(name: str) -> str:
    return (f"import gin\n\n@gin.configurable({name!r})\n"
            "def score(ground_truth_data, representation_function, random_state=None,\n"
            "          draw_cache=None):\n    return {'score': 0.0}\n")


@pytest.fixture
def gin_registry():
    """gin's registry as it was: a plug-in's configurables would outlive its test."""
    import gin

    import jlonevae_lib.evaluate.evaluation  # noqa: F401 - the package's own stay registered
    before = {selector for selector, _ in gin.config._REGISTRY.items()}
    yield
    for selector in [s for s, _ in gin.config._REGISTRY.items() if s not in before]:
        gin.config._REGISTRY.pop(selector)


def test_the_example_metric_registers_its_score(example, gin_registry):
    """Reading the metric table imports the metric plug-ins: the example's score is classified,
    named and labelled as the package's own are, after them."""
    from jlonevae_lib.runs.metric_table import file_scores, global_scores, parse_metric_name

    assert global_scores()[-1] == "code_spread"
    assert metric_table.describe("code_spread", None) == "code spread"
    assert parse_metric_name("code_spread") == ("code_spread", None)
    data = {"evaluation_config.evaluation.evaluation_fn": "@my_code_spread",
            "evaluation_results.code_spread": 0.5}
    assert file_scores(data, local=False) == ("code_spread",)


def test_the_example_objectives_runs_carry_its_label(example, tmp_path):
    """The label its registration gives names its runs in figures and tables: the results
    reader imports the objectives' plug-ins to find it."""
    from jlonevae_lib.runs.results import configured_baseline_info, method_label

    run = tmp_path / "myConv_my_method_lat3" / "seed1"
    run.mkdir(parents=True)
    layout.config_path(run).write_text(json.dumps({"objective": "my_method"}))
    info = configured_baseline_info(run)
    assert (info.method, info.label, info.group) == ("my_method", "sparse β-VAE",
                                                     "baseline:my_method")
    assert method_label("factor_vae") == "FactorVAE"
    assert method_label("no_such_method") == "no_such_method"


def test_an_objective_label_is_one_line_and_never_a_packaged_methods(site):
    from jlonevae_lib.runs.results import register_objective_label

    with pytest.raises(JLoneVAEError, match="'factor_vae' is one of the package's"):
        register_objective_label("factor_vae", "mine")
    with pytest.raises(JLoneVAEError, match="a label is one line of text"):
        register_objective_label("my_method", "two\nlines")


def test_a_redefined_objective_takes_its_new_label_or_none(site):
    """A notebook cell run again: the new definition's label replaces the old one's; without
    one, the runs are labelled by the name again."""
    from jlonevae_lib.runs.results import method_label
    from jlonevae_lib.train.objectives.dlib_vae import DlibVAE

    def define(label):
        class NotebookMethod(DlibVAE):
            pass
        NotebookMethod.__qualname__ = "NotebookMethod"  # the same definition site each time
        objectives.register_objective("nb_method", label=label)(NotebookMethod)

    define("old label")
    assert method_label("nb_method") == "old label"
    define("new label")
    assert method_label("nb_method") == "new label"
    define(None)
    assert method_label("nb_method") == "nb_method"


def test_a_broken_objective_plugin_leaves_runs_labelled_by_name(site, monkeypatch):
    from jlonevae_lib.runs.results import method_label

    def broken(group):
        raise JLoneVAEError("plug-in 'x' (entry point ...) failed to import: boom")

    monkeypatch.setattr("jlonevae_lib.runs.results.load_plugins", broken)
    assert method_label("my_method") == "my_method"


def test_a_plugin_score_taking_a_key_of_the_package_is_refused(site):
    code = ("from jlonevae_lib.runs.metric_table import Score, register_score\n"
            "register_score(Score('mig', 'my MIG', 'my_mig', False, (), ('my_mig',)))\n")
    install(site, "greedy-score", {"greedy_score.py": code},
            {plugins.METRICS: {"mig": "greedy_score"}})
    for _ in range(2):  # not remembered as loaded: the next lookup says it again
        with pytest.raises(JLoneVAEError, match=r"^plug-in 'greedy-score' \(entry point "
                                                r"jlonevae\.metrics: mig = greedy_score\) failed "
                                                r"to import: JLoneVAEError: score key 'mig' is "
                                                r"already registered \(a score of the package: "
                                                r"MIG\); choose another key; fix or uninstall it$"):
            metric_table.scores()


def test_a_plugin_metric_taking_a_name_of_the_package_is_refused(site, gin_registry):
    from jlonevae_lib.evaluate import evaluation

    install(site, "shadow-plugin", {"shadow_plugin/__init__.py": "",
                                    "shadow_plugin/metrics.py": metric_module("mig")},
            {plugins.METRICS: {"mig": "shadow_plugin.metrics"}})
    message = (r"^plug-in 'shadow-plugin' \(entry point jlonevae\.metrics: mig = "
               r"shadow_plugin\.metrics\) registers the gin configurable 'mig' "
               r"\(shadow_plugin\.metrics\.mig\), a name a configurable of the package already "
               r"has: a config's @mig cannot tell them apart; give it another name; fix or "
               r"uninstall it$")
    for _ in range(2):  # the module is imported once; the check holds every time
        with pytest.raises(JLoneVAEError, match=message):
            evaluation.load_metric_plugins()


def test_two_plugin_metrics_of_one_name_are_refused(site, gin_registry):
    from jlonevae_lib.evaluate import evaluation

    for package in ("first_spread", "second_spread"):
        install(site, package.replace("_", "-"), {f"{package}.py": metric_module("spread")},
                {plugins.METRICS: {"spread": package}})
    with pytest.raises(JLoneVAEError, match=r"registers the gin configurable 'spread' "
                                            r"\((first|second)_spread\.spread\), a name "
                                            r"(first|second)_spread\.spread already has"):
        evaluation.load_metric_plugins()


def test_a_plugin_may_look_names_up_while_it_is_imported(site):
    """The group counts as loaded from the start: the plug-in's lookup does not import it
    again (which would register its name twice)."""
    code = ("from jlonevae_lib.architecture.registry import available_architectures, "
            "build_architecture, register_architecture\n"
            "assert 'tiny16' in available_architectures()\n"
            "register_architecture('tiny16_again')(\n"
            "    lambda channels, dim: build_architecture('tiny16', channels, dim))\n")
    install(site, "curious-plugin", {"curious_plugin.py": code},
            {plugins.ARCHITECTURES: {"tiny16_again": "curious_plugin"}})
    assert "tiny16_again" in architectures.available_architectures()


def test_an_entry_point_may_name_an_attribute(site):
    code = ("from jlonevae_lib.sweep.studies import get_study, register_study\n"
            "study = register_study('threeDots_again')(lambda: get_study('threeDots'))\n")
    install(site, "attr-plugin", {"attr_plugin.py": code},
            {plugins.STUDIES: {"threeDots_again": "attr_plugin:study"}})
    assert "threeDots_again" in studies.available_studies()
    install(site, "bad-attr-plugin", {"bad_attr_plugin.py": ""},
            {plugins.STUDIES: {"missing": "bad_attr_plugin:missing"}})
    importlib.invalidate_caches()
    plugins._LOADED.clear()
    with pytest.raises(JLoneVAEError, match="bad_attr_plugin:missing.* failed to import: "
                                            "AttributeError"):
        studies.available_studies()


@pytest.mark.slow
def test_train_and_evaluate_with_the_example_from_the_command_lines(example, tmp_path):
    """jlonevae-train and jlonevae-evaluate in fresh interpreters find the plug-in's objective,
    architecture, dataset and metric through its entry points alone."""
    from jlonevae_lib.cli.train import build_parser, config_from_args

    # The metric's config is the user's own file; the dataset's ships inside the package.
    configs = {name: text for name, text in doc_files().items()
               if name.endswith(".gin") and "/" not in name}
    for name, text in configs.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(example), str(REPO)]),
           "OMP_NUM_THREADS": "1"}

    def run(module: str, *flags: str) -> str:
        done = subprocess.run([sys.executable, "-m", f"jlonevae_lib.cli.{module}", *flags],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    flags = ["--objective", "my_method", "--architecture", "myConv", "--dataset", "myData",
             "--latent-dim", "3", "--batch-size", "4", "--num-batches", "2", "--device", "cpu",
             "--param", "sparsity=0.5"]
    run("train", *flags)
    run_dir = tmp_path / config_from_args(build_parser().parse_args(flags)).run_dir
    assert run_dir.parent.name.startswith("myConv_my_method_sparsity0_5000_weight2_0000_lat3")
    assert (run_dir / "DONE").is_file()
    # The dataset config its registration names serves the package's local metrics too.
    console = run("evaluate", str(run_dir), "--metrics", "my_code_spread.gin", "small_local_mig",
                  "--device", "cpu")
    result_file = (run_dir / "metrics" / "my_code_spread" / "results" / "aggregate"
                   / "evaluation.json").read_text(encoding="utf-8")
    assert '"evaluation_results.code_spread"' in result_file
    assert layout.evaluation_path(run_dir, "small_local_mig").is_file()
    # The score the plug-in registers is where a user looks: the console's scores column and
    # the all-metrics figure's table, after the package's own.
    assert re.search(r"  my_code_spread  +code_spread=\d\.\d{4}  ", console), console
    run("plot", "all-metrics", "--models-dir", str(run_dir.parents[1]), "--locality", "global",
        "--output-dir", str(tmp_path / "figures"))
    (table,) = (tmp_path / "figures").glob("*allMetrics_global.csv")
    assert [row.split(",")[0] for row in table.read_text(encoding="utf-8").splitlines()[1:]] \
        == ["code spread"]
    # A network of the plug-in's own class, with the Jacobian penalty: saved as its type by one
    # interpreter, loaded by another to be evaluated.
    flags = ["--objective", "jlonevae", "--gamma", "0.1", "--architecture", "myDense",
             "--dataset", "myData", "--latent-dim", "3", "--batch-size", "4", "--num-batches",
             "2", "--device", "cpu"]
    run("train", *flags)
    run_dir = tmp_path / config_from_args(build_parser().parse_args(flags)).run_dir
    assert (run_dir / "DONE").is_file()
    run("evaluate", str(run_dir), "--metrics", "small_local_mig", "--device", "cpu")
    assert layout.evaluation_path(run_dir, "small_local_mig").is_file()


def test_the_registered_dataset_config_is_found_by_name_and_checked(example, tmp_path):
    from jlonevae_lib.evaluate.evaluation import dataset_config

    assert dataset_config("myData") == example / EXAMPLE / "myData.gin"
    assert dataset_config("threeDots").parent.name == "dataset_configs"  # the shipped one
    wrong = tmp_path / "wrong.gin"
    wrong.write_text('dataset.name = "threeDots"\n', encoding="utf-8")
    ground_truth.register_ground_truth_data("wrongData", dataset_config=wrong)(
        ground_truth.get_named_ground_truth_data("myData").__class__)
    with pytest.raises(JLoneVAEError, match=r"sets dataset.name = 'threeDots'; make it "
                                            r"'wrongData'"):
        dataset_config("wrongData")
    wrong.unlink()
    with pytest.raises(JLoneVAEError, match="that dataset 'wrongData' was registered with "
                                            "does not exist"):
        dataset_config("wrongData")
    ground_truth.register_ground_truth_data("bareData")(
        ground_truth.get_named_ground_truth_data("myData").__class__)
    with pytest.raises(JLoneVAEError, match=r"no dataset config for 'bareData' \(the package "
                                            r"ships ones for .*register_ground_truth_data\("):
        dataset_config("bareData")
