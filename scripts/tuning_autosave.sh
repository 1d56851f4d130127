#!/usr/bin/env bash
# Keeps a long transfer-tuning campaign across machines that go away: every minute, when an arm of STUDY_DIR has
# finished since the last export, export the study (tenset-study export-study, only NETWORKS when given) into
# EXPORT_DIR and commit that folder. Run beside the campaign, detached:
#   nohup setsid bash scripts/tuning_autosave.sh studies/<study> data/tuning-campaign/<study> [NETWORKS...] &
# DATASET (default data/v2): the dataset with the target platform's row. Restore in a later session: tenset-study export-study --restore EXPORT_DIR STUDY_DIR (notes/campaign-tuning.md).
set -uo pipefail
cd "$(dirname "$0")/.."
study=${1:?usage: tuning_autosave.sh STUDY_DIR EXPORT_DIR [NETWORKS...]}
export_dir=${2:?usage: tuning_autosave.sh STUDY_DIR EXPORT_DIR [NETWORKS...]}
shift 2
stamp=$(mktemp)  # arms finished before the watcher started are taken as exported
log=${AUTOSAVE_LOG:-/tmp/tuning-autosave.log}
while true; do
  if [ -n "$(find "$study" -name tuning_result.json -newer "$stamp" 2>/dev/null | head -1)" ]; then
    touch "$stamp"
    args=(); [ $# -gt 0 ] && args=(--networks "$@")
    if nice -n 19 .venv/bin/tenset-study export-study "$study" "$export_dir" --dataset "${DATASET:-data/v2}" "${args[@]}" >> "$log" 2>&1; then
      finished=$(find "$study" -name tuning_result.json | wc -l)
      for _ in 1 2 3 4 5; do  # the index may be locked by a commit of the session's own
        git add "$export_dir" && git commit -qm "tuning campaign: $(basename "$study"), $finished arm(s) finished, exported" \
          -- "$export_dir" >> "$log" 2>&1 && break
        sleep 7
      done
    fi
  fi
  sleep 60
done
