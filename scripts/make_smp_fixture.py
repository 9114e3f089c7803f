#!/usr/bin/env python3
"""Generate smp 0.5.0 UNet parity fixtures for the Rust engine.

Run with the test venv (scripts/deps.sh python):
    $VENV/bin/python scripts/make_smp_fixture.py [OUT_DIR] [--conv-gain G]
OUT_DIR defaults to tests/fixtures/smp in this script's repository.

For each configuration (encoder, in_channels C, classes K) this builds
``smp.Unet(encoder_name=E, encoder_weights=None, in_channels=C, classes=K)``,
overwrites every state_dict entry with the deterministic formula below, puts
the model in eval() mode, runs a deterministic (1, C, 64, 64) input and saves
``unet_<E>_c<C>_k<K>.safetensors`` with float32 tensors ``input`` and
``logits``. It also writes ``keys_<E>.txt`` (state_dict order, one
``name<TAB>d0,d1,...`` per line; scalars get an empty shape) and
``param_counts.json``.

Weight formula (computed in float64, then cast to float32):
  * entries whose name ends with ``num_batches_tracked`` are left untouched;
  * h = sum over the UTF-8 bytes b_i of the full key name (i 0-based) of
    (i + 1) * b_i, then h = h mod 9973;
  * for the flat row-major element index k: base = sin(0.618 * k + 0.1 * h);
  * name ends with ``running_var``:   v = 1.0 + 0.25 * |base|
    elif ends with ``running_mean``:  v = 0.1 * base
    elif tensor is 1-D and name ends with ``weight``: v = 1.0 + 0.1 * base
    elif ends with ``bias``:          v = 0.05 * base
    else (conv / linear weights):     fan_in = numel / shape[0];
                                      v = base * sqrt(G / fan_in), G = 4.0
    (G is --conv-gain. sin has RMS 1/sqrt(2), so G = 4 keeps the activation
    variance per conv; a smaller gain lets the decoder drown the encoder's
    signal and the fixture would barely test the encoder.)

Input formula: x[k] = 2.0 * sin(0.37 * k) over the flat index k of the
(1, C, 64, 64) tensor (float64, then cast to float32).
"""
import argparse
import json
import math
import os

import numpy as np
import torch
import segmentation_models_pytorch as smp
from safetensors.torch import save_file

ENCODERS = ["resnet18", "resnet34", "resnet50", "mobilenet_v2", "efficientnet-b0",
            "resnext50_32x4d", "efficientnet-b1", "efficientnet-b2", "efficientnet-b3", "efficientnet-b4",
            "se_resnet50", "densenet121", "vgg16_bn", "mit_b0", "mit_b2"]
# Our architecture names and smp's classes, as rust/core/src/models/architectures/mod.rs has them.
ARCHITECTURES = {"unet": "Unet", "unet++": "UnetPlusPlus", "deeplabv3": "DeepLabV3", "deeplabv3+": "DeepLabV3Plus",
                 "fpn": "FPN", "pspnet": "PSPNet", "manet": "MAnet", "linknet": "Linknet", "pan": "PAN"}
# Logits fixtures only for the first five; the others are compared with smp
# at test time (tests/python_interop.rs), which keeps the fixtures small.
CONFIGS = [(e, 3, 2) for e in ENCODERS[:5]] + [("resnet18", 1, 3)]
SIZE = 64


def key_hash(name: str) -> int:
    return sum((i + 1) * b for i, b in enumerate(name.encode("utf-8"))) % 9973


def formula_value(name: str, shape, conv_gain: float = 4.0) -> np.ndarray:
    numel = int(np.prod(shape)) if len(shape) else 1
    h = key_hash(name)
    k = np.arange(numel, dtype=np.float64)
    base = np.sin(0.618 * k + 0.1 * h)
    if name.endswith("running_var"):
        v = 1.0 + 0.25 * np.abs(base)
    elif name.endswith("running_mean"):
        v = 0.1 * base
    elif len(shape) == 1 and name.endswith("weight"):
        v = 1.0 + 0.1 * base
    elif name.endswith("bias"):
        v = 0.05 * base
    else:
        fan_in = numel / shape[0]
        v = base * math.sqrt(conv_gain / fan_in)
    return v.astype(np.float32).reshape(tuple(shape))


def fill_formula(model: torch.nn.Module, conv_gain: float = 4.0) -> None:
    sd = model.state_dict()
    new = {}
    for name, t in sd.items():
        if name.endswith("num_batches_tracked"):
            new[name] = t
            continue
        new[name] = torch.from_numpy(formula_value(name, list(t.shape), conv_gain)).to(t.dtype)
    model.load_state_dict(new, strict=True)


def make_input(c: int) -> torch.Tensor:
    n = c * SIZE * SIZE
    k = np.arange(n, dtype=np.float64)
    x = (np.sin(0.37 * k) * 2.0).astype(np.float32)
    return torch.from_numpy(x.reshape(1, c, SIZE, SIZE))


def build(e: str, c: int, k: int) -> torch.nn.Module:
    return smp.Unet(encoder_name=e, encoder_weights=None, in_channels=c, classes=k)


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def main() -> None:
    torch.set_num_threads(1)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description="smp UNet parity fixtures")
    ap.add_argument("out", nargs="?", default=os.path.join(root, "tests", "fixtures", "smp"))
    ap.add_argument("--conv-gain", type=float, default=4.0)
    ap.add_argument("--counts-only", action="store_true",
                    help="only write keys_*.txt, param_counts.json and architecture_counts.json")
    args = ap.parse_args()
    out = args.out
    os.makedirs(out, exist_ok=True)

    # Every architecture with every encoder (3 channels, 2 classes): parameter
    # counts, or why smp cannot build or run it on a 64x64 input (128x128 for
    # PAN, whose pyramid pools three times below stride 16).
    arch_counts = {}
    for name, cls in ARCHITECTURES.items():
        arch_counts[name] = {}
        for e in ENCODERS:
            try:
                torch.manual_seed(0)
                m = getattr(smp, cls)(e, encoder_weights=None, in_channels=3, classes=2).eval()
                with torch.no_grad():
                    side = 128 if cls == "PAN" else 64
                    m(torch.zeros(1, 3, side, side))
                arch_counts[name][e] = {"total": n_params(m), "encoder": n_params(m.encoder)}
            except Exception as ex:  # smp's own refusal is the fixture
                arch_counts[name][e] = {"unsupported": str(ex).splitlines()[0][:200]}
            print(name, e, arch_counts[name][e], flush=True)
    with open(os.path.join(out, "architecture_counts.json"), "w") as f:
        json.dump(arch_counts, f, indent=2, sort_keys=True)
        f.write("\n")

    counts = {}
    for e in ENCODERS:
        m = build(e, 3, 2)
        with open(os.path.join(out, f"keys_{e}.txt"), "w") as f:
            for name, t in m.state_dict().items():
                f.write(f"{name}\t{','.join(str(d) for d in t.shape)}\n")
        counts[e] = {}
        for c in (1, 3):
            for k in (2, 3):
                m = build(e, c, k)
                counts[e][f"c{c}_k{k}"] = {"total": n_params(m), "encoder": n_params(m.encoder)}
    with open(os.path.join(out, "param_counts.json"), "w") as f:
        json.dump(counts, f, indent=2, sort_keys=True)
        f.write("\n")
    if args.counts_only:
        return

    for e, c, k in CONFIGS:
        torch.manual_seed(0)
        m = build(e, c, k)
        fill_formula(m, args.conv_gain)
        m.eval()
        x = make_input(c)
        with torch.no_grad():
            y = m(x)
        y = y.float().contiguous()
        path = os.path.join(out, f"unet_{e}_c{c}_k{k}.safetensors")
        save_file({"input": x.contiguous(), "logits": y}, path)
        amax = y.abs().max().item()
        flag = "" if math.isfinite(amax) and amax <= 1e3 else "  <-- WARNING"
        print(f"{os.path.basename(path)}: logits {tuple(y.shape)} max|logits|={amax:.6g} "
              f"std={y.std().item():.6g}{flag}")


if __name__ == "__main__":
    main()
