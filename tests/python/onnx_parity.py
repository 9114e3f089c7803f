#!/usr/bin/env python3
"""Check an ONNX model with onnx's checker and onnxruntime against expected outputs.

Usage: python onnx_parity.py MODEL.onnx IO.safetensors [--atol 1e-4]

Runs onnx.checker.check_model with full_check (which includes strict shape
inference), then runs MODEL with onnxruntime's CPU provider on tensor
``input`` from IO.safetensors and compares its single output with tensor
``expected`` (max abs diff). Exits 0 when the diff is within atol, 1 when it
is not, 2 on check, load or shape errors.
"""
import argparse
import sys

import numpy as np
import onnx
import onnxruntime as ort
from safetensors.numpy import load_file


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("model")
    ap.add_argument("io")
    ap.add_argument("--atol", type=float, default=1e-4)
    args = ap.parse_args()

    try:
        onnx.checker.check_model(args.model, full_check=True)
    except Exception as exc:  # noqa: BLE001
        print(f"error: onnx checker rejects {args.model}: {exc}", file=sys.stderr)
        return 2
    try:
        io = load_file(args.io)
        expected, inputs = io["expected"], io["input"]
    except Exception as exc:  # noqa: BLE001
        print(f"error: cannot read input/expected from {args.io}: {exc}", file=sys.stderr)
        return 2

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    try:
        session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
        (out,) = session.run(None, {session.get_inputs()[0].name: inputs})
    except Exception as exc:  # noqa: BLE001
        print(f"error: onnxruntime cannot run {args.model}: {exc}", file=sys.stderr)
        return 2
    if out.shape != expected.shape:
        print(f"error: output shape {out.shape} != expected {expected.shape}", file=sys.stderr)
        return 2
    diff = float(np.abs(out.astype(np.float64) - expected).max())
    ok = diff <= args.atol  # NaN compares false -> failure
    scale = float(np.abs(expected).max())
    print(f"max_abs_diff={diff:.6g} max_abs_expected={scale:.6g} atol={args.atol:g} {'OK' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
