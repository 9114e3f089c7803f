#!/usr/bin/env bash
# The demo: train a nucleus classifier on the bundled DSB2018 fluorescence
# tiles and print its validation metrics. Run through `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/demo}
BIN=target/release/dlclassifier
mkdir -p "$OUT"
"$BIN" train --data data/nuclei-dsb2018 --out "$OUT/nuclei-model" --overwrite --no-resume \
  --encoder resnet18 --epochs 20 --tile-size 128 --batch-size 4 --threads "$(nproc)"
python3 - "$OUT/nuclei-model" <<'PY'
import json, sys
meta = json.load(open(f"{sys.argv[1]}/metadata.json"))
best = meta["best_epoch"]
names = [c["name"] for c in meta["classes"]]
print(f"\nModel: UNet-{meta['architecture']['backbone']}, {meta['epochs_trained']} epochs ({meta['status']}), trained on {meta['trained_on']}")
print(f"Best epoch {best['epoch']}: validation mean IoU {best['mean_iou']:.3f}, pixel accuracy {best['pixel_accuracy']:.3f}")
for name, iou in zip(names, best["per_class_iou"]):
    print(f"  IoU {name:<12} {iou:.3f}" if iou is not None else f"  IoU {name:<12} n/a")
print(f"Files in {sys.argv[1]}: model.pt, model.safetensors, metadata.json, training_history.json, training_curves.png")
PY
