"""Builders of a small results tree in the standard layouts (docs/formats.md), with tiny models.

The tree (see :func:`build_results_tree`) holds::

    trainedModels/<experiment>/seed<k>/metrics/<metric>/results/aggregate/evaluation.json
    trainedModels/<experiment>/seed1/representation/cache_batch_no{5,10}/   (JL1 γ=0.1, γ=0)
    trainedStandardModels/<model number>/metrics/...                       (two baselines)

Our experiments: JL1-VAE γ=0.1 (3 seeds), β-VAE γ=0 (3 seeds), JL1-VAE γ=0.2 (2 seeds) and
JL2-VAE γ=0.1 (2 seeds), each with local MIG and local modularity at the 5 localities and the
global MIG and modularity. JL1-VAE's local scores are higher than β-VAE's by construction, so
the t-tests have a known direction.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from jlonevae_lib.architecture.save_model import save_conv_vae
from jlonevae_lib.architecture.vae import build_conv_vae

LOCALITIES = (0.1, 0.2, 0.3, 0.6, 1.0)
NUM_CLUSTERS = 4
LATENT_DIM = 3

JL1_EXPERIMENT = "defaultConv_lone_beta4_0000_ica0_1000_lat3_batch64_lr0_0010_anneal700"
BETA_EXPERIMENT = "defaultConv_lone_beta4_0000_ica0_0000_lat3_batch64_lr0_0010_anneal700"
JL1_GAMMA02_EXPERIMENT = "defaultConv_lone_beta4_0000_ica0_2000_lat3_batch64_lr0_0010_anneal700"
JL2_EXPERIMENT = "defaultConv_jltwo_beta4_0000_ica0_1000_lat3_batch64_lr0_0010_anneal700"

# (experiment, seeds, offset added to every local score: the method's "quality").
OUR_EXPERIMENTS = (
    (JL1_EXPERIMENT, (1, 2, 3), 0.06),
    (BETA_EXPERIMENT, (1, 2, 3), 0.0),
    (JL1_GAMMA02_EXPERIMENT, (1, 2), 0.08),
    (JL2_EXPERIMENT, (1, 2), 0.03),
)
# disentanglement_lib study numbers (docs/formats.md): β-VAE hp 2 = 100+seed, FactorVAE = 400+seed.
BASELINES = (("'beta_vae'", (100, 101)), (None, (400, 401)))


def evaluation_json(locality: float | None, metric: str, level: float,
                    rng: np.random.Generator, extra: dict | None = None) -> dict:
    """A flat evaluation.json dict as disentanglement_lib writes it (docs/formats.md)."""
    data = {"evaluation_config.dataset.name": "'threeDots'",
            "evaluation_results.elapsed_time": 1.5}
    if locality is not None:
        data["evaluation_config.local_sample_factors.locality_proportion"] = str(locality)
        samples = (level + 0.01 * rng.standard_normal(NUM_CLUSTERS)).tolist()
        key = ("local_discrete_migs_samples" if metric == "local_mig"
               else "local_modularity_scores_samples")
        data[f"evaluation_results.{key}"] = samples
        scalar = "local_discrete_mig" if metric == "local_mig" else "local_modularity_score"
        data[f"evaluation_results.{scalar}"] = float(np.mean(samples))
    elif metric == "mig":
        data["evaluation_results.discrete_mig"] = level + 0.005 * float(rng.standard_normal())
    else:
        data["evaluation_results.modularity_score"] = level + 0.01 * float(rng.standard_normal())
        data["evaluation_results.explicitness_score_test"] = 0.9
    data.update(extra or {})
    return data


def write_evaluation(run_dir: Path, folder: str, data: dict) -> Path:
    path = run_dir / "metrics" / folder / "results" / "aggregate" / "evaluation.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def write_all_metrics(run_dir: Path, offset: float, rng: np.random.Generator,
                      extra: dict | None = None) -> None:
    """Local MIG / modularity at every locality, global MIG and modularity for one run."""
    for locality in LOCALITIES:
        token = f"{locality:g}".replace(".", "_")
        # Scores fall with locality, as the paper's do; the method's offset shrinks with it.
        mig = 0.05 + offset * (1.1 - locality)
        write_evaluation(run_dir, f"local_mig_{token}",
                         evaluation_json(locality, "local_mig", mig, rng, extra))
        write_evaluation(run_dir, f"local_modularity_{token}",
                         evaluation_json(locality, "local_modularity", 0.85 + offset, rng, extra))
    write_evaluation(run_dir, "mig", evaluation_json(None, "mig", 0.01 + offset / 5, rng, extra))
    write_evaluation(run_dir, "modularity_explicitness",
                     evaluation_json(None, "modularity", 0.8 + offset, rng, extra))


def save_tiny_model(folder: Path, seed: int) -> None:
    torch.manual_seed(seed)
    save_conv_vae(build_conv_vae("defaultConv", im_channels=1, latent_dim=LATENT_DIM), folder)


def build_results_tree(root: Path) -> Path:
    """Write the whole tree under ``root``; returns ``root``."""
    rng = np.random.default_rng(0)
    for experiment, seeds, offset in OUR_EXPERIMENTS:
        for seed in seeds:
            run_dir = root / "trainedModels" / experiment / f"seed{seed}"
            write_all_metrics(run_dir, offset, rng)
            (run_dir / "config.json").write_text(json.dumps({"seed": seed}))
    for experiment in (JL1_EXPERIMENT, BETA_EXPERIMENT):
        representation = root / "trainedModels" / experiment / "seed1" / "representation"
        # Two checkpoints: tools must pick the final (highest) one.
        save_tiny_model(representation / "cache_batch_no5", seed=5)
        save_tiny_model(representation / "cache_batch_no10", seed=10)
    for name, numbers in BASELINES:
        for number in numbers:
            extra = {} if name is None else {"train_config.model.name": name}
            write_all_metrics(root / "trainedStandardModels" / str(number), -0.02, rng, extra)
    return root
