"""Reciprocal, Sqrt and 1/Sqrt as FPGA designs compute them: normalise, look the mantissa up in a
small table, shift back.  A uniform table cannot cover 1/x near 0 and x = 1000 at once; a
normalised one has the same relative error (~2^-(table_bits+1)) at every magnitude.

Integer arithmetic (per element; x raw in input_t with F = F_in frac bits and width W; n =
table_bits; table_t = ap_fixed<TW, 2, AP_RND, AP_SAT>, TW = table_width):

    a = |raw(x)|, at least 1          // recip: x = 0 reads as one LSB; sqrt/rsqrt: x <= 0 -> y = 0
    e = msb(a)                        // a = m * 2^e, m in [1, 2); 0 <= e <= W-1
    idx = floor((m - 1) * 2^n)        // the n bits after the leading one
    recip: s = F - e,           T = 1/m                       (2^n entries)
    sqrt:  s = floor((e-F)/2),  T = sqrt(m) | sqrt(2m)        (2^(n+1) entries: parity of e-F
    rsqrt: s = -floor((e-F)/2), T = 1/sqrt(m) | 1/sqrt(2m)     selects the half)
    P = raw(T[idx]) << (s - S_MIN)    // S_MIN: the smallest s over 0 <= e <= W-1
    p_t p = P  (frac TW-2 - S_MIN)    // an exact value, T * 2^s (negated for x < 0 in recip)
    result_t y = p;                   // one cast: result_t's rounding and overflow

Table entries hold f at the middle of their bin, rounded to nearest and saturated into
table_t.  Overflows counted: final casts that wrapped/saturated (1/0 saturates in an AP_SAT
result type).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from ..errors import FpgaSimError
from ..fixed import Fixed
from ..fixed_kernels import requant
from ..graph import LayerTypes, Node
from .common import element_cost, in_type, node_name, out_size, relu_flag, result_type

KINDS = ("recip", "sqrt", "rsqrt")


@dataclass(frozen=True)
class MantissaAttrs:
    """Which function, the mantissa bits indexing the table and the width of its entries."""

    kind: str = "recip"
    table_bits: int = 10
    table_width: int = 18

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FpgaSimError(f"mantissa table kind {self.kind!r} is not known; accepted: {', '.join(KINDS)}")
        if not 1 <= self.table_bits <= 16 or not 4 <= self.table_width <= 32:
            raise FpgaSimError(f"mantissa table of {self.table_bits} bits x {self.table_width}-bit entries is not "
                               "supported; table_bits 1..16 and table_width 4..32 are accepted")

    @property
    def entries(self) -> int:
        return (1 << self.table_bits) * (1 if self.kind == "recip" else 2)

    @property
    def table_type(self) -> Fixed:
        return Fixed(self.table_width, 2, True, "AP_RND", "AP_SAT")

    def table(self) -> np.ndarray:
        """f at the middle of every mantissa bin (float64), halves by exponent parity for roots."""
        m = 1.0 + (np.arange(1 << self.table_bits) + 0.5) / (1 << self.table_bits)
        if self.kind == "recip":
            return 1.0 / m
        root = np.concatenate([np.sqrt(m), np.sqrt(2.0 * m)])
        return root if self.kind == "sqrt" else 1.0 / root

    def s_range(self, t_in: Fixed) -> tuple[int, int]:
        """(S_MIN, S_MAX): the exponents of the result over every input magnitude."""
        f, top = t_in.frac, t_in.width - 1
        if self.kind == "recip":
            return f - top, f
        if self.kind == "sqrt":
            return (-f) >> 1, (top - f) >> 1
        return -((top - f) >> 1), -((-f) >> 1)

    def p_type(self, t_in: Fixed) -> Fixed:
        """The exact type of the shifted entry P (signed, one bit for a negated reciprocal)."""
        lo, hi = self.s_range(t_in)
        width = self.table_width + hi - lo + 1
        if width > 63:
            raise FpgaSimError(f"a {self.kind} table over input {t_in} needs a {width}-bit intermediate; "
                               "input types up to 63 - table_width bits wide are accepted")
        frac = self.table_width - 2 - lo
        return Fixed(width, width - frac, True)


@njit(cache=True, nogil=True)
def mantissa_parts(a, kind, n_bits, f_in, table):
    """(raw T[idx], s) of a magnitude a >= 1 (kind: index in KINDS): f(a * 2^-f_in) = T * 2^s."""
    e = 0
    while (a >> (e + 1)) > 0:
        e += 1
    idx = (a >> (e - n_bits)) if e >= n_bits else (a << (n_bits - e))
    idx -= np.int64(1) << n_bits
    if kind == 0:
        return table[idx], f_in - e
    k = (e - f_in) >> 1
    idx += ((e - f_in) & 1) << n_bits
    return table[idx], (k if kind == 1 else -k)


@njit(cache=True, nogil=True)
def mantissa_kernel(x, kind, n_bits, f_in, s_min, table, shift, width, signed, rnd, ovf, relu, out) -> int:
    """The module docstring's arithmetic on raw x (kind: index in KINDS); returns overflows."""
    n = 0
    for i in range(x.size):
        v = x[i]
        if kind != 0 and v <= 0:
            out[i] = 0
            continue
        a = -v if v < 0 else v
        if a == 0:
            a = np.int64(1)
        t, s = mantissa_parts(a, kind, n_bits, f_in, table)
        p = t << (s - s_min)
        if v < 0:
            p = -p
        r, o = requant(p, shift, width, signed, rnd, ovf)
        if relu and r < 0:
            r = 0
        out[i] = r
        n += o
    return n


def mantissa_eval(x_raw: np.ndarray, attrs: MantissaAttrs, table_raw: np.ndarray, t_in: Fixed, t_out: Fixed,
                  relu: bool = False) -> tuple[np.ndarray, int]:
    """Raw inputs -> raw results in t_out (shared by Sqrt, Reciprocal and LayerNorm's rsqrt)."""
    x = np.ascontiguousarray(x_raw, dtype=np.int64)
    p_t = attrs.p_type(t_in)
    s_min, _ = attrs.s_range(t_in)
    out = np.empty(x.size, dtype=np.int64)
    n = mantissa_kernel(x.reshape(-1), KINDS.index(attrs.kind), attrs.table_bits, t_in.frac, s_min,
                        np.ascontiguousarray(table_raw, dtype=np.int64), p_t.frac - t_out.frac, *t_out.codes,
                        relu, out)
    return out.reshape(x.shape), int(n)


class MantissaOp:
    """Mixin for ops that are one mantissa-table function of their input."""

    kind: str = "recip"
    template = "layer"
    name: str                                        # the registered op name (ops.base.op sets it)
    func: Any = None

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        attrs = MantissaAttrs(self.kind)
        return [Node(node_name(onnx_node), self.name, [onnx_node.input[0]], [onnx_node.output[0]], attrs,
                     params={"table": attrs.table()})]

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(in_shapes[0])]

    def quantize_params(self, node: Node, types: LayerTypes) -> tuple[dict[str, np.ndarray], int]:
        raw, n = node.attrs.table_type.quantize_counted(node.attrs.table())
        return {"table": raw}, n

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = np.asarray(inputs[0], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            y = type(self).func(x)
        if node.activation == "relu":
            y = np.maximum(y, 0.0)
        return [y]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        y, n = mantissa_eval(inputs[0], node.attrs, qg.qparams[node.name]["table"], in_type(qg, node),
                             result_type(qg, node), relu_flag(node))
        return [y], n

    def rom(self, node: Node, qg: Any) -> tuple[tuple[int, int], ...]:
        """(words, bits) of the on-chip mantissa table."""
        return ((node.attrs.entries, node.attrs.table_width),)

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """A leading-one search, a table read (on-chip ROM) and a shift per output."""
        ((words, bits),) = self.rom(node, qg)
        return element_cost(self, node, qg, hw, ops_per_output=3, weight_words=words, weight_bits=bits,
                            rom_reads=((out_size(qg, node), bits),))
