#!/usr/bin/env bash
# XGBoost for the GPU host, which has none and no package index (MetaSchedule's default cost model, the
# transfer-tuning baseline, and the study's xgb model need it). Downloads the CPU-only build of the version this
# environment runs (`xgboost-cpu`, about 6 MB against 92 MB of the CUDA build compressed: both models train on the
# CPU) for the host's Python 3.12 into .whl/. Carry it with a TVM piece and copy it to /tmp/stash there;
# scripts/device_run.sh installs it. Run from the project's root.
set -euo pipefail
version=$(.venv/bin/python -c "import xgboost; print(xgboost.__version__)")
mkdir -p .whl
rm -f .whl/xgboost_cpu-*.whl .whl/xgboost.part.*
.venv/bin/python -m pip download -q "xgboost-cpu==$version" --no-deps --only-binary=:all: --python-version 3.12 \
  --platform manylinux_2_28_x86_64 -d .whl
ls -l .whl/xgboost_cpu-*.whl
