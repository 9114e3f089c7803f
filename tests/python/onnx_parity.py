#!/usr/bin/env python3
"""Check ONNX models with onnx's checker and onnxruntime against expected outputs.

Usage: python onnx_parity.py MODEL.onnx IO.safetensors [--atol 1e-4]
       python onnx_parity.py --stdin [--atol 1e-4]

Runs onnx.checker.check_model with full_check (which includes strict shape
inference), then runs MODEL with onnxruntime's CPU provider on tensor
``input`` from IO.safetensors and compares its single output with tensor
``expected`` (max abs diff), printing one line that starts with the model's
path and ends in OK or FAIL. With --stdin, checks each MODEL<TAB>IO line of
standard input as it arrives, one result line each, so that many models share
one process (the imports take a second). Exits 0 when every diff is within
atol, 1 when one is not, 2 on check, load or shape errors.
"""
import argparse
import sys

import numpy as np
import onnx
import onnxruntime as ort
from safetensors.numpy import load_file


def one_line(exc: Exception) -> str:
    """The exception's message on one line, as --stdin's callers read lines."""
    return " ".join(str(exc).split())


def check(model: str, io_path: str, atol: float) -> int:
    """0 when MODEL computes IO's expected output within atol, 1 when not, 2 on errors."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # noqa: BLE001
        print(f"{model}: error: onnx checker rejects it: {one_line(exc)} FAIL")
        return 2
    try:
        io = load_file(io_path)
        expected, inputs = io["expected"], io["input"]
    except Exception as exc:  # noqa: BLE001
        print(f"{model}: error: cannot read input/expected from {io_path}: {one_line(exc)} FAIL")
        return 2

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    try:
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        (out,) = session.run(None, {session.get_inputs()[0].name: inputs})
    except Exception as exc:  # noqa: BLE001
        print(f"{model}: error: onnxruntime cannot run it: {one_line(exc)} FAIL")
        return 2
    if out.shape != expected.shape:
        print(f"{model}: error: output shape {out.shape} != expected {expected.shape} FAIL")
        return 2
    diff = float(np.abs(out.astype(np.float64) - expected).max())
    ok = diff <= atol  # NaN compares false -> failure
    scale = float(np.abs(expected).max())
    print(f"{model}: max_abs_diff={diff:.6g} max_abs_expected={scale:.6g} atol={atol:g} {'OK' if ok else 'FAIL'}")
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?")
    ap.add_argument("io", nargs="?")
    ap.add_argument("--stdin", action="store_true", help="check the MODEL<TAB>IO lines of standard input")
    ap.add_argument("--atol", type=float, default=1e-4)
    args = ap.parse_args()
    if args.stdin == bool(args.model and args.io):
        ap.error("give MODEL and IO, or --stdin")
    if not args.stdin:
        return check(args.model, args.io, args.atol)
    worst = 0
    for line in sys.stdin:
        model, io_path = line.rstrip("\n").split("\t")
        worst = max(worst, check(model, io_path, args.atol))
        sys.stdout.flush()
    return worst


if __name__ == "__main__":
    sys.exit(main())
