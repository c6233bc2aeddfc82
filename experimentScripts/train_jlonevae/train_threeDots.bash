#!/usr/bin/env bash
# The paper's three-dots sweep (study threeDots): β = 4, γ ∈ {0, 0.1, 0.05, 0.2, 0.4}, seeds
# 11–20, 300,000 batches (60 epochs) on the 500,000-image cache: 50 runs. Trains them; then
# evaluate_threeDots.bash evaluates them (`jlonevae-sweep run threeDots` does both and draws the
# figures). Re-running skips finished runs and resumes interrupted ones.
# Flags go to jlonevae-sweep run: --backend slurm (with --partition, --gpus, --time ...),
# --jobs N, --seeds ..., --dry-run, and jlonevae-train flags such as --device cuda:1.
# Settings: docs/method.md, Experiments of the paper; `jlonevae-sweep run threeDots --dry-run`.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

exec jlonevae-sweep run threeDots --stages train "$@"
