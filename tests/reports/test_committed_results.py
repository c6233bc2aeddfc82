"""The committed study results are regenerable from their summary.json alone: each folder's
documented ``--from-summary`` command, run on a copy that holds nothing but the summary.json
files, writes README.md and summary.md byte for byte as committed and summary.json equal to the
committed one (figures are neither read nor written). summary.json is compared number by number
to a relative 1e-12, not byte for byte: its statistics are recomputed by NumPy and SciPy, whose
vectorised loops and libm may round the last bit differently on another CPU; the texts show
those numbers rounded to a few digits. results/cpu_study/README.md is written by hand; the
numbers it quotes are checked against the two summaries they come from."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from jlonevae_lib.cli import (
    natural_images_summary,
    penalty_study_summary,
    seven_arms_summary,
    study_summary,
)
from jlonevae_lib.evaluate.statistics import holm_adjust

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "results"

#: Folder -> (the command's main, its arguments from the repository root, the files it writes).
#: The seven-arm summary records its own command, so the arguments are exactly the ones its
#: README names.
RENDERINGS: dict[str, tuple[Callable[[Sequence[str]], int], list[str], tuple[str, ...]]] = {
    "cpu_study": (study_summary.main,
                  ["--from-summary", "results/cpu_study/summary.json",
                   "--output-dir", "results/cpu_study"], ("summary.json", "summary.md")),
    "cpu_seven_arms": (seven_arms_summary.main,
                       ["--from-summary", "results/cpu_seven_arms/summary.json",
                        "--output-dir", "results/cpu_seven_arms"],
                       ("summary.json", "summary.md", "README.md")),
    "natural_images": (natural_images_summary.main,
                       ["--from-summary", "results/natural_images/summary.json",
                        "--results-dir", "results/natural_images"],
                       ("summary.json", "summary.md", "README.md")),
    "natural_images_20k": (natural_images_summary.main,
                           ["--from-summary", "results/natural_images_20k/summary.json",
                            "--results-dir", "results/natural_images_20k",
                            "--noise-reference", "results/natural_images/summary.json"],
                           ("summary.json", "summary.md", "README.md")),
    "cpu_penalty_study": (penalty_study_summary.main,
                          ["--from-summary", "results/cpu_penalty_study/summary.json",
                           "--output-dir", "results/cpu_penalty_study"],
                          ("summary.json", "summary.md", "README.md")),
}


#: How far a recomputed statistic in summary.json may be from the committed one (see above).
JSON_REL_TOLERANCE = 1e-12


def assert_json_close(ours: object, committed: object, where: str = "") -> None:
    """Equal JSON values, numbers (not booleans) within :data:`JSON_REL_TOLERANCE`."""
    if isinstance(committed, dict):
        assert isinstance(ours, dict) and list(ours) == list(committed), where
        for key, value in committed.items():
            assert_json_close(ours[key], value, f"{where}/{key}")
    elif isinstance(committed, list):
        assert isinstance(ours, list) and len(ours) == len(committed), where
        for i, (a, b) in enumerate(zip(ours, committed, strict=True)):
            assert_json_close(a, b, f"{where}[{i}]")
    elif isinstance(committed, float) and not isinstance(ours, bool):
        assert isinstance(ours, int | float) and math.isclose(
            ours, committed, rel_tol=JSON_REL_TOLERANCE, abs_tol=0.0), (where, ours, committed)
    else:
        assert type(ours) is type(committed) and ours == committed, (where, ours, committed)


@pytest.mark.parametrize("folder", sorted(RENDERINGS))
def test_a_committed_folder_renders_from_its_summary_json(
        folder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    main, argv, written = RENDERINGS[folder]
    for name in RENDERINGS:  # only the summaries: nothing else can be read
        (tmp_path / "results" / name).mkdir(parents=True)
        shutil.copy(RESULTS / name / "summary.json", tmp_path / "results" / name)
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 0
    out = tmp_path / "results" / folder
    assert sorted(path.name for path in out.iterdir()) == sorted(written)
    for name in written:
        if name == "summary.json":
            assert_json_close(json.loads((out / name).read_text()),
                              json.loads((RESULTS / folder / name).read_text()),
                              f"results/{folder}/{name}")
            continue
        assert (out / name).read_bytes() == (RESULTS / folder / name).read_bytes(), \
            f"results/{folder}/{name} differs from its re-rendering"


def test_the_json_comparison_fails_on_a_real_difference() -> None:
    summary = {"p": 0.0123, "n": 5, "label": "JL1", "values": [0.5, None, True]}
    assert_json_close(json.loads(json.dumps(summary)), summary)
    assert_json_close({**summary, "p": 0.0123 * (1 + 1e-14)}, summary)  # last-bit rounding
    for changed in ({**summary, "p": 0.0124}, {**summary, "n": 6},
                    {**summary, "values": [0.5, None, False]}, {**summary, "label": "β"}):
        with pytest.raises(AssertionError):
            assert_json_close(changed, summary)


def test_the_cpu_study_readme_quotes_its_summaries() -> None:
    """results/cpu_study/README.md is written by hand: every number it takes from the study's
    summary (and from the seven-arm study's) is the summary's, as the README rounds it."""
    # Compared with the line breaks and list indents as single spaces.
    readme = " ".join((RESULTS / "cpu_study" / "README.md").read_text(encoding="utf-8").split())
    summary = json.loads((RESULTS / "cpu_study" / "summary.json").read_text())
    rows = {row["key"]: row for row in summary["ttests"]}
    holm = dict(zip(rows, holm_adjust([row["p"] for row in rows.values()]), strict=True))
    assert len(holm) == 12  # "Twelve tests"
    mig = rows["local_mig_0_1"]
    assert (f"JL1-VAE {mig['mean_a']:.4f} ± {mig['sd_a']:.4f} vs β-VAE {mig['mean_b']:.4f} ± "
            f"{mig['sd_b']:.4f}** (mean ± s.d. of {mig['n_a']} models each; Welch "
            f"t = {mig['t']:.2f}, p = {mig['p']:.1g})") in readme
    assert (f"higher at 0.2 (p = {rows['local_mig_0_2']['p']:.3f}) and 0.3 "
            f"(p = {rows['local_mig_0_3']['p']:.3f})") in readme
    assert (f"(p = {rows['local_mig_0_6']['p']:.2g}, "
            f"{rows['local_mig_1_0']['p']:.2g})") in readme
    assert f"stays significant (adjusted p = {holm['local_mig_0_1']:.2g})" in readme
    assert f"{holm['local_mig_0_2']:.2g} == {holm['local_mig_0_3']:.2g}" == "0.073 == 0.073"
    assert "0.3 (0.073 each)" in readme
    modularity = rows["local_modularity_0_3"]
    assert (f"at 0.3 (p = {modularity['p']:.2g}, {holm['local_modularity_0_3']:.2g} after "
            "Holm)") in readme and f"modularity at 0.3 ({holm['local_modularity_0_3']:.2g})" \
        in readme
    low = rows["local_modularity_0_1"]
    assert (f"({low['mean_a']:.3f} vs {low['mean_b']:.3f}, p = {low['p']:.2g}; "
            f"p = {rows['local_modularity_0_2']['p']:.2g})") in readme
    assert (f"no difference (p = {rows['mig']['p']:.2g}, "
            f"{rows['modularity_explicitness']['p']:.2g})") in readme
    bce = {arm["label"]: arm["statistics"]["recon_bce"] for arm in summary["arms"]}
    jl1, beta = bce["JL1-VAE (γ=0.1)"], bce["β-VAE (γ=0)"]
    assert (f"reconstruction BCE {jl1['mean']:.0f} ± {jl1['sd']:.0f} per image for JL1-VAE "
            f"vs {beta['mean']:.0f} ± {beta['sd']:.0f} for β-VAE") in readme
    seeds = {arm["runs"] for arm in summary["arms"]}
    assert seeds == {5} and all(arm["finished"] == 5 for arm in summary["arms"])
    assert "(5 seeds per arm, every run finished" in readme
    minutes = {label: [run["values"]["train_minutes"] for run in summary["runs"]
                       if run["label"] == label] for label in bce}
    assert (f"({min(minutes['β-VAE (γ=0)']):.1f}–{max(minutes['β-VAE (γ=0)']):.1f} for "
            f"β-VAE, {min(minutes['JL1-VAE (γ=0.1)']):.1f}–"
            f"{max(minutes['JL1-VAE (γ=0.1)']):.1f} for JL1-VAE") in readme
    time = summary["time"]
    assert f"the summary's {time['total_seconds'] / 3600:.2f} h is the sum over runs" in readme
    assert (f"{time['training_seconds'] / 3600:.0f} h of training and "
            f"{time['evaluation_seconds'] / 60:.0f} min of evaluation") in readme
    # The same ten runs retrained in the seven-arm study, quoted from its summary.
    seven = json.loads((RESULTS / "cpu_seven_arms" / "summary.json").read_text())
    twin = next(row for row in seven["ttests"]
                if row["key"] == "local_mig_0_1" and row["arm_b"] == "beta_vae_gamma0")
    assert (f"JL1-VAE {twin['mean_a']:.4f} ± {twin['sd_a']:.4f} against β-VAE "
            f"{twin['mean_b']:.4f} ± {twin['sd_b']:.4f} at local MIG 0.1, p = {twin['p']:.2g}; "
            f"after Holm over that study's seven comparisons, {twin['p_holm']:.2g}.") in readme
    assert twin["holm_family"] == 7
    architecture = next(row for row in seven["architecture"] if row["key"] == "local_mig_0_1")
    assert (f"disentanglement_lib's β-VAE is {architecture['difference']:.3f} above our ConvVAE "
            f"β-VAE (p = {architecture['p']:.2g})") in readme
    assert (summary["machine"]["cpu"], seven["machine"]["cpu"]) == (
        "Intel(R) Xeon(R) Processor", "AMD EPYC")
    assert "on an AMD EPYC instead of this study's Intel Xeon" in readme
