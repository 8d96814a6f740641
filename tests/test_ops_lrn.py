"""LRN on the host: float64 against onnxruntime; fixed = float of the dequantised input, quantised."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed

from .ops_support import lower, one_node_model, ort_run, qgraph_for, random_raw


def slow_lrn(x, size, alpha, beta, bias):
    y = np.empty_like(x)
    c_n = x.shape[1]
    for c in range(c_n):
        lo, hi = max(0, c - (size - 1) // 2), min(c_n - 1, c + int(np.ceil((size - 1) / 2)))
        s = (x[:, lo:hi + 1] ** 2).sum(axis=1)
        y[:, c] = x[:, c] / (bias + alpha / size * s) ** beta
    return y


@pytest.mark.parametrize("attrs", [{"size": 5}, {"size": 3, "alpha": 0.01, "beta": 0.5, "bias": 2.0}, {"size": 1, "alpha": 0.1}])
def test_lrn_float_matches_onnxruntime_and_slow_loop(attrs):
    rng = np.random.default_rng(attrs["size"])
    x = rng.normal(0, 3, size=(2, 7, 3, 3)).astype(np.float32)
    m = one_node_model("LRN", [("x", x.shape)], attrs=attrs)
    op, node, _ = lower(m)
    y = op.run_float(node, [x])[0]
    np.testing.assert_allclose(y, ort_run(m, {"x": x})[0], rtol=1e-5, atol=1e-6)
    a = node.attrs
    np.testing.assert_allclose(y, slow_lrn(x.astype(np.float64), a.size, a.alpha, a.beta, a.bias), rtol=1e-12)


def test_even_size_window_is_asymmetric_as_the_spec_says():
    # onnxruntime refuses even sizes; the spec's window is floor((size-1)/2) below, ceil above
    rng = np.random.default_rng(4)
    x = rng.normal(size=(1, 6, 2))
    op, node, _ = lower(one_node_model("LRN", [("x", x.shape)], attrs={"size": 4, "alpha": 0.3}))
    np.testing.assert_allclose(op.run_float(node, [x])[0], slow_lrn(x, 4, node.attrs.alpha, 0.75, 1.0), rtol=1e-12)


def test_lrn_fixed_is_host_float_quantised():
    rng = np.random.default_rng(0)
    op, node, _ = lower(one_node_model("LRN", [("x", (1, 6, 2, 2))], attrs={"size": 3, "alpha": 0.5}))
    assert op.on_accelerator is False
    t_in, t_out = Fixed(10, 4), Fixed(8, 2, rounding="AP_RND_CONV", overflow="AP_SAT")
    qg = qgraph_for(op, node, [(6, 2, 2)], [t_in], t_out)
    x = random_raw(rng, t_in, (2, 6, 2, 2))
    (y,), n = op.run_fixed(node, [x], qg)
    expect, nexp = t_out.quantize_counted(slow_lrn(x / 64.0, 3, 0.5, 0.75, 1.0))
    np.testing.assert_array_equal(y, expect)
    assert n == nexp


def test_lrn_without_size_is_refused():
    from onnx import TensorProto, helper
    node = helper.make_node("LRN", ["x"], ["y0"], name="n0")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 2, 2])],
                          [helper.make_tensor_value_info("y0", TensorProto.FLOAT, [1, 3, 2, 2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(UnsupportedModelError, match="n0.*LRN.*size"):
        lower(m)


def test_cost_reports_the_host():
    from .ops_support import lecture_cost
    op, node, _ = lower(one_node_model("LRN", [("x", (1, 4, 2, 2))], attrs={"size": 3}))
    t = Fixed(8, 3)
    rep = lecture_cost(op, node, qgraph_for(op, node, [(4, 2, 2)], [t], t))
    assert not rep.on_accelerator and rep.bound == "host" and rep.cycles == 0 and rep.outputs == 16
