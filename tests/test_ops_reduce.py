"""ReduceSum / ReduceMean / ReduceMax: integer arithmetic against a slow reference on any
axes, float against onnxruntime across the opsets where axes move from attribute to input."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import product_type
from fpga_sim.ops import load_all
from fpga_sim.ops.avgpool import reciprocal_type

from .ops_support import apply_overflow, check_element_cost, lower, one_node_model, ort_run, qgraph_for, random_raw, random_type, ref_cast

load_all()


def _model(op_type, shape, axes, keepdims, opset):
    axes_in_input = opset >= (13 if op_type == "ReduceSum" else 18)
    if axes_in_input:
        return one_node_model(op_type, [("x", shape)], attrs={"keepdims": keepdims},
                              consts={"axes": np.array(axes, np.int64)}, opset=opset)
    return one_node_model(op_type, [("x", shape)], attrs={"keepdims": keepdims, "axes": axes}, opset=opset)


def reference(x, axes, kind, t_in, t_acc, t_out, recip=None, t_rc=None):
    """Python loops over the moved axes: casts and sums with exact integers."""
    kept = [a for a in range(1, x.ndim) if a - 1 not in axes]
    xt = np.transpose(x, [0] + kept + [a + 1 for a in axes])
    m = int(np.prod([x.shape[a + 1] for a in axes]))
    rows = xt.reshape(-1, m).tolist()
    out, n = [], 0
    for row in rows:
        if kind == "max":
            y, o = ref_cast(max(row), t_in, t_out)
        else:
            acc = 0
            for v in row:
                c, o1 = ref_cast(v, t_in, t_acc)
                acc, o2 = apply_overflow(acc + c, t_acc)
                n += o1 + o2
            if kind == "sum":
                y, o = ref_cast(acc, t_acc, t_out)
            else:
                y, o = ref_cast(acc * recip, product_type(t_acc, t_rc), t_out)
        out.append(y)
        n += o
    return np.array(out, dtype=np.int64), n


@pytest.mark.parametrize("op_type", ["ReduceSum", "ReduceMean", "ReduceMax"])
@pytest.mark.parametrize("axes,keepdims", [([-1], 1), ([1, 2], 0), ([1], 1), ([1, 3], 1)])
def test_fixed_matches_reference(op_type, axes, keepdims):
    rng = np.random.default_rng(len(axes) + keepdims)
    shape = (1, 3, 4, 5)
    op, node, _ = lower(_model(op_type, shape, axes, keepdims, 13))
    for _ in range(3):
        t_in, t_out = random_type(rng), random_type(rng)
        qg = qgraph_for(op, node, [shape[1:]], [t_in], t_out, weight=random_type(rng, width=(8, 18)))
        x = random_raw(rng, t_in, (2,) + shape[1:])
        (y,), n = op.run_fixed(node, [x], qg)
        kind = op_type[6:].lower()
        t_acc = op.accum_type(node, qg)
        extra = {}
        if kind == "mean":
            extra = {"recip": int(qg.qparams["n0"]["recip"][-1]), "t_rc": reciprocal_type(node, qg.layer_types["n0"])}
        ref, nref = reference(x, node.attrs.axes, kind, t_in, t_acc, t_out, **extra)
        np.testing.assert_array_equal(y.reshape(-1), ref)
        assert y.shape[1:] == op.infer_shapes(node, [shape[1:]])[0]
        assert n == nref
    check_element_cost(op, node, qg, max(1, node.attrs.m - 1 + (kind == "mean")))


@pytest.mark.parametrize("op_type", ["ReduceSum", "ReduceMean", "ReduceMax"])
@pytest.mark.parametrize("opset", [13, 18])
def test_float_matches_onnxruntime(op_type, opset):
    x = np.random.default_rng(opset).normal(size=(2, 3, 4, 5)).astype(np.float32)
    m = _model(op_type, x.shape, [2, -1], 0, opset)
    op, node, _ = lower(m)
    assert node.attrs.axes == (1, 2) and node.attrs.m == 20
    np.testing.assert_allclose(op.run_float(node, [x])[0], ort_run(m, {"x": x})[0], rtol=1e-5, atol=1e-6)


def test_batch_axis_is_refused():
    with pytest.raises(UnsupportedModelError, match=r"axes \[0, 1\] of a rank-3 input are not accepted"):
        lower(_model("ReduceSum", (1, 3, 4), [0, 1], 1, 13))
    with pytest.raises(UnsupportedModelError, match="the batch axis is never reduced"):
        lower(one_node_model("ReduceMean", [("x", (1, 3))], opset=18))


def test_cli_refuses_the_batch_axis(tmp_path, capsys):
    from .cli_support import check_cli_refusal

    check_cli_refusal(tmp_path, capsys, _model("ReduceMax", (1, 3, 4), [0], 1, 18), "the batch axis is never reduced")
