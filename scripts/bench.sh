#!/usr/bin/env bash
# Training throughput of our engine against PyTorch + segmentation_models_pytorch
# on the same architecture, tile, batch and threads, measured in one run and
# written to bench/RESULTS.md. Run through `make bench` (it installs what is needed).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/dlclassifier
PY=${DLC_PYTHON:?set DLC_PYTHON (make bench does)}
ARGS=(--encoder resnet18 --in-channels 1 --classes 2 --tile 256 --batch 4 --threads "${BENCH_THREADS:-2}" --warmup 2 --steps "${BENCH_STEPS:-10}")
ROUNDS=${BENCH_ROUNDS:-3}

ours=(); theirs=()
for round in $(seq "$ROUNDS"); do
  # Alternate the order so that neither side always runs on a warmer machine.
  if (( round % 2 )); then
    ours+=("$("$BIN" bench-train "${ARGS[@]}")"); theirs+=("$("$PY" bench/smp_train_bench.py "${ARGS[@]}")")
  else
    theirs+=("$("$PY" bench/smp_train_bench.py "${ARGS[@]}")"); ours+=("$("$BIN" bench-train "${ARGS[@]}")")
  fi
done

python3 - "$ROUNDS" "${ours[@]}" "${theirs[@]}" <<'PY'
import json, statistics, sys, datetime, platform, os
n = int(sys.argv[1])
ours = [json.loads(s) for s in sys.argv[2:2 + n]]
theirs = [json.loads(s) for s in sys.argv[2 + n:2 + 2 * n]]
o = statistics.median(r["samples_per_s"] for r in ours)
t = statistics.median(r["samples_per_s"] for r in theirs)
cfg = ours[0]
ratio = o / t
line = (f"| {datetime.date.today()} | training, UNet-{cfg['encoder']}, {cfg['in_channels']} ch, "
        f"tile {cfg['tile']}, batch {cfg['batch']}, {cfg['threads']} threads, CPU | "
        f"{o:.2f} samples/s | {t:.2f} samples/s (torch {theirs[0].get('torch', '?')}) | **{ratio:.2f}x** | >= 1.1x |")
print(line)
path = "bench/RESULTS.md"
header = ("# Benchmark results\n\nWritten by `make bench` (scripts/bench.sh): each row is one run, both sides "
          "measured in that run on the same machine (median of alternating rounds).\n\n"
          "| date | workload | dlclassifier | reference | ratio | target |\n|---|---|---|---|---|---|\n")
rows = []
if os.path.exists(path):
    rows = [l for l in open(path).read().splitlines() if l.startswith("| 20")]
rows = [r for r in rows if "training, UNet" not in r] + [line]
open(path, "w").write(header + "\n".join(rows) + "\n\n" + f"Machine: {platform.machine()}, {os.cpu_count()} cores.\n")
PY
