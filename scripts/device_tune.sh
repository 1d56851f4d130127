#!/usr/bin/env bash
# A shard of a transfer-tuning study on the GPU host: install TVM (scripts/device_run.sh) and XGBoost (the
# baseline's cost model; the wheel that scripts/prepare_device_xgboost.sh downloaded, copied to $STASH by earlier
# calls), run `tenset-study transfer-tune` with the given flags on the study folder STUDY with
# --time-limit LIMIT, and pack STUDY into $OUT/study-<date>.tar. Carry STUDY back in the next call to go on
# (the study resumes: done arms are skipped); `tar xf` of the tar in the project's root brings it home.
#   usage: STUDY=studies/transfer-gpu LIMIT=240 bash scripts/device_tune.sh --dataset data/v1 --gpu sm_90 \
#            --networks bert_tiny-b1-128 --preset full
# LIMIT: no arm's tuning or timing starts after it; an arm that started runs to its end, so keep LIMIT plus
# the longest arm plus install time under the call's limit. GRACE: the hard stop after LIMIT (the study
# folder is packed either way; an arm cut off there is tuned again next time).
set -uo pipefail
STUDY=${STUDY:?set STUDY to the study folder}
LIMIT=${LIMIT:-240}
GRACE=${GRACE:-300}
OUT=${OUT:-/tmp/out}
STASH=${STASH:-/tmp/stash}
mkdir -p "$OUT" "$STUDY" /tmp/site
if ! PYTHONPATH=/tmp/site python3 -c "import xgboost" 2>/dev/null; then  # device_run.sh installs the wheel
  ls "$STASH"/xgboost_cpu-*.whl >/dev/null || { echo "no XGBoost wheel in $STASH" >&2; exit 5; }
fi
timeout -k 15 "$((LIMIT + GRACE))" bash "$(dirname "$0")/device_run.sh" \
  tenset-study transfer-tune --study-dir "$STUDY" --results-dir "$STUDY/results" --time-limit "$LIMIT" --quiet "$@"
status=$?
tar cf "$OUT/study-$(date -u +%Y%m%dT%H%M%S).tar" "$STUDY"
echo "packed $STUDY ($(du -sh "$STUDY" | cut -f1)) into $OUT"
exit $status
