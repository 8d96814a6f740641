"""A slow reference of the normalised mantissa tables (ops.mantissa_lut) in exact rationals."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from fpga_sim.fixed import Fixed

from .ops_support import ref_from_value


def mantissa_reference(x, t_in: Fixed, t_out: Fixed, table, attrs):
    """y = T[bin of the mantissa] * 2^s as an exact rational, then one cast to t_out."""
    n, out, ovf = attrs.table_bits, [], 0
    t_scale = Fraction(2) ** (attrs.table_width - 2)
    for v in x.reshape(-1).tolist():
        if attrs.kind != "recip" and v <= 0:
            out.append(0)
            continue
        a = max(abs(v), 1)
        e = a.bit_length() - 1
        idx = int((Fraction(a, 2 ** e) - 1) * 2 ** n)
        if attrs.kind == "recip":
            s = t_in.frac - e
        else:
            k = (e - t_in.frac) // 2
            idx += ((e - t_in.frac) % 2) << n
            s = k if attrs.kind == "sqrt" else -k
        value = Fraction(int(table[idx])) / t_scale * Fraction(2) ** s
        y, o = ref_from_value(-value if v < 0 else value, t_out)
        out.append(y)
        ovf += o
    return np.array(out, dtype=np.int64).reshape(x.shape), ovf


def mantissa_accuracy(op_type: str, x: np.ndarray, t_in: Fixed, t_out: Fixed) -> float:
    """Float kernel == onnxruntime; returns the table result's largest relative error."""
    from .ops_support import lower, one_node_model, ort_run, qgraph_for

    m = one_node_model(op_type, [("x", x.shape)])
    op, node, _ = lower(m)
    ref = ort_run(m, {"x": x})[0]
    np.testing.assert_allclose(op.run_float(node, [x])[0], ref, rtol=1e-6)
    qg = qgraph_for(op, node, [x.shape[1:]], [t_in], t_out)
    (y,), _ = op.run_fixed(node, [t_in.quantize(x.astype(np.float64))], qg)
    return float(np.abs(t_out.to_float(y) / ref - 1).max())
