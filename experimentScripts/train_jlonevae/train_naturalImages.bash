#!/usr/bin/env bash
# The paper's natural-image runs: tiny16 on 16x16 patches, β = 0.01, γ ∈ {0, 0.01},
# 10 latents, lr 0.001, batch 128, 100,000 batches with β and γ annealed over the first 50,000,
# seed 0. Uses data/naturalImages/IMAGES.mat (data/download_natural_image_data.sh); the
# training patches are sampled from it on first use. Without it (offline) they come from a
# fallback, two photographs shipped with scikit-learn, whitened alike: a warning says so and the
# run's config.json records it as data_source. Re-running skips finished runs and resumes
# interrupted ones. Overrides: SEEDS="0 1" GAMMAS="0.0" NUM_BATCHES=... ANNEALING=...
# OUTPUT_DIR=...; extra flags are passed through (e.g. --device cuda:1). Settings:
# docs/method.md, Experiments of the paper.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

for seed in ${SEEDS:-0}; do
  for gamma in ${GAMMAS:-0.0 0.01}; do
    echo "Running with seed: $seed, gamma: $gamma"
    jlonevae-train --dataset naturalImages --architecture tiny16 --beta 0.01 --gamma "$gamma" \
      --latent-dim 10 --lr 0.001 --batch-size 128 --num-batches "${NUM_BATCHES:-100000}" \
      --annealingBatches "${ANNEALING:-50000}" --seed "$seed" --output-dir "${OUTPUT_DIR:-.}" "$@"
  done
done
