"""Sub: a - b in the Add accumulator (second term subtracted) against the slow reference of
test_ops_add, constants on either side, broadcasting, onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.ops import load_all

from .ops_support import check_element_cost, lower, one_node_model, ort_run, qgraph_for, random_raw, random_type
from .test_ops_add import reference

load_all()


@pytest.mark.parametrize("shapes", [[(1, 3, 4), (1, 3, 4)], [(1, 3, 4), (1, 3, 1)], [(1, 1, 4), (1, 3, 4)]])
def test_sub_of_activations_matches_reference(shapes):
    rng = np.random.default_rng(len(shapes[1]) + shapes[0][1])
    op, node, _ = lower(one_node_model("Sub", [("a", shapes[0]), ("b", shapes[1])]))
    assert node.op == "Sub" and node.attrs.signs == (1, -1)
    for _ in range(4):
        types = [random_type(rng), random_type(rng)]
        t_out = random_type(rng)
        qg = qgraph_for(op, node, [s[1:] for s in shapes], types, t_out)
        xs = [random_raw(rng, t, (2,) + s[1:]) for t, s in zip(types, shapes)]
        (y,), n = op.run_fixed(node, xs, qg)
        t_acc = op.accum_type(node, qg)
        ref, nref = reference(xs, types, t_acc, t_out, signs=[1, -1])
        np.testing.assert_array_equal(y, ref)
        assert n == nref
    check_element_cost(op, node, qg, 1)             # one subtraction per output


@pytest.mark.parametrize("const_first", [False, True])
def test_constant_side_and_onnxruntime(const_first):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    c = rng.normal(size=(3, 1)).astype(np.float32)
    names = ["c", "x"] if const_first else ["x", "c"]
    m = one_node_model("Sub", [("x", x.shape)], consts={"c": c}, input_names=names)
    op, node, _ = lower(m)
    np.testing.assert_allclose(op.run_float(node, [x])[0], ort_run(m, {"x": x})[0], rtol=1e-6, atol=1e-6)
    assert node.attrs.signs == ((-1,) if const_first else ())
    np.testing.assert_allclose(node.params["bias"], c if const_first else -c)
    t = random_type(rng)
    qg = qgraph_for(op, node, [(3, 4)], [t], t, bias=t)
    xr = random_raw(rng, t, (2, 3, 4))
    (y,), n = op.run_fixed(node, [xr], qg)
    ref, nref = reference([xr], [t], op.accum_type(node, qg), t, bias=qg.qparams["n0"]["bias"], t_bias=t,
                          signs=[-1] if const_first else [1])
    np.testing.assert_array_equal(y, ref)
