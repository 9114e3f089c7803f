#!/usr/bin/env bash
# Model quality at the default settings, measured on the bundled data and
# written to bench/QUALITY.md:
#  - five seeds at defaults on nuclei-dsb2018: validation and whole-image mean
#    IoU per seed, their spread, and whether any run stopped in the warm-up;
#  - a short run (--epochs 20) scored on the whole image;
#  - the Python extension's settings (UNet-resnet18, tile 128, batch 4, 15
#    epochs) per seed, with and without BatchNorm calibration;
#  - every bundled data set at defaults against its best hand-tuned setting.
# Run through `make bench` (or alone: scripts/quality.sh, after a release build).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/dlclassifier
WORK=out/quality
SEEDS=${QUALITY_SEEDS:-1 2 3 4 5}
mkdir -p "$WORK"
: > "$WORK/runs.jsonl"

# run GROUP NAME DATASET [train options...]: trains, scores the whole image
# where the data set has one, appends a JSON line to runs.jsonl.
run() {
  local group=$1 name=$2 set=$3; shift 3
  local model="$WORK/$name" start end whole=null
  start=$(date +%s)
  "$BIN" train --data "data/$set" --out "$model" --overwrite --no-resume --json "$@" > "$WORK/$name.log"
  end=$(date +%s)
  if [[ -f "data/$set/full/mask.png" ]]; then
    local image
    image=$(ls "data/$set"/full/image.* | head -1)
    whole=$("$BIN" infer --model "$model" --image "$image" --truth "data/$set/full/mask.png" --out "$WORK/$name.infer" \
      --no-overlay --no-class-map --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["truth"]["mean_iou"])')
  fi
  python3 - "$model/metadata.json" "$group" "$name" "$set" "$whole" "$((end - start))" "$*" >> "$WORK/runs.jsonl" <<'PY'
import json, sys
meta_path, group, name, data_set, whole, seconds, options = sys.argv[1:]
m = json.load(open(meta_path))
t = m["training"]
print(json.dumps({
    "group": group, "name": name, "data": data_set, "options": options or "(defaults)",
    "val": m["best_epoch"]["mean_iou"], "whole": None if whole == "null" else float(whole),
    "best_epoch": m["best_epoch"]["epoch"], "epochs": m["epochs_trained"], "status": m["status"],
    "seed": t["seed"], "tile": t["tile_size"], "samples": t["samples_per_epoch"], "batch": t["batch_size"],
    "pct_start": t["scheduler"].get("pct_start", 0.0), "max_epochs": t["epochs"],
    "scheduler": t["scheduler"]["type"], "seconds": int(seconds)}))
PY
}

for seed in $SEEDS; do run seeds "nuclei-seed$seed" nuclei-dsb2018 --seed "$seed"; done
run short nuclei-epochs20 nuclei-dsb2018 --epochs 20
EXTENSION=(--encoder resnet18 --tile-size 128 --batch-size 4 --epochs 15)
for seed in $SEEDS; do
  run extension "ext-seed$seed" nuclei-dsb2018 "${EXTENSION[@]}" --seed "$seed"
  run extension-raw-bn "ext-rawbn-seed$seed" nuclei-dsb2018 "${EXTENSION[@]}" --seed "$seed" --no-bn-calibration
done
# Each data set at defaults, and the hand-tuned settings tried on it (the
# best of which the tests in rust/core/tests/good_by_default.rs know).
for set in nuclei-dsb2018 bbbc007-scribbles membranes-sparse ihc-dab; do run defaults "$set-defaults" "$set"; done
tuned() { local set=$1 name=$2; shift 2; run tuned "$set-$name" "$set" "$@"; }
tuned nuclei-dsb2018 tile128-no-intensity --tile-size 128 --intensity-mode none
tuned bbbc007-scribbles resnet18 --encoder resnet18
tuned bbbc007-scribbles no-intensity --intensity-mode none
tuned membranes-sparse resnet18 --encoder resnet18
tuned ihc-dab tile128 --tile-size 128
tuned ihc-dab no-intensity --intensity-mode none

python3 - "$WORK/runs.jsonl" <<'PY'
import json, math, statistics, sys, datetime, platform, os
runs = [json.loads(l) for l in open(sys.argv[1])]
group = lambda g: [r for r in runs if r["group"] == g]
f = lambda v: "–" if v is None else f"{v:.3f}"
warmup = lambda r: math.ceil(r["pct_start"] * r["max_epochs"]) if r["scheduler"] == "onecycle" else 0
out = [f"# Model quality at default settings\n\nWritten by `make bench` (scripts/quality.sh) on {datetime.date.today()}, "
       f"{platform.machine()}, {os.cpu_count()} cores, CPU. Mean IoU over all classes; *whole* is the whole held-out "
       "image `full/image.tif` applied as `infer` applies it, against `full/mask.png`.\n"]

def table(rows, title):
    out.append(f"\n## {title}\n\n| run | options | validation | whole image | whole − validation | epochs (best) | warm-up | status | time |\n|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        gap = None if r["whole"] is None else r["whole"] - r["val"]
        out.append(f"| {r['name']} | `{r['options']}` | {f(r['val'])} | {f(r['whole'])} | {'–' if gap is None else f'{gap:+.3f}'} "
                   f"| {r['epochs']} ({r['best_epoch']}) | {warmup(r)} | {r['status']} | {r['seconds']} s |")

seeds = group("seeds")
table(seeds, "Five seeds at defaults (nuclei-dsb2018)")
wholes = [r["whole"] for r in seeds]
checks = [
    (f"every seed ≥ 0.85 on the whole image (min {min(wholes):.3f}, max {max(wholes):.3f}, spread {max(wholes) - min(wholes):.3f}, mean {statistics.mean(wholes):.3f})", min(wholes) >= 0.85),
    ("no seed more than 0.03 below its validation score on the whole image", all(r["whole"] >= r["val"] - 0.03 for r in seeds)),
    ("no run stopped before its warm-up ended", all(r["epochs"] > warmup(r) for r in runs)),
]
short = group("short")[0]
table([short], "A short run: --epochs 20")
checks.append((f"--epochs 20 reaches ≥ 0.87 on the whole image ({short['whole']:.3f})", short["whole"] >= 0.87))

ext, raw = group("extension"), group("extension-raw-bn")
out.append("\n## The Python extension's settings, with and without BatchNorm calibration\n\n"
           "UNet-resnet18, tile 128, batch 4, 15 epochs. The extension itself scored 0.88–0.89 on the whole image with these "
           "settings on this machine (0.892 at seed 42; issue 14).\n\n| seed | calibrated: validation | calibrated: whole | raw BN: validation | raw BN: whole |\n|---|---|---|---|---|")
for a, b in zip(ext, raw):
    out.append(f"| {a['seed']} | {f(a['val'])} | {f(a['whole'])} | {f(b['val'])} | {f(b['whole'])} |")
mean_ext, mean_raw = statistics.mean(r["whole"] for r in ext), statistics.mean(r["whole"] for r in raw)
out.append(f"| mean | {statistics.mean(r['val'] for r in ext):.3f} | **{mean_ext:.3f}** | {statistics.mean(r['val'] for r in raw):.3f} | {mean_raw:.3f} |")
checks.append((f"with the extension's settings, mean whole-image IoU over seeds ({mean_ext:.3f}) ≥ the extension's 0.88", mean_ext >= 0.88))

defaults, tuned = group("defaults"), group("tuned")
out.append("\n## Each data set at defaults against the hand-tuned settings tried\n\n| data | options | validation | plan (tile, crops/epoch) | epochs (best) |\n|---|---|---|---|---|")
for r in defaults:
    for t in [r] + [t for t in tuned if t["data"] == r["data"]]:
        out.append(f"| {t['data']} | `{t['options']}` | {f(t['val'])} | {t['tile']}, {t['samples']} | {t['epochs']} ({t['best_epoch']}) |")
for r in defaults:
    best = max((t for t in tuned if t["data"] == r["data"]), key=lambda t: t["val"])
    ok = r["val"] >= best["val"] - 0.03
    note = " (membranes-sparse's classes are three look-alike cells: chance-level at any setting, data/README.md)" if r["data"] == "membranes-sparse" else ""
    checks.append((f"{r['data']}: defaults {r['val']:.3f} within 0.03 of the best hand-tuned `{best['options']}` {best['val']:.3f}{note}", ok))
nuclei = next(r for r in defaults if r["data"] == "nuclei-dsb2018")
checks.append((f"nuclei-dsb2018 at defaults ≥ 0.90 on validation ({nuclei['val']:.3f}) and on the whole image ({nuclei['whole']:.3f})", nuclei["val"] >= 0.90 and nuclei["whole"] >= 0.90))

out.append("\n## Acceptance checks\n")
out += [f"- {'PASS' if ok else 'FAIL'}: {text}" for text, ok in checks]
text = "\n".join(out) + "\n"
open("bench/QUALITY.md", "w").write(text)
print(text)
PY
