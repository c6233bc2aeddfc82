#!/usr/bin/env bash
# The paper's seven-method comparison at CPU scale (docs/studies.md): JL1-VAE (γ = 0.1) and
# β-VAE (γ = 0) on the ConvVAE exactly as cpu_study.bash trains them (same run folders under
# studies/cpu_study: finished ones are reused), plus disentanglement_lib's six methods (β-VAE,
# FactorVAE, DIP-VAE-I, DIP-VAE-II, β-TCVAE, AnnealedVAE) at hyperparameter index 2, all on
# the same budget: 8,000 batches of 64 from the 20,000-image three-dots cache, lr 1e-3, every
# schedule scaled by 8,000/300,000 (β/γ ramp and AnnealedVAE's capacity ramp 100,000 -> 2,667),
# seeds 1-5 per arm (40 runs). Then the paper's 12 metrics plus local MIG and local modularity
# at locality 0.1 at evaluation seeds 1 and 2, the figures (seven-method violins at 0.1,
# scores vs locality for every arm, Jacobian columns of one model per arm) and
# results/cpu_seven_arms/{summary.md,summary.json,README.md}.
#
# How long: measured per run in docs/studies.md; the whole study's times go into the summary.
#
# Resumable: run it again and finished runs and metrics are skipped, interrupted runs resume
# from their last checkpoint; figures and summary are redrawn from what is on disk. Flags go to
# jlonevae-sweep run (--jobs 2, --dry-run, --backend slurm ...).
#
# Environment (defaults):
#   SEEDS "1 2 3 4 5"   NUM_BATCHES 8000 (the schedules scale with it)   HP_INDEX 2
#   CHECKPOINT_EVERY 500
#   METRICS "paper evalseeds"   metric names, groups or .gin files (CI: tiny ones)
#   RUNS_DIR (unset)    every run's folder root; unset: the study's own (the ConvVAE arms in
#                       studies/cpu_study, the baselines in studies/cpu_seven_arms)
#   OUTPUT_DIR (unset)  summary.md, summary.json, README.md and figures/; unset: a fresh
#                       results/cpu_seven_arms_<yyyymmdd-hhmmss> (printed first), never the
#                       committed results/cpu_seven_arms, which only REPLACE=1 (or --replace)
#                       writes over (experimentScripts/reproduce/common.bash)
# On a machine shared with another busy process, OMP_NUM_THREADS=1 (see cpu_study.bash).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

SEEDS=${SEEDS:-1 2 3 4 5}
NUM_BATCHES=${NUM_BATCHES:-8000}
HP_INDEX=${HP_INDEX:-2}
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-500}
METRICS=${METRICS:-paper evalseeds}
RUNS_DIR=${RUNS_DIR:-}
source experimentScripts/reproduce/common.bash
choose_output_dir results/cpu_seven_arms "$@"

# The command that reproduces this study whatever the defaults become; recorded in the summary.
command="${OMP_NUM_THREADS:+OMP_NUM_THREADS=$OMP_NUM_THREADS }"
[ "$replacing" = 1 ] && command+="REPLACE=1 "
command+="SEEDS='$SEEDS' NUM_BATCHES=$NUM_BATCHES HP_INDEX=$HP_INDEX"
command+=" CHECKPOINT_EVERY=$CHECKPOINT_EVERY METRICS='$METRICS'"
command+="${RUNS_DIR:+ RUNS_DIR=$RUNS_DIR} OUTPUT_DIR=$output_name"
command+=" bash experimentScripts/reproduce/cpu_seven_arms.bash"
if [ ${#sweep_args[@]} -gt 0 ]; then command+="$(printf ' %q' "${sweep_args[@]}")"; fi

runs=()
[ -n "$RUNS_DIR" ] && runs=(--output-dir "$(realpath -m "$RUNS_DIR")")
read -r -a metrics <<< "$METRICS"
read -r -a seeds <<< "$SEEDS"
plan=(--seeds "${seeds[@]}" \
  --set "num_batches=$NUM_BATCHES" --set "hp_index=$HP_INDEX" \
  --set "checkpoint_every=$CHECKPOINT_EVERY" --metrics "${metrics[@]}" \
  "${runs[@]}" --results-dir "$output_dir")
# status needs the same settings to find these members (a plain `status cpu_seven_arms` reads
# the study as registered).
echo "Its status: jlonevae-sweep status cpu_seven_arms$(printf ' %q' "${plan[@]}")"
exec jlonevae-sweep run cpu_seven_arms "${plan[@]}" --record-command "$command" \
  "${sweep_args[@]}"
