#!/usr/bin/env bash
# The paper's MPI3D-multi sweep: defaultConv on 64×64×3 mpi3dMulti images, β = 0.01,
# γ ∈ {0, 0.01}, 10 latents, lr 1e-4, batch 64, 300,000 batches, annealing over 100,000, seeds
# 11–15: all 10 runs (the reference's script exited after the first). Needs the mpi3d_real data
# (cd data; ./download_mpi3d_real.sh). Re-running skips finished runs and resumes interrupted
# ones. Overrides: SEEDS, GAMMAS, NUM_BATCHES, ANNEALING; extra flags are passed through
# (e.g. --device cuda:1). Settings: docs/method.md, Experiments of the paper.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

for seed in ${SEEDS:-11 12 13 14 15}; do
  for gamma in ${GAMMAS:-0.0 0.01}; do
    echo "Running with seed: $seed, gamma: $gamma"
    jlonevae-train --dataset mpi3dMulti --architecture defaultConv --beta 0.01 --gamma "$gamma" \
      --latent-dim 10 --batch-size 64 --lr 0.0001 --num-batches "${NUM_BATCHES:-300000}" \
      --annealingBatches "${ANNEALING:-100000}" --seed "$seed" "$@"
  done
done
