#!/usr/bin/python3
"""Writes small ONNX models with weights as initializers, for the fuzz seed corpora.

fuzz/make_seeds.sh imports them into .edge seeds. Run with Debian's /usr/bin/python3 (python3-onnx).
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1] if len(sys.argv) > 1 else "."
rng = np.random.default_rng(0)


def init(name, shape, dtype=np.float32):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(dtype), name)


def save(nodes, inits, inputs, outputs, name):
    g = helper.make_graph(nodes, name, inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="edgeloop-seeds")
    onnx.checker.check_model(m)
    onnx.save(m, f"{out}/{name}.onnx")


x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
# Conv → BN → Relu → Resize → Concat → GlobalAveragePool → Reshape → Gemm → Softmax
save([
    helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], strides=[1, 1]),
    helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"], epsilon=1e-5),
    helper.make_node("Relu", ["n"], ["r"]),
    helper.make_node("Resize", ["r", "", "scales"], ["u"], mode="linear"),
    helper.make_node("MaxPool", ["u"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
    helper.make_node("Concat", ["p", "r"], ["cat"], axis=1),
    helper.make_node("GlobalAveragePool", ["cat"], ["g"]),
    helper.make_node("Reshape", ["g", "shape"], ["f"]),
    helper.make_node("Gemm", ["f", "fw", "fb"], ["logits"], transB=1),
    helper.make_node("Softmax", ["logits"], ["y"], axis=1),
], [init("w", [4, 3, 3, 3]), init("b", [4]), init("s", [4]), init("bb", [4]), init("m", [4]),
    numpy_helper.from_array(np.abs(rng.standard_normal(4)).astype(np.float32) + 0.5, "v"),
    numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
    numpy_helper.from_array(np.array([1, 8], np.int64), "shape"),
    init("fw", [5, 8]), init("fb", [5])],
   [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], "seed_cnn")

# QDQ: QuantizeLinear → QLinearConv (per-channel weights) → DequantizeLinear
q = lambda v, dt: numpy_helper.from_array(np.array(v, dt))
save([
    helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
    helper.make_node("QLinearConv", ["xq", "xs", "xz", "wq", "ws", "wz", "ys", "yz", "bq"], ["yq"], pads=[0, 0, 0, 0]),
    helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"]),
], [numpy_helper.from_array(np.array(0.05, np.float32), "xs"), numpy_helper.from_array(np.array(128, np.uint8), "xz"),
    numpy_helper.from_array(rng.integers(-100, 100, (2, 3, 3, 3)).astype(np.int8), "wq"),
    numpy_helper.from_array(np.array([0.01, 0.02], np.float32), "ws"), numpy_helper.from_array(np.array([0, 0], np.int8), "wz"),
    numpy_helper.from_array(np.array(0.1, np.float32), "ys"), numpy_helper.from_array(np.array(120, np.uint8), "yz"),
    numpy_helper.from_array(np.array([10, -10], np.int32), "bq")],
   [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 6, 6])], "seed_qdq")
