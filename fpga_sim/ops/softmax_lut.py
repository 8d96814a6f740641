"""Softmax in fixed point on the accelerator, as attention layers on FPGAs compute it: the
row maximum, an exp table, an exact sum, one reciprocal-table read per row, one multiply
per element.  A Softmax that feeds other layers (attention) becomes this op
(`passes.softmax_placement`); one whose output is a graph output stays on the host (`ops.softmax`).

Integer arithmetic (one row of M values along the axis; raw x at F = F_in frac bits):

    input_t m = max_j x_j;                      // exact
    d_j = x_j - m                               // exact, <= 0 (raw, frac F)
    exp_t e_j = EXP[d_j]                        // ops.lut's table of 2^11 entries over [-8, 8) (only
                                                // the lower half is read), zero below -8;
                                                // exp_t = ap_fixed<EW, 2, AP_RND, AP_SAT>
    S = sum_j e_j                               // exact (raw, frac EW-2); 1 <= S <= M
    (T, s) = RECIP(S)                           // ops.mantissa_lut's reciprocal: 1/S = T * 2^s
    P_j = (e_j * T) << (s - S_MIN)              // exact; S_MIN = s at the largest S
    p_t p = P_j  (frac EW-2 + TW-2 - S_MIN)     // e_j / S exactly, as a fixed-width value
    result_t y_j = p;                           // one cast: result_t's rounding and overflow

Overflows counted: final casts that wrapped/saturated.  The tables' error (exp bins of 1/128,
1/S relative ~2^-11) is visible in the comparison.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

from ..fixed import Fixed
from ..fixed_kernels import requant
from ..graph import LayerTypes, Node
from .base import Op, op
from .common import element_cost, in_type, out_size, relu_flag, result_type
from .lut import LutAttrs, build_table, lut_kernel
from .mantissa_lut import MantissaAttrs, mantissa_parts
from .reduce import moved
from .softmax import SoftmaxAttrs, row_shape, softmax


@dataclass(frozen=True)
class SoftmaxLutAttrs:
    """The softmax axis (as ops.softmax), the exp table and its entry width, the reciprocal table."""

    axis: int = 0
    coerce2d: bool = False
    exp_table: LutAttrs = field(default_factory=lambda: LutAttrs(11, 3, below="zero"))
    exp_width: int = 18
    recip: MantissaAttrs = field(default_factory=lambda: MantissaAttrs("recip", 10, 18))

    @property
    def exp_type(self) -> Fixed:
        return Fixed(self.exp_width, 2, True, "AP_RND", "AP_SAT")

    def tables(self) -> dict[str, np.ndarray]:
        """The float tables (the node's params; quantised in their own types)."""
        return {"exp_table": build_table(np.exp, self.exp_table), "recip_table": self.recip.table()}

    def plan(self, m: int) -> tuple[int, Fixed]:
        """(S_MIN, p_t) for rows of m values."""
        f_e = self.exp_type.frac
        e_max = f_e + int(m).bit_length()                 # S <= m < 2^bit_length
        s_min = f_e - e_max
        width = self.exp_width + self.recip.table_width + (e_max - f_e) + 1
        frac = f_e + self.recip.table_type.frac - s_min
        return s_min, Fixed(width, width - frac, True)


@njit(cache=True, nogil=True)
def softmax_kernel(x, e_shift, e_table, tails, lo, hi, recip_bits, recip_table, f_e, s_min, r_shift,
                   width, signed, rnd, ovf, relu, out) -> int:
    """x (rows, M) raw -> out (rows, M) raw; returns the overflow count."""
    n_rows, m = x.shape
    d = np.empty(m, dtype=np.int64)
    e = np.empty(m, dtype=np.int64)
    n = 0
    for r in range(n_rows):
        mx = x[r, 0]
        for j in range(1, m):
            mx = max(mx, x[r, j])
        for j in range(m):
            d[j] = x[r, j] - mx
        lut_kernel(d, e_shift, e_table, tails, lo, hi, 0, 64, True, 0, 0, False, e)   # no identity tail: codes unused
        s_sum = np.int64(0)
        for j in range(m):
            s_sum += e[j]
        t, s = mantissa_parts(max(s_sum, np.int64(1)), 0, recip_bits, f_e, recip_table)
        for j in range(m):
            y, o = requant((e[j] * t) << (s - s_min), r_shift, width, signed, rnd, ovf)
            if relu and y < 0:
                y = 0
            out[r, j] = y
            n += o
    return n


@op("SoftmaxLut")
class SoftmaxLut(Op):
    onnx_ops = ()               # placed by passes.softmax_placement
    template = "layer"
    keeps_input_type = False
    relu_fusable = False

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(in_shapes[0])]

    def result_bound(self, node: Node, in_types: list[Fixed], in_shapes: list[tuple[int, ...]]) -> float:
        """e_j / S <= 1 (the reciprocal table's rounding may pass 1 by its relative error, ~2^-11)."""
        return 1.0

    def quantize_params(self, node: Node, types: LayerTypes) -> tuple[dict[str, np.ndarray], int]:
        a = node.attrs
        tables = a.tables()
        e, n1 = a.exp_type.quantize_counted(tables["exp_table"])
        r, n2 = a.recip.table_type.quantize_counted(tables["recip_table"])
        return {"exp_table": e, "recip_table": r}, n1 + n2

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [softmax(inputs[0], SoftmaxAttrs(node.attrs.axis, node.attrs.coerce2d))]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        a = node.attrs
        t_in, t_out = in_type(qg, node), result_type(qg, node)
        x = np.asarray(inputs[0], dtype=np.int64)
        axes, m = row_shape(a, x.shape[1:])
        x2 = moved(x, axes)
        s_min, p_t = a.plan(m)
        qp = qg.qparams[node.name]
        lo, hi = a.exp_table.thresholds(t_in)
        out = np.empty_like(x2)
        n = softmax_kernel(x2, t_in.frac + a.exp_table.range_log2 + 1 - a.exp_table.table_bits,
                           np.ascontiguousarray(qp["exp_table"], np.int64), np.array(a.exp_table.tail_codes(), np.int64),
                           lo, hi, a.recip.table_bits, np.ascontiguousarray(qp["recip_table"], np.int64),
                           a.exp_type.frac, s_min, p_t.frac - t_out.frac, *t_out.codes, relu_flag(node), out)
        kept = [k + 1 for k in range(x.ndim - 1) if k not in axes]
        order = [0] + kept + [k + 1 for k in axes]
        y = out.reshape([x.shape[k] for k in order]).transpose(np.argsort(order))
        return [np.ascontiguousarray(y)], int(n)

    def rom(self, node: Node, qg: Any) -> tuple[tuple[int, int], ...]:
        """(words, bits) of the on-chip exp and reciprocal tables."""
        a = node.attrs
        return ((a.exp_table.entries, a.exp_type.width), (a.recip.entries, a.recip.table_type.width))

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """Per element a compare, a subtract, an exp-table read, an add and a multiply; per row one
        reciprocal-table read (both tables on-chip ROMs)."""
        (ew, eb), (rw, rb) = self.rom(node, qg)
        _, m = row_shape(node.attrs, tuple(qg.graph.shapes[node.inputs[0]]))
        n = out_size(qg, node)
        return element_cost(self, node, qg, hw, ops_per_output=5, weight_words=ew + rw, weight_bits=max(eb, rb),
                            rom_reads=((n, eb), (n // m, rb)))
