#!/usr/bin/env bash
# The paper's 60 baselines trained with disentanglement_lib itself (TensorFlow), as the reference
# did: members 100 + 300*m + s (m = 0..5: beta_vae, factor_vae, dip_vae_i, dip_vae_ii,
# beta_tc_vae, annealed_vae; s = 0..9: seeds) of disentanglement_lib's unsupervised study, each
# with the study's own gin config (hyperparameter index 2, 300,000 steps, batch 64) and its dataset
# binding replaced by three-dots (the 500,000-image cache). FactorVAE's global step counts its VAE
# and discriminator updates separately, so its 300,000 steps are about 150,000 iterations.
# Models go to $OUTPUT_DIR/trainedStandardModels/model<N>_on3dots/tf/ (disentanglement_lib's
# layout: tf_checkpoint/, tfhub/, results/). Resumable: finished models are skipped (at once,
# without starting TensorFlow); an unfinished one is deleted and trained again from step 0.
# Builds .venv-dlib/ first if needed (build_dlib_env.bash). Next:
# postprocess_baseline_threeDots.bash, then evaluate_baseline.bash. docs/dlib_tensorflow.md.
# Overrides: MODEL_NUMS="100 400" STEPS=300000 DATASET=threeDotsCache (or threeDotsCacheSmall,
# threeDots) OUTPUT_DIR=.; extra flags go to python -m jlonevae_lib.dlib_tf.train (e.g.
# --eval-steps 1000, disentanglement_lib's own default).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash experimentScripts/train_baseline/build_dlib_env.bash
python=${DLIB_VENV:-$PWD/.venv-dlib}/bin/python
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

if [ -n "${MODEL_NUMS:-}" ]; then
  read -r -a model_nums <<< "$MODEL_NUMS"
else
  # Seed by seed, the six methods each: the reference's order.
  model_nums=()
  for seed in 0 1 2 3 4 5 6 7 8 9; do
    for method_index in 0 1 2 3 4 5; do
      model_nums+=($((100 + 300 * method_index + seed)))
    done
  done
fi
steps=()
[ -n "${STEPS:-}" ] && steps=(--steps "$STEPS")
# One process per model: a crash or a kill loses that model's run only.
for model_num in "${model_nums[@]}"; do
  "$python" -m jlonevae_lib.dlib_tf.train --model-num "$model_num" "${steps[@]}" \
    --dataset "${DATASET:-threeDotsCache}" --output-dir "${OUTPUT_DIR:-.}" "$@"
done
