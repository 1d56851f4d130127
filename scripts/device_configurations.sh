#!/usr/bin/env bash
# Do CPU configurations timed side by side disturb each other? On the GPU host, in one call (one host):
# measure the same replay subset with the configurations side by side (platforms PREFIX-side-<label>), then
# each configuration named after `--` alone (PREFIX-alone-<label>). Comparing a configuration alone with
# itself beside the others (chapter 01's agreement and latency tables) says whether neighbours matter.
#   usage: DATASET=data/v1 bash scripts/device_configurations.sh avx512@0 avx2@1 avx512@3-5 -- avx512@0 avx512@3-5
# TASKS tasks x PROGRAMS programs each (default 12 x 16), builds on BUILD cores (default 12-15); the parts of
# every run are packed into $OUT (scripts/device_collect.sh).
set -uo pipefail
DATASET=${DATASET:?set DATASET to the dataset folder}
TASKS=${TASKS:-12}
PROGRAMS=${PROGRAMS:-16}
BUILD=${BUILD:-12-15}
PREFIX=${PREFIX:-pilot}
side=()
alone=()
after=0
for arg in "$@"; do
  if [ "$arg" = "--" ]; then after=1
  elif [ "$after" = 0 ]; then side+=("$arg")
  else alone+=("$arg"); fi
done
[ "${#side[@]}" -gt 1 ] || { echo "name at least two configurations to time side by side" >&2; exit 2; }
common=(--replay --replay-subset "$PROGRAMS" --max-tasks "$TASKS" --batch-size 16 --repeat 3 --build-cores "$BUILD")
here=$(dirname "$0")
bash "$here/device_collect.sh" "${common[@]}" --configurations "${side[@]}" --platform "$PREFIX-side" || exit $?
for configuration in "${alone[@]}"; do
  bash "$here/device_collect.sh" "${common[@]}" --configurations "$configuration" --platform "$PREFIX-alone" || exit $?
done
