"""BatchNormalization folding into Conv and Gemm: same numbers as onnxruntime on the original."""
from __future__ import annotations

import numpy as np
from onnx import helper

from fpga_sim.onnx_import import prepare
from tests.helpers_onnx import make_model, ort_run, rng_weights, state_model


def _bn_inits(prefix: str, c: int, seed: int) -> dict[str, np.ndarray]:
    r = np.random.default_rng(seed)
    return {
        f"{prefix}_g": r.uniform(0.5, 1.5, c).astype(np.float32),
        f"{prefix}_b": r.normal(0, 0.3, c).astype(np.float32),
        f"{prefix}_m": r.normal(0, 0.3, c).astype(np.float32),
        f"{prefix}_v": r.uniform(0.3, 2.0, c).astype(np.float32),
    }


def _bn(prefix: str, x: str, y: str) -> object:
    return helper.make_node("BatchNormalization", [x, f"{prefix}_g", f"{prefix}_b", f"{prefix}_m", f"{prefix}_v"], [y], epsilon=1e-3)


def test_conv_bn_and_gemm_bn_fold_and_match_onnxruntime():
    inits = {"w": rng_weights(1, 4, 3, 3, 3), "w2": rng_weights(2, 4, 4, 3, 3),  # second conv has no bias
             "cb": np.random.default_rng(3).normal(0, 0.1, 4).astype(np.float32),
             "fw": rng_weights(4, 5, 4 * 4 * 4), "fc": np.zeros(5, np.float32) + 0.1,
             **_bn_inits("bn1", 4, 5), **_bn_inits("bn2", 4, 6), **_bn_inits("bn3", 5, 7)}
    nodes = [
        helper.make_node("Conv", ["x", "w", "cb"], ["c1"], pads=[1, 1, 1, 1]),
        _bn("bn1", "c1", "b1"),
        helper.make_node("Relu", ["b1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], strides=[2, 2], pads=[1, 1, 1, 1]),
        _bn("bn2", "c2", "b2"),
        helper.make_node("Flatten", ["b2"], ["f"]),
        helper.make_node("Gemm", ["f", "fw", "fc"], ["g"], transB=1, alpha=0.5, beta=2.0),
        _bn("bn3", "g", "y"),
    ]
    m = make_model(nodes, {"x": [1, 3, 8, 8]}, {"y": None}, inits)
    st, _, _ = prepare(m)
    assert [n.op_type for n in st.nodes] == ["Conv", "Relu", "Conv", "Flatten", "Gemm"]
    assert [n.output[0] for n in st.nodes] == ["b1", "r1", "b2", "f", "y"]  # fused layers keep the BN's name
    x = np.random.default_rng(0).random((1, 3, 8, 8)).astype(np.float32)
    want = ort_run(m, {"x": x})[0]
    got = ort_run(state_model(st), {"x": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_bn_after_a_shared_tensor_is_left_alone():
    inits = {"w": rng_weights(1, 2, 2, 1, 1), **_bn_inits("bn", 2, 2)}
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        _bn("bn", "c", "b"),
        helper.make_node("Add", ["b", "c"], ["y"]),  # c has two readers: folding would change Add's input
    ]
    st, _, _ = prepare(make_model(nodes, {"x": [1, 2, 3, 3]}, {"y": None}, inits))
    assert [n.op_type for n in st.nodes] == ["Conv", "BatchNormalization", "Add"]
