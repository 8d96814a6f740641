"""MatMul of two activations: batched, broadcast products against a slow reference, float
against onnxruntime, the MAC array's cost (K = contraction length), bad shapes."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed, product_type
from fpga_sim.hardware import Hardware
from fpga_sim.ops import get_op, load_all

from .ops_support import apply_overflow, lower, one_node_model, ort_run, qgraph_for, random_raw, random_type, ref_cast

load_all()


def _lower(model):
    """ONNX MatMul is lowered by Dense; the node it returns belongs to the MatMul op."""
    _, node, ctx = lower(model)
    return get_op(node.op), node, ctx


def reference(a, b, ta, tb, t_acc, t_out):
    lead = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a, b = np.broadcast_to(a, lead + a.shape[-2:]), np.broadcast_to(b, lead + b.shape[-2:])
    tp = product_type(ta, tb)
    out = np.zeros(lead + (a.shape[-2], b.shape[-1]), np.int64)
    n = 0
    for idx in np.ndindex(*out.shape):
        *g, i, j = idx
        acc = 0
        for p in range(a.shape[-1]):
            v, o1 = ref_cast(int(a[(*g, i, p)]) * int(b[(*g, p, j)]), tp, t_acc)
            acc, o2 = apply_overflow(acc + v, t_acc)
            n += o1 + o2
        out[idx], o = ref_cast(acc, t_acc, t_out)
        n += o
    return out, n


@pytest.mark.parametrize("sa,sb", [((1, 4, 3), (1, 3, 5)), ((1, 2, 4, 3), (1, 2, 3, 4)), ((1, 2, 4, 3), (1, 1, 3, 2))])
def test_fixed_matches_reference(sa, sb):
    rng = np.random.default_rng(len(sa) + sb[-1])
    op, node, _ = _lower(one_node_model("MatMul", [("a", sa), ("b", sb)]))
    assert node.op == "MatMul" and node.attrs.k == sa[-1]
    for accum in (None, Fixed(10, 4, True, "AP_RND", "AP_SAT")):       # safe, then a narrow one that overflows
        ta, tb, t_out = random_type(rng, width=(4, 12)), random_type(rng, width=(4, 12)), random_type(rng)
        qg = qgraph_for(op, node, [sa[1:], sb[1:]], [ta, tb], t_out, accum=accum)
        a, b = random_raw(rng, ta, (2,) + sa[1:]), random_raw(rng, tb, (2,) + sb[1:])
        (y,), n = op.run_fixed(node, [a, b], qg)
        ref, nref = reference(a, b, ta, tb, op.accum_type(node, qg), t_out)
        np.testing.assert_array_equal(y, ref)
        assert n == nref


def test_float_against_onnxruntime_and_cost():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(1, 2, 5, 4)).astype(np.float32), rng.normal(size=(1, 2, 4, 6)).astype(np.float32)
    m = one_node_model("MatMul", [("a", a.shape), ("b", b.shape)])
    op, node, _ = _lower(m)
    np.testing.assert_allclose(op.run_float(node, [a, b])[0], ort_run(m, {"a": a, "b": b})[0], rtol=1e-5)
    t = Fixed(12, 4)
    qg = qgraph_for(op, node, [a.shape[1:], b.shape[1:]], [t, t], t)
    rep = op.cost(node, qg, Hardware.lecture())
    assert rep.outputs == 2 * 5 * 6 and rep.macs == 2 * 5 * 6 * 4
    assert rep.cycles >= -(-rep.macs // 25)        # 25 lanes cannot beat macs / 25
    f32 = op.cost_float32(node, qg, Hardware.lecture())
    assert f32.macs == rep.macs and sum(f32.energy_pj.values()) > sum(rep.energy_pj.values())   # 32-bit words cost more


def test_bad_shapes():
    with pytest.raises(UnsupportedModelError, match=r"A's last axis \(3\) differs from B's second to last \(4\)"):
        lower(one_node_model("MatMul", [("a", (1, 2, 3)), ("b", (1, 4, 2))]))
    with pytest.raises(UnsupportedModelError, match="equal ranks of at least 2"):
        lower(one_node_model("MatMul", [("a", (1, 2, 2, 3)), ("b", (1, 3, 2))]))
