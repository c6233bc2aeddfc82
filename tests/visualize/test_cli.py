"""``jlonevae-plot``: every subcommand on the fixture tree, and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jlonevae_lib.visualize.cli import main
from tests.visualize.figure_checks import assert_real_png
from tests.visualize.result_fixtures import BETA_EXPERIMENT, JL1_EXPERIMENT


def test_jacobian_columns_of_a_run_as_the_main_job_calls_it(tiny_run: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    output = tmp_path / "run" / "figures" / "jacobian_columns.png"
    assert main(["jacobian-columns", str(tiny_run), "--output", str(output)]) == 0
    assert_real_png(output)
    assert f"wrote {output.with_suffix('.pdf')}" in capsys.readouterr().out


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


def test_traversals(tiny_run: Path, tmp_path: Path) -> None:
    Image.fromarray(np.full((64, 64), 255, dtype=np.uint8)).save(tmp_path / "white.png")
    output = tmp_path / "traversals.png"
    main(["traversals", str(tiny_run), "--image", str(tmp_path / "white.png"), "--steps", "3",
          "--sigma", "prior", "--output", str(output)])
    assert_real_png(output, min_variance=1e-3)  # random weights: near-uniform gray images


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
    (["scatter", "--models-dir", "{run}", "--regularization", "jltwo"], "no jltwo results"),
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
    assert done.stderr == ("error: no/such/run does not exist or is not a folder; pass a run "
                           "folder or a saved-model folder\n")
    assert done.stdout == "" and not (tmp_path / "out.png").exists()
