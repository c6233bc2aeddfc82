"""Demo checkpoints shipped with the package: a β-VAE and a JL1-VAE at CPU scale.

Both come from the CPU study (``experimentScripts/reproduce/cpu_study.bash``, seed 1): three-dots,
20,000-image cache, β = 4, γ = 0 and 0.1, 8,000 batches of 64, lr 1e-3, Jacobian penalty on a
sub-batch of 16. They are far from the paper's 300,000 batches: enough to look at the Jacobian
columns side by side, not to reproduce the paper's figures or numbers (at this length several
JL1-VAE columns still move two dots, as most β-VAE columns do).

The folders follow the run layout (``trainedModels/<experiment>/<run>/representation/
cache_batch_no<N>/``), so every tool that takes a run folder or a ``--models-dir`` takes them.
Their weights are stored as float16 to keep each model under 2 MB; they load into the usual
float32 model (``load_state_dict`` casts), and the reference's own loader reads them too.
``python -m jlonevae_lib.demo_models.build`` rebuilds them from finished runs.
"""

from __future__ import annotations

from pathlib import Path

from jlonevae_lib.runs.layout import TRAINED_MODELS_DIR, model_runs

#: The demo runs' ``trainedModels`` folder inside the installed package.
DEMO_MODELS_DIR = Path(__file__).resolve().parent / TRAINED_MODELS_DIR

#: What every demo run's ``DEMO.md`` starts with, and what tools print when they fall back to
#: the demo checkpoints.
DEMO_KIND = "CPU-scale demo"
DEMO_LABEL = f"{DEMO_KIND}, 8k batches"


def demo_run_dirs() -> list[Path]:
    """The demo run folders, sorted by experiment name (β-VAE, γ = 0, first)."""
    return model_runs(DEMO_MODELS_DIR)
