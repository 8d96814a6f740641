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


def _quantized(op_type, x_cal, **kw):
    import fpga_sim

    m = one_node_model(op_type, [("x", ("N",) + x_cal.shape[1:])])
    g = fpga_sim.load_onnx(m)
    return m, g, fpga_sim.quantize(g, calibration=x_cal, **kw)


def test_auto_probabilities_hold_one_whatever_the_calibration():
    """Calibrated on a flat row (every probability 0.1, once typed ap_fixed<16,-2>), auto<16> types
    the output to hold 1.0, so a confident input does not saturate; no calibration is needed."""
    import fpga_sim

    flat = np.full((1, 10), 8.0)
    m, g, qg = _quantized("Softmax", flat, precision="auto<16>")
    assert qg.tensor_types["y0"] == Fixed(16, 2, True, "AP_RND", "AP_SAT")
    confident = np.array([[8.0] + [0.0] * 9])
    sim = fpga_sim.simulate(qg, confident)
    assert sim.totals["overflows"] == 0
    ref = ort_run(m, {"x": confident})[0]
    assert ref.max() > 0.99 and np.abs(sim.outputs["y0"] - ref).max() <= 2 ** -14 + 1e-7   # half an LSB
    alone = fpga_sim.quantize(g, precision="ap_fixed<16,6>",
                              config={"LayerType": {"Softmax": {"Precision": {"result": "auto<12>"}}}})
    assert alone.tensor_types["y0"] == Fixed(12, 2, True, "AP_RND", "AP_SAT")


def test_auto_log_probabilities_hold_the_widest_input_spread():
    """A log-probability lies in [-(x_max - x_min) - ln M, 0] for inputs in the input type: the
    extreme row (one value at the type's top, the rest at its bottom) does not saturate."""
    import math

    import fpga_sim

    cal = np.random.default_rng(3).normal(0, 2, (4, 7))
    m, g, qg = _quantized("LogSoftmax", cal, precision="auto<16>")
    t_in, t_out = qg.tensor_types["x"], qg.tensor_types["y0"]
    bound = t_in.max - t_in.min + math.log(7)
    assert t_out.int_bits == math.floor(math.log2(bound)) + 2 and t_out.max >= bound
    extreme = np.array([[t_in.max] + [t_in.min] * 6])
    sim = fpga_sim.simulate(qg, extreme)
    assert sim.totals["overflows"] == 0
    ref = ort_run(m, {"x": extreme})[0]
    assert ref.min() < -(t_in.max - t_in.min) and np.abs(sim.outputs["y0"] - ref).max() <= t_out.resolution / 2 + 1e-5
