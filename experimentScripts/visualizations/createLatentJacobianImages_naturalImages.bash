#!/usr/bin/env bash
# The paper's natural-image figure: for every natural-image run (tiny16 models, see
# experimentScripts/train_jlonevae/train_naturalImages.bash), the decoder's Jacobian columns on
# ten neighbouring 16×16 crops of IMAGES.mat's image 0 (x = 40..49 down the rows, y = 100),
# latents ordered once by activity on the first crop: one figure per run,
#   figures/naturalImages_jacobians_<experiment>_<run>.png (and .pdf).
# Uses <data root>/naturalImages/IMAGES.mat (data/download_natural_image_data.sh); without it,
# the offline fallback's image 0 (scikit-learn's china.jpg, whitened), with a warning.
#
# Environment:
#   MODELS_DIR   trainedModels      OUTPUT_DIR  figures
#   EXPERIMENTS  tiny16_*           (glob on experiment folder names)
#   SCALE        max (default: each crop's row normalised by its largest |J|, as the
#                reference did), reference or a number
#   DISENTANGLEMENT_LIB_DATA        the data root (default ./data)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

models_dir=${MODELS_DIR:-trainedModels}
output_dir=${OUTPUT_DIR:-figures}

found=0
status=0
for representation in "$models_dir"/${EXPERIMENTS:-tiny16_*}/*/representation; do
  [ -d "$representation" ] || continue  # the unmatched glob itself
  run_dir=$(dirname "$representation")
  experiment=$(basename "$(dirname "$run_dir")")
  run=$(basename "$run_dir")
  found=1
  # One run that cannot be drawn (say, an unfinished one) must not stop the others.
  jlonevae-plot jacobian-columns "$run_dir" --order first --scale "${SCALE:-max}" \
    --output "$output_dir/naturalImages_jacobians_${experiment}_${run}.png" || status=1
done
if [ "$found" -eq 0 ]; then
  echo "error: no natural-image run (${EXPERIMENTS:-tiny16_*}/<run>/representation) under" \
    "$models_dir (set MODELS_DIR or EXPERIMENTS)" >&2
  exit 2
fi
exit "$status"
