"""The natural-image study's summary: figures, held-out errors and localisation, as files.

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
"""

from __future__ import annotations

import math
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from jlonevae_lib.architecture.jacobian import jacobian_columns_exact
from jlonevae_lib.data import natural_images
from jlonevae_lib.evaluate.linear_baselines import (
    ICA_WHITEN,
    LinearBaseline,
    draw_patches,
    fit_linear_baselines,
    save_linear_baselines,
)
from jlonevae_lib.evaluate.natural_image_measures import (
    DISC_FRACTION,
    TOP_FRACTION,
    fd_noise_floor,
    linear_reconstruction,
    localise_columns,
    mean_top_mass_fraction,
    reconstruction_error,
    summarise_localisation,
)
from jlonevae_lib.evaluate.reconstruction import (
    COLLAPSE_FRACTION,
    is_collapsed,
    mean_image_bce,
    perfect_reconstruction_bce,
)
from jlonevae_lib.runs import layout
from jlonevae_lib.utils.atomic import atomic_write_json, atomic_write_text
from jlonevae_lib.utils.tables import format_markdown_table
from jlonevae_lib.visualize.figure_io import save_figure, show_image
from jlonevae_lib.visualize.inputs import load_model_from
from jlonevae_lib.visualize.jacobian_columns import (
    JacobianColumns,
    columns_to_display,
    compute_jacobian_columns,
)

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
README = "README.md"
FIGURES_DIR = "figures"
LINEAR_DIR = "linear_baselines"
LINEAR_FILTERS_FIGURE = "linear_filters.png"
LINEAR_COMPONENTS = (5, 10, 25)
LINEAR_NUM_PATCHES = 10_000
LINEAR_SEED = 0
#: Test patches whose Jacobian columns are measured (the first ones of the seeded test file).
LOCALISATION_PATCHES = 200
#: Settings shown for the runs (keys of their config.json).
SETTINGS_SHOWN = ("dataset", "architecture", "beta", "latent_dim", "batch_size", "lr",
                  "num_batches", "annealing_batches", "jacobian_batch", "jacobian_method",
                  "regularization_type", "device")
_BATCH = 500  # patches per forward pass when scoring
#: The span of the decoder's outputs (a sigmoid: [0, 1]), which scales the noise floor below
#: which a Jacobian column is "no signal".
DECODER_OUTPUT_RANGE = 1.0


@dataclass(frozen=True)
class VAEMeasures:
    """Held-out errors and the localisation of one VAE's Jacobian columns."""

    mse: float
    bce: float
    #: Plain mean of the top-10 % mass over columns and patches.
    localisation: float
    #: The same, each column weighted by its activity Σ J_k² (inactive latents count little).
    localisation_weighted: float
    #: Mean activity Σ J_k² of a column (near 0: the decoder ignores its latents).
    mean_activity: float
    num_patches: int
    #: Mean compactness score of the columns with signal and structure (NaN: none has).
    compactness: float = math.nan
    #: The same, each column weighted by its activity Σ J_k².
    compactness_weighted: float = math.nan
    #: Shares of the columns that are structured, like white noise, below the noise floor.
    columns_structured: float = math.nan
    columns_no_structure: float = math.nan
    columns_no_signal: float = math.nan


def arm_label(gamma: float) -> str:
    """``β-VAE (γ=0)`` or ``JL1-VAE (γ=0.01)``."""
    return "β-VAE (γ=0)" if gamma == 0 else f"JL1-VAE (γ={gamma:g})"


def _slug(gamma: float) -> str:
    return "betavae" if gamma == 0 else f"jl1vae_gamma{gamma:g}".replace(".", "_")


def measure_vae(model: torch.nn.Module, test_patches: np.ndarray, num_localisation: int
                ) -> VAEMeasures:
    """Held-out errors of decode(μ) on test patches (N, 1, 16, 16), and the top-10 % mass and
    the compactness (:func:`localise_columns`, noise floor :func:`fd_noise_floor` of
    :data:`DECODER_OUTPUT_RANGE`) of the Jacobian columns at μ of the first
    ``num_localisation`` of them."""
    device = next(model.parameters()).device
    reconstructions = []
    with torch.no_grad():
        for start in range(0, len(test_patches), _BATCH):
            x = torch.as_tensor(test_patches[start:start + _BATCH], device=device)
            reconstructions.append(model.decode(model.encode(x)[0]).cpu().numpy())
        x = torch.as_tensor(test_patches[:num_localisation], device=device)
        columns = jacobian_columns_exact(model.decode, model.encode(x)[0])  # (d, N, C, H, W)
    errors = reconstruction_error(np.concatenate(reconstructions), test_patches)
    flat = columns.transpose(0, 1).reshape(-1, columns[0, 0].numel()).cpu().numpy()
    activity = np.square(flat).sum(axis=1)
    images = columns.transpose(0, 1).reshape(-1, *columns.shape[2:]).cpu().numpy()
    located = summarise_localisation(
        localise_columns(images, fd_noise_floor(DECODER_OUTPUT_RANGE)))
    return VAEMeasures(errors["mse"], errors["bce"], mean_top_mass_fraction(flat),
                       mean_top_mass_fraction(flat, weights=activity),
                       float(activity.mean()), len(x), located["compactness"],
                       located["compactness_weighted"], located["structured"],
                       located["no_structure"], located["no_signal"])


def _filters(baseline: LinearBaseline) -> np.ndarray:
    """A linear model's filters as images (k, 1, 16, 16)."""
    side = natural_images.PATCH_SIDE
    return baseline.components.T.reshape(-1, 1, side, side)


def _show_filter_grid(fig: Any, filters: np.ndarray, title: str, per_row: int) -> None:
    rows = math.ceil(len(filters) / per_row)
    axes = fig.subplots(rows, per_row, squeeze=False)
    shown = columns_to_display(filters)
    for i, ax in enumerate(axes.flat):
        if i < len(filters):
            show_image(ax, shown[i], str(i))
        else:
            ax.set_axis_off()
    fig.suptitle(title, fontsize=8)


def plot_run_figure(label: str, rows: Sequence[JacobianColumns], ica: LinearBaseline | None,
                    pca: LinearBaseline | None) -> Figure:
    """The Jacobian-crops figure of one VAE (one row per crop: input, recon(μ), columns)
    beside the FastICA and PCA filters."""
    num_columns = len(rows[0].columns) + 2
    fig = Figure(figsize=(1.0 * num_columns + 3.2, 1.05 * len(rows) + 0.6),
                 layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[num_columns, 3.2])
    axes = left.subplots(len(rows), num_columns, squeeze=False)
    for r, result in enumerate(rows):
        show_image(axes[r, 0], result.image, "crop" if r == 0 else "")
        show_image(axes[r, 1], result.reconstruction, "recon(μ)" if r == 0 else "")
        for c, (gray, k) in enumerate(zip(columns_to_display(result.columns),
                                          result.latent_indices, strict=True)):
            show_image(axes[r, c + 2], gray, f"z{k}" if r == 0 else "")
    left.suptitle(f"{label}: Jacobian columns on neighbouring crops", fontsize=9)
    linear = [b for b in (ica, pca) if b is not None]
    if linear:
        parts = right.subfigures(len(linear), 1)
        for part, baseline in zip(np.atleast_1d(parts), linear, strict=True):
            name = "FastICA" if baseline.model == "ICA" else "PCA"
            _show_filter_grid(part, _filters(baseline),
                              f"{name} filters ({baseline.num_components})", per_row=3)
    return fig


def plot_linear_filters(baselines: Sequence[LinearBaseline]) -> Figure:
    """Every linear model's filters, one row per model (PCA and FastICA, each k)."""
    most = max(b.num_components for b in baselines)
    fig = Figure(figsize=(0.55 * most + 1.5, 0.75 * len(baselines) + 0.3), layout="constrained")
    axes = fig.subplots(len(baselines), most, squeeze=False)
    for r, baseline in enumerate(baselines):
        shown = columns_to_display(_filters(baseline))
        for c in range(most):
            if c < len(shown):
                show_image(axes[r, c], shown[c])
            else:
                axes[r, c].set_axis_off()
        axes[r, 0].set_ylabel(f"{baseline.model} {baseline.num_components}", fontsize=7)
    return fig


def _mean_sd(values: Sequence[float]) -> dict[str, float | int]:
    array = np.asarray(values, dtype=np.float64)
    return {"mean": float(array.mean()),
            "sd": float(array.std(ddof=1)) if len(array) > 1 else math.nan, "n": len(array)}


def _finite_mean_sd(values: Sequence[float]) -> dict[str, float | int]:
    """:func:`_mean_sd` of the finite values: a run none of whose columns is structured has no
    compactness, and n says how many runs have one."""
    finite = [value for value in values if math.isfinite(value)]
    return _mean_sd(finite) if finite else {"mean": math.nan, "sd": math.nan, "n": 0}


def _compactness_keys(located: Mapping[str, float]) -> dict[str, float]:
    """summary.json's keys for :func:`summarise_localisation`'s numbers."""
    return {"compactness": located["compactness"],
            "compactness_weighted": located["compactness_weighted"],
            **{f"columns_{state}": located[state]
               for state in ("structured", "no_structure", "no_signal")}}


def _read_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    return (layout.read_json_object(layout.config_path(run_dir)),
            layout.read_json_object(layout.done_path(run_dir)))


def write_natural_images_summary(run_dirs: Sequence[str], results_dir: str, command: str = "",
                                 paper_settings: Mapping[str, Any] | None = None,
                                 data_root: str | None = None,
                                 localisation_patches: int = LOCALISATION_PATCHES,
                                 linear_num_patches: int = LINEAR_NUM_PATCHES,
                                 components: Sequence[int] = LINEAR_COMPONENTS) -> dict[str, Any]:
    """Write the summary of the natural-image runs ``run_dirs`` into ``results_dir`` (see the
    module's docstring); returns what summary.json holds."""
    results = Path(results_dir)
    figures = results / FIGURES_DIR
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
            **_compactness_keys(summarise_localisation(localise_columns(_filters(baseline))))})
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
    settings: dict[str, Any] = {}
    for run_dir in map(Path, run_dirs):
        if not layout.is_finished(run_dir):
            runs.append({"run_dir": str(run_dir), "status": "not finished"})
            continue
        config, done = _read_run(run_dir)
        kld = done.get("final_scalars", {}).get("KLD/train")
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
            "bce_gap_removed": _gap_removed(measures.bce, collapse_reference),
            "collapsed": is_collapsed(measures.bce, collapse_reference["mean_image"],
                                      collapse_reference["perfect"]),
            "mean_column_activity": measures.mean_activity,
            "train_seconds": done.get("train_seconds"), "figure": str(figure.relative_to(results)),
            "linear_filters_shown": k})
    finished = [run for run in runs if run["status"] == "finished"]
    arms = []
    for label in dict.fromkeys(run["arm"] for run in finished):
        members = [run for run in finished if run["arm"] == label]
        arms.append({"arm": label, "seeds": [run["seed"] for run in members],
                     **{key: _mean_sd([run[key] for run in members])
                        for key in ("heldout_mse", "heldout_bce", "localisation",
                                    "localisation_weighted")},
                     **{key: _finite_mean_sd([run[key] for run in members])
                        for key in ("compactness", "compactness_weighted")},
                     "columns_structured": _mean_sd([run["columns_structured"]
                                                     for run in members])})
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
    atomic_write_json(results / SUMMARY_JSON, summary)
    markdown = render_markdown(summary)
    atomic_write_text(results / SUMMARY_MD, markdown)
    # Titled by the folder and its parent (results/natural_images), wherever it lies.
    folder = "/".join(results.resolve().parts[-2:])
    atomic_write_text(results / README, render_readme(summary, markdown, folder))
    print(f"wrote {results / SUMMARY_JSON}, {SUMMARY_MD}, {README} and "
          f"{len(figure_paths)} figures")
    return summary


def _gap_removed(bce: float, reference: Mapping[str, float]) -> float:
    """The share of the gap between the mean patch's BCE and a perfect reconstruction's that a
    reconstruction with this BCE removes (0: nothing learned, 1: exact)."""
    return (reference["mean_image"] - bce) / (reference["mean_image"] - reference["perfect"])


def _states(run: Mapping[str, Any]) -> str | None:
    """A run's shares of structured, noise-like and no-signal columns, as "0.80 / 0.15 / 0.05"."""
    keys = ("columns_structured", "columns_no_structure", "columns_no_signal")
    if not all(key in run for key in keys):
        return None  # a summary written before the compactness measure
    return " / ".join(f"{run[key]:.2f}" for key in keys)


def _fmt(stat: Mapping[str, Any]) -> str:
    sd = stat["sd"]
    return f"{stat['mean']:.4f}" + ("" if math.isnan(sd) else f" ± {sd:.4f}")


def render_markdown(summary: Mapping[str, Any]) -> str:
    """summary.md: the data source, settings and every table of ``summary``."""
    lines = ["# Natural images at CPU scale: results", ""]
    if summary["offline_fallback"]:
        lines += [f"**Data: the OFFLINE FALLBACK, not IMAGES.mat** — {summary['data_source']}.",
                  ""]
    else:
        lines += [f"Data: {summary['data_source']}.", ""]
    patches = summary["patches"]
    lines += [f"Patches: {patches['train']} training, {patches['test']} held-out test; linear "
              f"models fitted on {patches['linear_fit']}; localisation on the first "
              f"{patches['localisation']} test patches.", ""]
    lines += ["## Settings (every run)", "",
              format_markdown_table([{"setting": k, "value": v}
                                     for k, v in summary["settings"].items()]), ""]
    finished = [r for r in summary["runs"] if r["status"] == "finished"]
    lines += ["## Per run", "", format_markdown_table([
        {"arm": r["arm"], "seed": r["seed"], "held-out MSE": r["heldout_mse"],
         "held-out BCE": r["heldout_bce"], "top-10% mass": r["localisation"],
         "top-10% mass (activity-weighted)": r["localisation_weighted"],
         "compactness": r.get("compactness"),
         "compactness (activity-weighted)": r.get("compactness_weighted"),
         "columns structured / noise-like / no signal": _states(r),
         "mean Σ J² per column": r["mean_column_activity"],
         "final KL (nats)": r["final_train_kld"], "BCE gap removed": r["bce_gap_removed"],
         "collapsed": r["collapsed"],
         "train s": r["train_seconds"], "figure": r["figure"]} for r in finished]), ""]
    for run in summary["runs"]:
        if run["status"] != "finished":
            lines.append(f"- not finished: {run['run_dir']}")
    lines += ["## Mean ± s.d. per arm", "", format_markdown_table([
        {"arm": a["arm"], "seeds": " ".join(map(str, a["seeds"])),
         "held-out MSE": _fmt(a["heldout_mse"]), "held-out BCE": _fmt(a["heldout_bce"]),
         "top-10% mass": _fmt(a["localisation"]),
         "top-10% mass (weighted)": _fmt(a["localisation_weighted"]),
         "compactness": (None if "compactness" not in a else _fmt(a["compactness"])
                         if a["compactness"]["n"] else "no structured column")}
        for a in summary["arms"]]), ""]
    lines += ["## PCA and FastICA on the same patches", "", format_markdown_table([
        {"model": r["model"], "components": r["num_components"],
         "held-out MSE": r["heldout_mse"], "held-out BCE": r["heldout_bce"],
         "top-10% mass": r["localisation"], "top-10% mass (weighted)":
         r["localisation_weighted"], "compactness": r.get("compactness"),
         "filters structured": r.get("columns_structured"), "converged": r["converged"]}
        for r in summary["linear_baselines"]]),
        f"The mean training patch as every reconstruction: held-out MSE "
        f"{summary['mean_patch_error']['mse']:.4f}, BCE {summary['mean_patch_error']['bce']:.4f}.",
        ""]
    lines += ["## Definitions", "", f"- Held-out error: {summary['measures']['heldout_error']}.",
              f"- Top-10% mass: {summary['measures']['localisation']}.",
              *([f"- Compactness: {summary['measures']['compactness']}."]
                if "compactness" in summary["measures"] else []), "",
              "## Figures", "", *[f"- [{f}]({f})" for f in summary["figures"]], "",
              "## Command", "", f"`{summary['command'] or '(not recorded)'}`", "",
              f"Generated {summary['generated_at']} on {summary['machine']['platform']}.", ""]
    return "\n".join(lines)


def collapsed_localisation(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The collapsed runs of a summary with their top-10 % mass: ``arm``, ``seed``,
    ``localisation``. Their decoders ignore the latents, so their Jacobian columns are
    numerical noise: what the localisation measure gives noise."""
    return [{"arm": r["arm"], "seed": r["seed"], "localisation": r["localisation"]}
            for r in summary["runs"] if r.get("collapsed") and r.get("localisation") is not None]


def _measure_caveat(summary: Mapping[str, Any],
                    noise_reference: tuple[str, Sequence[Mapping[str, Any]]] | None) -> str:
    """The localisation measure's weakness, with the scores of collapsed (noise) runs: this
    summary's own, else those of ``noise_reference`` (its folder, :func:`collapsed_localisation`
    of its summary)."""
    own = collapsed_localisation(summary)
    where, examples = ("here", own) if own else (noise_reference or ("", []))
    text = ("- **The localisation measure does not tell learned columns from noise.** The "
            "columns of a collapsed run are numerical noise, yet they score as high as learned "
            "columns")
    if examples:
        text += (f" ({'here' if where == 'here' else 'in ' + where}: " + ", ".join(
            f"{r['arm']} seed {r['seed']} {r['localisation']:.3f}" for r in examples) + ")")
    return (text + ". A top-10% mass, alone, therefore shows no localisation. A measure that "
            "is robust to noise is being built, and these runs will be scored again with it.")


def _findings(summary: Mapping[str, Any],
              noise_reference: tuple[str, Sequence[Mapping[str, Any]]] | None = None
              ) -> list[str]:
    """Plain sentences on the data source, the arms' and the linear filters' localisation and
    the measure's weakness; ``noise_reference``: (folder, collapsed runs' scores) of another
    summary, cited when this one has no collapsed run."""
    arms = {a["arm"]: a for a in summary["arms"]}
    beta = next((a for label, a in arms.items() if label.startswith("β-VAE")), None)
    jl1 = next((a for label, a in arms.items() if label.startswith("JL1-VAE")), None)
    lines = []
    if summary.get("offline_fallback"):
        lines.append("- **Data: the offline fallback** (two photographs that ship with "
                     "scikit-learn, whitened), not the paper's IMAGES.mat. Nothing here tests "
                     "the paper's natural-image claim.")
    collapsed = [r for r in summary["runs"] if r.get("collapsed")]
    if collapsed:
        reference = summary["collapse"]
        lines.append(
            "- **Collapsed runs**: " + ", ".join(
                f"{r['arm']} seed {r['seed']} ({r['bce_gap_removed']:.1%} of the gap removed, "
                f"final KL {r['final_train_kld']:.2g} nats)" for r in collapsed)
            + f". Between predicting the test patches' mean patch (held-out BCE "
            f"{reference['mean_image']:.2f}) and reconstructing them exactly "
            f"({reference['perfect']:.2f}, the grey pixels' own entropy), these runs remove "
            f"less than {1 - reference['fraction']:.0%} of the gap: their decoders ignore the "
            "latents, so their Jacobian columns are near zero and their localisation numbers "
            "describe numerical noise, not learned filters. An arm with collapsed runs says "
            "nothing about the paper's claim at this training length.")
    every_run_collapsed = [arm["arm"] for arm in (beta, jl1) if arm is not None and all(
        run.get("collapsed") for run in summary["runs"]
        if run["status"] == "finished" and run["arm"] == arm["arm"])]
    if every_run_collapsed:
        lines.append(f"- Localisation not compared: every {' and every '.join(every_run_collapsed)}"
                     " run collapsed, so its Jacobian columns are noise, not filters (their "
                     "numbers are in the tables below).")
    elif beta is not None and jl1 is not None:
        loc_b, loc_j = beta["localisation"]["mean"], jl1["localisation"]["mean"]
        word = ("higher" if loc_j > loc_b else "lower" if loc_j < loc_b else "equal")

        def per_run(arm: Mapping[str, Any]) -> str:
            return ", ".join(f"{r['localisation']:.3f}" for r in summary["runs"]
                             if r["status"] == "finished" and r["arm"] == arm["arm"])

        lines.append(
            f"- Localisation (top-10% L1 mass of the Jacobian columns): JL1-VAE {loc_j:.3f} "
            f"(runs: {per_run(jl1)}), β-VAE {loc_b:.3f} (runs: {per_run(beta)}); "
            f"activity-weighted {jl1['localisation_weighted']['mean']:.3f} vs "
            f"{beta['localisation_weighted']['mean']:.3f}. The JL1-VAE mean is {word}"
            + (" (collapsed runs included)" if collapsed else "") + f". With "
            f"n = {jl1['localisation']['n']} vs {beta['localisation']['n']} runs no test is "
            "made, and the measure cannot separate learned columns from noise (below): that "
            "the JL1-VAE columns are more localised is not established.")
    lines.append(_measure_caveat(summary, noise_reference))
    if beta is not None and jl1 is not None:
        mse_b, mse_j = beta["heldout_mse"]["mean"], jl1["heldout_mse"]["mean"]
        lines.append(f"- Held-out MSE per patch: JL1-VAE {mse_j:.3f}, β-VAE {mse_b:.3f}; "
                     "predicting the mean training patch for every patch gives "
                     f"{summary['mean_patch_error']['mse']:.3f}.")
    baseline_mse = summary["mean_patch_error"]["mse"]
    finished = [r for r in summary["runs"] if r["status"] == "finished"]
    if finished and baseline_mse > 0:
        lines.append(
            "- Share of the mean patch's held-out MSE that each model removes: " + ", ".join(
                f"{r['arm']} seed {r['seed']} {1 - r['heldout_mse'] / baseline_mse:.1%}"
                for r in finished) + ", " + ", ".join(
            f"{r['model']} {r['num_components']} {1 - r['heldout_mse'] / baseline_mse:.1%}"
            for r in summary["linear_baselines"]) + " (near 0 %: the model has learned "
            "little beyond the average patch, and its Jacobian columns say little).")
    for row in summary["linear_baselines"]:
        if row["num_components"] == 10:
            lines.append(f"- {row['model']} with 10 components: top-10% mass "
                         f"{row['localisation']:.3f}, held-out MSE {row['heldout_mse']:.3f}.")
            for arm in (beta, jl1):
                if arm is not None and arm["arm"] not in every_run_collapsed:
                    loc = arm["localisation"]["mean"]
                    side = "above" if loc > row["localisation"] else "at or below"
                    lines.append(f"  - {arm['arm']}'s columns ({loc:.3f}) score {side} "
                                 f"these {row['model']} filters.")
    lines.append(f"- A uniform column would score {TOP_FRACTION}, one confined to a single "
                 "pixel 1.0.")
    return lines


def render_readme(summary: Mapping[str, Any], markdown: str, folder: str,
                  noise_reference: tuple[str, Sequence[Mapping[str, Any]]] | None = None
                  ) -> str:
    """README.md of the results folder ``folder``: what ran, on which data, the deviations
    from the paper and what the localisation numbers show, then summary.md.
    ``noise_reference``: (folder, :func:`collapsed_localisation`) of another summary, whose
    collapsed runs show what the measure gives noise when this one has none."""
    settings, paper = summary["settings"], summary["paper_settings"]
    finished = [r for r in summary["runs"] if r["status"] == "finished"]
    head = [f"# {folder}", "",
            "Generated by the summary step of `jlonevae-sweep run natural_images_cpu` "
            "(jlonevae_lib/visualize/natural_images_summary.py) from the runs and patches; "
            "every number below is measured.", ""]
    if summary["offline_fallback"]:
        head += ["> **These results are on the OFFLINE FALLBACK data, not the paper's "
                 "IMAGES.mat**: " + summary["data_source"] + ". Run "
                 "data/download_natural_image_data.sh, delete data/naturalImages/{train,test} "
                 "and studies/natural_images_cpu, and run the study again for the paper's "
                 "data.", ""]
    counts = sorted({row["num_components"] for row in summary["linear_baselines"]})
    head += [f"What ran: {len(finished)} VAE runs ("
             + ", ".join(f"{r['arm']} seed {r['seed']}" for r in finished)
             + f") and PCA / FastICA at {', '.join(map(str, counts))} components, fitted on "
             f"{summary['patches']['linear_fit']} training patches of the same data.", ""]
    seeds = sorted({r["seed"] for r in finished})
    diffs = [f"{key}: {settings.get(key)} here, {value} in the paper"
             for key, value in paper.items() if key in settings and settings.get(key) != value]
    if "seeds" in paper and seeds != list(paper["seeds"]):
        diffs.append(f"seeds {seeds} here, {list(paper['seeds'])} in the paper")
    if diffs:
        head += ["Deviations from the paper's setting: " + "; ".join(diffs) + ".", ""]
    head += ["## What the numbers show", "", *_findings(summary, noise_reference), ""]
    return "\n".join(head) + "\n" + markdown
