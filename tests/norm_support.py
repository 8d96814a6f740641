"""A slow reference of the LayerNorm / InstanceNorm integer arithmetic (ops.layer_norm) with
Python integers and exact rationals, straight from the module docstring."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from fpga_sim.fixed import product_type
from fpga_sim.ops.layer_norm import RowPlan, rows

from .ops_support import apply_overflow, ref_cast, ref_from_value


def norm_reference(x, qg, node):
    attrs = node.attrs
    lt = qg.layer_types[node.name]
    t_in, t_out = qg.tensor_types[node.inputs[0]], lt.result
    t_g = lt.weight if lt.weight is not None else lt.result
    t_b = lt.bias if lt.bias is not None else t_g
    op_acc = lt.accum
    from fpga_sim.ops import get_op
    t_acc = op_acc or get_op(node.op).accum_type(node, qg)
    r, m = rows(attrs, x.shape[1:])
    plan = RowPlan.make(attrs, t_in, m)
    qp = qg.qparams[node.name]
    g_full = np.broadcast_to(np.asarray(qp["scale"]).reshape(-1, 1) if attrs.per_channel else np.asarray(qp["scale"]).reshape(1, m), (r, m))
    b_full = np.broadcast_to(np.asarray(qp["bias"]).reshape(-1, 1) if attrs.per_channel else np.asarray(qp["bias"]).reshape(1, m), (r, m))
    table, tb, f_t = qp["table"], attrs.table_bits, attrs.table.table_type.frac
    t_z, t_p = attrs.z_type, product_type(attrs.z_type, t_g)
    xs = x.reshape(-1, m).tolist()
    out, ovf = [], 0
    for row_i, row in enumerate(xs):
        s_sum = sum(row)
        d = [m * v - s_sum for v in row]
        var = max(1, sum((di >> plan.k) ** 2 for di in d) + plan.e)
        e = var.bit_length() - 1
        idx = ((var << tb) >> e) - (1 << tb)
        dd = e - plan.v_frac
        idx += (dd % 2) << tb
        s = -(dd // 2)
        t = int(table[idx])
        gr = row_i % r
        for i, di in enumerate(d):
            z, _ = ref_from_value(Fraction(di * t) * Fraction(2) ** (s - t_in.frac - f_t), t_z)
            acc, o1 = ref_cast(int(b_full[gr, i]), t_b, t_acc)
            p, o2 = ref_cast(z * int(g_full[gr, i]), t_p, t_acc)
            acc, o3 = apply_overflow(acc + p, t_acc)
            y, o4 = ref_cast(acc, t_acc, t_out)
            out.append(y)
            ovf += o1 + o2 + o3 + o4
    return np.array(out, dtype=np.int64).reshape(x.shape), ovf
