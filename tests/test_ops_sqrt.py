"""Sqrt by a normalised mantissa table (halves by exponent parity): slow reference, accuracy
against onnxruntime, x <= 0."""
from __future__ import annotations

import numpy as np

from fpga_sim.fixed import Fixed
from fpga_sim.ops import load_all
from fpga_sim.ops.mantissa_lut import MantissaAttrs

from .mantissa_support import mantissa_accuracy, mantissa_reference
from .ops_support import lower, one_node_model, qgraph_for, random_raw, random_type

load_all()


def test_fixed_matches_reference_for_sqrt_and_rsqrt():
    rng = np.random.default_rng(8)
    op, node, _ = lower(one_node_model("Sqrt", [("x", (1, 64))]))
    for kind in ("sqrt", "rsqrt"):
        node.attrs = MantissaAttrs(kind, table_bits=int(rng.integers(4, 11)))
        for _ in range(5):
            t_in, t_out = random_type(rng, width=(4, 24)), random_type(rng, width=(6, 24), int_bits=(-2, 12))
            qg = qgraph_for(op, node, [(64,)], [t_in], t_out)
            x = random_raw(rng, t_in, (2, 64))
            (y,), n = op.run_fixed(node, [x], qg)
            ref, nref = mantissa_reference(x, t_in, t_out, qg.qparams["n0"]["table"], node.attrs)
            np.testing.assert_array_equal(y, ref)
            assert n == nref


def test_accuracy_against_onnxruntime():
    x = np.geomspace(1e-3, 4e3, 300)[None].astype(np.float32)
    t_in, t_out = Fixed(36, 14), Fixed(32, 8)
    assert 1e-6 < mantissa_accuracy("Sqrt", x, t_in, t_out) < 2 ** -10
    op, node, _ = lower(one_node_model("Sqrt", [("x", (1, 2))]))
    (z,), _ = op.run_fixed(node, [np.array([[0, -5]], np.int64)], qgraph_for(op, node, [(2,)], [t_in], t_out))
    assert z.tolist() == [[0, 0]]
