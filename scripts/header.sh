#!/usr/bin/env bash
# Regenerates include/dlclassifier.h from rust/ffi with cbindgen (installed
# into the cache on first use). With --check, only fails if the checked-in
# header differs from what the code generates.
# Usage: scripts/header.sh [--check]
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  "" | --check) ;;
  *) echo "usage: scripts/header.sh [--check]" >&2; exit 2 ;;
esac

CBINDGEN_VERSION=0.29.4
CACHE="${DLC_CACHE:-$HOME/.cache/dlclassifier}"
CBINDGEN="$CACHE/cbindgen/bin/cbindgen"
HEADER=include/dlclassifier.h

# Another version may format the header differently, so the check would flap.
if [ "$("$CBINDGEN" --version 2>/dev/null)" != "cbindgen $CBINDGEN_VERSION" ]; then
  echo "[header] installing cbindgen $CBINDGEN_VERSION into $CACHE/cbindgen" >&2
  cargo install -q cbindgen --version "$CBINDGEN_VERSION" --locked --force --root "$CACHE/cbindgen"
fi

generated=$(mktemp)
trap 'rm -f "$generated"' EXIT
"$CBINDGEN" --quiet --config cbindgen.toml --crate dlclassifier-ffi --output "$generated" rust/ffi
# JNI entry points are extern "system" and skipped by cbindgen; keep it that way.
if grep -q 'Java_' "$generated"; then
  echo "JNI functions leaked into $HEADER; make them extern \"system\"" >&2
  exit 1
fi

if [ "${1:-}" = --check ]; then
  if ! cmp -s "$generated" "$HEADER"; then
    echo "$HEADER is stale; run make header"
    exit 1
  fi
else
  cp "$generated" "$HEADER"
fi
