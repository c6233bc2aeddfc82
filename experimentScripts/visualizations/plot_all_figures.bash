#!/usr/bin/env bash
# Every three-dots figure of the paper from trained and evaluated runs (see the two scripts
# for their environment variables). The natural-image figure is
# createLatentJacobianImages_naturalImages.bash; MPI3D-multi's is the notebook
# notebooks/ExampleJacobianValues-Mpi3d-multi.ipynb (or jlonevae-plot jacobian-columns RUN).
set -euo pipefail
here="$(dirname "$0")"
status=0
bash "$here/plot_threeDots_jacobians.bash" || status=1
bash "$here/plot_threeDots_comparisons.bash" || status=1
exit "$status"
