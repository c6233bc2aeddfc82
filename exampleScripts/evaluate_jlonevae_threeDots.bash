#!/usr/bin/env bash
# Evaluate every finished three-dots run under trainedModels/ with the small example's metrics:
# global MIG and modularity/explicitness, and local MIG and local modularity on 3 clusters of
# 1,000 points at locality 0.1 (seed 0).
# Results: trainedModels/<experiment>/<run>/metrics/<metric>/results/aggregate/evaluation.json.
# Extra arguments go to jlonevae-evaluate (--overwrite, --device cuda, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"
shopt -s nullglob

runs=(trainedModels/*/*/)
if [ ${#runs[@]} -eq 0 ]; then
  echo "no runs under trainedModels/; train one with exampleScripts/train_jlonevae_threeDots.bash"
  exit 0
fi
jlonevae-evaluate "${runs[@]}" --metrics small --skip-unfinished --only-dataset threeDots "$@"
