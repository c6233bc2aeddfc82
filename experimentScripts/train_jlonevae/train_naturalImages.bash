#!/usr/bin/env bash
# The paper's natural-image runs (study naturalImages): tiny16 on 16x16 patches, β = 0.01,
# γ ∈ {0, 0.01}, 10 latents, lr 0.001, batch 128, 100,000 batches with β and γ annealed over
# the first 50,000, seed 0. Uses data/naturalImages/IMAGES.mat
# (data/download_natural_image_data.sh); the training patches are sampled from it on first use.
# Without it (offline) they come from a fallback, two photographs shipped with scikit-learn,
# whitened alike: a warning says so and the run's config.json records it as data_source.
# Re-running skips finished runs and resumes interrupted ones. Overrides: SEEDS="0 1"
# GAMMAS="0.0" NUM_BATCHES=... ANNEALING=... OUTPUT_DIR=...; flags go to jlonevae-sweep run
# (--backend slurm, --jobs N, --dry-run, jlonevae-train flags such as --device cuda:1).
# Settings: docs/method.md, Experiments of the paper.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

args=(run naturalImages --stages train --output-dir "${OUTPUT_DIR:-.}")
[ -n "${SEEDS:-}" ] && args+=(--seeds $SEEDS)
[ -n "${GAMMAS:-}" ] && args+=(--gammas $GAMMAS)
[ -n "${NUM_BATCHES:-}" ] && args+=(--set "num_batches=$NUM_BATCHES")
[ -n "${ANNEALING:-}" ] && args+=(--set "annealing_batches=$ANNEALING")
exec jlonevae-sweep "${args[@]}" "$@"
