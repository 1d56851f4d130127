#!/usr/bin/env bash
# A transfer-tuning study on the GPU host that outlives the 10-minute limit of one device call: `start`
# launches scripts/device_tune.sh detached (scripts/device_detached.sh: setsid, so the host keeps it running
# between calls until the machine goes back), and `wait` follows it from later calls, each
# packing the study folder into $OUT so that every finished arm comes home even if the machine goes back.
#   call 1: STUDY=studies/transfer-gpu LIMIT=1400 bash scripts/device_tune_detached.sh start \
#             --dataset data/v1 --gpu sm_90 --networks resnet_18-b1-224 --budget 304 --preset full --no-random
#   call 2, 3, ...: STUDY=studies/transfer-gpu bash scripts/device_tune_detached.sh wait 570
# LIMIT is device_tune.sh's: no arm starts after it (count from `start`); keep it under the time the
# machine stays held. `wait SECONDS` returns when the study ends or after SECONDS, printing the log's tail;
# its exit status is 0 while the study runs, the study's own status once it has ended.
set -uo pipefail
source "$(dirname "$0")/device_detached.sh"
STUDY=${STUDY:?set STUDY to the study folder}
RUN=${RUN:-/tmp/tune-detached}
OUT=${OUT:-/tmp/out}
action=${1:?usage: device_tune_detached.sh start FLAGS... | wait SECONDS}
shift
case "$action" in
  start)
    GRACE=${GRACE:-400} detached_start "$RUN" "$(dirname "$0")/device_tune.sh" "$@" || exit $?
    ;;
  wait)
    detached_wait "$RUN" "${1:?wait SECONDS}" 25
    mkdir -p "$OUT"
    tar cf "$OUT/study-$(date -u +%Y%m%dT%H%M%S).tar" "$STUDY"
    echo "packed $STUDY ($(du -sh "$STUDY" | cut -f1)) into $OUT"
    if [ -f "$RUN/rc" ]; then echo "study ended with status $(cat "$RUN/rc")"; exit "$(cat "$RUN/rc")"; fi
    echo "study still running"
    ;;
  *) echo "unknown action $action (start or wait)" >&2; exit 2 ;;
esac
