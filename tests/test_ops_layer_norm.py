"""LayerNormalization (opset 17): the integer arithmetic against the slow reference, float and
fixed against onnxruntime, bad attributes."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed
from fpga_sim.ops import load_all

from .norm_support import norm_reference
from .ops_support import check_element_cost, lower, one_node_model, ort_run, qgraph_for, random_raw, random_type

load_all()


def _model(shape, axis=-1, eps=1e-5, seed=0):
    rng = np.random.default_rng(seed)
    norm = shape[axis:] if axis != -1 else shape[-1:]
    consts = {"g": rng.uniform(0.5, 1.5, norm).astype(np.float32), "b": rng.normal(0, 0.2, norm).astype(np.float32)}
    return one_node_model("LayerNormalization", [("x", shape)], attrs={"axis": axis, "epsilon": eps}, consts=consts,
                          opset=17)


@pytest.mark.parametrize("shape,axis", [((1, 4, 8), -1), ((1, 3, 2, 5), 2), ((1, 6), -1)])
def test_fixed_matches_reference(shape, axis):
    rng = np.random.default_rng(len(shape) + axis)
    op, node, _ = lower(_model(shape, axis))
    for _ in range(3):
        t_in = random_type(rng, width=(8, 18), int_bits=(2, 6))
        t_out, t_w, t_b = random_type(rng, width=(10, 18), int_bits=(3, 6), signed=True), Fixed(16, 5), Fixed(12, 3)
        qg = qgraph_for(op, node, [shape[1:]], [t_in], t_out, weight=t_w, bias=t_b)
        x = random_raw(rng, t_in, (2,) + shape[1:])
        (y,), n = op.run_fixed(node, [x], qg)
        ref, nref = norm_reference(x, qg, node)
        np.testing.assert_array_equal(y, ref)
        assert n == nref
    check_element_cost(op, node, qg, 6)


def test_float_and_fixed_against_onnxruntime():
    m = _model((3, 5, 16), eps=1e-3)
    op, node, _ = lower(m)
    x = np.random.default_rng(3).normal(1.0, 2.0, (3, 5, 16)).astype(np.float32)
    x[0, 0] = 0.25                                        # a constant row: var = 0, y = beta
    ref = ort_run(m, {"x": x})[0]
    np.testing.assert_allclose(op.run_float(node, [x])[0], ref, rtol=1e-4, atol=1e-5)
    t_in, t_out = Fixed(20, 5), Fixed(20, 5)
    qg = qgraph_for(op, node, [(5, 16)], [t_in], t_out, weight=Fixed(18, 4), bias=Fixed(16, 2))
    (y,), _ = op.run_fixed(node, [t_in.quantize(x.astype(np.float64))], qg)
    err = np.abs(t_out.to_float(y) - ref).max()
    assert 1e-5 < err < 4e-3, err


def test_bad_attributes():
    with pytest.raises(UnsupportedModelError, match="axis 0 normalises the batch axis"):
        lower(one_node_model("LayerNormalization", [("x", (1, 4))], attrs={"axis": 0},
                             consts={"g": np.ones((1, 4), np.float32)}, opset=17))
