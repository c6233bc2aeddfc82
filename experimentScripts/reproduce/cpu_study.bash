#!/usr/bin/env bash
# The paper's headline result at CPU scale (docs/method.md): β-VAE (γ = 0) vs JL1-VAE (γ = 0.1),
# β = 4, seeds 1-5 each, 8,000 batches of 64 on the 20,000-image three-dots cache, lr 1e-3,
# β and γ annealed over the first third (2,667 batches = 8,000 / 3, rounded), the Jacobian
# penalty on a random sub-batch of 16. Then the paper's 12 metrics (global MIG and modularity,
# local MIG and local modularity at localities 0.1, 0.2, 0.3, 0.6, 1.0), the figures (violins
# at locality 0.1, local scores vs locality, Jacobian columns of every model) and the summary
# (summary.md + summary.json: per-seed table, mean ± s.d. per arm, Welch t-tests per locality).
# About 2 hours on a 2-core CPU alone, most of it the five JL1-VAE runs (results/cpu_study/).
#
# Resumable: run it again (after a kill, or in a later session) and it continues. Finished
# runs and computed metrics are skipped, an interrupted run resumes from its last checkpoint
# (every CHECKPOINT_EVERY batches) with the weights an uninterrupted run would have; figures
# and summary are redrawn from whatever is on disk. Runs go seed by seed, both arms per seed,
# so a study cut short still compares equal numbers of seeds. The runner is jlonevae-sweep
# (study cpu_study); flags given to this script go to it: --jobs 2 runs two members at once
# (one thread each on 2 cores), --backend slurm submits the study to a cluster.
#
# Environment (defaults):
#   SEEDS "1 2 3 4 5"   GAMMA 0.1 (JL1-VAE's; the β-VAE arm has γ = 0)   BETA 4
#   NUM_BATCHES 8000    ANNEALING 2667   LR 0.001   BATCH_SIZE 64   LATENT_DIM 10
#   JACOBIAN_BATCH 16   DATASET threeDotsCacheSmall   DEVICE cpu   CHECKPOINT_EVERY 500
#   METRICS paper       metric names, groups or .gin files for jlonevae-evaluate (CI: tiny ones)
#   RUNS_DIR studies/cpu_study      the runs' trainedModels/ and logs/ (TensorBoard); the
#                                   study's own: every run in it is evaluated and summarised
#   OUTPUT_DIR (unset)  summary.md, summary.json and figures/; unset: a fresh
#                       results/cpu_study_<yyyymmdd-hhmmss> (printed first), never the committed
#                       results/cpu_study, which only REPLACE=1 (or --replace) writes over
#                       (experimentScripts/reproduce/common.bash)
# Relative paths are relative to the repository root. On a machine shared with another busy
# process, OMP_NUM_THREADS=1 avoids torch's two threads stalling each other (measured: a
# training step 4-20x slower than alone with 2 threads, ~1.7x slower with 1 thread).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"

SEEDS=${SEEDS:-1 2 3 4 5}
GAMMA=${GAMMA:-0.1}
BETA=${BETA:-4}
NUM_BATCHES=${NUM_BATCHES:-8000}
ANNEALING=${ANNEALING:-2667}
LR=${LR:-0.001}
BATCH_SIZE=${BATCH_SIZE:-64}
LATENT_DIM=${LATENT_DIM:-10}
JACOBIAN_BATCH=${JACOBIAN_BATCH:-16}
DATASET=${DATASET:-threeDotsCacheSmall}
DEVICE=${DEVICE:-cpu}
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-500}
METRICS=${METRICS:-paper}
RUNS_DIR=${RUNS_DIR:-studies/cpu_study}
source experimentScripts/reproduce/common.bash
choose_output_dir results/cpu_study "$@"

# The command that reproduces this study whatever the defaults become; recorded in the summary.
command="${OMP_NUM_THREADS:+OMP_NUM_THREADS=$OMP_NUM_THREADS }"
[ "$replacing" = 1 ] && command+="REPLACE=1 "
command+="SEEDS='$SEEDS' GAMMA=$GAMMA BETA=$BETA NUM_BATCHES=$NUM_BATCHES"
command+=" ANNEALING=$ANNEALING LR=$LR BATCH_SIZE=$BATCH_SIZE LATENT_DIM=$LATENT_DIM"
command+=" JACOBIAN_BATCH=$JACOBIAN_BATCH DATASET=$DATASET DEVICE=$DEVICE"
command+=" CHECKPOINT_EVERY=$CHECKPOINT_EVERY METRICS='$METRICS' RUNS_DIR=$RUNS_DIR"
command+=" OUTPUT_DIR=$output_name bash experimentScripts/reproduce/cpu_study.bash"
if [ ${#sweep_args[@]} -gt 0 ]; then command+="$(printf ' %q' "${sweep_args[@]}")"; fi

runs_dir=$(realpath -m "$RUNS_DIR")
read -r -a metrics <<< "$METRICS"
read -r -a seeds <<< "$SEEDS"
# The study cpu_study (jlonevae-sweep list) with this script's settings: train, evaluate, draw
# the figures and write the summary. Flags go to jlonevae-sweep run (--jobs 2, --dry-run,
# --backend slurm ...).
plan=(--seeds "${seeds[@]}" --gammas 0 "$GAMMA" \
  --set "beta=$BETA" --set "num_batches=$NUM_BATCHES" --set "annealing_batches=$ANNEALING" \
  --set "lr=$LR" --set "batch_size=$BATCH_SIZE" --set "latent_dim=$LATENT_DIM" \
  --set "jacobian_batch=$JACOBIAN_BATCH" --set "dataset=$DATASET" --set "device=$DEVICE" \
  --set "checkpoint_every=$CHECKPOINT_EVERY" --metrics "${metrics[@]}" \
  --output-dir "$runs_dir" --results-dir "$output_dir")
# status needs the same settings to find these members (a plain `status cpu_study` reads the
# study as registered).
echo "Its status: jlonevae-sweep status cpu_study$(printf ' %q' "${plan[@]}")"
exec jlonevae-sweep run cpu_study "${plan[@]}" --record-command "$command" "${sweep_args[@]}"
