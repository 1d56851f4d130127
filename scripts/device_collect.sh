#!/usr/bin/env bash
# A shard of a collection on the GPU host: install TVM (scripts/device_run.sh), run `tenset-study collect`
# with the given flags on DATASET, and pack the Parquet parts it wrote into $OUT/parts-<date>.tar, which
# `tar xf` in the repository's root merges into the local copy of the dataset (part names are unique).
#   usage: DATASET=data/v1 LIMIT=420 bash scripts/device_collect.sh --gpu sm_90 --replay
# LIMIT (seconds) becomes collect's --time-limit: it starts no new batch (or sampling job) after it, and
# ends cleanly. A hard stop (SIGTERM, then SIGKILL) follows LIMIT + GRACE seconds later as a backstop;
# the parts already written are packed either way. Keep LIMIT + GRACE + install time under the call's limit.
set -uo pipefail
DATASET=${DATASET:?set DATASET to the dataset folder}
LIMIT=${LIMIT:-420}
GRACE=${GRACE:-90}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" "$DATASET"
marker=$(mktemp)
sleep 1
timeout -k 15 "$((LIMIT + GRACE))" bash "$(dirname "$0")/device_run.sh" \
  tenset-study collect --dataset "$DATASET" --time-limit "$LIMIT" --quiet "$@"
status=$?
parts=$(find "$DATASET" -name 'part-*.parquet' -newer "$marker" | sort)
if [ -n "$parts" ]; then
  tar cf "$OUT/parts-$(date -u +%Y%m%dT%H%M%S).tar" $parts
  echo "packed $(echo "$parts" | wc -l) new part(s) into $OUT"
fi
exit $status
