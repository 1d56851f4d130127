#!/usr/bin/env bash
# XGBoost for the GPU host, which has none and no package index (MetaSchedule's default cost model, the
# transfer-tuning baseline, needs it). Packs this environment's xgboost package (pure Python plus
# libxgboost.so; the same file serves Python 3.11 and 3.12) as .whl/xgboost.tar.xz in parts of at most
# 50 MB: .whl/xgboost.part.aa, .ab, ... Each part travels in its own call and is copied to /tmp/stash there;
# scripts/device_tune.sh joins and unpacks them. Run from the project's root; takes a few minutes (xz -9).
set -euo pipefail
site=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
version=$(.venv/bin/python -c "import xgboost; print(xgboost.__version__)")
mkdir -p .whl
rm -f .whl/xgboost.part.*
tar cf - -C "$site" --exclude=__pycache__ xgboost xgboost.libs "xgboost-$version.dist-info" \
  | xz -9 -T2 > .whl/xgboost.tar.xz
split -b 50000000 .whl/xgboost.tar.xz .whl/xgboost.part.
rm .whl/xgboost.tar.xz
echo "xgboost $version: $(ls .whl/xgboost.part.* | tr '\n' ' ')"
