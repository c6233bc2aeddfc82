#!/usr/bin/env bash
# Evaluate every finished baseline under $OUTPUT_DIR/trainedStandardModels/ (default: here) with
# the paper's 12 metrics, as evaluate_threeDots.bash does for our own runs: the PyTorch ones
# (train_standard_models.bash) and the disentanglement_lib ones imported from TensorFlow
# (train_standard_tf_models.bash, then postprocess_baseline_threeDots.bash, which imports them as
# trainedStandardModels/<experiment>/tf_model<N>/). Results:
# trainedStandardModels/<experiment>/<run>/metrics/<metric>/results/aggregate/evaluation.json.
# Metrics already computed are skipped; extra arguments go to jlonevae-evaluate (--overwrite,
# --device cuda, --metrics small_local_mig; --metrics dlib: disentanglement_lib's nine configs,
# dlib_local: their local versions). Then, all seven methods side by side:
#   jlonevae-plot compare-baselines --baselines-dir trainedStandardModels
#   jlonevae-plot all-metrics --baselines-dir trainedStandardModels   # every score, a panel each
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"
shopt -s nullglob

# Runs have a config.json; disentanglement_lib's own model folders (model<N>_on3dots/tf) do not,
# and are evaluated through their imports.
runs=()
for config in "${OUTPUT_DIR:-.}"/trainedStandardModels/*/*/config.json; do
  runs+=("$(dirname "$config")/")
done
if [ ${#runs[@]} -eq 0 ]; then
  echo "no runs under ${OUTPUT_DIR:-.}/trainedStandardModels/"
  exit 0
fi
jlonevae-evaluate "${runs[@]}" --metrics paper --skip-unfinished --only-dataset threeDots "$@"
