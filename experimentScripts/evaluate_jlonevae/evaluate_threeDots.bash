#!/usr/bin/env bash
# Evaluate every finished three-dots run under trainedModels/ with the paper's 12 metrics:
# global MIG and modularity/explicitness, local MIG and local modularity at localities
# 0.1, 0.2, 0.3, 0.6 and 1.0 (20 clusters of 10,000 points each, seed 0).
# Results: trainedModels/<experiment>/<run>/metrics/<metric>/results/aggregate/evaluation.json.
# Metrics already computed are skipped; extra arguments go to jlonevae-evaluate (--overwrite,
# --device cuda, ...).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"
shopt -s nullglob

runs=(trainedModels/*/*/)
if [ ${#runs[@]} -eq 0 ]; then
  echo "no runs under trainedModels/"
  exit 0
fi
jlonevae-evaluate "${runs[@]}" --metrics paper --skip-unfinished --only-dataset threeDots "$@"
