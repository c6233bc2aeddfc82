#!/usr/bin/env bash
# The paper's three-dots sweep: β = 4, γ ∈ {0, 0.1, 0.05, 0.2, 0.4}, seeds 11–20,
# 300,000 batches (60 epochs) on the 500,000-image cache. Re-running skips finished runs and
# resumes interrupted ones. Extra flags are passed through (e.g. --device cuda:1).
# Settings: docs/method.md, Experiments of the paper.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

for seed in {11..20}; do
  for gamma in 0.0 0.1 0.05 0.2 0.4; do
    echo "Running with seed: $seed, gamma: $gamma"
    jlonevae-train --dataset threeDotsCache --beta 4 --gamma "$gamma" --latent-dim 10 \
      --epochs 60 --annealingBatches 100000 --lr 0.0001 --seed "$seed" "$@"
  done
done
