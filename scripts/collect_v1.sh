#!/usr/bin/env bash
# Dataset v1's collection, re-runnable on any machine: one command measures this machine's CPU (and its
# NVIDIA GPU, when there is one) on v1's program sets, appending to DATASET (default data/v1).
#
#   bash scripts/collect_v1.sh                 # from the repository root, with .venv installed
#   DATASET=data/mine GPU_ARCH=sm_89 bash scripts/collect_v1.sh
#
# The program sets are fixed first (--sample-only; deterministic in the seed, so a dataset that already has
# them gains nothing) and then measured with --replay, so every machine measures exactly the same programs.
# Re-running the command resumes where it stopped. Settings are recorded in each platform's `runner` column.
set -euo pipefail
cd "$(dirname "$0")/.."
DATASET=${DATASET:-data/v1}
TS=${TS:-.venv/bin/tenset-study}
WORKERS=${WORKERS:-$(nproc)}
NETWORKS=$(cat scripts/v1_networks.txt)

# CPU: 100 random programs per task; 5 repeats of at least 20 ms each.
$TS collect --dataset "$DATASET" --networks $NETWORKS --sample-only --sample-workers "$WORKERS" \
    --programs-per-task 100
$TS collect --dataset "$DATASET" --replay --batch-size 256 --repeat 5 --min-repeat-ms 20

# GPU: MetaSchedule's CUDA design space rejects most random samples (VerifyGPUCode), hence 60 attempts per
# wanted program (v1 sampled with 24 first, then topped up with 60: the same seed gives the same programs
# first, so the set equals one sampled with 60 at once); microsecond kernels need no 20 ms windows: 5
# repeats of at least 5 ms each.
if command -v nvidia-smi >/dev/null && nvidia-smi >/dev/null 2>&1; then
  ARCH=${GPU_ARCH:-sm_$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '.')}
  $TS collect --dataset "$DATASET" --gpu "$ARCH" --networks $NETWORKS --sample-only \
      --sample-workers "$WORKERS" --sample-attempts 60 --programs-per-task 100
  $TS collect --dataset "$DATASET" --gpu "$ARCH" --replay --batch-size 256 --repeat 5 --min-repeat-ms 5
fi
$TS summary "$DATASET"
