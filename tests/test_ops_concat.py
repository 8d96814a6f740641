"""Concat along any per-sample axis: per-input casts against a slow reference; float against onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError

from .ops_support import ref_cast, lower, one_node_model, ort_run, qgraph_for, random_raw, random_type


def test_concat_fixed_casts_each_input():
    rng = np.random.default_rng(0)
    m = one_node_model("Concat", [("a", (1, 2, 3, 3)), ("b", (1, 4, 3, 3)), ("c", (1, 1, 3, 3))], attrs={"axis": 1})
    op, node, _ = lower(m)
    for _ in range(5):
        types = [random_type(rng) for _ in range(3)]
        t_out = random_type(rng)
        qg = qgraph_for(op, node, [(2, 3, 3), (4, 3, 3), (1, 3, 3)], types, t_out)
        xs = [random_raw(rng, t, (2, c, 3, 3)) for t, c in zip(types, (2, 4, 1))]
        (y,), n = op.run_fixed(node, xs, qg)
        assert y.shape == (2, 7, 3, 3)
        parts, nref = [], 0
        for x, t in zip(xs, types):
            casts = [ref_cast(v, t, t_out) for v in x.reshape(-1).tolist()]
            parts.append(np.array([r for r, _ in casts]).reshape(x.shape))
            nref += sum(o for _, o in casts)
        np.testing.assert_array_equal(y, np.concatenate(parts, axis=1))
        assert n == nref


@pytest.mark.parametrize("axis,opset", [(1, 4), (-2, 13), (1, 11), (2, 13), (-1, 13)])
def test_concat_float_matches_onnxruntime(axis, opset):
    rng = np.random.default_rng(1)
    sa, sb = ((2, 3, 4), (2, 5, 4)) if axis in (1, -2) else ((2, 3, 4), (2, 3, 2))
    a, b = rng.normal(size=sa).astype(np.float32), rng.normal(size=sb).astype(np.float32)
    m = one_node_model("Concat", [("a", a.shape), ("b", b.shape)], attrs={"axis": axis}, opset=opset)
    op, node, _ = lower(m)
    ref = ort_run(m, {"a": a, "b": b})[0]
    assert op.infer_shapes(node, [sa[1:], sb[1:]]) == [ref.shape[1:]]
    np.testing.assert_array_equal(op.run_float(node, [a, b])[0], ref)
    # the index maps (what the HLS kernel follows) place every element where onnxruntime does
    np.testing.assert_array_equal(super(type(op), op).run_float(node, [a, b])[0], ref)


def test_concat_errors():
    with pytest.raises(UnsupportedModelError, match=r"n0.*Concat.*axis 0 is the batch axis; only per-sample axes \(1..2\)"):
        lower(one_node_model("Concat", [("a", (1, 3, 4)), ("b", (1, 3, 4))], attrs={"axis": 0}))
    with pytest.raises(UnsupportedModelError, match=r"differ outside axis 2; inputs that agree"):
        lower(one_node_model("Concat", [("a", (1, 3, 4)), ("b", (1, 2, 5))], attrs={"axis": 2}))
    with pytest.raises(UnsupportedModelError, match="every input is a constant"):
        lower(one_node_model("Concat", [], consts={"c": np.ones((1, 3), np.float32)}, attrs={"axis": 1}))
    with pytest.raises(UnsupportedModelError, match=r"constant input 'c' of shape \[2, 3\] has no batch axis of 1"):
        lower(one_node_model("Concat", [("a", (1, 3))], consts={"c": np.ones((2, 3), np.float32)}, attrs={"axis": 1}))


def test_constant_parts_like_a_class_token():
    """Concat([class token (1, 1, D), patches (N, T, D)], axis=1) as a ViT export becomes once its
    Expand(token, (N, 1, D)) is folded at batch 1: the token repeats for every sample (onnxruntime
    concatenates equal batches only, so it is compared at N = 1)."""
    rng = np.random.default_rng(4)
    cls = rng.normal(0, 0.5, (1, 1, 4)).astype(np.float32)
    tail = rng.normal(0, 0.5, (1, 2, 4)).astype(np.float32)
    m = one_node_model("Concat", [("x", (1, 5, 4))], consts={"cls": cls, "tail": tail}, attrs={"axis": 1},
                       input_names=["cls", "x", "tail"])
    op, node, _ = lower(m)
    x = rng.normal(size=(1, 5, 4)).astype(np.float32)
    ref = ort_run(m, {"x": x})[0]
    np.testing.assert_array_equal(op.run_float(node, [x])[0], ref)
    t_in, t_out = random_type(rng), random_type(rng)
    qg = qgraph_for(op, node, [(5, 4)], [t_in], t_out)
    xr = random_raw(rng, t_in, (3, 5, 4))
    (y,), n = op.run_fixed(node, [xr], qg)
    assert y.shape == (3, 8, 4) and n == sum(ref_cast(int(v), t_in, t_out)[1] for v in xr.reshape(-1))
    np.testing.assert_array_equal(y[:, 1:6], [[[ref_cast(int(v), t_in, t_out)[0] for v in row] for row in s] for s in xr])
    np.testing.assert_array_equal(y[:, 0], np.broadcast_to(t_out.quantize(cls[0, 0]), (3, 4)))   # quantised once
    np.testing.assert_array_equal(y[:, 6:], np.broadcast_to(t_out.quantize(tail[0]), (3, 2, 4)))


def test_cost_is_a_copy_per_output():
    from fpga_sim.fixed import Fixed
    from .ops_support import check_element_cost
    op, node, _ = lower(one_node_model("Concat", [("a", (1, 2, 3)), ("b", (1, 1, 3))], attrs={"axis": 1}))
    t = Fixed(8, 3)
    rep = check_element_cost(op, node, qgraph_for(op, node, [(2, 3), (1, 3)], [t, t], t), 1)
    assert rep.cycles == 9 and rep.bound == "bandwidth"     # 9 copies, one DRAM write per cycle
