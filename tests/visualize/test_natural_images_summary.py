"""The natural-image summary's findings on hand-made numbers: collapsed runs are named, and an
arm whose every run collapsed is not compared by localisation."""

from __future__ import annotations

from typing import Any

from jlonevae_lib.visualize.natural_images_summary import _findings


def _summary(jl1_collapsed: tuple[bool, bool]) -> dict[str, Any]:
    def run(arm: str, seed: int, collapsed: bool, localisation: float) -> dict[str, Any]:
        return {"status": "finished", "arm": arm, "seed": seed, "collapsed": collapsed,
                "bce_gap_removed": 0.002 if collapsed else 0.18, "final_train_kld": 0.5,
                "heldout_mse": 0.77 if collapsed else 0.63, "localisation": localisation}

    def stat(mean: float) -> dict[str, float]:
        return {"n": 2, "mean": mean, "sd": 0.01}

    beta, jl1 = "β-VAE (γ=0)", "JL1-VAE (γ=0.01)"
    return {
        "runs": [run(beta, 0, False, 0.30), run(jl1, 0, jl1_collapsed[0], 0.34),
                 run(beta, 1, False, 0.31), run(jl1, 1, jl1_collapsed[1], 0.33)],
        "arms": [{"arm": beta, "localisation": stat(0.305), "localisation_weighted": stat(0.32),
                  "heldout_mse": stat(0.63)},
                 {"arm": jl1, "localisation": stat(0.335), "localisation_weighted": stat(0.33),
                  "heldout_mse": stat(0.70)}],
        "collapse": {"mean_image": 177.38, "perfect": 175.78, "fraction": 0.95},
        "mean_patch_error": {"mse": 0.775},
        "linear_baselines": [{"model": "PCA", "num_components": 10, "localisation": 0.225,
                              "heldout_mse": 0.589}],
    }


def test_an_arm_whose_every_run_collapsed_is_not_compared() -> None:
    text = "\n".join(_findings(_summary((True, True))))
    assert "**Collapsed runs**: JL1-VAE (γ=0.01) seed 0 (0.2% of the gap removed" in text
    assert "Localisation not compared: every JL1-VAE (γ=0.01) run collapsed" in text
    assert "JL1-VAE columns are more localised" not in text
    assert "JL1-VAE (γ=0.01)'s columns" not in text  # no comparison with the PCA filters
    assert "β-VAE (γ=0)'s columns (0.305) score above these PCA filters" in text


def test_arms_with_a_working_run_are_compared() -> None:
    text = "\n".join(_findings(_summary((True, False))))
    assert "the JL1-VAE columns are more localised by this measure (collapsed runs " \
           "included)" in text
    assert "JL1-VAE (γ=0.01)'s columns (0.335) score above these PCA filters" in text
    assert "not compared" not in text
