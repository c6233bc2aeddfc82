#!/usr/bin/env bash
# Every three-dots figure of the paper from trained and evaluated runs (see the two scripts
# for their environment variables). The MPI3D-multi and natural-image figures need those
# datasets' example images: jlonevae-plot jacobian-columns RUN --image FILE.npy [--order first].
set -euo pipefail
here="$(dirname "$0")"
status=0
bash "$here/plot_threeDots_jacobians.bash" || status=1
bash "$here/plot_threeDots_comparisons.bash" || status=1
exit "$status"
