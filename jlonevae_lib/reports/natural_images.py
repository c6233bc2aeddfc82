"""The report of the natural-image study: figures, held-out errors and localisation, as files.

:func:`write_natural_images_summary` (the summary step of the study ``natural_images_cpu``,
:mod:`jlonevae_lib.sweep.natural_images_study`) reads the finished VAE runs it is given and
the natural-image patch files, and writes into ``results_dir``:

- ``linear_baselines/``: PCA and FastICA at 5, 10 and 25 components fitted (by
  :mod:`jlonevae_lib.evaluate.linear_baselines`, seed 0) on up to 10,000 training patches, the
  reference's files;
- ``figures/jacobian_crops_<arm>_seed<k>.png`` (and .pdf), one per VAE: the decoder's
  Jacobian columns on the ten neighbouring crops of the paper's figure (latents ordered once,
  by activity on the first crop; each row normalised by its largest |J|), beside the FastICA
  and PCA filters with as many components as the VAE has latents; ``figures/linear_filters.png``
  with every PCA and FastICA filter;
- ``summary.json``, ``summary.md`` and ``README.md``: the data source, the settings and how
  they differ from the paper's, each run's held-out reconstruction error (MSE and BCE per image
  of decode(μ) on the test patches; the linear models' projection of the same patches) and the
  localisation of its Jacobian columns on the first 200 test patches (the mean top-10 % L1 mass,
  and the compactness score that noise cannot fake, with the shares of columns that are
  structured, like white noise, or below the forward difference's noise floor:
  :mod:`jlonevae_lib.evaluate.natural_image_measures`), the mean per arm, and the same
  measures of the PCA / FastICA filters.

Every number written is computed here from the runs and the patches; a run that is not finished
is listed as such and left out.

The three text files can be written again from summary.json alone (``python -m
jlonevae_lib.cli.natural_images_summary --from-summary``): :func:`load_summary` reads it,
:func:`refresh_summary` recomputes what follows from the per-run values (each run's share of
the BCE gap removed and collapse verdict, the mean ± s.d. per arm: :func:`arm_statistics`) and
keeps every measurement, and :func:`write_summary_files` writes summary.json, summary.md and
README.md; no run folder, patch or figure is read.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jlonevae_lib.data import natural_images
from jlonevae_lib.evaluate.linear_baselines import (
    ICA_WHITEN,
    draw_patches,
    fit_linear_baselines,
    save_linear_baselines,
)
from jlonevae_lib.evaluate.natural_image_measures import (
    DECODER_OUTPUT_RANGE,
    DISC_FRACTION,
    TOP_FRACTION,
    fd_noise_floor,
    filter_images,
    linear_reconstruction,
    localise_columns,
    mean_top_mass_fraction,
    measure_vae,
    reconstruction_error,
    summarise_localisation,
)
from jlonevae_lib.evaluate.reconstruction import (
    COLLAPSE_FRACTION,
    is_collapsed,
    mean_image_bce,
    perfect_reconstruction_bce,
)
from jlonevae_lib.evaluate.statistics import array_mean_sd, finite_mean_sd
from jlonevae_lib.reports.natural_images_text import (
    KL_SCALAR,
    SETTINGS_SHOWN,
    folder_name,
    gap_removed,
    render_markdown,
    render_readme,
)
from jlonevae_lib.reports.records import read_summary_json
from jlonevae_lib.reports.text import write_report
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.scalars import read_scalar_series
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.visualize.figure_io import save_figure
from jlonevae_lib.visualize.inputs import load_model_from
from jlonevae_lib.visualize.jacobian_columns import compute_jacobian_columns
from jlonevae_lib.visualize.natural_images import (
    KLTrajectory,
    plot_kl_trajectories,
    plot_linear_filters,
    plot_run_figure,
)

__all__ = ["load_summary", "refresh_summary", "render_markdown", "render_readme",
           "write_natural_images_summary", "write_summary_files"]

LINEAR_DIR = "linear_baselines"
LINEAR_FILTERS_FIGURE = "linear_filters.png"
KL_FIGURE = "kl_trajectories.png"
LINEAR_COMPONENTS = (5, 10, 25)
LINEAR_NUM_PATCHES = 10_000
LINEAR_SEED = 0
#: Test patches whose Jacobian columns are measured (the first ones of the seeded test file).
LOCALISATION_PATCHES = 200
#: The per-run values summarised per arm by numpy's mean ± s.d.; the compactness values by
#: that of their finite values (a run none of whose columns is structured has none).
ARM_MEASURES = ("heldout_mse", "heldout_bce", "localisation", "localisation_weighted")
COMPACTNESS_MEASURES = ("compactness", "compactness_weighted")


def arm_label(gamma: float) -> str:
    """``β-VAE (γ=0)`` or ``JL1-VAE (γ=0.01)``."""
    return "β-VAE (γ=0)" if gamma == 0 else f"JL1-VAE (γ={gamma:g})"


def _slug(gamma: float) -> str:
    return "betavae" if gamma == 0 else f"jl1vae_gamma{gamma:g}".replace(".", "_")


def _compactness_keys(located: Mapping[str, float]) -> dict[str, float]:
    """summary.json's keys for :func:`summarise_localisation`'s numbers."""
    return {"compactness": located["compactness"],
            "compactness_weighted": located["compactness_weighted"],
            **{f"columns_{state}": located[state]
               for state in ("structured", "no_structure", "no_signal")}}


def check_natural_image_runs(run_dirs: Iterable[Path]) -> None:
    """Refuse a finished run trained on anything but the natural-image patches: its model
    takes other images, which the patches' measures cannot score."""
    for run_dir in run_dirs:
        if not layout.is_finished(run_dir):
            continue  # reported as not finished
        dataset = layout.read_json_object(layout.config_path(run_dir)).get("dataset")
        if dataset != natural_images.NATURAL_IMAGES:
            raise JLoneVAEError(f"{run_dir} was trained on {dataset!r}, not "
                                f"{natural_images.NATURAL_IMAGES!r}: give the natural-image "
                                "study's runs (studies/natural_images_cpu)")


def _read_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    return (layout.read_json_object(layout.config_path(run_dir)),
            layout.read_json_object(layout.done_path(run_dir)))


def arm_statistics(finished: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per arm of the finished runs (in their order): its seeds and the mean ± s.d. of each of
    :data:`ARM_MEASURES`, and of the compactness and the share of structured columns when its
    runs have them (a summary written before the compactness measure has none)."""
    arms = []
    for label in dict.fromkeys(run["arm"] for run in finished):
        members = [run for run in finished if run["arm"] == label]
        entry = {"arm": label, "seeds": [run["seed"] for run in members],
                 **{key: array_mean_sd([run[key] for run in members]) for key in ARM_MEASURES}}
        if all("compactness" in run for run in members):
            entry.update({key: finite_mean_sd([run[key] for run in members])
                          for key in COMPACTNESS_MEASURES})
            entry["columns_structured"] = array_mean_sd([run["columns_structured"]
                                                         for run in members])
        arms.append(entry)
    return arms


def write_natural_images_summary(run_dirs: Sequence[str], results_dir: str, command: str = "",
                                 paper_settings: Mapping[str, Any] | None = None,
                                 noise_reference: tuple[str, Sequence[Mapping[str, Any]]]
                                 | None = None,
                                 data_root: str | None = None,
                                 localisation_patches: int = LOCALISATION_PATCHES,
                                 linear_num_patches: int = LINEAR_NUM_PATCHES,
                                 components: Sequence[int] = LINEAR_COMPONENTS) -> dict[str, Any]:
    """Write the summary of the natural-image runs ``run_dirs`` into ``results_dir`` (see the
    module's docstring); returns what summary.json holds."""
    results = Path(results_dir)
    figures = results / layout.FIGURES_DIR
    check_natural_image_runs(map(Path, run_dirs))  # before anything is written
    train, source = natural_images.load_labelled_patches("train", data_root)
    test, test_source = natural_images.load_labelled_patches("test", data_root)
    crops = natural_images.figure_crops(data_root)
    fallback = natural_images.FALLBACK_LABEL in (source, test_source, crops.source)

    # The linear baselines, on the same patches, scored on the same held-out patches.
    fit_data = draw_patches(train, min(linear_num_patches, len(train)),
                            np.random.default_rng(LINEAR_SEED))
    baselines = fit_linear_baselines(fit_data, components=tuple(components), seed=LINEAR_SEED)
    save_linear_baselines(results / LINEAR_DIR, baselines, {
        "num_patches": len(fit_data), "seed": LINEAR_SEED, "ica_whiten": ICA_WHITEN,
        "data_source": source})
    flat_test = test.reshape(len(test), -1)
    linear_rows = []
    for baseline in baselines:
        held_out = reconstruction_error(
            linear_reconstruction(baseline.components, fit_data.mean(axis=0), flat_test),
            flat_test)
        filters = baseline.components.T
        linear_rows.append({
            "model": baseline.model, "num_components": baseline.num_components,
            "heldout_mse": held_out["mse"], "heldout_bce": held_out["bce"],
            "train_mse": baseline.mse, "converged": baseline.converged,
            "localisation": mean_top_mass_fraction(filters),
            "localisation_weighted": mean_top_mass_fraction(
                filters, weights=np.square(filters).sum(axis=1)),
            # no noise floor: a linear filter's scale is arbitrary (unit norm for PCA)
            **_compactness_keys(summarise_localisation(localise_columns(filter_images(baseline))))})
    # The reference point of every error: the mean training patch as every reconstruction.
    mean_patch = reconstruction_error(
        np.broadcast_to(fit_data.mean(axis=0), flat_test.shape), flat_test)
    # The collapse test's two ends on the test patches (evaluate/reconstruction.py): the BCE of
    # their own mean patch, and of reconstructing them exactly (the grey pixels' entropy).
    collapse_reference = {"mean_image": mean_image_bce(flat_test.mean(axis=0)),
                          "perfect": perfect_reconstruction_bce(flat_test)}
    figure_paths = [save_figure(plot_linear_filters(baselines),
                                figures / LINEAR_FILTERS_FIGURE)[0]]

    runs: list[dict[str, Any]] = []
    kl_series: list[KLTrajectory] = []
    settings: dict[str, Any] = {}
    for run_dir in map(Path, run_dirs):
        if not layout.is_finished(run_dir):
            runs.append({"run_dir": str(run_dir), "status": "not finished"})
            continue
        config, done = _read_run(run_dir)
        kld = done.get("final_scalars", {}).get(KL_SCALAR)
        gamma = float(config["gamma"])
        settings = {key: config.get(key) for key in SETTINGS_SHOWN}
        model = load_model_from(run_dir)
        measures = measure_vae(model, test, min(localisation_patches, len(test)))
        by_k = {(b.model, b.num_components): b for b in baselines}
        latent_dim = int(config["latent_dim"])
        k = min(components, key=lambda c: (abs(c - latent_dim), c))
        rows = compute_jacobian_columns(model, crops.images, order="first")
        figure = figures / f"jacobian_crops_{_slug(gamma)}_seed{config['seed']}.png"
        save_figure(plot_run_figure(f"{arm_label(gamma)}, seed {config['seed']}", rows,
                                    by_k.get(("ICA", k)), by_k.get(("PCA", k))), figure)
        figure_paths.append(figure)
        kl_trajectory = read_scalar_series(layout.log_dir_of_run(run_dir), KL_SCALAR)
        if kl_trajectory:
            kl_series.append(KLTrajectory(arm_label(gamma), int(config["seed"]),
                                          penalised=gamma > 0, points=kl_trajectory))
        runs.append({
            "run_dir": str(run_dir), "status": "finished", "arm": arm_label(gamma),
            "gamma": gamma, "seed": config["seed"], "data_source": config.get("data_source"),
            "heldout_mse": measures.mse, "heldout_bce": measures.bce,
            "localisation": measures.localisation,
            "localisation_weighted": measures.localisation_weighted,
            "compactness": measures.compactness,
            "compactness_weighted": measures.compactness_weighted,
            "columns_structured": measures.columns_structured,
            "columns_no_structure": measures.columns_no_structure,
            "columns_no_signal": measures.columns_no_signal,
            "final_train_bce": done.get("final_scalars", {}).get("NLL/train"),
            "final_train_kld": kld,
            "kl_trajectory": [[step, value] for step, value in kl_trajectory],
            "bce_gap_removed": gap_removed(measures.bce, collapse_reference),
            "collapsed": is_collapsed(measures.bce, collapse_reference["mean_image"],
                                      collapse_reference["perfect"]),
            "mean_column_activity": measures.mean_activity,
            "train_seconds": done.get("train_seconds"), "figure": str(figure.relative_to(results)),
            "linear_filters_shown": k})
    if kl_series:
        figure_paths.append(save_figure(plot_kl_trajectories(kl_series),
                                        figures / KL_FIGURE)[0])
    finished = [run for run in runs if run["status"] == "finished"]
    arms = arm_statistics(finished)
    run_sources = sorted({str(run["data_source"]) for run in finished})
    summary = {
        "data_source": source, "offline_fallback": fallback,
        "run_data_sources": run_sources,
        "patches": {"train": len(train), "test": len(test), "linear_fit": len(fit_data),
                    "localisation": min(localisation_patches, len(test))},
        "figure_crops": {"image": crops.image_index, "xs": list(crops.xs), "y": crops.y,
                         "source": crops.source},
        "settings": settings, "paper_settings": dict(paper_settings or {}),
        "measures": {
            "heldout_error": "per image of the test patches, summed over the 256 pixels and "
                             "averaged over patches, reconstruction clipped to [0, 1]: MSE and "
                             "BCE; VAE: decode(μ(x)); PCA/ICA: projection onto the components' "
                             "span around the training mean",
            "localisation": f"fraction of a column's L1 mass in its largest "
                            f"{TOP_FRACTION:.0%} of pixels (uniform = {TOP_FRACTION}, one pixel "
                            "= 1), averaged over the columns (VAE: all latents' Jacobian "
                            "columns at μ of each localisation patch; PCA/ICA: the filters); "
                            "_weighted: each column weighted by its activity Σv²",
            "compactness": f"share of a column's energy Σv² in a disc around its energy "
                           f"centroid covering {DISC_FRACTION:.0%} of the patch, rescaled so "
                           "that energy spread evenly = 0 and all in the disc = 1, averaged "
                           "over the columns that are structured (compactness or "
                           "neighbour-pixel autocorrelation above white noise's 99.9th "
                           "percentile) and, for a VAE, above the noise floor (RMS per pixel "
                           f"{fd_noise_floor(DECODER_OUTPUT_RANGE):.3g}: float32 epsilon / "
                           "the FD step 1e-3); _weighted: each column weighted by its "
                           "activity Σv²; columns_structured / _no_structure / "
                           "_no_signal: the shares of the columns in each state "
                           "(docs/natural_images.md)"},
        "runs": runs, "arms": arms, "linear_baselines": linear_rows,
        "mean_patch_error": mean_patch,
        "collapse": {**collapse_reference, "fraction": COLLAPSE_FRACTION},
        "figures": [str(p.relative_to(results)) for p in figure_paths],
        "command": command, "machine": {"platform": platform.platform(),
                                        "torch": torch.__version__},
        "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    write_summary_files(results, summary, noise_reference)
    print(f"wrote {results / layout.SUMMARY_JSON}, {layout.SUMMARY_MD}, {layout.README_MD} and "
          f"{len(figure_paths)} figures")
    return summary


def write_summary_files(results_dir: str | Path, summary: Mapping[str, Any],
                        noise_reference: tuple[str, Sequence[Mapping[str, Any]]] | None = None
                        ) -> list[Path]:
    """Write summary.json, summary.md and README.md (titled by the folder and its parent,
    results/natural_images, wherever it lies) atomically; returns their paths.
    ``noise_reference``: :func:`~jlonevae_lib.reports.natural_images_text.noise_reference` of
    another summary, cited in the README when this one has no collapsed run."""
    markdown = render_markdown(summary)
    return write_report(results_dir, summary, {
        layout.SUMMARY_MD: markdown,
        layout.README_MD: render_readme(summary, markdown, folder_name(Path(results_dir)),
                                 noise_reference)})


def load_summary(path: str | Path) -> dict[str, Any]:
    """A natural-image summary.json as :func:`write_natural_images_summary` writes it, with
    the compactness of a run or linear model that has none (null in the file: JSON has no NaN)
    read back as NaN, as it was computed."""
    summary = read_summary_json(path, ("runs", "arms", "linear_baselines", "collapse",
                                       "settings"), "a natural-image summary")
    for record in (*summary["runs"], *summary["linear_baselines"]):
        for key in COMPACTNESS_MEASURES:
            if key in record and record[key] is None:
                record[key] = math.nan
    return summary


def refresh_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A written summary with what follows from its per-run values recomputed: each finished
    run's share of the BCE gap removed and whether it collapsed (from its held-out BCE and
    the summary's ``collapse`` reference), and the mean ± s.d. per arm
    (:func:`arm_statistics`). Every measurement (the runs' errors and localisation, the linear
    models', the patches) is kept as it is, so rendering needs no run folder."""
    reference = summary["collapse"]
    runs = []
    for run in summary["runs"]:
        if run["status"] == "finished":
            run = {**run, "bce_gap_removed": gap_removed(run["heldout_bce"], reference),
                   "collapsed": is_collapsed(run["heldout_bce"], reference["mean_image"],
                                             reference["perfect"], reference["fraction"])}
        runs.append(run)
    return {**summary, "runs": runs,
            "arms": arm_statistics([run for run in runs if run["status"] == "finished"])}
