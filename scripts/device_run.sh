#!/usr/bin/env bash
# Run a tenset-study command on the GPU host (see ../shared/device/README.md).
# The host has PyTorch, pandas and pyarrow but no TVM: the TVM wheel arrives in two parts (.whl/tvm.part.aa
# copied earlier to $STASH, .whl/tvm.part.ab carried now), or in pieces $STASH/tvm.p.00, .01, ... staged by
# earlier calls one piece each (with tvm.name and the apache_tvm_ffi wheel) when the tree is too large to
# carry a half wheel beside it. This script installs it once into /tmp/site,
# then runs the given command with the package on the path (and XGBoost, when the wheel from
# scripts/prepare_device_xgboost.sh is in $STASH). Results go to $OUT.
#   usage: bash scripts/device_run.sh tenset-study collect --dataset data/default ...
set -uo pipefail
STASH=${STASH:-/tmp/stash}
export PYTHONPATH=/tmp/site:$PWD/src
export PYTHONUNBUFFERED=1
if ! python3 -c "import tvm" 2>/dev/null; then
  if ls "$STASH"/tvm.p.* > /dev/null 2>&1; then
    # the wheel in pieces staged in $STASH by earlier calls (with tvm.name and the tvm-ffi wheel beside them)
    wheel=$(cat "$STASH/tvm.name")
    cat "$STASH"/tvm.p.* > "/tmp/$wheel" || exit 3
    ffi=$(ls "$STASH"/apache_tvm_ffi-*.whl)
  else
    wheel=$(cat .whl/tvm.name)
    cat "$STASH/tvm.part.aa" .whl/tvm.part.ab > "/tmp/$wheel" || exit 3
    ffi=$(ls .whl/apache_tvm_ffi-*.whl)
  fi
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "/tmp/$wheel" $ffi || exit 4
fi
# XGBoost, when scripts/prepare_device_xgboost.sh's wheel was staged in $STASH (the host has none)
if ls "$STASH"/xgboost_cpu-*.whl > /dev/null 2>&1 && ! python3 -c "import xgboost" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$STASH"/xgboost_cpu-*.whl || exit 5
fi
python3 -c "import tvm; print('tvm', tvm.__version__, 'cuda', tvm.runtime.enabled('cuda'))"
if [ "${1:-}" = "tenset-study" ]; then shift; set -- python3 -m tenset_study.cli "$@"; fi
"$@"
