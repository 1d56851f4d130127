#!/usr/bin/env bash
# A collection on the GPU host that outlives one device call: `start` launches scripts/device_collect.sh in a
# process session of its own (setsid: the host keeps it running between calls until the machine goes back),
# and `wait` follows it from later calls, each packing the Parquet parts written so far into $OUT, so that
# every finished batch comes home even if the machine goes back. Use small batches (--batch-size 16-64):
# a batch writes its parts only when it ends.
#   call 1: DATASET=data/v1 LIMIT=1200 bash scripts/device_collect_detached.sh start --replay --replay-subset 32 \
#             --batch-size 32 --repeat 3 --build-cores 14-15 --configurations avx512@0-3 avx2@4-7 ...
#   call 2, 3, ...: DATASET=data/v1 bash scripts/device_collect_detached.sh wait 560
# `wait SECONDS` returns when the collection ends or after SECONDS; each tar holds only the parts written
# since the previous `wait` (`tar xf` them in order in the repository's root). Exit status: 0 while the
# collection runs, its own status once it has ended.
set -uo pipefail
DATASET=${DATASET:?set DATASET to the dataset folder}
RUN=${RUN:-/tmp/collect-detached}
OUT=${OUT:-/tmp/out}
action=${1:?usage: device_collect_detached.sh start FLAGS... | wait SECONDS}
shift
case "$action" in
  start)
    if [ -f "$RUN/pid" ] && kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
      echo "a collection is already running (pid $(cat "$RUN/pid")); use wait" >&2; exit 2
    fi
    rm -rf "$RUN" && mkdir -p "$RUN/out" && touch "$RUN/packed"
    OUT="$RUN/out" setsid nohup bash -c \
      'bash "$0" "$@"; echo $? > "'"$RUN"'/rc"' "$(dirname "$0")/device_collect.sh" "$@" \
      > "$RUN/log" 2>&1 < /dev/null &
    echo $! > "$RUN/pid"
    sleep 5
    echo "started pid $(cat "$RUN/pid"), log $RUN/log"; tail -5 "$RUN/log"
    ;;
  wait)
    seconds=${1:?wait SECONDS}
    for _ in $(seq 1 "$seconds"); do
      [ -f "$RUN/rc" ] && break
      sleep 1
    done
    tail -15 "$RUN/log"
    mkdir -p "$OUT"
    marker="$RUN/packing"; touch "$marker"
    parts=$(find "$DATASET" -name 'part-*.parquet' -newer "$RUN/packed" ! -newer "$marker" | sort)
    if [ -n "$parts" ]; then
      tar cf "$OUT/parts-$(date -u +%Y%m%dT%H%M%S).tar" $parts
      echo "packed $(echo "$parts" | wc -l) new part(s) into $OUT"
    fi
    mv "$marker" "$RUN/packed"
    if [ -f "$RUN/rc" ]; then echo "collection ended with status $(cat "$RUN/rc")"; exit "$(cat "$RUN/rc")"; fi
    echo "collection still running"
    ;;
  *) echo "unknown action $action (start or wait)" >&2; exit 2 ;;
esac
