#!/usr/bin/env python3
"""Write an ONNX model that uses much of the format our exporter never writes.

Usage: python onnx_foreign_model.py OUT.onnx

Subgraph attributes (If), a sequence-typed value, a sparse initializer, model
properties, a second opset domain and a function, around a uint8 input
``image`` [N, 3, 256, ?] and a float16 output ``probs`` [N, 3]: a reader of
user-supplied models must skip what it does not model and still find these.
"""
import sys

import onnx
from onnx import TensorProto as T
from onnx import helper as h


def branch(value: int) -> onnx.GraphProto:
    node = h.make_node("Constant", [], ["c"], value_int=value)
    return h.make_graph([node], "branch", [], [h.make_tensor_value_info("c", T.INT64, [])])


def main() -> int:
    nodes = [
        h.make_node("Cast", ["image"], ["f"], to=T.FLOAT16),
        h.make_node("ReduceMean", ["f"], ["probs"], axes=[2, 3], keepdims=0),
        h.make_node("If", ["cond"], ["which"], then_branch=branch(1), else_branch=branch(0)),
    ]
    sparse = h.make_sparse_tensor(h.make_tensor("v", T.FLOAT, [1], [1.0]), h.make_tensor("i", T.INT64, [1], [0]), [4])
    graph = h.make_graph(
        nodes,
        "foreign",
        [h.make_tensor_value_info("image", T.UINT8, ["N", 3, 256, None]), h.make_tensor_value_info("cond", T.BOOL, [])],
        [h.make_tensor_value_info("probs", T.FLOAT16, ["N", 3]), h.make_tensor_value_info("which", T.INT64, [])],
        value_info=[h.make_tensor_sequence_value_info("seq", T.FLOAT, None)],
        sparse_initializer=[sparse],
    )
    opsets = [h.make_opsetid("", 21), h.make_opsetid("ai.onnx.ml", 3)]
    model = h.make_model(graph, opset_imports=opsets, doc_string="made elsewhere")
    h.set_model_props(model, {"author": "someone"})
    model.functions.append(onnx.FunctionProto(name="f", domain="custom"))
    onnx.save(model, sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
