#!/usr/bin/env bash
# The paper's MPI3D-multi sweep (study mpi3d_multi): defaultConv on 64×64×3 mpi3dMulti images,
# β = 0.01, γ ∈ {0, 0.01}, 10 latents, lr 1e-4, batch 64, 300,000 batches, annealing over
# 100,000, seeds 11–15: all 10 runs (the reference's script exited after the first). Needs the
# mpi3d_real data (cd data; ./download_mpi3d_real.sh). Re-running skips finished runs and
# resumes interrupted ones. Overrides: SEEDS, GAMMAS, NUM_BATCHES, ANNEALING; flags go to
# jlonevae-sweep run (--backend slurm, --jobs N, --dry-run, jlonevae-train flags such as
# --device cuda:1). Settings: docs/method.md, Experiments of the paper.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

args=(run mpi3d_multi --stages train)
[ -n "${SEEDS:-}" ] && args+=(--seeds $SEEDS)
[ -n "${GAMMAS:-}" ] && args+=(--gammas $GAMMAS)
[ -n "${NUM_BATCHES:-}" ] && args+=(--set "num_batches=$NUM_BATCHES")
[ -n "${ANNEALING:-}" ] && args+=(--set "annealing_batches=$ANNEALING")
exec jlonevae-sweep "${args[@]}" "$@"
