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
# this script go to it (--jobs 2, --dry-run, --seeds 0, --set num_batches=..., --output-dir,
# --results-dir). On a shared 2-core machine run it as
#   OMP_NUM_THREADS=1 bash experimentScripts/reproduce/natural_images_cpu.bash --jobs 2
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

command="${OMP_NUM_THREADS:+OMP_NUM_THREADS=$OMP_NUM_THREADS }"
command+="bash experimentScripts/reproduce/natural_images_cpu.bash"
[ "$#" -gt 0 ] && command+=" $*"
exec jlonevae-sweep run natural_images_cpu --record-command "$command" "$@"
