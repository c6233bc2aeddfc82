"""``jlonevae-plot``: every subcommand on the fixture tree, and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from jlonevae_lib.architecture.save_model import save_conv_vae
from jlonevae_lib.architecture.vae import build_conv_vae
from jlonevae_lib.cli.plot import _default_inputs, main
from jlonevae_lib.data.mpi3d import Mpi3dMulti
from jlonevae_lib.data.natural_images import figure_crops
from jlonevae_lib.visualize.inputs import example_mpi3d_multi_image, example_three_dots_image
from tests.visualize.dataset_fixtures import (
    MPI3D_BETA_EXPERIMENT,
    MPI3D_JL1_EXPERIMENT,
    MPI3D_RUN,
    NATURAL_JL1_EXPERIMENT,
    NATURAL_RUN,
)
from tests.visualize.figure_checks import assert_real_png
from tests.visualize.result_fixtures import BETA_EXPERIMENT, JL1_EXPERIMENT


def record_calls(monkeypatch: pytest.MonkeyPatch, module: object, name: str,
                 record: Callable[[Any], Any]) -> list:
    """Wrap the figure function ``module.name``: each call appends ``record`` of its first
    argument (what it draws) to the list returned, then draws."""
    calls = []
    real = getattr(module, name)

    def spy(first: Any, **kwargs: Any) -> Any:
        calls.append(record(first))
        return real(first, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


def test_jacobian_columns_of_a_run_as_the_main_job_calls_it(tiny_run: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    output = tmp_path / "run" / "figures" / "jacobian_columns.png"
    assert main(["jacobian-columns", str(tiny_run), "--output", str(output)]) == 0
    assert_real_png(output)
    assert f"wrote {output.with_suffix('.pdf')}" in capsys.readouterr().out


def test_with_demo_draws_the_demo_rows_above_the_given_model(tiny_run: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture) -> None:
    import jlonevae_lib.visualize.jacobian_columns as jacobian_columns

    drawn = record_calls(monkeypatch, jacobian_columns, "plot_jacobian_columns",
                         lambda rows: [label for label, _ in rows])
    alone, compared = tmp_path / "alone.png", tmp_path / "compared.png"
    main(["jacobian-columns", str(tiny_run), "--output", str(alone), "--max-columns", "3"])
    main(["jacobian-columns", str(tiny_run), "--with-demo", "--output", str(compared),
          "--max-columns", "3"])
    assert ("--with-demo: the checkpoints shipped with the package (CPU-scale demo"
            in capsys.readouterr().out)
    assert_real_png(compared)
    # Three rows (β-VAE, JL1-VAE, the run) instead of one; the demo's say so, the run's not.
    assert Image.open(compared).size[1] > 2.5 * Image.open(alone).size[1]
    (mine,), (beta, jl1, run) = drawn
    assert beta.startswith("β-VAE") and jl1.startswith("JL1-VAE")
    assert beta.endswith(" (demo)") and jl1.endswith(" (demo)") and run == mine
    assert not mine.endswith("(demo)")


def test_labels_name_the_rows_one_per_model(tiny_run: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture) -> None:
    import jlonevae_lib.visualize.jacobian_columns as jacobian_columns

    drawn = record_calls(monkeypatch, jacobian_columns, "plot_jacobian_columns",
                         lambda rows: [label for label, _ in rows])
    output = tmp_path / "labelled.png"
    assert main(["jacobian-columns", str(tiny_run), str(tiny_run), "--label", "first\nseed1",
                 "--label", "second", "--output", str(output)]) == 0
    assert drawn == [["first\nseed1", "second"]]
    assert_real_png(output)
    with pytest.raises(SystemExit) as exit_info:
        main(["jacobian-columns", str(tiny_run), str(tiny_run), "--label", "only one",
              "--output", str(tmp_path / "bad.png")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: 1 --label for 2 models")
    assert not (tmp_path / "bad.png").exists()


def test_jacobian_columns_of_several_models_and_images(results_tree: Path, tmp_path: Path) -> None:
    models = results_tree / "trainedModels"
    checkpoint = models / BETA_EXPERIMENT / "seed1" / "representation" / "cache_batch_no5"
    images = np.random.default_rng(0).integers(0, 256, (2, 64, 64), dtype=np.uint8)
    np.save(tmp_path / "crops.npy", images)
    output = tmp_path / "grid.png"
    main(["jacobian-columns", str(models / JL1_EXPERIMENT / "seed1"), str(checkpoint),
          "--image", str(tmp_path / "crops.npy"), "--order", "first", "--scale", "max",
          "--max-columns", "2", "--output", str(output)])
    assert_real_png(output)
    # 2 models × 2 images = 4 rows of input, reconstruction and 2 columns: taller than wide.
    height, width = Image.open(output).size[::-1]
    assert height > 0.8 * width


def test_default_input_follows_the_models_input_shape(mpi3d_data_root: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(mpi3d_data_root))
    three_dots = _default_inputs(1, 64)
    np.testing.assert_array_equal(three_dots.images, example_three_dots_image())
    assert three_dots.order == "each"
    crops = _default_inputs(1, 16)
    np.testing.assert_array_equal(crops.images, figure_crops(mpi3d_data_root).images)
    # Ordered once, by the first crop; each row says which crop it shows.
    assert crops.order == "first" and crops.captions[0] == "crop x=40, y=100"
    assert len(crops.captions) == 10 and crops.captions[-1] == "crop x=49, y=100"
    mpi3d = _default_inputs(3, 64)
    np.testing.assert_array_equal(mpi3d.images,
                                  example_mpi3d_multi_image(Mpi3dMulti(mpi3d_data_root)))
    assert mpi3d.order == "each"


def test_natural_image_model_shows_the_ten_crops_by_default(datasets_tree: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(datasets_tree / "data"))
    run = datasets_tree / "trainedModels" / NATURAL_JL1_EXPERIMENT / NATURAL_RUN
    output = tmp_path / "crops.png"
    assert main(["jacobian-columns", str(run), "--output", str(output)]) == 0
    assert_real_png(output)
    # One row per crop (input, reconstruction, 3 columns): much taller than wide.
    height, width = Image.open(output).size[::-1]
    assert height > 2 * width
    traversal = tmp_path / "traversal.png"  # of the first crop
    main(["traversals", str(run), "--steps", "3", "--output", str(traversal)])
    assert_real_png(traversal, min_variance=1e-3)


def test_mpi3d_multi_models_show_the_example_by_default(mpi3d_data_root: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(mpi3d_data_root))
    models = mpi3d_data_root.parent / "trainedModels"
    output = tmp_path / "mpi3d.png"
    main(["jacobian-columns", str(models / MPI3D_BETA_EXPERIMENT / MPI3D_RUN),
          str(models / MPI3D_JL1_EXPERIMENT / MPI3D_RUN), "--output", str(output)])
    assert_real_png(output)
    height, width = Image.open(output).size[::-1]
    assert height < width  # two rows: one example image per model


@pytest.mark.parametrize(("experiment", "run", "message"), [
    # IMAGES.mat damaged: refused (only a missing one is stood in for by the offline fallback).
    (NATURAL_JL1_EXPERIMENT, NATURAL_RUN,
     "the default input of a 1×16×16 model needs data: natural-image source "),
    (MPI3D_JL1_EXPERIMENT, MPI3D_RUN,
     "the default input of a 3×64×64 model needs data: MPI3D data not found: "),
])
def test_missing_default_data_is_one_line_and_exit_2(experiment: str, run: str, message: str,
                                                     datasets_tree: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path / "no_data"))
    (tmp_path / "no_data" / "naturalImages").mkdir(parents=True)
    (tmp_path / "no_data" / "naturalImages" / "IMAGES.mat").write_bytes(b"not a MAT file")
    with pytest.raises(SystemExit) as exit_info:
        main(["jacobian-columns", str(datasets_tree / "trainedModels" / experiment / run),
              "--output", str(tmp_path / "out.png")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1, err
    assert err.endswith("; or pass --image FILE\n")
    assert not list(tmp_path.glob("out.*"))


def test_natural_image_model_without_images_mat_shows_the_fallback_crops(
        datasets_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    """A fresh offline machine: the crops figure is drawn from the offline fallback, and says so."""
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path / "no_data"))
    output = tmp_path / "crops.png"
    assert main(["jacobian-columns", str(datasets_tree / "trainedModels" / NATURAL_JL1_EXPERIMENT
                                         / NATURAL_RUN), "--output", str(output)]) == 0
    assert_real_png(output)
    assert "offline fallback" in capsys.readouterr().err


def test_a_model_of_another_shape_needs_image(tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    save_conv_vae(build_conv_vae("tiny16", im_channels=3, latent_dim=2), tmp_path / "rgb16")
    with pytest.raises(SystemExit) as exit_info:
        main(["jacobian-columns", str(tmp_path / "rgb16"), "--output", str(tmp_path / "o.png")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no default input image for a 3×16×16 model") and \
        err.endswith("pass --image\n")

def test_traversals(tiny_run: Path, tmp_path: Path) -> None:
    Image.fromarray(np.full((64, 64), 255, dtype=np.uint8)).save(tmp_path / "white.png")
    output = tmp_path / "traversals.png"
    main(["traversals", str(tiny_run), "--image", str(tmp_path / "white.png"), "--steps", "3",
          "--sigma", "prior", "--output", str(output)])
    assert_real_png(output, min_variance=1e-3)  # random weights: near-uniform gray images


def test_traversals_of_the_demo_beside_a_given_model(tiny_run: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    import jlonevae_lib.visualize.traversals as traversals

    drawn = record_calls(monkeypatch, traversals, "plot_traversals", list)
    alone, compared = tmp_path / "alone.png", tmp_path / "compared.png"
    main(["traversals", str(tiny_run), "--steps", "3", "--label", "mine",
          "--output", str(alone)])
    main(["traversals", str(tiny_run), "--with-demo", "--steps", "3", "--label", "mine",
          "--output", str(compared)])
    assert ("--with-demo: the checkpoints shipped with the package (CPU-scale demo"
            in capsys.readouterr().out)
    assert_real_png(compared)
    # Three grids (β-VAE, JL1-VAE, the run) side by side instead of one: wider, each titled
    # by its model, the demo's as the demo's, with the model's own latents.
    assert Image.open(compared).size[0] > 2.5 * Image.open(alone).size[0]
    (mine,), (beta, jl1, run) = drawn
    assert mine[0] == run[0] == "mine (posterior σ)"
    assert beta[0].startswith("β-VAE") and beta[0].endswith(" (demo) (posterior σ)")
    assert jl1[0].startswith("JL1-VAE") and "\n" not in jl1[0]
    assert run[1].images.shape[:2] == (3, 3)
    assert beta[1].images.shape[1] == 3 and beta[1].images.shape[0] != 3
    # Without a model: the demo's two grids.
    main(["traversals", "--steps", "3", "--output", str(tmp_path / "demo.png")])
    assert [title for title, _ in drawn[-1]] == [beta[0], jl1[0]]


def test_result_commands_write_figures_and_tables(results_tree: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    common = ["--models-dir", str(results_tree / "trainedModels"),
              "--baselines-dir", str(results_tree / "trainedStandardModels"),
              "--output-dir", str(tmp_path), "--prefix", "fx"]
    main(["compare-baselines", *common])
    main(["vs-locality", *common])
    main(["scatter", *common, "--locality", "global"])
    out = capsys.readouterr().out
    assert "FactorVAE: 2 run(s) with results" in out
    factor_vae = results_tree / "trainedStandardModels" / "400"  # model 400: FactorVAE
    ours = sorted((results_tree / "trainedModels" / JL1_EXPERIMENT).glob("seed*"))
    main(["compare-baselines", *common, "--prefix", "one", "--run", str(factor_vae),
          *(arg for run in ours for arg in ("--run", str(run)))])
    assert "FactorVAE: 1 run(s) with results" in capsys.readouterr().out
    for name in ("local_mig_0_1_compareToStandard", "local_modularity_0_1_compareToStandard",
                 "local_mig_varyingRho", "local_modularity_varyingRho", "local_mig_L1vsL2",
                 "local_modularity_L1vsL2", "mig_vs_modularity_global"):
        assert_real_png(tmp_path / f"fx_{name}.png")
    for table in ("compareToStandard_0_1_ttests", "varyingRho_ttests", "L1vsL2_ttests",
                  "mig_vs_modularity_global_summary"):
        assert (tmp_path / f"fx_{table}.csv").is_file()
        assert (tmp_path / f"fx_{table}.md").read_text().startswith("| ")


def test_nothing_to_plot_is_a_user_error(results_tree: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["vs-locality", "--models-dir", str(results_tree / "trainedModels"),
              "--comparison", "l1-vs-l2", "--gamma", "0.4", "--output-dir", str(tmp_path)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: nothing to plot: JL1-VAE (γ=0.4)")


@pytest.mark.parametrize(("argv", "message"), [
    (["compare-baselines", "--models-dir", "no/such/folder"], "models folder"),
    (["jacobian-columns", "{run}", "--image", "no/such/image.npy", "--output", "out.png"],
     "image file"),
    (["scatter", "--models-dir", "{run}", "--regularization", "jltwo"],
     "no JL2-VAE (jltwo) results found for the scatter plot: train and evaluate"),
    (["all-metrics", "--models-dir", "{run}", "--dataset", "threeDotz"],
     "unknown dataset 'threeDotz'"),
])
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str, tiny_run: Path,
                                          tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = [arg.replace("{run}", str(tiny_run)) for arg in argv]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1, err
    assert not list(tmp_path.glob("out.*"))


def test_bad_output_name_fails_while_parsing(tiny_run: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["jacobian-columns", str(tiny_run), "--output", "out.jpg"])
    assert exit_info.value.code == 2
    assert "must end in .png" in capsys.readouterr().err


def test_missing_folder_from_the_shell(tmp_path: Path) -> None:
    """As a user sees it: exit status 2, one line on stderr, no traceback."""
    done = subprocess.run([sys.executable, "-m", "jlonevae_lib.visualize.cli",
                           "jacobian-columns", "no/such/run", "--output", "out.png"],
                          cwd=tmp_path, env={**os.environ, "MPLBACKEND": "Agg"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr == ("error: no/such/run does not exist; pass a run folder or a "
                           "saved-model folder\n")
    assert done.stdout == "" and not (tmp_path / "out.png").exists()
