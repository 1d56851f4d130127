#!/usr/bin/env bash
# Everything a GPU-host study needs that git does not carry (the TVM wheel's parts, the apache_tvm_ffi
# wheel, XGBoost's parts and, optionally, a study folder to go on with), cut into pieces small enough to
# travel beside the working tree (each call's transfer, tree included, is limited to 64 MiB).
#   here:   bash scripts/device_bundle.sh pack [STUDY]        # writes .whl/bundle/b.00, b.01, ...
#   device: one call per piece, carrying it:  mkdir -p /tmp/bundle && cp .whl/bundle/b.NN /tmp/bundle/
#   device, last call (carrying the last piece too): bash scripts/device_bundle.sh unpack && <the study>
# `unpack` joins the pieces in /tmp/bundle, puts tvm.part.aa and the XGBoost parts in $STASH (where
# device_run.sh and device_tune.sh look for them), the TVM part ab and wheels in .whl/, and the study
# folder, when there is one, in place of the one there.
set -euo pipefail
STASH=${STASH:-/tmp/stash}
PIECE=${PIECE:-42000000}  # bytes: the tracked tree (about 15 MB) plus one piece stays under the limit
action=${1:?usage: device_bundle.sh pack [STUDY] | unpack}
case "$action" in
  pack)
    study=${2:-}
    files=(.whl/tvm.part.aa .whl/tvm.part.ab .whl/tvm.name .whl/apache_tvm_ffi-*.whl .whl/xgboost_cpu-*.whl)
    for f in "${files[@]}"; do [ -f "$f" ] || { echo "missing $f (see ../shared/device/README.md and" \
      "scripts/prepare_device_xgboost.sh)" >&2; exit 2; }; done
    rm -rf .whl/bundle .whl/bundle.study && mkdir -p .whl/bundle
    if [ -n "$study" ]; then
      [ -d "$study" ] || { echo "no study folder $study" >&2; exit 2; }
      echo "${study%/}" > .whl/bundle.study && files+=(.whl/bundle.study "$study")
    fi
    tar cf - "${files[@]}" | split -b "$PIECE" -d - .whl/bundle/b.
    ls -l .whl/bundle
    echo "carry each of these in its own call: $(cd .whl/bundle && ls | sed 's|^|.whl/bundle/|' | tr '\n' ' ')"
    ;;
  unpack)
    ls /tmp/bundle/b.* > /dev/null
    rm -rf /tmp/unbundle && mkdir -p /tmp/unbundle "$STASH" .whl
    cat /tmp/bundle/b.* | tar xf - -C /tmp/unbundle
    cp /tmp/unbundle/.whl/tvm.part.aa /tmp/unbundle/.whl/xgboost_cpu-*.whl "$STASH"/
    cp /tmp/unbundle/.whl/tvm.part.ab /tmp/unbundle/.whl/tvm.name /tmp/unbundle/.whl/apache_tvm_ffi-*.whl .whl/
    if [ -f /tmp/unbundle/.whl/bundle.study ]; then
      study=$(cat /tmp/unbundle/.whl/bundle.study)
      rm -rf "$study" && mkdir -p "$(dirname "$study")" && cp -r "/tmp/unbundle/$study" "$study"
      echo "study $study in place"
    fi
    rm -rf /tmp/unbundle /tmp/bundle
    echo "unpacked: $(ls "$STASH" | tr '\n' ' ') in $STASH"
    ;;
  *) echo "unknown action $action (pack or unpack)" >&2; exit 2 ;;
esac
