#!/usr/bin/env bash
# A collection on the GPU host that outlives one device call: `start` launches scripts/device_collect.sh
# detached (scripts/device_detached.sh), and `wait` follows it from later calls, each packing the Parquet parts
# written since the previous `wait` into $OUT, so that every finished batch comes home even if the machine
# goes back. Use small batches (--batch-size 16-64): a batch writes its parts only when it ends.
#   call 1: DATASET=data/v1 LIMIT=1200 bash scripts/device_collect_detached.sh start --replay --replay-subset 32 \
#             --batch-size 32 --repeat 3 --build-cores 14-15 --configurations avx512@0-3 avx2@4-7 ...
#   call 2, 3, ...: DATASET=data/v1 bash scripts/device_collect_detached.sh wait 560
# `tar xf` the tars in order in the repository's root. Exit status: 0 while the collection runs, its own
# status once it has ended.
set -uo pipefail
source "$(dirname "$0")/device_detached.sh"
DATASET=${DATASET:?set DATASET to the dataset folder}
RUN=${RUN:-/tmp/collect-detached}
OUT=${OUT:-/tmp/out}
action=${1:?usage: device_collect_detached.sh start FLAGS... | wait SECONDS}
shift
case "$action" in
  start)
    detached_start "$RUN" "$(dirname "$0")/device_collect.sh" "$@" || exit $?
    ;;
  wait)
    detached_wait "$RUN" "${1:?wait SECONDS}" 15
    mkdir -p "$OUT"
    marker="$RUN/packing"; touch "$marker"
    since="$RUN/packed"; [ -f "$since" ] || since="$RUN/started"
    parts=$(find "$DATASET" -name 'part-*.parquet' -newer "$since" ! -newer "$marker" | sort)
    if [ -n "$parts" ]; then
      tar cf "$OUT/parts-$(date -u +%Y%m%dT%H%M%S.%N).tar" $parts
      echo "packed $(echo "$parts" | wc -l) new part(s) into $OUT"
    fi
    mv "$marker" "$RUN/packed"
    if [ -f "$RUN/rc" ]; then echo "collection ended with status $(cat "$RUN/rc")"; exit "$(cat "$RUN/rc")"; fi
    echo "collection still running"
    ;;
  *) echo "unknown action $action (start or wait)" >&2; exit 2 ;;
esac
