#!/usr/bin/env bash
# The paper's 60 baselines, in PyTorch (study baselines): disentanglement_lib's six methods
# (β-VAE, FactorVAE, DIP-VAE-I, DIP-VAE-II, β-TCVAE, AnnealedVAE) at hyperparameter index 2,
# seeds 0–9, with the study's settings (its architecture dlibConv, batch 64, 10 latents, Adam
# lr 1e-4, 300,000 batches; a FactorVAE batch updates the VAE and the discriminator once each,
# which disentanglement_lib counts as two steps) on the 500,000-image three-dots cache.
# Runs go to $OUTPUT_DIR/trainedStandardModels/<experiment>/seed<k>/ (model number, method and
# hyperparameters in each run's config.json); re-running skips finished runs and resumes the rest.
# Overrides: METHODS="factor_vae dip_vae_i" SEEDS="0 1" HP_INDEX=2 DATASET=threeDotsCacheSmall
# OUTPUT_DIR=.; flags go to jlonevae-sweep run: --backend slurm, --jobs N, --dry-run, and
# jlonevae-train flags (e.g. --steps 8000 --lr 0.001 --device cuda).
# Settings: docs/method.md, "The six baselines". Evaluation: evaluate_baseline.bash.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

args=(run baselines --stages train --output-dir "${OUTPUT_DIR:-.}")
[ -n "${METHODS:-}" ] && args+=(--methods $METHODS)
[ -n "${SEEDS:-}" ] && args+=(--seeds $SEEDS)
[ -n "${HP_INDEX:-}" ] && args+=(--set "hp_index=$HP_INDEX")
[ -n "${DATASET:-}" ] && args+=(--set "dataset=$DATASET")
exec jlonevae-sweep "${args[@]}" "$@"
