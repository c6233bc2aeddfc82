#!/usr/bin/env bash
# The paper's headline result at CPU scale (docs/method.md): β-VAE (γ = 0) vs JL1-VAE (γ = 0.1),
# β = 4, seeds 1-5 each, 8,000 batches of 64 on the 20,000-image three-dots cache, lr 1e-3,
# β and γ annealed over the first third (2,667 batches = 8,000 / 3, rounded), the Jacobian
# penalty on a random sub-batch of 16. Then the paper's 12 metrics (global MIG and modularity,
# local MIG and local modularity at localities 0.1, 0.2, 0.3, 0.6, 1.0), the figures (violins
# at locality 0.1, local scores vs locality, Jacobian columns of every model) and the summary
# (summary.md + summary.json: per-seed table, mean ± s.d. per arm, Welch t-tests per locality).
# About 2¼ hours on a 2-core CPU alone, most of it the five JL1-VAE runs (results/cpu_study/).
#
# Resumable: run it again (after a kill, or in a later session) and it continues. Finished
# runs and computed metrics are skipped, an interrupted run resumes from its last checkpoint
# (every CHECKPOINT_EVERY batches) with the weights an uninterrupted run would have; figures
# and summary are redrawn from whatever is on disk. Runs go seed by seed, both arms per seed,
# so a study cut short still compares equal numbers of seeds.
#
# Environment (defaults):
#   SEEDS "1 2 3 4 5"   GAMMA 0.1 (JL1-VAE's; the β-VAE arm has γ = 0)   BETA 4
#   NUM_BATCHES 8000    ANNEALING 2667   LR 0.001   BATCH_SIZE 64   LATENT_DIM 10
#   JACOBIAN_BATCH 16   DATASET threeDotsCacheSmall   DEVICE cpu   CHECKPOINT_EVERY 500
#   METRICS paper       metric names, groups or .gin files for jlonevae-evaluate (CI: tiny ones)
#   RUNS_DIR studies/cpu_study      the runs' trainedModels/ and logs/ (TensorBoard); the
#                                   study's own: every run in it is evaluated and summarised
#   OUTPUT_DIR results/cpu_study    summary.md, summary.json and figures/
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
OUTPUT_DIR=${OUTPUT_DIR:-results/cpu_study}

# The command that reproduces this study whatever the defaults become; recorded in the summary.
command="${OMP_NUM_THREADS:+OMP_NUM_THREADS=$OMP_NUM_THREADS }"
command+="SEEDS='$SEEDS' GAMMA=$GAMMA BETA=$BETA NUM_BATCHES=$NUM_BATCHES"
command+=" ANNEALING=$ANNEALING LR=$LR BATCH_SIZE=$BATCH_SIZE LATENT_DIM=$LATENT_DIM"
command+=" JACOBIAN_BATCH=$JACOBIAN_BATCH DATASET=$DATASET DEVICE=$DEVICE"
command+=" CHECKPOINT_EVERY=$CHECKPOINT_EVERY METRICS='$METRICS' RUNS_DIR=$RUNS_DIR"
command+=" OUTPUT_DIR=$OUTPUT_DIR bash experimentScripts/reproduce/cpu_study.bash"

runs_dir=$(realpath -m "$RUNS_DIR")
output_dir=$(realpath -m "$OUTPUT_DIR")
read -r -a metrics <<< "$METRICS"
train_flags=(--dataset "$DATASET" --beta "$BETA" --latent-dim "$LATENT_DIM" --lr "$LR"
             --batch-size "$BATCH_SIZE" --num-batches "$NUM_BATCHES"
             --annealingBatches "$ANNEALING" --jacobian-batch "$JACOBIAN_BATCH"
             --device "$DEVICE" --checkpoint-every "$CHECKPOINT_EVERY"
             --output-dir "$runs_dir")

for seed in $SEEDS; do
  for gamma in 0 "$GAMMA"; do
    echo "== training seed $seed, gamma $gamma"
    jlonevae-train "${train_flags[@]}" --gamma "$gamma" --seed "$seed"
  done
done

# Every run of the study's folder (β-VAE first: ica0_0000 sorts before ica0_1000).
runs=("$runs_dir"/trainedModels/*/*/)

echo "== evaluating ${#runs[@]} runs: ${metrics[*]}"
jlonevae-evaluate "${runs[@]}" --metrics "${metrics[@]}" --device "$DEVICE"

echo "== figures"
figures_dir="$output_dir/figures"
results_flags=(--models-dir "$runs_dir/trainedModels" --output-dir "$figures_dir")
jlonevae-plot jacobian-columns "${runs[@]}" --output "$figures_dir/jacobian_columns.png"
# From the runs folder: jlonevae-plot adds ./trainedStandardModels when it exists, and
# paper-scale disentanglement_lib baselines do not belong in this CPU-scale comparison.
(
  cd "$runs_dir"
  jlonevae-plot compare-baselines "${results_flags[@]}" --gamma "$GAMMA" --locality 0.1
  jlonevae-plot vs-locality "${results_flags[@]}" --comparison beta-vs-jl1 --gamma "$GAMMA"
)

echo "== summary"
python -m jlonevae_lib.sweep.study_summary --models-dir "$RUNS_DIR/trainedModels" \
  --output-dir "$OUTPUT_DIR" --seeds $SEEDS --command "$command"
