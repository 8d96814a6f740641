"""Softmax on the host: opset < 13 (flatten from axis) and >= 13 (one axis) against onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed

from fpga_sim.ops import load_all

from .ops_support import lower, one_node_model, ort_run, qgraph_for, random_raw

load_all()


@pytest.mark.parametrize("opset,attrs,shape", [
    (11, {}, (2, 10)), (11, {}, (2, 3, 4)), (11, {"axis": 2}, (2, 3, 4)), (11, {"axis": -1}, (2, 3, 4)),
    (13, {}, (2, 10)), (13, {}, (2, 3, 4)), (13, {"axis": 1}, (2, 3, 4)), (13, {"axis": -2}, (2, 3, 4, 2)),
])
def test_softmax_float_matches_onnxruntime(opset, attrs, shape):
    rng = np.random.default_rng(opset)
    x = rng.normal(0, 3, size=shape).astype(np.float32)
    m = one_node_model("Softmax", [("x", shape)], attrs=attrs, opset=opset)
    op, node, _ = lower(m)
    np.testing.assert_allclose(op.run_float(node, [x])[0], ort_run(m, {"x": x})[0], rtol=1e-5, atol=1e-7)


def test_softmax_fixed_is_host_float_quantised():
    rng = np.random.default_rng(1)
    op, node, _ = lower(one_node_model("Softmax", [("x", (1, 10))]))
    assert op.on_accelerator is False
    t_in, t_out = Fixed(12, 5), Fixed(10, 1, rounding="AP_RND", overflow="AP_SAT")
    qg = qgraph_for(op, node, [(10,)], [t_in], t_out)
    x = random_raw(rng, t_in, (3, 10))
    (y,), n = op.run_fixed(node, [x], qg)
    xf = x / 128.0
    e = np.exp(xf - xf.max(axis=1, keepdims=True))
    np.testing.assert_array_equal(y, t_out.quantize(e / e.sum(axis=1, keepdims=True)))
    assert n == t_out.quantize_counted(e / e.sum(axis=1, keepdims=True))[1]


def test_softmax_over_batch_is_refused():
    with pytest.raises(UnsupportedModelError, match=r"n0.*Softmax.*axis 0 is not supported for a rank-2 input; a per-sample axis \(1\.\.1\) is"):
        lower(one_node_model("Softmax", [("x", (1, 10))], attrs={"axis": 0}, opset=13))


def test_cost_reports_the_host():
    from .ops_support import lecture_cost
    op, node, _ = lower(one_node_model("Softmax", [("x", (1, 10))]))
    t = Fixed(8, 3)
    rep = lecture_cost(op, node, qgraph_for(op, node, [(10,)], [t], t))
    assert not rep.on_accelerator and rep.bound == "host" and rep.cycles == 0 and rep.outputs == 10


@pytest.mark.parametrize("opset,attrs,shape", [(11, {"axis": 1}, (2, 3, 4)), (13, {"axis": 1}, (2, 3, 4)), (13, {}, (2, 7))])
def test_log_softmax_float_and_fixed(opset, attrs, shape):
    x = np.random.default_rng(opset).normal(0, 3, size=shape).astype(np.float32)
    m = one_node_model("LogSoftmax", [("x", shape)], attrs=attrs, opset=opset)
    op, node, _ = lower(m)
    assert node.op == "LogSoftmax" and op.on_accelerator is False
    ref = ort_run(m, {"x": x})[0]
    np.testing.assert_allclose(op.run_float(node, [x])[0], ref, rtol=1e-5, atol=1e-5)
    t_in, t_out = Fixed(16, 5), Fixed(16, 6, rounding="AP_RND", overflow="AP_SAT")
    qg = qgraph_for(op, node, [shape[1:]], [t_in], t_out)
    (y,), _ = op.run_fixed(node, [t_in.quantize(x.astype(np.float64))], qg)
    assert np.abs(t_out.to_float(y) - ref).max() < 2 ** -9     # input and output rounding only
