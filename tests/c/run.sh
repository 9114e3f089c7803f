#!/usr/bin/env bash
# Builds the native library, compiles tests/c/consumer.c against the checked-in
# header as strict C99, and runs it on bundled data in a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/../.."

CACHE="${DLC_CACHE:-$HOME/.cache/dlclassifier}"
export LIBTORCH="${LIBTORCH:-$CACHE/libtorch-2.11.0}"
cargo build --release -p dlclassifier-ffi
lib="$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
${CC:-gcc} -std=c99 -pedantic -Wall -Wextra -Werror -I include tests/c/consumer.c \
  -L "$lib" -ldlclassifier_native -Wl,-rpath,"$lib" -lm -o "$work/consumer"
# A model that loads but fails when run, for the engine-failure check.
"${DLC_PYTHON:-$CACHE/venv-torch-2.11.0/bin/python}" tests/python/make_failing_onnx.py "$work/fails.onnx"
# Its reservations book a private budget, apart from any other process's.
DLC_RESERVATION_DIR="$work" "$work/consumer" data/bbbc007-scribbles "$work" "$work/fails.onnx"
