#!/usr/bin/env bash
# The appendix's L2 sweep: as train_threeDots.bash with --regularization_type jltwo, γ > 0.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

for seed in {11..20}; do
  for gamma in 0.1 0.05 0.2 0.4; do
    echo "Running with seed: $seed, gamma: $gamma"
    jlonevae-train --dataset threeDotsCache --beta 4 --gamma "$gamma" --latent-dim 10 \
      --epochs 60 --annealingBatches 100000 --lr 0.0001 --regularization_type jltwo \
      --seed "$seed" "$@"
  done
done
