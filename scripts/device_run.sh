#!/usr/bin/env bash
# Run a tenset-study command on the GPU host (see ../shared/device/README.md).
# The host has PyTorch, pandas and pyarrow but no TVM: the TVM wheel arrives in two parts (.whl/tvm.part.aa
# copied earlier to $STASH, .whl/tvm.part.ab carried now). This script installs it once into /tmp/site,
# then runs the given command with the package on the path. Results go to $OUT.
#   usage: bash scripts/device_run.sh tenset-study collect --dataset data/default ...
set -uo pipefail
STASH=${STASH:-/tmp/stash}
export PYTHONPATH=/tmp/site:$PWD/src
export PYTHONUNBUFFERED=1
if ! python3 -c "import tvm" 2>/dev/null; then
  wheel=$(cat .whl/tvm.name)
  cat "$STASH/tvm.part.aa" .whl/tvm.part.ab > "/tmp/$wheel" || exit 3
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "/tmp/$wheel" .whl/apache_tvm_ffi-*.whl || exit 4
fi
python3 -c "import tvm; print('tvm', tvm.__version__, 'cuda', tvm.runtime.enabled('cuda'))"
if [ "${1:-}" = "tenset-study" ]; then shift; set -- python3 -m tenset_study.cli "$@"; fi
"$@"
