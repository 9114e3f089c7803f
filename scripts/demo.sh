#!/usr/bin/env bash
# The demo: train a nucleus classifier on the bundled DSB2018 fluorescence
# tiles, apply it tile by tile to the whole held-out image, write the overlay
# PNG and per-class areas, and score it against the image's ground truth.
# Run through `make demo`.
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
print(f"\nModel: UNet-{meta['architecture']['backbone']}, {meta['epochs_trained']} epochs ({meta['status']}), trained on {meta['trained_on']}")
print(f"Best epoch {best['epoch']}: validation mean IoU {best['mean_iou']:.3f}, pixel accuracy {best['pixel_accuracy']:.3f}\n")
PY
echo "Whole-image inference on data/nuclei-dsb2018/full/image.tif (not used in training):"
"$BIN" infer --model "$OUT/nuclei-model" --image data/nuclei-dsb2018/full/image.tif --out "$OUT/nuclei-result" \
  --tile 256 --overlap 64 --blend gaussian --truth data/nuclei-dsb2018/full/mask.png --threads "$(nproc)"
