#!/usr/bin/env bash
# The appendix's L2 sweep (study threeDots_l2): as train_threeDots.bash with
# --regularization_type jltwo, γ ∈ {0.1, 0.05, 0.2, 0.4}, seeds 11–20: 40 runs. Trains them;
# evaluate_threeDots.bash evaluates them. Flags go to jlonevae-sweep run (--backend slurm,
# --jobs N, --dry-run, jlonevae-train flags such as --device cuda:1).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

exec jlonevae-sweep run threeDots_l2 --stages train "$@"
