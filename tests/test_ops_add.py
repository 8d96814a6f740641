"""Add / Sum: accumulator sums against a slow reference; float against onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed

from .ops_support import ref_cast, lower, one_node_model, ort_run, apply_overflow, qgraph_for, random_raw, random_type


def reference(xs, types, t_acc, t_out, bias=None, t_bias=None, relu=False, signs=None):
    shape = np.broadcast_shapes(*[x.shape for x in xs])
    signs = signs or [1] * len(xs)
    terms = ([(np.broadcast_to(bias, shape), t_bias, 1)] if bias is not None else []) + \
        [(np.broadcast_to(x, shape), t, k) for x, t, k in zip(xs, types, signs)]
    y = np.zeros(shape, dtype=np.int64)
    n = 0
    for idx in np.ndindex(*shape):
        acc = 0
        for x, t, sign in terms:
            v, o1 = ref_cast(int(x[idx]), t, t_acc)
            acc, o2 = apply_overflow(acc + sign * v, t_acc)
            n += o1 + o2
        r, o = ref_cast(acc, t_acc, t_out)
        y[idx] = max(r, 0) if relu else r
        n += o
    return y, n


@pytest.mark.parametrize("seed", range(4))
def test_add_and_sum_fixed_match_reference(seed):
    rng = np.random.default_rng(seed)
    n_in = [2, 3, 2, 4][seed]
    op_type = "Add" if n_in == 2 else "Sum"
    shapes = [(1, 3, 4, 5)] * n_in
    if seed == 2:
        shapes = [(1, 3, 4, 5), (1, 3, 1, 1)]       # broadcast of a per-channel activation
    m = one_node_model(op_type, [(f"x{i}", s) for i, s in enumerate(shapes)])
    op, node, _ = lower(m)
    for accum in ("safe", "narrow"):
        types = [random_type(rng) for _ in shapes]
        t_out = random_type(rng)
        t_acc = op.safe_accum(node, types, None) if accum == "safe" else random_type(rng, width=(4, 10))
        qg = qgraph_for(op, node, [s[1:] for s in shapes], types, t_out, accum=t_acc)
        xs = [random_raw(rng, t, (2,) + s[1:]) for t, s in zip(types, shapes)]
        node.activation = "relu" if seed == 3 else None
        (y,), n = op.run_fixed(node, xs, qg)
        ref, nref = reference(xs, types, t_acc, t_out, relu=seed == 3)
        np.testing.assert_array_equal(y, ref)
        assert n == nref
        if accum == "safe":
            # the safe accumulator never overflows: into a type too wide to overflow, nothing is counted
            assert reference(xs, types, t_acc, Fixed(64, t_acc.int_bits + 20))[1] == 0


def test_add_constant_is_a_bias_in_the_bias_type():
    rng = np.random.default_rng(9)
    c = rng.normal(size=(1, 3, 1, 1)).astype(np.float32)
    m = one_node_model("Add", [("x", (1, 3, 2, 2))], consts={"c": c})
    op, node, _ = lower(m)
    assert node.inputs == ["x"] and node.params["bias"].shape == (3, 1, 1)
    t_in, t_b, t_out = Fixed(10, 3), Fixed(8, 2, rounding="AP_RND"), Fixed(10, 4, overflow="AP_SAT")
    t_acc = op.safe_accum(node, [t_in], None)
    qg = qgraph_for(op, node, [(3, 2, 2)], [t_in], t_out, bias=t_b)
    np.testing.assert_array_equal(qg.qparams["n0"]["bias"], t_b.quantize(c[0]))
    x = random_raw(rng, t_in, (2, 3, 2, 2))
    (y,), n = op.run_fixed(node, [x], qg)
    ref, nref = reference([x], [t_in], t_acc, t_out, qg.qparams["n0"]["bias"], t_b)
    np.testing.assert_array_equal(y, ref)
    assert n == nref


@pytest.mark.parametrize("opset", [7, 13, 14])
def test_float_matches_onnxruntime(opset):
    rng = np.random.default_rng(opset)
    a, b, c = (rng.normal(size=(2, 3, 4)).astype(np.float32) for _ in range(3))
    m = one_node_model("Add", [("a", a.shape), ("b", b.shape)], opset=opset)
    op, node, _ = lower(m)
    np.testing.assert_allclose(op.run_float(node, [a, b])[0], ort_run(m, {"a": a, "b": b})[0], rtol=1e-6)
    m = one_node_model("Sum", [("a", a.shape), ("b", b.shape), ("c", c.shape)], opset=opset)
    op, node, _ = lower(m)
    np.testing.assert_allclose(op.run_float(node, [a, b, c])[0], ort_run(m, {"a": a, "b": b, "c": c})[0], rtol=1e-5)


def test_add_errors():
    with pytest.raises(UnsupportedModelError, match=r"n0.*Add.*different ranks \[\(3, 4, 4\), \(4,\)\].*; equal ranks are supported"):
        lower(one_node_model("Add", [("a", (1, 3, 4, 4)), ("b", (1, 4))]))
    with pytest.raises(UnsupportedModelError, match=r"constant of shape \(2, 3, 4\) varies along the batch axis"):
        lower(one_node_model("Add", [("a", (1, 3, 4))], consts={"c": np.ones((2, 3, 4), np.float32)}))
    with pytest.raises(UnsupportedModelError, match="2 constant inputs; at most one constant addend is supported"):
        lower(one_node_model("Sum", [("a", (1, 3))], consts={"c": np.ones(3, np.float32), "d": np.ones(3, np.float32)}))


def test_cost_is_one_add_per_extra_term():
    from .ops_support import check_element_cost
    t = Fixed(8, 3)
    op, node, _ = lower(one_node_model("Sum", [("a", (1, 6)), ("b", (1, 6)), ("c", (1, 6))]))
    rep = check_element_cost(op, node, qgraph_for(op, node, [(6,)] * 3, [t] * 3, t), 2)
    assert rep.bound == "bandwidth"


def test_accumulators_too_wide_for_int64_sums_are_refused():
    from fpga_sim.errors import FpgaSimError
    op, node, _ = lower(one_node_model("Add", [("a", (1, 3)), ("b", (1, 3))]))
    t = Fixed(16, 6)
    assert op.safe_accum(node, [Fixed(62, 40), Fixed(62, 40)], None).width == 63   # fractional bits dropped
    for acc in (Fixed(64, 30), Fixed(63, 30, signed=False)):
        qg = qgraph_for(op, node, [(3,), (3,)], [t, t], t, accum=acc)
        with pytest.raises(FpgaSimError, match=r"too wide for int64 sums; at most 63 bits \(signed\) or 62 \(unsigned\) are accepted"):
            op.run_fixed(node, [np.zeros((1, 3), np.int64)] * 2, qg)
