#!/usr/bin/env bash
# The paper's 60 baselines, in PyTorch: disentanglement_lib's six methods (β-VAE, FactorVAE,
# DIP-VAE-I, DIP-VAE-II, β-TCVAE, AnnealedVAE) at hyperparameter index 2, seeds 0–9, with the
# study's settings (its architecture dlibConv, batch 64, 10 latents, Adam lr 1e-4, 300,000
# batches; a FactorVAE batch updates the VAE and the discriminator once each, which
# disentanglement_lib counts as two steps) on the 500,000-image three-dots cache.
# Runs go to $OUTPUT_DIR/trainedStandardModels/<experiment>/seed<k>/ (model number, method and
# hyperparameters in each run's config.json); re-running skips finished runs and resumes the rest.
# Overrides: METHODS="factor_vae dip_vae_i" SEEDS="0 1" HP_INDEX=2 DATASET=threeDotsCacheSmall
# OUTPUT_DIR=.; extra flags go to jlonevae-train (e.g. --steps 8000 --lr 0.001 --device cuda).
# Settings: docs/method.md, "The six baselines".
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

read -r -a methods <<< "${METHODS:-beta_vae factor_vae dip_vae_i dip_vae_ii beta_tc_vae annealed_vae}"
read -r -a seeds <<< "${SEEDS:-0 1 2 3 4 5 6 7 8 9}"
for seed in "${seeds[@]}"; do
  for method in "${methods[@]}"; do
    echo "Running $method, hyperparameter index ${HP_INDEX:-2}, seed $seed"
    jlonevae-train --model "$method" --hp-index "${HP_INDEX:-2}" --seed "$seed" \
      --dataset "${DATASET:-threeDotsCache}" --output-dir "${OUTPUT_DIR:-.}" "$@"
  done
done
