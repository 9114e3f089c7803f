"""Writes an ONNX model that loads but fails at run time, for the tests of
backend failures: its graph reshapes the [N, 1, H, W] input to a fixed
[1, 2, 32, 32], which only a 1x1x32x64 or 1x2x32x32 input fits, so a 64x64
tile makes ONNX Runtime's run fail. Usage: make_failing_onnx.py OUT.onnx"""

import sys

import onnx
from onnx import TensorProto, helper

shape = helper.make_tensor("shape", TensorProto.INT64, [4], [1, 2, 32, 32])
graph = helper.make_graph(
    [helper.make_node("Reshape", ["input", "shape"], ["output"])],
    "fails_at_run",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, "height", "width"])],
    [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 2, "height", "width"])],
    [shape],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
