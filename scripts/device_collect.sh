#!/usr/bin/env bash
# A shard of a collection on the GPU host: install TVM (scripts/device_run.sh), run `tenset-study collect`
# with the given flags on DATASET, and pack the Parquet parts it wrote into $OUT/parts-<date>.tar, which
# `tar xf` in the repository's root merges into the local copy of the dataset (part names are unique).
#   usage: DATASET=data/v1 bash scripts/device_collect.sh --gpu sm_90 --replay --time-limit 480
set -uo pipefail
DATASET=${DATASET:?set DATASET to the dataset folder}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" "$DATASET"
marker=$(mktemp)
sleep 1
# LIMIT: seconds before collect is stopped (SIGINT), so that what it wrote is still packed below.
timeout -s INT "${LIMIT:-540}" bash "$(dirname "$0")/device_run.sh" tenset-study collect --dataset "$DATASET" "$@"
status=$?
parts=$(find "$DATASET" -name 'part-*.parquet' -newer "$marker" | sort)
if [ -n "$parts" ]; then
  tar cf "$OUT/parts-$(date -u +%Y%m%dT%H%M%S).tar" $parts
  echo "packed $(echo "$parts" | wc -l) new part(s) into $OUT"
fi
exit $status
