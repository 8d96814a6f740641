"""Relu / Clip: integer clamp-and-cast against a slow reference; float against onnxruntime."""
from __future__ import annotations

import math

import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed
from fpga_sim.ops.relu import ClipAttrs, bounds_raw

from .ops_support import ref_cast, ref_elementwise, lower, one_node_model, ort_run, qgraph_for, random_raw, random_type


def reference(x, t_in, t_out, lo, hi, relu=False):
    def one(i, v):
        val = v / 2.0 ** t_in.frac if abs(t_in.frac) < 60 else None
        if lo is not None and val < lo:   # clamp to the input grid point at/above lo
            v = math.ceil(lo * 2.0 ** t_in.frac)
        if hi is not None and val > hi:
            v = math.floor(hi * 2.0 ** t_in.frac)
        return ref_cast(v, t_in, t_out)
    return ref_elementwise(x, one, relu)


@pytest.mark.parametrize("seed", range(6))
def test_clip_fixed_matches_reference(seed):
    rng = np.random.default_rng(seed)
    lo, hi = [(0.0, None), (0.0, 6.0), (-1.0, 1.0), (-0.3, 0.7), (None, 2.5), (None, None)][seed]
    m = one_node_model("Clip", [("x", (1, 3, 4, 5))], consts={k: np.float32(v) for k, v in (("lo", lo), ("hi", hi)) if v is not None},
                       input_names=["x", "lo" if lo is not None else "", "hi" if hi is not None else ""])
    op, node, _ = lower(m)
    for _ in range(4):
        t_in, t_out = random_type(rng), random_type(rng)
        qg = qgraph_for(op, node, [(3, 4, 5)], [t_in], t_out)
        x = random_raw(rng, t_in, (2, 3, 4, 5))
        (y,), n = op.run_fixed(node, [x], qg)
        # the reference takes the float bounds as they are (not bounds_raw, the code under test):
        # a bound outside the input type's range simply never clamps there
        ref, nref = reference(x, t_in, t_out, lo, hi)
        np.testing.assert_array_equal(y, ref)
        assert n == nref


def test_relu_is_max_zero_and_fused_relu():
    t = Fixed(8, 3, rounding="AP_RND", overflow="AP_SAT")
    m = one_node_model("Relu", [("x", (1, 10))])
    op, node, _ = lower(m)
    assert node.attrs == ClipAttrs(0.0, None)
    x = np.arange(-128, 128, dtype=np.int64).reshape(2, 128)[:, :10] * 13 % 256 - 128
    qg = qgraph_for(op, node, [(10,)], [t], t)
    (y,), n = op.run_fixed(node, [x], qg)
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    assert n == 0


def test_bounds_off_grid_and_out_of_range():
    t = Fixed(8, 3)          # 5 fractional bits, range [-4, 4)
    assert bounds_raw(ClipAttrs(0.0, 6.0), t) == (0, None)      # 6 > max: never clamps
    assert bounds_raw(ClipAttrs(-0.3, 0.7), t) == (math.ceil(-0.3 * 32), math.floor(0.7 * 32))
    assert bounds_raw(ClipAttrs(-9.0, None), t) == (None, None)


@pytest.mark.parametrize("opset", [9, 11, 13])
def test_clip_float_matches_onnxruntime_across_opsets(opset):
    rng = np.random.default_rng(opset)
    x = rng.normal(0, 4, (2, 3, 5)).astype(np.float32)
    if opset < 11:
        m = one_node_model("Clip", [("x", x.shape)], attrs={"min": 0.0, "max": 6.0}, opset=opset)
    else:
        m = one_node_model("Clip", [("x", x.shape)], consts={"lo": np.float32(0), "hi": np.float32(6)}, opset=opset)
    op, node, _ = lower(m)
    assert node.attrs == ClipAttrs(0.0, 6.0)
    np.testing.assert_allclose(op.run_float(node, [x])[0], ort_run(m, {"x": x})[0], rtol=1e-6)


def test_clip_defaults_unbounded_and_relu_float():
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(1, 12)
    for m in (one_node_model("Clip", [("x", x.shape)], opset=9), one_node_model("Clip", [("x", x.shape)], opset=13)):
        op, node, _ = lower(m)
        assert node.attrs == ClipAttrs(None, None)
        np.testing.assert_allclose(op.run_float(node, [x])[0], ort_run(m, {"x": x})[0])
    m = one_node_model("Relu", [("x", x.shape)])
    op, node, _ = lower(m)
    np.testing.assert_allclose(op.run_float(node, [x])[0], ort_run(m, {"x": x})[0])


def test_clip_with_computed_bound_is_refused():
    m = one_node_model("Clip", [("x", (1, 4)), ("lo", ())], opset=13)
    with pytest.raises(UnsupportedModelError, match="n0.*Clip.*min bound must be a constant; only constant Clip bounds are supported"):
        lower(m)
    m = one_node_model("Clip", [("x", (1, 4))], consts={"lo": np.float32(2), "hi": np.float32(1)}, opset=13)
    with pytest.raises(UnsupportedModelError, match="min 2.0 is greater than max 1.0"):
        lower(m)


def test_cost_is_one_compare_per_bound():
    from .ops_support import check_element_cost
    t = Fixed(8, 3)
    for lo_hi, ops in (((0.0, None), 1), ((-1.0, 1.0), 2)):
        m = one_node_model("Clip", [("x", (1, 3, 4, 4))], attrs={"min": lo_hi[0], "max": lo_hi[1]} if lo_hi[1] else {"min": 0.0}, opset=9)
        op, node, _ = lower(m)
        check_element_cost(op, node, qgraph_for(op, node, [(3, 4, 4)], [t], t), ops)
