#!/usr/bin/env bash
# Evaluate every finished baseline under $OUTPUT_DIR/trainedStandardModels/ (default: here) with
# the paper's 12 metrics, as evaluate_threeDots.bash does for our own runs. Results:
# trainedStandardModels/<experiment>/<run>/metrics/<metric>/results/aggregate/evaluation.json.
# Metrics already computed are skipped; extra arguments go to jlonevae-evaluate (--overwrite,
# --device cuda, --metrics small_local_mig, ...). Then, all seven methods side by side:
#   jlonevae-plot compare-baselines --baselines-dir trainedStandardModels
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"
shopt -s nullglob

runs=("${OUTPUT_DIR:-.}"/trainedStandardModels/*/*/)
if [ ${#runs[@]} -eq 0 ]; then
  echo "no runs under ${OUTPUT_DIR:-.}/trainedStandardModels/"
  exit 0
fi
jlonevae-evaluate "${runs[@]}" --metrics paper --skip-unfinished --only-dataset threeDots "$@"
