"""Reciprocal by a normalised mantissa table: slow reference, relative error at every magnitude,
1/0, and onnxruntime."""
from __future__ import annotations

import numpy as np

from fpga_sim.fixed import Fixed
from fpga_sim.ops import load_all

from .mantissa_support import mantissa_accuracy, mantissa_reference
from .ops_support import check_element_cost, lower, one_node_model, qgraph_for, random_raw, random_type

load_all()


def test_fixed_matches_reference():
    rng = np.random.default_rng(7)
    op, node, _ = lower(one_node_model("Reciprocal", [("x", (1, 64))]))
    for _ in range(6):
        t_in, t_out = random_type(rng, width=(4, 24)), random_type(rng, width=(6, 24), int_bits=(-2, 12))
        qg = qgraph_for(op, node, [(64,)], [t_in], t_out)
        x = random_raw(rng, t_in, (2, 64))
        x[0, :3] = [0, 1, t_in.max_raw]
        (y,), n = op.run_fixed(node, [x], qg)
        ref, nref = mantissa_reference(x, t_in, t_out, qg.qparams["n0"]["table"], node.attrs)
        np.testing.assert_array_equal(y, ref)
        assert n == nref
    check_element_cost(op, node, qg, 3)             # leading one, table read, shift


def test_relative_error_is_the_same_at_every_magnitude():
    x = np.concatenate([np.geomspace(1e-3, 1e3, 200), -np.geomspace(1e-2, 10, 20)])[None].astype(np.float32)
    rel = mantissa_accuracy("Reciprocal", x, Fixed(32, 12), Fixed(40, 12))
    assert 1e-5 < rel < 2 ** -10         # half a bin of 1024 plus input rounding


def test_zero_saturates_in_a_saturating_type():
    op, node, _ = lower(one_node_model("Reciprocal", [("x", (1, 2))]))
    t = Fixed(12, 4, True, "AP_RND", "AP_SAT")
    qg = qgraph_for(op, node, [(2,)], [t], t)
    (y,), n = op.run_fixed(node, [np.array([[0, 256]], np.int64)], qg)   # 0 and 1.0
    assert y.tolist() == [[t.max_raw, 256]] and n == 1
