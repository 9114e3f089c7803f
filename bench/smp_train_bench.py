#!/usr/bin/env python3
"""Training throughput of PyTorch + segmentation_models_pytorch (CPU).

Reference point for the Rust trainer. Synthetic data, UNet in train mode,
AdamW(lr=1e-3, weight_decay=1e-4), CrossEntropyLoss(ignore_index=255).
Prints one JSON line with samples_per_s over the timed (post-warmup) steps.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import segmentation_models_pytorch as smp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", default="resnet18")
    ap.add_argument("--in-channels", type=int, default=1)
    ap.add_argument("--classes", type=int, default=2)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)

    model = smp.Unet(a.encoder, encoder_weights=None, in_channels=a.in_channels, classes=a.classes)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss(ignore_index=255)

    g = torch.Generator().manual_seed(a.seed + 1)
    n_batches = 4  # small pool of distinct synthetic batches, cycled
    data = []
    for _ in range(n_batches):
        x = torch.randn(a.batch, a.in_channels, a.tile, a.tile, generator=g)
        y = torch.randint(0, a.classes, (a.batch, a.tile, a.tile), generator=g)
        ignore = torch.rand(a.batch, a.tile, a.tile, generator=g) < 0.05
        y[ignore] = 255
        data.append((x, y))

    def step(i: int) -> float:
        x, y = data[i % n_batches]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    for i in range(a.warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(a.steps):
        step(a.warmup + i)
    dt = time.perf_counter() - t0

    print(json.dumps({
        "samples_per_s": a.steps * a.batch / dt if dt > 0 else None,
        "seconds": dt,
        "steps": a.steps,
        "batch": a.batch,
        "tile": a.tile,
        "threads": a.threads,
        "encoder": a.encoder,
        "in_channels": a.in_channels,
        "classes": a.classes,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
