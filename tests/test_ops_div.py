"""Div by a constant: a Mul by the reciprocal (scale in the weight type), against the slow
reference of test_ops_mul and onnxruntime; divisors that are activations or zero are refused."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.ops import load_all

from .ops_support import lower, one_node_model, ort_run, qgraph_for, random_raw, random_type
from .test_ops_mul import reference

load_all()


def test_div_is_mul_by_the_reciprocal():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    c = np.array([[2.0], [-4.0], [1.4142135]], np.float32)
    m = one_node_model("Div", [("x", x.shape)], consts={"c": c})
    op, node, _ = lower(m)
    assert node.op == "Div"
    np.testing.assert_allclose(node.params["scale"], 1.0 / c.astype(np.float64))
    np.testing.assert_allclose(op.run_float(node, [x])[0], ort_run(m, {"x": x})[0], rtol=1e-6)
    for _ in range(3):
        t_in, t_s, t_out = random_type(rng), random_type(rng, signed=True), random_type(rng)
        qg = qgraph_for(op, node, [(3, 4)], [t_in], t_out, weight=t_s)
        xr = random_raw(rng, t_in, (2, 3, 4))
        (y,), n = op.run_fixed(node, [xr], qg)
        ref, nref = reference(xr, qg.qparams["n0"]["scale"], t_in, t_s, t_out)
        np.testing.assert_array_equal(y, ref)
        assert n == nref


def test_bad_divisors():
    with pytest.raises(UnsupportedModelError, match="divisor is an activation; Div by a constant is supported"):
        lower(one_node_model("Div", [("a", (1, 3)), ("b", (1, 3))]))
    with pytest.raises(UnsupportedModelError, match="zero element; a non-zero constant divisor is accepted"):
        lower(one_node_model("Div", [("a", (1, 3))], consts={"c": np.array([1, 0, 2], np.float32)}))


def test_cli_refuses_an_activation_divisor(tmp_path, capsys):
    from .cli_support import check_cli_refusal

    check_cli_refusal(tmp_path, capsys, one_node_model("Div", [("a", (1, 3)), ("b", (1, 3))]),
                      "the divisor is an activation; Div by a constant is supported")
