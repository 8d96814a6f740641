"""Constant Pad: opset 2-10 attributes and 11+/18 inputs against onnxruntime; raw values."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed

from .ops_support import ref_cast, lower, one_node_model, ort_run, qgraph_for, random_raw


def _model(opset, pads, value=None, axes=None, mode=None, shape=(2, 3, 4, 5)):
    attrs = {} if mode is None else {"mode": mode}
    if opset < 11:
        attrs["pads"] = pads
        if value is not None:
            attrs["value"] = value
        return one_node_model("Pad", [("x", shape)], attrs=attrs, opset=opset)
    consts = {"p": np.array(pads, np.int64)}
    names = ["x", "p"]
    if value is not None or axes is not None:
        consts["v"] = np.array(value if value is not None else 0, np.float32)
        names.append("v")
    if axes is not None:
        consts["a"] = np.array(axes, np.int64)
        names.append("a")
    return one_node_model("Pad", [("x", shape)], attrs=attrs, consts=consts, input_names=names, opset=opset)


@pytest.mark.parametrize("opset,pads,value,axes", [
    (2, [0, 0, 1, 2, 0, 0, 3, 0], None, None),
    (10, [0, 1, 0, 0, 0, 2, 1, 1], 1.5, None),
    (11, [0, 0, 1, 1, 0, 0, 1, 1], None, None),
    (13, [0, 2, 0, 1, 0, 0, 2, 0], -0.75, None),
    (18, [1, 2, 0, 1], 0.5, [2, -1]),
])
def test_pad_float_and_fixed(opset, pads, value, axes):
    rng = np.random.default_rng(opset)
    x = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    m = _model(opset, pads, value, axes)
    op, node, _ = lower(m)
    ref = ort_run(m, {"x": x})[0]
    assert op.infer_shapes(node, [(3, 4, 5)]) == [ref.shape[1:]]
    np.testing.assert_array_equal(op.run_float(node, [x])[0], ref)
    t_in, t_out = Fixed(12, 4), Fixed(10, 3, rounding="AP_RND", overflow="AP_SAT")
    qg = qgraph_for(op, node, [(3, 4, 5)], [t_in], t_out)
    xr = random_raw(rng, t_in, x.shape)
    (y,), n = op.run_fixed(node, [xr], qg)
    cast = np.array([ref_cast(v, t_in, t_out)[0] for v in xr.reshape(-1).tolist()]).reshape(x.shape)
    expect = np.pad(cast, ((0, 0),) + node.attrs.pads, constant_values=int(t_out.quantize(value or 0.0)))
    np.testing.assert_array_equal(y, expect)
    assert n == sum(ref_cast(v, t_in, t_out)[1] for v in xr.reshape(-1).tolist())


def test_pad_errors():
    with pytest.raises(UnsupportedModelError, match="n0.*Pad.*mode 'reflect' is not supported; only 'constant' is"):
        lower(_model(13, [0, 0, 1, 1, 0, 0, 1, 1], mode="reflect"))
    with pytest.raises(UnsupportedModelError, match="batch axis"):
        lower(_model(13, [1, 0, 0, 0, 0, 0, 0, 0]))
    with pytest.raises(UnsupportedModelError, match=r"negative pads \[0, 0, -1, 0, 0, 0, 0, 0\] \(cropping\)"):
        lower(_model(13, [0, 0, -1, 0, 0, 0, 0, 0]))
    with pytest.raises(UnsupportedModelError, match="pads input must be a constant"):
        lower(one_node_model("Pad", [("x", (1, 3)), ("p", (4,))], opset=13))


def test_cost_is_a_write_per_output():
    from .ops_support import check_element_cost
    op, node, _ = lower(_model(13, [0, 0, 1, 1, 0, 0, 1, 1], shape=(1, 2, 3, 3)))
    t = Fixed(8, 3)
    check_element_cost(op, node, qgraph_for(op, node, [(2, 3, 3)], [t], t), 1)
