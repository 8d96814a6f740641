"""MatMul + Add of constants becomes one Gemm with the same numbers."""
from __future__ import annotations

import numpy as np
from onnx import helper

from fpga_sim.onnx_import import prepare
from tests.helpers_onnx import make_model, ort_run, rng_weights, state_model


def test_matmul_add_becomes_gemm_with_bias_either_side():
    inits = {"w1": rng_weights(1, 6, 5), "b1": np.arange(5, dtype=np.float32), "w2": rng_weights(2, 5, 3),
             "b2": np.ones((1, 3), np.float32)}
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["m1"]),
        helper.make_node("Add", ["m1", "b1"], ["h"]),
        helper.make_node("MatMul", ["h", "w2"], ["m2"]),
        helper.make_node("Add", ["b2", "m2"], ["y"]),
    ]
    m = make_model(nodes, {"x": [2, 6]}, {"y": None}, inits)
    st, _, _ = prepare(m)
    assert [(n.op_type, n.output[0]) for n in st.nodes] == [("Gemm", "h"), ("Gemm", "y")]
    x = np.random.default_rng(0).random((2, 6)).astype(np.float32)
    np.testing.assert_allclose(ort_run(state_model(st), {"x": x})[0], ort_run(m, {"x": x})[0], rtol=1e-5, atol=1e-6)


def test_matmul_whose_output_is_also_read_elsewhere_is_not_fused():
    inits = {"w": rng_weights(1, 4, 4), "b": np.ones(4, np.float32)}
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["a"]),
        helper.make_node("Mul", ["a", "m"], ["y"]),
    ]
    st, _, _ = prepare(make_model(nodes, {"x": [1, 4]}, {"y": None}, inits))
    assert [n.op_type for n in st.nodes] == ["MatMul", "Add", "Mul"]
