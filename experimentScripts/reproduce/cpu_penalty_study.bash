#!/usr/bin/env bash
# The pre-registered penalty study (docs/studies.md, `cpu_penalty_study`): JL1-VAE (β = 4,
# γ = 0.1, both ramped over 10,000 batches), the same objective at γ = 0, and
# disentanglement_lib's β-VAE (β = 4), all on disentanglement_lib's architecture, d = 10,
# batches of 64, lr 1e-3, 30,000 batches of the paper's 500,000-image three-dots cache, models
# kept at 8,000 and 15,000 batches, seeds 1-10 per arm (30 runs). Then the paper's 12 metrics
# and local MIG and local modularity at locality 0.1 at evaluation seeds 0-2 (those two also of
# the kept models), and the report: the registered tests, figures and
# summary.md, summary.json, README.md. Its design is fixed: no settings are taken here.
#
# How long: about 18-19 h of wall clock with --jobs 2 on a 2-core CPU (a JL1-VAE run trains
# 200-300 batches a minute beside another run; docs/studies.md, "How long it takes").
#
# Resumable: run it again and finished runs and metrics are skipped, interrupted runs resume
# from their last checkpoint; the report is redrawn from what is on disk. Flags go to
# jlonevae-sweep run (--jobs 2, --dry-run, --backend slurm ...). To carry it to another
# machine: jlonevae-sweep snapshot / restore (docs/sweeps.md).
#
# Environment:
#   OUTPUT_DIR (unset)  summary.md, summary.json, README.md and figures/; unset: a fresh
#                       results/cpu_penalty_study_<yyyymmdd-hhmmss> (printed first), never the
#                       committed results/cpu_penalty_study, which only REPLACE=1 (or
#                       --replace) writes over (experimentScripts/reproduce/common.bash)
# The runs go to studies/cpu_penalty_study.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

source experimentScripts/reproduce/common.bash
choose_output_dir results/cpu_penalty_study "$@"

# The command that reproduces this report; recorded in the summary.
command=""
[ "$replacing" = 1 ] && command+="REPLACE=1 "
command+="OUTPUT_DIR=$output_name bash experimentScripts/reproduce/cpu_penalty_study.bash"
if [ ${#sweep_args[@]} -gt 0 ]; then command+="$(printf ' %q' "${sweep_args[@]}")"; fi

exec jlonevae-sweep run cpu_penalty_study --results-dir "$output_dir" \
  --record-command "$command" "${sweep_args[@]}"
