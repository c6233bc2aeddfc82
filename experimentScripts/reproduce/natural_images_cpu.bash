#!/usr/bin/env bash
# The natural-image experiment at CPU scale (docs/natural_images.md): JL1-VAE (γ = 0.01) and
# β-VAE (γ = 0) on tiny16, β = 0.01, seeds 0 and 1, 4,000 batches of 128 (the paper: 100,000),
# lr 1e-3, β and γ annealed over the first half (2,000 batches), the Jacobian penalty on a random
# sub-batch of 16; then the summary: the Jacobian-crops figure of every model beside the PCA and
# FastICA filters (5, 10, 25 components, fitted on the same patches), held-out reconstruction
# errors and the localisation of the Jacobian columns (results/natural_images/).
# Data: data/naturalImages/IMAGES.mat when present (data/download_natural_image_data.sh),
# otherwise the offline fallback (scikit-learn's sample photos, whitened), which every output
# labels.
#
# Time: measured steps on a 2-core machine, one thread each: 0.055 s (β-VAE) and 0.12 s
# (JL1-VAE), so about 12 minutes of training with --jobs 2 alone. Measured: the first full run
# took 24 minutes of training (runs of 5-17 min, each recorded in
# results/natural_images/summary.json) on that machine shared with other work, and the
# summary step 35 s.
#
# Resumable: finished runs are skipped, an interrupted one resumes from its checkpoint, the
# summary is redrawn. The runner is jlonevae-sweep (study natural_images_cpu); flags given to
# this script go to it (--jobs 2, --dry-run, --seeds 0, --set num_batches=..., --output-dir).
# On a shared 2-core machine run it as
#   OMP_NUM_THREADS=1 bash experimentScripts/reproduce/natural_images_cpu.bash --jobs 2
#
# Where the summary goes: --results-dir DIR (or OUTPUT_DIR=DIR); unset: a fresh
# results/natural_images_<yyyymmdd-hhmmss> (printed first), never the committed
# results/natural_images, which only REPLACE=1 (or --replace) writes over; a named folder that
# holds committed results (results/natural_images_20k ...) needs REPLACE=1 too
# (experimentScripts/reproduce/common.bash).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

source experimentScripts/reproduce/common.bash
choose_output_dir results/natural_images "$@"

command="${OMP_NUM_THREADS:+OMP_NUM_THREADS=$OMP_NUM_THREADS }"
[ "$replacing" = 1 ] && command+="REPLACE=1 "
command+="OUTPUT_DIR=$output_name bash experimentScripts/reproduce/natural_images_cpu.bash"
if [ ${#sweep_args[@]} -gt 0 ]; then command+="$(printf ' %q' "${sweep_args[@]}")"; fi
exec jlonevae-sweep run natural_images_cpu --results-dir "$output_dir" \
  --record-command "$command" "${sweep_args[@]}"
