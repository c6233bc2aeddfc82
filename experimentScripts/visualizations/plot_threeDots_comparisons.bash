#!/usr/bin/env bash
# Figures 4 and 5 of the paper and the appendix's L1 vs L2 plots, from evaluated runs:
#   local MIG / local modularity at locality 0.1 per method (JL1-VAE vs the baselines),
#   the same against locality (β-VAE vs JL1-VAE, L1 vs L2), and MIG vs modularity across γ.
#
# Environment:
#   MODELS_DIR     trainedModels           BASELINES_DIR  trainedStandardModels (if present)
#   OUTPUT_DIR     figures                 INCLUDE        glob on experiment names (default all;
#                                          e.g. '*_lr0_0001_anneal100000' for the paper's runs)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

common=(--models-dir "${MODELS_DIR:-trainedModels}" --output-dir "${OUTPUT_DIR:-figures}")
baselines_dir=${BASELINES_DIR:-trainedStandardModels}
[ -d "$baselines_dir" ] && common+=(--baselines-dir "$baselines_dir")
[ -n "${INCLUDE:-}" ] && common+=(--include "$INCLUDE")

# A figure whose results are missing (say, no β-VAE runs yet) must not stop the others.
status=0
plot() { jlonevae-plot "$@" || { echo "note: 'jlonevae-plot $1' drew nothing" >&2; status=1; }; }

plot compare-baselines "${common[@]}" --gamma 0.1 --locality 0.1
plot vs-locality "${common[@]}" --gamma 0.1
plot scatter "${common[@]}" --locality 0.1
plot scatter "${common[@]}" --locality global
exit "$status"
