"""Mul by a constant: exact product and cast against a slow reference; float against onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import FpgaSimError, UnsupportedModelError
from fpga_sim.fixed import Fixed, product_type

from .ops_support import ref_cast, lower, one_node_model, ort_run, qgraph_for, random_raw, random_type


def reference(x, s, t_in, t_s, t_out):
    t_p = product_type(t_in, t_s)
    s = np.broadcast_to(s, x.shape)
    out, n = [], 0
    for v, k in zip(x.reshape(-1).tolist(), s.reshape(-1).tolist()):
        r, o = ref_cast(v * k, t_p, t_out)
        out.append(r)
        n += o
    return np.array(out, dtype=np.int64).reshape(x.shape), n


@pytest.mark.parametrize("kind", ["tensor", "channel", "general"])
def test_mul_fixed_matches_reference(kind):
    rng = np.random.default_rng(len(kind))
    shape = {"tensor": (), "channel": (3, 1, 1), "general": (1, 4, 5)}[kind]
    c = rng.normal(size=shape).astype(np.float32)
    m = one_node_model("Mul", [("x", (1, 3, 4, 5))], consts={"c": c})
    op, node, _ = lower(m)
    assert node.attrs.per_channel == (kind == "channel")
    for _ in range(4):
        t_in, t_s, t_out = random_type(rng), random_type(rng, width=(4, 16), signed=True), random_type(rng)
        qg = qgraph_for(op, node, [(3, 4, 5)], [t_in], t_out, weight=t_s)
        x = random_raw(rng, t_in, (2, 3, 4, 5))
        (y,), n = op.run_fixed(node, [x], qg)
        assert np.array_equal(qg.qparams["n0"]["scale"], t_s.quantize(c.astype(np.float64)))
        ref, nref = reference(x, qg.qparams["n0"]["scale"], t_in, t_s, t_out)
        np.testing.assert_array_equal(y, ref)
        assert n == nref


@pytest.mark.parametrize("opset", [7, 13, 14])
def test_mul_float_matches_onnxruntime(opset):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    c = rng.normal(size=(3, 1)).astype(np.float32)
    m = one_node_model("Mul", [("x", x.shape)], consts={"c": c}, input_names=["c", "x"], opset=opset)
    op, node, _ = lower(m)
    assert node.inputs == ["x"]
    np.testing.assert_allclose(op.run_float(node, [x])[0], ort_run(m, {"x": x})[0], rtol=1e-6)


def test_mul_errors():
    with pytest.raises(UnsupportedModelError, match=r"n0.*Mul.*inputs of shapes \(3,\) and \(4,\) do not broadcast"):
        lower(one_node_model("Mul", [("a", (1, 3)), ("b", (1, 4))]))
    with pytest.raises(UnsupportedModelError, match=r"constant of shape \(3, 4\) does not broadcast into the input \(3, 1\)"):
        lower(one_node_model("Mul", [("x", (1, 3, 1))], consts={"c": np.ones((3, 4), np.float32)}))
    op, node, _ = lower(one_node_model("Mul", [("x", (1, 3))], consts={"c": np.float32(2)}))
    qg = qgraph_for(op, node, [(3,)], [Fixed(48, 8)], Fixed(16, 6), weight=Fixed(24, 4))
    with pytest.raises(FpgaSimError, match="needs 72 bits; types whose widths sum to at most 64 are accepted"):
        op.run_fixed(node, [np.zeros((1, 3), np.int64)], qg)


def test_cost_is_one_multiply_per_output():
    from .ops_support import check_element_cost
    t = Fixed(8, 3)
    op, node, _ = lower(one_node_model("Mul", [("x", (1, 3, 2))], consts={"c": np.ones((3, 1), np.float32)}))
    check_element_cost(op, node, qgraph_for(op, node, [(3, 2)], [t], t, weight=t), 1)


def test_unsigned_products_need_one_bit_less():
    op, node, _ = lower(one_node_model("Mul", [("x", (1, 3))], consts={"c": np.float32(2)}))
    u32 = Fixed(32, 8, signed=False)
    qg = qgraph_for(op, node, [(3,)], [u32], Fixed(16, 6), weight=Fixed(32, 4, signed=False))
    with pytest.raises(FpgaSimError, match="ap_ufixed<32,8> and ap_ufixed<32,4> needs 64 bits; types whose widths sum to at most 63 are accepted"):
        op.run_fixed(node, [np.zeros((1, 3), np.int64)], qg)
    qg = qgraph_for(op, node, [(3,)], [u32], Fixed(16, 6), weight=Fixed(32, 4))   # one signed: 64 is fine
    x = np.array([[u32.max_raw, 1, 0]], np.int64)
    (y,), n = op.run_fixed(node, [x], qg)
    assert int(qg.qparams["n0"]["scale"]) == 2 << 28                 # 2.0 in ap_fixed<32,4>
    ref, nref = reference(x, qg.qparams["n0"]["scale"], u32, Fixed(32, 4), Fixed(16, 6))
    np.testing.assert_array_equal(y, ref)
    assert n == nref == 1                          # 2 x 256 wraps in ap_fixed<16,6>: counted once


@pytest.mark.parametrize("shapes", [[(1, 3, 4, 5), (1, 3, 4, 5)], [(1, 3, 4, 5), (1, 3, 1, 1)], [(1, 1, 4, 5), (1, 3, 4, 5)]])
def test_mul_of_two_activations_broadcasts(shapes):
    rng = np.random.default_rng(sum(shapes[1]))
    m = one_node_model("Mul", [("a", shapes[0]), ("b", shapes[1])])
    op, node, _ = lower(m)
    assert node.inputs == ["a", "b"] and not node.params
    fa, fb = rng.normal(size=shapes[0]).astype(np.float32), rng.normal(size=shapes[1]).astype(np.float32)
    np.testing.assert_allclose(op.run_float(node, [fa, fb])[0], ort_run(m, {"a": fa, "b": fb})[0], rtol=1e-6)
    for _ in range(3):
        ta, tb, t_out = random_type(rng), random_type(rng), random_type(rng)
        qg = qgraph_for(op, node, [s[1:] for s in shapes], [ta, tb], t_out)
        a, b = random_raw(rng, ta, (2,) + shapes[0][1:]), random_raw(rng, tb, (2,) + shapes[1][1:])
        (y,), n = op.run_fixed(node, [a, b], qg)
        shape = np.broadcast_shapes(a.shape, b.shape)
        ref, nref = reference(np.broadcast_to(a, shape), np.broadcast_to(b, shape), ta, tb, t_out)
        np.testing.assert_array_equal(y, ref)
        assert n == nref
