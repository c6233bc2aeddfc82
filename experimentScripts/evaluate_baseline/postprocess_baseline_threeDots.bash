#!/usr/bin/env bash
# Post-process every disentanglement_lib model that finished training under
# $OUTPUT_DIR/trainedStandardModels/model<N>_on3dots/tf/ (train_standard_tf_models.bash) to its
# mean representation, with disentanglement_lib itself (the study's mean.gin, as the reference
# did): <tf>/representation/ (tfhub/ and results/). Then import each into PyTorch with
# jlonevae-import-dlib, as the run $OUTPUT_DIR/trainedStandardModels/<experiment>/tf_model<N>/
# that evaluate_baseline.bash scores. Models already post-processed are skipped; unfinished ones
# are left for the training script. Builds .venv-dlib/ first if needed. docs/dlib_tensorflow.md.
# Overrides: OUTPUT_DIR=.; extra flags go to jlonevae-import-dlib.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"
shopt -s nullglob
bash experimentScripts/train_baseline/build_dlib_env.bash
python=${DLIB_VENV:-$PWD/.venv-dlib}/bin/python
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

# Finished trainings have results/aggregate/train.json (disentanglement_lib writes it last).
dirs=()
for finished in "${OUTPUT_DIR:-.}"/trainedStandardModels/model*_on3dots/tf/results/aggregate/train.json; do
  dirs+=("$(dirname "$(dirname "$(dirname "$finished")")")")
done
if [ ${#dirs[@]} -eq 0 ]; then
  echo "no finished disentanglement_lib models under ${OUTPUT_DIR:-.}/trainedStandardModels/"
  exit 0
fi
"$python" -m jlonevae_lib.dlib_tf.postprocess "${dirs[@]}"
jlonevae-import-dlib --output-dir "${OUTPUT_DIR:-.}" "${dirs[@]}" "$@"
