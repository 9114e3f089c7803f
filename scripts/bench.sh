#!/usr/bin/env bash
# Our engine against the Python stack it replaces, each pair measured in one
# run on the same machine, model, data, batch and threads, written to
# bench/RESULTS.md:
#  - training: samples/s against PyTorch + segmentation_models_pytorch;
#  - inference: tiles/s of the ONNX path (uint8 tiles in, class map out)
#    against Python onnxruntime + numpy, and against the bare session run;
#  - embedding: the same tiles through the jar (Java -> JNI, direct buffers)
#    against the Rust-native call;
#  - objects: class maps traced into measured polygons, Mpx/s against
#    OpenCV's findContours + moments on the same map.
# Run through `make bench` (it installs what is needed).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/dlclassifier
JAR=${DLC_JAR:?set DLC_JAR to the built jar (make bench does)}
PY=${DLC_PYTHON:?set DLC_PYTHON (make bench does)}
THREADS=${BENCH_THREADS:-2}
ROUNDS=${BENCH_ROUNDS:-3}
WORK=out/bench
mkdir -p "$WORK"

# Alternates the order of two commands over the rounds, so that neither side
# always runs on a warmer machine; appends their JSON lines to two files.
alternate() { # alternate NAME "ours command" "theirs command"
  : > "$WORK/$1.ours"; : > "$WORK/$1.theirs"
  for round in $(seq "$ROUNDS"); do
    if (( round % 2 )); then
      eval "$2" >> "$WORK/$1.ours"; eval "$3" >> "$WORK/$1.theirs"
    else
      eval "$3" >> "$WORK/$1.theirs"; eval "$2" >> "$WORK/$1.ours"
    fi
  done
}

TRAIN=(--encoder resnet18 --in-channels 1 --classes 2 --tile 256 --batch 4 --threads "$THREADS" --warmup 2 --steps "${BENCH_STEPS:-10}")
alternate train "$BIN bench-train ${TRAIN[*]}" "$PY bench/smp_train_bench.py ${TRAIN[*]}"

# A real model (one short epoch on the IHC data; speed does not depend on the weights).
MODEL=$WORK/ihc-model
"$BIN" train --data data/ihc-dab --out "$MODEL" --overwrite --no-resume --encoder resnet18 --epochs 1 \
  --samples-per-epoch 8 --tile-size 256 --batch-size 4 --threads "$THREADS" --json > /dev/null
INFER=(--tile 256 --batch 4 --threads "$THREADS" --warmup 2 --steps "${BENCH_INFER_STEPS:-25}")
alternate infer "$BIN bench-infer --model $MODEL --image data/ihc-dab/full/image.png ${INFER[*]} --save $WORK/tiles" \
  "$PY bench/ort_infer_bench.py --model $MODEL/model.onnx --saved $WORK/tiles --channels 3 ${INFER[*]}"
alternate jni "java -cp $JAR bench/JniTileBench.java --model $MODEL --saved $WORK/tiles --channels 3 ${INFER[*]}" \
  "$BIN bench-infer --model $MODEL --image data/ihc-dab/full/image.png ${INFER[*]}"

# Class maps of 4096x4096: the bundled nuclei and IHC masks tiled 8x8.
"$PY" - "$WORK" <<'PY'
import sys, numpy as np
from PIL import Image
for name, mask in [("nuclei", "data/nuclei-dsb2018/full/mask.png"), ("ihc", "data/ihc-dab/full/mask.png")]:
    m = np.array(Image.open(mask))
    m[m == 255] = 0
    Image.fromarray(np.tile(m, (8, 8))).save(f"{sys.argv[1]}/classmap-{name}.png")
PY
for set in nuclei ihc; do
  alternate "objects-$set" "$BIN bench-objects --class-map $WORK/classmap-$set.png" \
    "$PY bench/opencv_objects_bench.py --class-map $WORK/classmap-$set.png"
done

python3 - "$WORK" <<'PY'
import json, statistics, sys, datetime, platform, os
work = sys.argv[1]
load = lambda name: [json.loads(l) for l in open(f"{work}/{name}") if l.strip()]
med = lambda rows, key: statistics.median(r[key] for r in rows)
today = datetime.date.today()
rows = []

ours, theirs = load("train.ours"), load("train.theirs")
o, t, c = med(ours, "samples_per_s"), med(theirs, "samples_per_s"), ours[0]
rows.append(f"| {today} | training, UNet-{c['encoder']}, {c['in_channels']} ch, tile {c['tile']}, batch {c['batch']}, "
            f"{c['threads']} threads, CPU | {o:.2f} samples/s | {t:.2f} samples/s (PyTorch {theirs[0].get('torch', '?')} + smp) "
            f"| **{o / t:.2f}x** | >= 1.1x |")

ours, theirs = load("infer.ours"), load("infer.theirs")
o, f, t, c = med(ours, "tiles_per_s"), med(ours, "floor_tiles_per_s"), med(theirs, "tiles_per_s"), ours[0]
workload = (f"inference, UNet-{c['encoder']}, {c['channels']} ch uint8 HWC in, class map out, tile {c['tile']}, "
            f"batch {c['batch']}, {c['threads']} threads, CPU")
rows.append(f"| {today} | {workload} | {o:.2f} tiles/s | {t:.2f} tiles/s (Python onnxruntime {theirs[0]['onnxruntime']} + numpy) "
            f"| **{o / t:.2f}x** | >= 1.3x |")
rows.append(f"| {today} | {workload}: our overhead over the bare session run | {o:.2f} tiles/s | {f:.2f} tiles/s (bare run, same session) "
            f"| **{100 * (f / o - 1):+.1f}%** | <= 3% |")
ours, theirs = load("jni.ours"), load("jni.theirs")
o, t = med(ours, "tiles_per_s"), med(theirs, "tiles_per_s")
rows.append(f"| {today} | {workload}: Java {ours[0]['java']} -> JNI on direct buffers against the Rust-native call "
            f"| {o:.2f} tiles/s | {t:.2f} tiles/s (Rust `Predictor::predict`) | **{100 * (t / o - 1):+.1f}%** | <= 3% |")
for name, what in [("nuclei", "nuclei mask (2 classes)"), ("ihc", "IHC mask (3 classes)")]:
    ours, theirs = load(f"objects-{name}.ours"), load(f"objects-{name}.theirs")
    o, t = med(ours, "mpx_per_s"), med(theirs, "mpx_per_s")
    rows.append(f"| {today} | objects: {what} tiled to 4096x4096, traced into polygons with holes and measured, "
                f"bands of {ours[0]['band']} rows, 1 thread | {o:.1f} Mpx/s ({ours[0]['objects']} objects) "
                f"| {t:.1f} Mpx/s (OpenCV {theirs[0]['opencv']} findContours + moments, whole map, {theirs[0]['objects']} objects) "
                f"| **{o / t:.2f}x** | >= 0.5x |")
for r in rows:
    print(r)
path = "bench/RESULTS.md"
header = ("# Benchmark results\n\nWritten by `make bench` (scripts/bench.sh): each row is one run, both sides "
          "measured in that run on the same machine (median of alternating rounds).\n\n"
          "| date | workload | dlclassifier | reference | ratio | target |\n|---|---|---|---|---|---|\n")
notes = ("\nNotes:\n"
         "- Inference: both sides spend over 90% of each batch in the same ONNX Runtime session run, so the ratio "
         "against Python is bounded by Python's own numpy overhead (a few percent); 1.3x would need a different "
         "engine or precision for the same graph, which would change the numerics.\n"
         "- The bare run uses the very session our path uses, on input normalized beforehand; timings interleave "
         "step by step, so their difference is our normalization, argmax and buffer handling.\n"
         "- JNI: the jar's `Predictor.predictClasses` on direct buffers and the Rust call run the same session on the same "
         "tiles in alternating processes; a negative overhead means the Java loop measured faster, i.e. the JNI cost "
         "is below the run-to-run noise (a few percent on this 2-core machine).\n"
         "- Objects: ours joins objects across bands (as tiles stream) and measures area, perimeter (scikit-image's "
         "estimator), circularity, centroid and bounds; OpenCV sees the whole map at once and gives moments and arc "
         "length. Counts differ because OpenCV joins pixels that touch at a corner (8-connectivity), ours does not "
         "(4-connectivity, as regionprops with connectivity=1).\n")
open(path, "w").write(header + "\n".join(rows) + "\n" + notes + "\n" + f"Machine: {platform.machine()}, {os.cpu_count()} cores.\n")
PY
