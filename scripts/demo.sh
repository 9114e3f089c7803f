#!/usr/bin/env bash
# The demo, through the jar as a QuPath script would use it: train a nucleus
# classifier on the bundled DSB2018 fluorescence tiles, apply it tile by tile
# to the whole held-out image, write the overlay PNG, the nuclei as objects
# (GeoJSON and CSV), per-class areas and
# metrics.json, and score it against the image's ground truth.
# Run through `make demo` (it builds the jar).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/demo}
JAR=${DLC_JAR:?set DLC_JAR to the built jar (make demo does)}
export JAVA_HOME=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}
mkdir -p "$OUT"
DATA=data/nuclei-dsb2018
groovy -cp "$JAR" tests/groovy/train_and_apply.groovy data=$DATA out="$OUT" \
  image=$DATA/full/image.tif truth=$DATA/full/mask.png
