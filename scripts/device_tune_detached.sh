#!/usr/bin/env bash
# A transfer-tuning study on the GPU host that outlives the 10-minute limit of one device call: `start`
# launches scripts/device_tune.sh in a process session of its own (setsid: the host keeps such a process
# running between calls, until the machine goes back), and `wait` follows it from later calls, each
# packing the study folder into $OUT so that every finished arm comes home even if the machine goes back.
#   call 1: STUDY=studies/transfer-gpu LIMIT=1400 bash scripts/device_tune_detached.sh start \
#             --dataset data/v1 --gpu sm_90 --networks resnet_18-b1-224 --budget 304 --preset full --no-random
#   call 2, 3, ...: STUDY=studies/transfer-gpu bash scripts/device_tune_detached.sh wait 570
# LIMIT is device_tune.sh's: no arm starts after it (count from `start`); keep it under the time the
# machine stays held. `wait SECONDS` returns when the study ends or after SECONDS, printing the log's tail;
# its exit status is 0 while the study runs, the study's own status once it has ended.
set -uo pipefail
STUDY=${STUDY:?set STUDY to the study folder}
RUN=${RUN:-/tmp/tune-detached}
OUT=${OUT:-/tmp/out}
action=${1:?usage: device_tune_detached.sh start FLAGS... | wait SECONDS}
shift
case "$action" in
  start)
    if [ -f "$RUN/pid" ] && kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
      echo "a study is already running (pid $(cat "$RUN/pid")); use wait" >&2; exit 2
    fi
    rm -rf "$RUN" && mkdir -p "$RUN/out"
    OUT="$RUN/out" GRACE=${GRACE:-400} setsid nohup bash -c \
      'bash "$0" "$@"; echo $? > "'"$RUN"'/rc"' "$(dirname "$0")/device_tune.sh" "$@" \
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
    tail -25 "$RUN/log"
    mkdir -p "$OUT"
    tar cf "$OUT/study-$(date -u +%Y%m%dT%H%M%S).tar" "$STUDY"
    echo "packed $STUDY ($(du -sh "$STUDY" | cut -f1)) into $OUT"
    if [ -f "$RUN/rc" ]; then echo "study ended with status $(cat "$RUN/rc")"; exit "$(cat "$RUN/rc")"; fi
    echo "study still running"
    ;;
  *) echo "unknown action $action (start or wait)" >&2; exit 2 ;;
esac
