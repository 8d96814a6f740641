"""SoftmaxLut (a softmax inside the graph, on the accelerator): the integer arithmetic against
a slow reference, accuracy against onnxruntime, and which softmaxes the placement pass moves."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from onnx import helper

import fpga_sim
from fpga_sim.fixed import Fixed
from fpga_sim.ops import get_op, load_all
from fpga_sim.ops.softmax_lut import SoftmaxLutAttrs

from .helpers_onnx import make_model, ort_run
from .lut_support import lut_reference
from .ops_support import check_element_cost, qgraph_for, random_raw, random_type, ref_from_value

load_all()


def reference(x, t_in, t_out, qp, attrs):
    """Rows along the last axis, Python integers and exact rationals."""
    tb, f_e, f_t = attrs.recip.table_bits, attrs.exp_type.frac, attrs.recip.table_type.frac
    out, n = [], 0
    for row in x.reshape(-1, x.shape[-1]).tolist():
        d = np.array([v - max(row) for v in row], np.int64)
        e, _ = lut_reference(d, t_in, attrs.exp_type, qp["exp_table"], attrs.exp_table)
        s_sum = max(int(e.sum()), 1)
        top = s_sum.bit_length() - 1
        idx = ((s_sum << tb) >> top) - (1 << tb)
        t, s = int(qp["recip_table"][idx]), f_e - top
        for ej in e.tolist():
            y, o = ref_from_value(Fraction(ej * t) * Fraction(2) ** (s - f_e - f_t), t_out)
            out.append(y)
            n += o
    return np.array(out, np.int64).reshape(x.shape), n


def _node(shape):
    from fpga_sim.graph import Node
    attrs = SoftmaxLutAttrs(axis=len(shape) - 1)
    return Node("n0", "SoftmaxLut", ["x"], ["y"], attrs, params=attrs.tables())


@pytest.mark.parametrize("m", [1, 5, 17])
def test_fixed_matches_reference(m):
    rng = np.random.default_rng(m)
    node, op = _node((3, m)), get_op("SoftmaxLut")
    for _ in range(4):
        t_in = random_type(rng, width=(6, 18), int_bits=(1, 6))
        t_out = random_type(rng, width=(6, 18), int_bits=(0, 3))
        qg = qgraph_for(op, node, [(3, m)], [t_in], t_out)
        x = random_raw(rng, t_in, (2, 3, m))
        (y,), n = op.run_fixed(node, [x], qg)
        ref, nref = reference(x, t_in, t_out, qg.qparams["n0"], node.attrs)
        np.testing.assert_array_equal(y, ref)
        assert n == nref
    check_element_cost(op, node, qg, 5)


def _attention_like(axis):
    nodes = [helper.make_node("Softmax", ["x"], ["p"], axis=axis, name="sm"),
             helper.make_node("Mul", ["p", "x"], ["y"], name="use"),
             helper.make_node("Softmax", ["y"], ["z"], axis=-1, name="head")]
    return make_model(nodes, {"x": [2, 3, 8]}, {"z": None})


@pytest.mark.parametrize("axis", [1, -1])
def test_inner_softmax_runs_fixed_and_stays_close(axis):
    m = _attention_like(axis)
    g = fpga_sim.load_onnx(m)
    assert [n.op for n in g.nodes] == ["SoftmaxLut", "Mul", "Softmax"]   # the head stays on the host
    x = np.random.default_rng(0).normal(0, 2, (2, 3, 8)).astype(np.float32)
    qg = fpga_sim.quantize(g, calibration=x, precision="ap_fixed<20,6,AP_RND,AP_SAT>")
    sim = fpga_sim.simulate(qg, x, trace=True)
    ref = ort_run(m, {"x": x})[0]
    np.testing.assert_allclose(fpga_sim.simulation.run_float(g, x)["z"], ref, rtol=1e-5, atol=1e-6)
    err = np.abs(sim.outputs["z"] - ref).max()
    assert 1e-6 < err < 2e-3, err
    p_ref = np.exp(x - x.max(axis=axis, keepdims=True))
    p_ref /= p_ref.sum(axis=axis, keepdims=True)
    p_err = np.abs(sim.tensors["p"] - p_ref).max()
    assert 1e-6 < p_err < 2.5e-3, p_err          # exp bins of 1/128: <= 0.4 % of p


def test_hls_refuses_a_softmax_along_a_leading_axis(tmp_path):
    import codegen
    from fpga_sim.errors import UnsupportedModelError

    g = fpga_sim.load_onnx(_attention_like(1))
    qg = fpga_sim.quantize(g, precision="ap_fixed<16,6>")
    with pytest.raises(UnsupportedModelError, match=r"'sm' \(SoftmaxLut\): HLS generation normalises along the trailing axes only"):
        codegen.write_hls(qg, tmp_path / "p")
    assert list(tmp_path.iterdir()) == []


def test_auto_types_inner_probabilities_to_hold_one():
    """Calibrated on flat rows (p = 1/8, once ap_fixed<16,-1>: at most 0.25), auto<16> gives p
    ap_fixed<16,2>, so a peaked row (p = 0.51) does not saturate."""
    g = fpga_sim.load_onnx(_attention_like(-1))
    qg = fpga_sim.quantize(g, calibration=np.zeros((2, 3, 8)), precision="auto<16>")
    assert qg.tensor_types["p"] == Fixed(16, 2, True, "AP_RND", "AP_SAT")
    x = np.where(np.arange(8) == 0, 0.99, -1.0) * np.ones((2, 3, 8))   # within x's type ap_fixed<16,1>
    sim = fpga_sim.simulate(qg, x, trace=True)
    assert next(r for r in sim.layers if r.name == "sm").overflows == 0
    assert abs(sim.tensors["p"].max() - 0.51) < 0.01
