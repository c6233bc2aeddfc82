"""The reference's linear comparison on natural-image patches: PCA and FastICA.

Each model is fitted (scikit-learn, ``random_state=seed``) to ``num_patches`` training patches
drawn without replacement with ``numpy.random.default_rng(seed)`` (the reference took the first
shuffled batch of an unseeded DataLoader), flattened to (N, 256). Its reconstruction
``inverse_transform(transform(x))`` is clipped to [0, 1] and scored per image, summed over
pixels and averaged over images, as the reference did:

- MSE: Σ (x̂ − x)² / N;
- BCE: −Σ [x log x̂ + (1 − x) log(1 − x̂)] / N, each log clamped at −100 as torch's
  ``binary_cross_entropy`` (which the reference called) does, so a clipped 0 or 1 stays finite.

Components, (256, k): PCA's principal axes (``components_.T``), FastICA's mixing matrix
(``mixing_``). FastICA whitens with ``whiten="arbitrary-variance"``, the behaviour of the
scikit-learn the reference ran (``whiten=True`` before 1.1), so the mixing matrix has its scale.

Output (``--output-dir``, default ``linearModels/naturalImages``, the reference's layout): one
``<PCA|ICA>_lat<k>.npz`` per model with the reference's arrays ``MSE_loss``, ``NLL_loss``
(the BCE) and ``latent_components``, and ``linear_baselines.json`` with every score and the
settings. All written atomically.
"""

from __future__ import annotations

if __name__ == "__main__":
    # ``python -m`` of this module: run its command line as the program, by name (the library
    # never imports jlonevae_lib.cli), before this copy defines anything (the command
    # imports the module as usual; this copy would run beside it).
    import runpy

    runpy.run_module("jlonevae_lib.cli.linear_baselines", run_name="__main__", alter_sys=True)

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jlonevae_lib.utils.atomic import atomic_path, atomic_write_json
from jlonevae_lib.utils.errors import JLoneVAEError

MODELS = ("PCA", "ICA")
#: FastICA's whitening: the behaviour of the sklearn versions the seed used (see above).
ICA_WHITEN = "arbitrary-variance"
DEFAULT_COMPONENTS = (5, 10, 25)
DEFAULT_NUM_PATCHES = 10_000
DEFAULT_SEED = 0
DEFAULT_OUTPUT_DIR = Path("linearModels") / "naturalImages"
SUMMARY_FILE = "linear_baselines.json"
#: torch's binary_cross_entropy clamps each log term at -100.
BCE_LOG_FLOOR = -100.0


@dataclass(frozen=True)
class LinearBaseline:
    """One fitted model: components (D, k) and its reconstruction scores per image."""

    model: str
    components: np.ndarray
    mse: float
    bce: float
    #: FastICA stopped before ``max_iter``; always True for PCA.
    converged: bool

    @property
    def num_components(self) -> int:
        return self.components.shape[1]

    @property
    def file_name(self) -> str:
        return f"{self.model}_lat{self.num_components}.npz"


def draw_patches(patches: np.ndarray, num_patches: int, rng: np.random.Generator) -> np.ndarray:
    """``num_patches`` patches (N, C, H, W) drawn without replacement → float64 (num, C·H·W)."""
    if not 1 <= num_patches <= len(patches):
        raise JLoneVAEError(f"cannot draw {num_patches} patches from {len(patches)}")
    chosen = rng.choice(len(patches), size=num_patches, replace=False)
    return patches[chosen].reshape(num_patches, -1).astype(np.float64)


def reconstruction_losses(reconstruction: np.ndarray, data: np.ndarray) -> tuple[float, float]:
    """(MSE, BCE) per image of a reconstruction (N, D) of data (N, D) in [0, 1], clipped first."""
    clipped = np.clip(reconstruction, 0.0, 1.0)
    mse = np.sum((clipped - data) ** 2) / len(data)
    with np.errstate(divide="ignore"):  # log(0) = -inf, clamped just below
        log_x = np.maximum(np.log(clipped), BCE_LOG_FLOOR)
        log_1mx = np.maximum(np.log1p(-clipped), BCE_LOG_FLOOR)
    bce = -np.sum(data * log_x + (1.0 - data) * log_1mx) / len(data)
    return float(mse), float(bce)


def fit_linear_baseline(model: str, data: np.ndarray, num_components: int, seed: int
                        ) -> LinearBaseline:
    """Fit PCA or FastICA with ``num_components`` to data (N, D) and score its reconstruction."""
    from sklearn.decomposition import PCA, FastICA
    from sklearn.exceptions import ConvergenceWarning

    if model == "PCA":
        transformer = PCA(n_components=num_components, random_state=seed)
    elif model == "ICA":
        transformer = FastICA(n_components=num_components, whiten=ICA_WHITEN, random_state=seed)
    else:
        raise JLoneVAEError(f"unknown linear model {model!r}; choose from {', '.join(MODELS)}")
    with warnings.catch_warnings():
        # Non-convergence is recorded in the results instead of printed.
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        reconstruction = transformer.inverse_transform(transformer.fit_transform(data))
    if model == "PCA":
        components, converged = transformer.components_.T, True
    else:
        components, converged = transformer.mixing_, transformer.n_iter_ < transformer.max_iter
    mse, bce = reconstruction_losses(reconstruction, data)
    return LinearBaseline(model, np.ascontiguousarray(components), mse, bce, bool(converged))


def fit_linear_baselines(data: np.ndarray, models: Sequence[str] = MODELS,
                         components: Sequence[int] = DEFAULT_COMPONENTS,
                         seed: int = DEFAULT_SEED) -> list[LinearBaseline]:
    """Every model × number of components on data (N, D), in that order. A number of
    components above min(N, D) is a :class:`JLoneVAEError` (PCA and FastICA cannot fit it)."""
    most = min(data.shape)
    too_many = [k for k in components if k > most]
    if too_many:
        raise JLoneVAEError(f"{', '.join(map(str, too_many))} components: at most {most} fit "
                            f"{data.shape[0]} patches of {data.shape[1]} pixels; give fewer "
                            "components or more patches")
    return [fit_linear_baseline(model, data, k, seed) for k in components for model in models]


def save_linear_baselines(output_dir: str | Path, baselines: Sequence[LinearBaseline],
                          settings: dict) -> Path:
    """Write each model's .npz and the JSON summary (with ``settings``); returns the JSON path."""
    output_dir = Path(output_dir)
    for baseline in baselines:
        with atomic_path(output_dir / baseline.file_name, suffix=".npz") as tmp:
            np.savez(tmp, MSE_loss=baseline.mse, NLL_loss=baseline.bce,
                     latent_components=baseline.components)
    summary = {"settings": settings, "results": [
        {"model": b.model, "num_components": b.num_components, "mse": b.mse, "bce": b.bce,
         "converged": b.converged, "file": b.file_name} for b in baselines]}
    atomic_write_json(output_dir / SUMMARY_FILE, summary)
    return output_dir / SUMMARY_FILE
