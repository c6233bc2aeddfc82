#!/usr/bin/env bash
# Evaluate the finished runs of the three-dots sweeps (studies threeDots and threeDots_l2) with
# the paper's 12 metrics: global MIG and modularity/explicitness, local MIG and local modularity
# at localities 0.1, 0.2, 0.3, 0.6 and 1.0 (20 clusters of 10,000 points each, seed 0).
# Results: trainedModels/<experiment>/<run>/metrics/<metric>/results/aggregate/evaluation.json.
# Metrics already computed are skipped, runs not trained yet are left for later. Flags go to
# jlonevae-sweep run for both studies: --overwrite, --device cuda, --jobs N, --backend slurm,
# --metrics ...; runs outside these studies: jlonevae-evaluate RUN ... directly.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

status=0
for study in threeDots threeDots_l2; do
  jlonevae-sweep run "$study" --stages evaluate "$@" || status=$?
done
exit "$status"
