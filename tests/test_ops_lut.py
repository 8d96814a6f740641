"""Sigmoid / Tanh look-up tables: index arithmetic against floor division, tables, onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import FpgaSimError
from fpga_sim.fixed import Fixed
from fpga_sim.ops.lut import LutAttrs

from .ops_support import lower, one_node_model, ort_run, qgraph_for, random_raw, random_type


def reference(x, t_in, table, attrs):
    """idx = floor(x / bin) + N/2 clamped, with Python integers; out = table[idx]."""
    n, r = attrs.table_bits, attrs.range_log2
    out = []
    for v in x.reshape(-1).tolist():
        # x / bin = v * 2^-F_in / 2^(r+1-n) = v / 2^(F_in + r + 1 - n)
        s = t_in.frac + r + 1 - n
        q = v >> s if s >= 0 else v << -s
        idx = min(max(q + (1 << (n - 1)), 0), (1 << n) - 1)
        out.append(int(table[idx]))
    return np.array(out, dtype=np.int64).reshape(x.shape)


@pytest.mark.parametrize("op_type", ["Sigmoid", "Tanh"])
def test_lut_fixed_matches_reference(op_type):
    rng = np.random.default_rng(3)
    m = one_node_model(op_type, [("x", (1, 6, 7))])
    op, node, _ = lower(m)
    for bits in (10, 6, 12):
        node.attrs = LutAttrs(bits, node.attrs.range_log2)
        for _ in range(4):
            t_in = random_type(rng, width=(4, 20), int_bits=(-2, 10))
            t_out = random_type(rng, width=(6, 18), int_bits=(0, 3), signed=True)
            qg = qgraph_for(op, node, [(6, 7)], [t_in], t_out)
            x = random_raw(rng, t_in, (3, 6, 7))
            (y,), n = op.run_fixed(node, [x], qg)
            np.testing.assert_array_equal(y, reference(x, t_in, qg.qparams["n0"]["table"], node.attrs))
            assert n == 0


@pytest.mark.parametrize("op_type,fn,half_range", [("Sigmoid", lambda v: 1 / (1 + np.exp(-v)), 8), ("Tanh", np.tanh, 4)])
def test_table_is_function_at_bin_centres_rounded_and_saturated(op_type, fn, half_range):
    op, node, _ = lower(one_node_model(op_type, [("x", (1, 4))]))
    assert node.attrs.entries == 1024
    step = 2 * half_range / 1024
    centres = -half_range + step * (np.arange(1024) + 0.5)
    np.testing.assert_allclose(node.params["table"], fn(centres), atol=1e-15)
    t_out = Fixed(8, 1, True)   # max 0.984: sigmoid/tanh near 1 saturate, never wrap
    qg = qgraph_for(op, node, [(4,)], [Fixed(16, 6)], t_out)
    table = qg.qparams["n0"]["table"]
    assert table.max() == t_out.max_raw and qg.quant_overflows["n0"] > 0
    assert np.abs(table - np.clip(np.round(fn(centres) * 128), -128, 127)).max() <= 0  # nearest, saturated


@pytest.mark.parametrize("op_type", ["Sigmoid", "Tanh"])
def test_wide_type_close_to_onnxruntime(op_type):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 3, (2, 3, 8, 8)).astype(np.float32)
    m = one_node_model(op_type, [("x", x.shape)], opset=13)
    op, node, _ = lower(m)
    ref = ort_run(m, {"x": x})[0]
    np.testing.assert_allclose(op.run_float(node, [x])[0], ref, atol=1e-6)
    t = Fixed(32, 16)
    qg = qgraph_for(op, node, [x.shape[1:]], [t], t)
    (y,), _ = op.run_fixed(node, [t.quantize(x)], qg)
    # bin half-width x max slope: sigmoid 2^-7 * 1/4, tanh 2^-8 * 1; saturated tails are far smaller
    tol = {"Sigmoid": 2 ** -9 + 4e-4, "Tanh": 2 ** -8 + 1e-3}[op_type]
    assert np.abs(t.to_float(y) - ref).max() <= tol


def test_bad_table_size_is_refused():
    with pytest.raises(FpgaSimError, match=r"table_bits 40 is not supported; 1\.\.20 is accepted"):
        LutAttrs(40, 3)


def test_cost_is_one_lookup_per_output():
    from .ops_support import check_element_cost
    op, node, _ = lower(one_node_model("Sigmoid", [("x", (1, 2, 5))]))
    t = Fixed(16, 6)
    check_element_cost(op, node, qgraph_for(op, node, [(2, 5)], [t], t), 1)


def test_index_equals_the_documented_ap_fixed_cast():
    """The docstring's C++ index type ap_fixed<n, r+1, AP_TRN, AP_SAT> (a cast that test_apfixed_gxx
    checks against ap_fixed.h) picks the same entry as the kernel's shift-and-clamp."""
    rng = np.random.default_rng(11)
    op, node, _ = lower(one_node_model("Tanh", [("x", (1, 64))]))
    for bits, r in ((10, 2), (6, 3), (12, 0), (4, 5)):
        node.attrs = LutAttrs(bits, r)
        t_out = Fixed(24, 4)
        for _ in range(4):
            t_in = random_type(rng, width=(3, 24), int_bits=(-3, 12))
            qg = qgraph_for(op, node, [(64,)], [t_in], t_out)
            qg.qparams["n0"]["table"] = np.arange(node.attrs.entries, dtype=np.int64)  # entry = its index
            x = random_raw(rng, t_in, (4, 64))
            (idx,), _ = op.run_fixed(node, [x], qg)
            expect = node.attrs.index_type.cast(x, t_in) + node.attrs.entries // 2
            np.testing.assert_array_equal(idx, expect)


def test_set_tables_trades_entries_for_error():
    """A larger table halves the worst error per extra bit (bins of half the width)."""
    import fpga_sim
    from fpga_sim.ops.lut import set_tables

    from .helpers_onnx import make_model
    from onnx import helper

    m = make_model([helper.make_node("Gelu", ["x"], ["y"], name="g"), helper.make_node("Reciprocal", ["x"], ["r"], name="rc")],
                   {"x": [1, 400]}, {"y": None, "r": None}, opset=20)
    x = np.linspace(-3.9, 3.9, 400)[None]
    errs = {}
    for bits in (7, 9, 11):
        g = fpga_sim.load_onnx(m)
        assert set_tables(g, table_bits=bits) == ["g", "rc"] and g.nodes[0].attrs.entries == 1 << bits
        assert g.nodes[1].attrs.entries == 1 << bits
        qg = fpga_sim.quantize(g, precision="ap_fixed<24,4,AP_RND,AP_SAT>")
        errs[bits] = float(np.abs(fpga_sim.simulate(qg, x).outputs["y"] - fpga_sim.simulation.run_float(g, x)["y"]).max())
    assert errs[7] > 3 * errs[9] > 9 * errs[11] > 0, errs
    with pytest.raises(FpgaSimError, match="nope is not a table layer of the graph; its table layers: g, rc"):
        set_tables(fpga_sim.load_onnx(m), table_bits=8, layers=["nope"])
