#!/usr/bin/env bash
# A full-preset export (tenset-study export-results) on the GPU host that outlives one device call and survives
# the machine going back: `start` launches it detached (scripts/device_detached.sh) with --keep-units, and `wait`
# follows it from later calls, each packing the units finished since its last pack (data/exports/.<experiment>.units,
# gzipped: a tar of every unit outgrew what a call brings back) and, once it ends, the export itself into $OUT.
# Carry the units folder back into the next machine's first `start` call (run's `carry`) and the same command
# resumes where the last one stopped.
#   call 1: EXPERIMENT=cost-models DATASET=data/v1 bash scripts/device_export_detached.sh start [FLAGS...]
#   call 2, 3, ...: EXPERIMENT=cost-models bash scripts/device_export_detached.sh wait 560
# Here: `tar xzf` every units-*.tgz that came back in the repository's root (each holds the units new since the
# one before; a fresh machine's first holds all it has), then commit the export
# folder when a tar holds it. Exit status: 0 while the export runs, its own status once it has ended.
set -uo pipefail
source "$(dirname "$0")/device_detached.sh"
EXPERIMENT=${EXPERIMENT:?set EXPERIMENT to splits, pruning, cost-models or transfer}
RUN=${RUN:-/tmp/export-detached}
OUT=${OUT:-/tmp/out}
units="data/exports/.$EXPERIMENT.units"
action=${1:?usage: device_export_detached.sh start FLAGS... | wait SECONDS}
shift
case "$action" in
  start)
    DATASET=${DATASET:?set DATASET to the dataset folder}
    [ -d "$units" ] && echo "resuming from $(ls "$units" | grep -c '\.pkl$') finished units in $units"
    detached_start "$RUN" "$(dirname "$0")/device_run.sh" tenset-study export-results --experiment "$EXPERIMENT" \
      --dataset "$DATASET" --keep-units "$@" || exit $?
    ;;
  wait)
    detached_wait "$RUN" "${1:?wait SECONDS}" 12
    mkdir -p "$OUT"
    stamp=$(date -u +%Y%m%dT%H%M%S)
    if [ -d "$units" ]; then  # the units written since the last pack (a unit written during the find comes twice)
      touch "$RUN/units-packing"
      newer=(); [ -f "$RUN/units-packed" ] && newer=(-newer "$RUN/units-packed")
      find "$units" -type f "${newer[@]}" > "$RUN/units-new"
      if [ -s "$RUN/units-new" ] && tar czf "$OUT/units-$stamp.tgz" -T "$RUN/units-new"; then
        echo "packed $(grep -c '\.pkl$' "$RUN/units-new") new units ($(ls "$units" | grep -c '\.pkl$') in all) into $OUT"
      fi
      mv "$RUN/units-packing" "$RUN/units-packed"
    fi
    if [ -f "$RUN/rc" ]; then
      [ -f "data/exports/$EXPERIMENT/provenance.json" ] && tar cf "$OUT/export-$stamp.tar" "data/exports/$EXPERIMENT" \
        && echo "packed the export data/exports/$EXPERIMENT into $OUT"
      echo "export ended with status $(cat "$RUN/rc")"; exit "$(cat "$RUN/rc")"
    fi
    echo "export still running"
    ;;
  *) echo "unknown action $action (start or wait)" >&2; exit 2 ;;
esac
