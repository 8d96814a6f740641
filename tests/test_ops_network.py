"""Every non-MAC op in one small network, through the real importer, quantize and simulate,
against onnxruntime at a wide type (ap_fixed<24,12>): the ops agree with the contract the rest
of the pipeline codes against."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from fpga_sim.fixed import Fixed
from fpga_sim.hardware import Hardware
from fpga_sim.onnx_import import load_onnx
from fpga_sim.quantization import quantize
from fpga_sim.simulation import simulate


def _model(rng: np.random.Generator) -> onnx.ModelProto:
    c = 4

    def init(name, arr, dtype=np.float32):
        return numpy_helper.from_array(np.asarray(arr, dtype), name)

    nodes = [
        helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["bn"], name="bn"),
        helper.make_node("Relu", ["bn"], ["r1"], name="relu"),
        helper.make_node("Clip", ["r1", "lo", "hi"], ["r6"], name="relu6"),
        helper.make_node("MaxPool", ["r6"], ["mp"], name="mp", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("LeakyRelu", ["mp"], ["lk"], name="lk", alpha=0.1),
        helper.make_node("PRelu", ["mp", "slope"], ["pr"], name="pr"),
        helper.make_node("Add", ["lk", "pr"], ["ad"], name="add"),
        helper.make_node("Mul", ["ad", "sc"], ["mu"], name="mul"),
        helper.make_node("Sigmoid", ["mu"], ["sg"], name="sig"),
        helper.make_node("Tanh", ["mu"], ["th"], name="tanh"),
        helper.make_node("Sum", ["sg", "th", "mu"], ["sm3"], name="sum"),
        helper.make_node("Concat", ["sg", "sm3"], ["cc"], name="cat", axis=1),
        helper.make_node("Pad", ["cc", "pads"], ["pd"], name="pad"),
        helper.make_node("AveragePool", ["pd"], ["ap"], name="ap", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("LRN", ["ap"], ["ln"], name="lrn", size=3),
        helper.make_node("GlobalMaxPool", ["ln"], ["gm"], name="gmp"),
        helper.make_node("GlobalAveragePool", ["ln"], ["ga"], name="gap"),
        helper.make_node("Add", ["gm", "ga"], ["gs"], name="add2"),
        helper.make_node("Flatten", ["gs"], ["fl"], name="flat"),
        helper.make_node("Softmax", ["fl"], ["y"], name="softmax"),
    ]
    inits = [
        init("g", rng.uniform(0.5, 1.5, c)), init("b", rng.normal(size=c)), init("m", rng.normal(size=c) * 0.1),
        init("v", rng.uniform(0.5, 1.5, c)), init("lo", 0.0), init("hi", 6.0),
        init("slope", rng.normal(0, 0.2, (c, 1, 1))), init("sc", rng.normal(size=(c, 1, 1))),
        init("pads", [0, 0, 1, 1, 0, 0, 1, 1], np.int64),
    ]
    g = helper.make_graph(nodes, "nonmac", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2 * c]),
                           helper.make_tensor_value_info("ap", TensorProto.FLOAT, ["N", 2 * c, 6, 6])],
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 9
    return m


def test_every_nonmac_op_through_the_pipeline_matches_onnxruntime():
    rng = np.random.default_rng(0)
    m = _model(rng)
    graph = load_onnx(m)
    ops = {n.op for n in graph.nodes}
    assert {"BatchNormalization", "Relu", "MaxPool", "LeakyRelu", "Add", "Mul", "Sigmoid", "Tanh", "Concat",
            "Pad", "AveragePool", "LRN", "Reshape", "Softmax"} <= ops
    qg = quantize(graph, precision="ap_fixed<24,12>")
    x = rng.normal(size=(3, 4, 8, 8)).astype(np.float32)
    res = simulate(qg, x, hardware=Hardware.lecture())
    y_ref, ap_ref = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    # tolerances: the LUTs (bin half-width x slope <= 2^-8) dominate 12 fractional bits
    np.testing.assert_allclose(res.outputs["ap"], ap_ref, atol=6e-3)
    np.testing.assert_allclose(res.outputs["y"], y_ref, atol=3e-3)
    assert res.outputs_raw["y"].dtype == np.int64
    np.testing.assert_array_equal(Fixed.parse("ap_fixed<24,12>").to_float(res.outputs_raw["y"]), res.outputs["y"])
    host = {r.name for r in res.layers if not r.on_accelerator}
    assert host == {"lrn", "softmax"} and all(r.bound == "host" for r in res.layers if r.name in host)
    assert sum(r.overflows for r in res.layers) == 0
