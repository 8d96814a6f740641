"""Flatten / Reshape / Squeeze / Unsqueeze and size-1 Transposes as layout changes: shapes and
values against onnxruntime, raw values unchanged (or cast once), clear refusals."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed

from .ops_support import ref_cast, lower, one_node_model, ort_run, qgraph_for, random_raw

CASES = [
    ("Flatten", (2, 3, 4, 5), {}, None, 13),
    ("Flatten", (2, 1, 4, 5), {"axis": 2}, None, 13),
    ("Flatten", (2, 3, 4, 5), {"axis": -3}, None, 11),
    ("Reshape", (2, 3, 4, 5), {}, [0, -1], 13),
    ("Reshape", (2, 3, 4, 5), {}, [-1, 60], 13),
    ("Reshape", (2, 3, 4, 5), {}, [2, 0, 20], 14),
    ("Reshape", (2, 3, 4, 5), {}, [0, 3, -1, 2], 5),
    ("Transpose", (2, 3, 1, 1), {"perm": [0, 2, 3, 1]}, None, 13),
    ("Transpose", (2, 1, 6), {"perm": [0, 2, 1]}, None, 13),
    ("Squeeze", (2, 1, 6, 1), {"axes": [1, -1]}, None, 11),
    ("Squeeze", (2, 1, 6, 1), {}, None, 11),
    ("Unsqueeze", (2, 6), {"axes": [1, -1]}, None, 11),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_layout_float_and_fixed(case):
    op_type, shape, attrs, target, opset = CASES[case]
    rng = np.random.default_rng(case)
    x = rng.normal(size=shape).astype(np.float32)
    consts = {"s": np.array(target, np.int64)} if target is not None else None
    m = one_node_model(op_type, [("x", shape)], attrs=attrs, consts=consts, opset=opset)
    op, node, _ = lower(m)
    ref = ort_run(m, {"x": x})[0]
    assert op.infer_shapes(node, [shape[1:]]) == [ref.shape[1:]]
    np.testing.assert_array_equal(op.run_float(node, [x])[0], ref)
    t = Fixed(12, 4)
    qg = qgraph_for(op, node, [shape[1:]], [t], t)
    xr = t.quantize(x)
    (y,), n = op.run_fixed(node, [xr], qg)
    np.testing.assert_array_equal(y, t.quantize(ref))
    assert n == 0


def test_type_change_is_one_cast():
    rng = np.random.default_rng(3)
    op, node, _ = lower(one_node_model("Flatten", [("x", (1, 2, 3))]))
    t_in, t_out = Fixed(12, 6), Fixed(6, 2, rounding="AP_RND_CONV", overflow="AP_SAT")
    qg = qgraph_for(op, node, [(2, 3)], [t_in], t_out)
    x = random_raw(rng, t_in, (4, 2, 3))
    (y,), n = op.run_fixed(node, [x], qg)
    ref = [ref_cast(v, t_in, t_out) for v in x.reshape(-1).tolist()]
    np.testing.assert_array_equal(y.reshape(-1), [r for r, _ in ref])
    assert y.shape == (4, 6) and n == sum(o for _, o in ref)


@pytest.mark.parametrize("op_type,shape,attrs,target,match", [
    ("Transpose", (1, 3, 4), {}, None, r"brings axis 2 \(size 4\) to the front"),
    ("Flatten", (1, 3, 4), {"axis": 0}, None, "mix the batch"),
    ("Flatten", (1, 3, 4), {"axis": 2}, None, "mix the batch"),
    ("Reshape", (1, 3, 4), {}, [-1], "keep the batch axis first"),
    ("Reshape", (1, 3, 4), {}, [3, -1], "batch of 3"),
    ("Reshape", (1, 3, 4), {}, [-1, -1, 2], "more than one -1"),
    ("Reshape", (1, 3, 4), {}, [6, 2], "keep the batch axis first"),
])
def test_layout_refusals(op_type, shape, attrs, target, match):
    consts = {"s": np.array(target, np.int64)} if target is not None else None
    with pytest.raises(UnsupportedModelError, match=f"n0.*{op_type}.*{match}"):
        lower(one_node_model(op_type, [("x", shape)], attrs=attrs, consts=consts))


def test_computed_shape_is_refused():
    with pytest.raises(UnsupportedModelError, match=r"target shape is not a constant; only constant \(or folded\) shapes are supported"):
        lower(one_node_model("Reshape", [("x", (1, 3, 4)), ("s", (2,))]))


def test_cost_is_free_unless_the_type_changes():
    from .ops_support import check_element_cost, lecture_cost
    op, node, _ = lower(one_node_model("Flatten", [("x", (1, 2, 3))]))
    t = Fixed(8, 3)
    rep = lecture_cost(op, node, qgraph_for(op, node, [(2, 3)], [t], t))
    assert rep.cycles == 0 and rep.dram_writes == 0 and rep.outputs == 6 and rep.bound == "layout"
    check_element_cost(op, node, qgraph_for(op, node, [(2, 3)], [t], Fixed(6, 3)), 1)
