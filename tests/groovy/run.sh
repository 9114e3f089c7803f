#!/usr/bin/env bash
# Runs the Groovy example scripts against the built jar, as QuPath users
# would: one short training run on real bundled data, whole-image inference
# with a Groovy RegionReader, tile prediction from four threads, then the
# image's objects as classified, measured polygons, and a live overlay built
# from tiles classified into buffers.
# Usage: tests/groovy/run.sh JAR   (make test builds the jar first)
set -euo pipefail
JAR=$(readlink -f "${1:?usage: tests/groovy/run.sh JAR}")
cd "$(dirname "$0")/../.."
export JAVA_HOME=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
DATA=data/nuclei-dsb2018
groovy -cp "$JAR" tests/groovy/train_and_apply.groovy data=$DATA out="$WORK" \
  image=$DATA/full/image.tif truth=$DATA/full/mask.png epochs=1 samples=8 encoder=resnet18
groovy -cp "$JAR" tests/groovy/predict_tiles.groovy "$WORK/model" $DATA/full/image.tif
groovy -cp "$JAR" tests/groovy/objects.groovy "$WORK/model" $DATA/full/image.tif "$WORK/objects"
groovy -cp "$JAR" tests/groovy/live_overlay.groovy "$WORK/model" $DATA/full/image.tif "$WORK/live_overlay.png"
echo "groovy scripts: ok"
