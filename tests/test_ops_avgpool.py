"""AveragePool / GlobalAveragePool: accumulator sum x reciprocal against a slow reference;
float against onnxruntime (count_include_pad, ceil_mode, dilations, auto_pad)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from fpga_sim.errors import FpgaSimError
from fpga_sim.fixed import Fixed
from fpga_sim.ops.avgpool import reciprocal_type

from .ops_support import ref_cast, lower, one_node_model, ort_run, apply_overflow, qgraph_for, random_raw, random_type, ref_value, ref_from_value

CASES = [
    (dict(kernel_shape=[2, 2], strides=[2, 2]), 13),
    (dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]), 13),
    (dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1), 13),
    (dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1], ceil_mode=1, count_include_pad=1), 13),
    (dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1), 13),
    (dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"), 11),
    (dict(kernel_shape=[2, 2], dilations=[2, 1], pads=[1, 0, 1, 0]), 19),
    (dict(kernel_shape=[2, 2]), 7),
]


def reference(x, a, counts, t_in, t_acc, t_rc, recip, t_out):
    """Per output: cast each valid input to accum_t, add (overflow per add), x recip, cast."""
    ch, cw = counts
    y = np.zeros(x.shape[:2] + (ch.size, cw.size), dtype=np.int64)
    n = 0
    for b, c, oh, ow in np.ndindex(*y.shape):
        acc = 0
        for i in range(a.kernel[0]):
            for j in range(a.kernel[1]):
                h = oh * a.strides[0] - a.pads[0] + i * a.dilations[0]
                w = ow * a.strides[1] - a.pads[1] + j * a.dilations[1]
                if 0 <= h < x.shape[2] and 0 <= w < x.shape[3]:
                    t, o1 = ref_cast(int(x[b, c, h, w]), t_in, t_acc)
                    acc, o2 = apply_overflow(acc + t, t_acc)
                    n += o1 + o2
        prod = ref_value(acc, t_acc) * ref_value(int(recip[ch[oh] * cw[ow]]), t_rc)
        y[b, c, oh, ow], o = ref_from_value(prod, t_out)
        n += o
    return y, n


@pytest.mark.parametrize("case", range(len(CASES)))
def test_avgpool_float_matches_onnxruntime(case):
    attrs, opset = CASES[case]
    rng = np.random.default_rng(case)
    x = rng.normal(size=(2, 3, 7, 8)).astype(np.float32)
    m = one_node_model("AveragePool", [("x", x.shape)], attrs=attrs, opset=opset)
    op, node, _ = lower(m)
    ref = ort_run(m, {"x": x})[0]
    assert op.infer_shapes(node, [(3, 7, 8)]) == [ref.shape[1:]]
    np.testing.assert_allclose(op.run_float(node, [x])[0], ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_avgpool_fixed_matches_reference(case):
    from fpga_sim.ops.pooling import window_counts
    attrs, opset = CASES[case]
    rng = np.random.default_rng(20 + case)
    m = one_node_model("AveragePool", [("x", (1, 2, 7, 8))], attrs=attrs, opset=opset)
    op, node, _ = lower(m)
    for accum in ("safe", "narrow"):
        t_in, t_out = random_type(rng), random_type(rng)
        t_w = random_type(rng, width=(8, 18))
        t_acc = op.safe_accum(node, [t_in], None) if accum == "safe" else random_type(rng, width=(4, 12))
        qg = qgraph_for(op, node, [(2, 7, 8)], [t_in], t_out, weight=t_w, accum=t_acc)
        x = random_raw(rng, t_in, (2, 2, 7, 8))
        (y,), n = op.run_fixed(node, [x], qg)
        t_rc = reciprocal_type(node, qg.layer_types["n0"])
        counts = window_counts(node.attrs, 7, 8)   # (checked against onnxruntime through run_float)
        recip = qg.qparams["n0"]["recip"]
        for c in np.unique(np.multiply.outer(*counts)):   # the table is 1/count, rounded in recip_t
            assert recip[c] == ref_from_value(Fraction(1, int(c)), t_rc)[0], (c, str(t_rc))
        ref, nref = reference(x, node.attrs, counts, t_in, t_acc, t_rc, recip, t_out)
        np.testing.assert_array_equal(y, ref)
        assert n == nref


def test_safe_accumulator_never_overflows():
    m = one_node_model("AveragePool", [("x", (1, 1, 6, 6))], attrs=dict(kernel_shape=[3, 3]))
    op, node, _ = lower(m)
    t = Fixed(8, 2, overflow="AP_WRAP")
    assert op.safe_accum(node, [t], None) == Fixed(12, 6)        # ceil(log2 9) = 4 more bits
    qg = qgraph_for(op, node, [(1, 6, 6)], [t], Fixed(16, 8))
    x = np.full((1, 1, 6, 6), t.max_raw, dtype=np.int64)
    (y,), n = op.run_fixed(node, [x], qg)
    assert n == 0 and abs(Fixed(16, 8).to_float(y) - t.max).max() < 2e-3


def test_global_average_pool_and_reciprocal_type():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 4, 7, 7)).astype(np.float32)
    m = one_node_model("GlobalAveragePool", [("x", x.shape)])
    op, node, _ = lower(m)
    ref = ort_run(m, {"x": x})[0]
    np.testing.assert_allclose(op.run_float(node, [x])[0], ref, rtol=1e-5, atol=1e-6)
    t = Fixed(32, 16)
    qg = qgraph_for(op, node, [(4, 7, 7)], [t], t, weight=Fixed(16, 6))
    rt = reciprocal_type(node, qg.layer_types["n0"])
    assert rt == Fixed(16, -5, False, "AP_RND", "AP_SAT")   # 1/49 < 2^-5: no integer bits wasted
    assert qg.qparams["n0"]["recip"][49] == round(2 ** 21 / 49)
    (y,), n = op.run_fixed(node, [t.quantize(x)], qg)
    assert n == 0
    np.testing.assert_allclose(t.to_float(y), ref, atol=1e-3)


def test_product_width_is_checked():
    m = one_node_model("AveragePool", [("x", (1, 1, 4, 4))], attrs=dict(kernel_shape=[2, 2]))
    op, node, _ = lower(m)
    with pytest.raises(FpgaSimError, match="ap_fixed<63,22> leaves no room for the reciprocal.*; accumulators of at most 62 bits are accepted"):
        qgraph_for(op, node, [(1, 4, 4)], [Fixed(40, 20)], Fixed(16, 6), weight=Fixed(30, 2), accum=Fixed(63, 22))


def test_wide_type_global_pool_fits_int64_products():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(1, 2, 7, 7))
    op, node, _ = lower(one_node_model("GlobalAveragePool", [("x", x.shape)]))
    t = Fixed(32, 16)
    acc = op.safe_accum(node, [t], t)
    qg = qgraph_for(op, node, [(2, 7, 7)], [t], t, weight=t, accum=acc)
    assert reciprocal_type(node, qg.layer_types["n0"]).width == 64 - acc.width
    (y,), n = op.run_fixed(node, [t.quantize(x)], qg)
    np.testing.assert_allclose(t.to_float(y), op.run_float(node, [x])[0], atol=3 * 2.0 ** -16)  # input + output truncation


def test_cost_adds_the_window_and_one_multiply():
    from .ops_support import check_element_cost
    t = Fixed(8, 3)
    op, node, _ = lower(one_node_model("AveragePool", [("x", (1, 2, 6, 6))], attrs=dict(kernel_shape=[2, 2], strides=[2, 2])))
    check_element_cost(op, node, qgraph_for(op, node, [(2, 6, 6)], [t], t, weight=Fixed(16, 6)), 5)
    op, node, _ = lower(one_node_model("GlobalAveragePool", [("x", (1, 4, 7, 7))]))
    rep = check_element_cost(op, node, qgraph_for(op, node, [(4, 7, 7)], [t], t, weight=Fixed(16, 6)), 50)
    assert rep.cycles == 4 * 2 and rep.bound == "compute"


def test_exact_sum_kernel_equals_the_per_term_kernel_on_random_geometries():
    # the fast path (safe accumulator: plain sums) against the per-term casts, every geometry
    from fpga_sim.ops.avgpool import avgpool_exact, avgpool_kernel

    rng = np.random.default_rng(0)
    for _ in range(200):
        h, w = rng.integers(1, 9, 2)
        kh, kw = rng.integers(1, 5, 2)
        sh, sw = rng.integers(1, 4, 2)
        dh, dw = rng.integers(1, 3, 2)
        pt, pl = rng.integers(0, 3, 2)
        x = rng.integers(-2**15, 2**15, (2, 3, h, w))
        oh = max(1, (h + 2 * pt - dh * (kh - 1) - 1) // sh + 1)
        ow = max(1, (w + 2 * pl - dw * (kw - 1) - 1) // sw + 1)
        ch, cw = rng.integers(1, kh + 1, oh), rng.integers(1, kw + 1, ow)
        recip = rng.integers(0, 2**10, kh * kw + 1)
        k = int(rng.integers(0, 4))
        want, got = np.empty((2, 3, oh, ow), np.int64), np.empty((2, 3, oh, ow), np.int64)
        n_want = avgpool_kernel(x, kh, kw, sh, sw, pt, pl, dh, dw, ch, cw, recip, -k, 40, True, 0, 0, 12, 16, True, 2,
                                1, True, want)
        n_got = avgpool_exact(x, kh, kw, sh, sw, pt, pl, dh, dw, ch, cw, recip, k, 12, 16, True, 2, 1, True, got)
        np.testing.assert_array_equal(got, want)
        assert n_got == n_want
