"""Shared checks of the table-look-up ops (ops.lut): a slow reference of the index and tail
arithmetic with exact rationals, and a float-vs-fixed accuracy check through onnxruntime."""
from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from fpga_sim.fixed import Fixed
from fpga_sim.ops import load_all

from .ops_support import check_element_cost, ref_cast, lower, one_node_model, ort_run, qgraph_for, random_raw, random_type

load_all()   # every op module registered (ops_support imports only the older ones)


def lut_reference(x, t_in: Fixed, t_out: Fixed, table, attrs):
    """Bin = floor(value / bin width) + N/2 clamped, decided on exact values; tails by the rule."""
    n, r = attrs.table_bits, attrs.range_log2
    bound = Fraction(2) ** r
    width = Fraction(2) ** (r + 1 - n)
    out, ovf = [], 0
    for v in x.reshape(-1).tolist():
        val = Fraction(v) / Fraction(2) ** t_in.frac
        side = attrs.below if val < -bound else attrs.above if val >= bound else "clamp"
        if side == "zero":
            out.append(0)
        elif side == "identity":
            y, o = ref_cast(v, t_in, t_out)
            out.append(y)
            ovf += o
        else:
            q = (val + bound) // width        # bins counted from -2^r
            out.append(int(table[min(max(int(q), 0), (1 << n) - 1)]))
    return np.array(out, dtype=np.int64).reshape(x.shape), ovf


def check_lut_fixed(op_type: str, attrs: dict | None = None, opset: int = 13, seed: int = 0, cases: int = 5):
    """run_fixed equals the slow reference on random types (tails included)."""
    rng = np.random.default_rng(seed)
    op, node, _ = lower(one_node_model(op_type, [("x", (1, 5, 8))], attrs=attrs, opset=opset))
    for _ in range(cases):
        t_in = random_type(rng, width=(6, 20), int_bits=(1, 8))
        t_out = random_type(rng, width=(8, 18), int_bits=(2, 8), signed=True)
        qg = qgraph_for(op, node, [(5, 8)], [t_in], t_out)
        x = random_raw(rng, t_in, (3, 5, 8))
        (y,), n = op.run_fixed(node, [x], qg)
        ref, nref = lut_reference(x, t_in, t_out, qg.qparams["n0"]["table"], node.attrs)
        np.testing.assert_array_equal(y, ref)
        assert n == nref
    check_element_cost(op, node, qg, 1)             # one table read per output
    return op, node


def check_lut_accuracy(op_type: str, attrs: dict | None = None, opset: int = 13, scale: float = 4.0,
                       atol: float = 0.02, t_in: Fixed = Fixed(20, 6), t_out: Fixed = Fixed(20, 6),
                       relative: bool = False):
    """Float kernel == onnxruntime (float32), and the table's result within atol of onnxruntime
    (relative: |error| / max(1, |y|), for functions that grow such as Exp)."""
    x = np.random.default_rng(1).normal(0, scale, (2, 3, 40)).astype(np.float32)
    m = one_node_model(op_type, [("x", x.shape)], attrs=attrs, opset=opset)
    op, node, _ = lower(m)
    ref = ort_run(m, {"x": x})[0]
    np.testing.assert_allclose(op.run_float(node, [x])[0], ref, rtol=1e-5, atol=1e-5)
    qg = qgraph_for(op, node, [x.shape[1:]], [t_in], t_out)
    (y,), _ = op.run_fixed(node, [t_in.quantize(x.astype(np.float64))], qg)
    err = np.abs(t_out.to_float(y) - ref)
    err = (err / np.maximum(1.0, np.abs(ref)) if relative else err).max()
    assert err <= atol, err
    return err


def check_default_table(op_type: str, opset: int, sigma: float, range_log2: int) -> Any:
    """The op's default table (1024 entries over [-2^range_log2, 2^range_log2)) and its float run
    against onnxruntime on normal(0, sigma) inputs; returns the lowered node for further checks."""
    x = np.random.default_rng(opset).normal(0, sigma, (2, 3, 7)).astype(np.float32)
    m = one_node_model(op_type, [("x", x.shape)], opset=opset)
    op, node, _ = lower(m)
    assert (node.attrs.table_bits, node.attrs.range_log2) == (10, range_log2)
    np.testing.assert_allclose(op.run_float(node, [x])[0], ort_run(m, {"x": x})[0], rtol=1e-6, atol=1e-7)
    return node
