#!/usr/bin/env bash
# Figure 2 of the paper: Jacobian columns of a β-VAE (γ = 0) and a JL1-VAE (γ = 0.1) on the
# three-dots example image, one row per model. (Latent traversals, not in the paper:
# jlonevae-plot traversals RUN --output FIG.png.)
#
# Environment (defaults: the paper's sweep, experimentScripts/train_jlonevae/train_threeDots.bash):
#   MODELS_DIR  trainedModels          OUTPUT_DIR  figures
#   SETTINGS    lat10_batch64_lr0_0001_anneal100000   (the experiment name after ica<γ>_)
#   RUN         seed11                 SCALE       reference (default: the paper's 20/255
#                                                  contrast), max or a number
# The small example (make demo) is: SETTINGS=lat10_batch64_lr0_0010_anneal700 RUN=seed1
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

models_dir=${MODELS_DIR:-trainedModels}
output_dir=${OUTPUT_DIR:-figures}
settings=${SETTINGS:-lat10_batch64_lr0_0001_anneal100000}
run=${RUN:-seed11}

runs=()
for gamma in 0_0000 0_1000; do
  run_dir="$models_dir/defaultConv_lone_beta4_0000_ica${gamma}_${settings}/$run"
  if [ -d "$run_dir" ]; then
    runs+=("$run_dir")
  else
    echo "note: no run $run_dir; skipping it" >&2
  fi
done
if [ "${#runs[@]}" -eq 0 ]; then
  echo "error: no β-VAE or JL1-VAE run with SETTINGS=$settings RUN=$run under $models_dir:" \
       "train the paper's (jlonevae-sweep run threeDots), or name runs you have (after make" \
       "demo: SETTINGS=lat10_batch64_lr0_0010_anneal700 RUN=seed1; or set MODELS_DIR)" >&2
  exit 2
fi
jlonevae-plot jacobian-columns "${runs[@]}" --scale "${SCALE:-reference}" \
  --output "$output_dir/threeDots_jacobian_columns.png"
