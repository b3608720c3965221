#!/usr/bin/env python3
"""Writes examples/bad_release/wide_cnn.onnx: the demo's deliberately bad release.

It takes the Fashion-MNIST CNN's input ([1,1,28,28] float, named "input") and gives its output
([1,10] logits), so the repository and the device accept it as the next version of that model.
Inside, it upsamples the image to 224x224 and runs 8 convolutions of 48 channels there: ~7.5
billion multiply-adds, about 100x the CNN. It passes every check a release gets (it loads,
verifies, carries a golden vector, finishes the device's smoke test in time) and only shows what
it is when it runs on the device: ~200 ms a frame where the mid tier's budget is 50 ms. Its
weights are random (He init, fixed seed): it was never meant to be accurate.

Usage: /usr/bin/python3 scripts/make_wide_cnn.py [OUT]  (needs python3-onnx and python3-numpy;
`scripts/install-deps.sh models` installs them). The output is committed; rerun only to change it.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CHANNELS, LAYERS, SIDE = 48, 8, 224


def main(out):
    rng = np.random.default_rng(3)
    inits, nodes = [], []

    def const(name, array):
        inits.append(numpy_helper.from_array(np.asarray(array, dtype=np.float32), name))
        return name

    scale = SIDE / 28
    nodes.append(helper.make_node("Resize", ["input", "", const("scales", [1, 1, scale, scale])], ["up"], mode="nearest"))
    x, cin = "up", 1
    for i in range(LAYERS):
        w = rng.normal(0, (2 / (cin * 9)) ** 0.5, (CHANNELS, cin, 3, 3))
        nodes.append(helper.make_node("Conv", [x, const(f"conv{i}.w", w), const(f"conv{i}.b", np.zeros(CHANNELS))],
                                      [f"conv{i}"], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"conv{i}"], [f"relu{i}"]))
        x, cin = f"relu{i}", CHANNELS
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"]))
    nodes.append(helper.make_node("Flatten", ["pooled"], ["flat"]))
    nodes.append(helper.make_node("Gemm", ["flat", const("fc.w", rng.normal(0, 0.1, (10, CHANNELS))),
                                           const("fc.b", np.zeros(10))], ["logits"], transB=1))
    graph = helper.make_graph(nodes, "wide_cnn", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 28, 28])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="edgeloop scripts/make_wide_cnn.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, out)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "examples/bad_release/wide_cnn.onnx")
