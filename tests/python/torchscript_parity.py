#!/usr/bin/env python3
"""Check a TorchScript model against expected outputs.

Usage: python torchscript_parity.py MODEL_PT IO.safetensors [--atol 1e-4]

Loads MODEL_PT with torch.jit.load (CPU), runs it on tensor ``input`` from
IO.safetensors, compares with tensor ``expected`` (max abs diff) and exits 0
when the diff is within atol, 1 when it is not, 2 on load or shape errors.
"""
import argparse
import sys

import torch
from safetensors.torch import load_file


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("model")
    ap.add_argument("io")
    ap.add_argument("--atol", type=float, default=1e-4)
    args = ap.parse_args()
    torch.set_num_threads(1)

    try:
        model = torch.jit.load(args.model, map_location="cpu")
    except Exception as exc:  # noqa: BLE001
        print(f"error: cannot load TorchScript model {args.model}: {exc}", file=sys.stderr)
        return 2
    try:
        io = load_file(args.io)
    except Exception as exc:  # noqa: BLE001
        print(f"error: cannot read {args.io}: {exc}", file=sys.stderr)
        return 2
    for name in ("input", "expected"):
        if name not in io:
            print(f"error: {args.io} has no tensor '{name}' (has {sorted(io)})", file=sys.stderr)
            return 2

    model.eval()
    try:
        with torch.no_grad():
            out = model(io["input"])
    except Exception as exc:  # noqa: BLE001
        last = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        print(f"error: forward failed: {last}", file=sys.stderr)
        return 2
    if isinstance(out, (tuple, list)):
        out = out[0]
    expected = io["expected"]
    if tuple(out.shape) != tuple(expected.shape):
        print(f"error: output shape {tuple(out.shape)} != expected {tuple(expected.shape)}",
              file=sys.stderr)
        return 2
    diff = (out.float() - expected.float()).abs().max().item()
    ok = diff <= args.atol  # NaN compares false -> failure
    print(f"max_abs_diff={diff:.6g} atol={args.atol:g} {'OK' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
