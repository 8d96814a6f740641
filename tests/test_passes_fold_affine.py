"""Mul/Div/Add/Sub by per-channel constants fold into the Conv/Gemm before them (same numbers)."""
from __future__ import annotations

import numpy as np
from onnx import helper

from fpga_sim.onnx_import import prepare
from tests.helpers_onnx import make_model, ort_run, rng_weights, state_model


def test_scale_and_shift_after_conv_and_gemm_fold_and_match_onnxruntime():
    r = np.random.default_rng(0)
    inits = {"w": rng_weights(1, 4, 3, 3, 3), "k": r.uniform(0.5, 2, (4, 1, 1)).astype(np.float32),
             "c": r.normal(0, 0.3, (1, 4, 1, 1)).astype(np.float32), "fw": rng_weights(2, 64, 6),
             "fb": r.normal(0, 0.1, 6).astype(np.float32), "d": np.array(3.0, np.float32),
             "sh": r.normal(0, 0.3, 6).astype(np.float32)}
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["k", "c1"], ["m1"]),         # constant first: still folds
        helper.make_node("Add", ["m1", "c"], ["a1"]),
        helper.make_node("Relu", ["a1"], ["r1"]),
        helper.make_node("Flatten", ["r1"], ["f"]),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["g"], alpha=0.5),
        helper.make_node("Div", ["g", "d"], ["g2"]),
        helper.make_node("Sub", ["g2", "sh"], ["y"]),
    ]
    m = make_model(nodes, {"x": [2, 3, 8, 8]}, {"y": None}, inits)
    st, _, _ = prepare(m)
    assert [(n.op_type, n.output[0]) for n in st.nodes] == [("Conv", "a1"), ("Relu", "r1"), ("Flatten", "f"), ("Gemm", "y")]
    x = np.random.default_rng(1).random((2, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(ort_run(state_model(st), {"x": x})[0], ort_run(m, {"x": x})[0], rtol=1e-4, atol=1e-5)


def test_constants_that_do_not_act_per_channel_stay():
    inits = {"w": rng_weights(1, 4, 3, 1, 1), "last": np.arange(4, dtype=np.float32),
             "k": np.full((4, 1, 1), 2.0, np.float32)}
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c1"]),
        helper.make_node("Add", ["c1", "last"], ["a1"]),       # (4,) broadcasts along W, not channels
        helper.make_node("Conv", ["a1", "w2"], ["c2"]),
        helper.make_node("Sub", ["k", "c2"], ["y"]),           # k - y: not a scale and shift of y's weights
    ]
    inits["w2"] = rng_weights(2, 4, 4, 1, 1)
    st, _, _ = prepare(make_model(nodes, {"x": [1, 3, 4, 4]}, {"y": None}, inits))
    assert [n.op_type for n in st.nodes] == ["Conv", "Add", "Conv", "Sub"]
