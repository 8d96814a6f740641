"""LayerNormalization (opset 17; the decomposed form older exporters write is fused into it by
`passes.fuse_patterns`), normalising each row of the trailing axes, as an FPGA computes it:
exact sums, one rsqrt from a normalised table per row, one multiply-add per element.
`ops.instance_norm` uses the same arithmetic with rows = channels.

Integer arithmetic (one row of M values, raw x at F = F_in frac bits):

    S   = sum x_i                              // exact (int64)
    D_i = M * x_i - S                          // exact: M * (x_i - mean), frac F
    Q_i = D_i >> k                             // floor; k >= 0 keeps sum Q^2 in 62 bits
    V   = sum Q_i^2 + E,  at least 1           // ~ M^3 (var + eps) at frac 2F - 2k;
                                               // E = round(eps * M^3 * 2^(2F - 2k))
    (T, s) = RSQRT(V)                          // ops.mantissa_lut's rsqrt table: 1/sqrt(V) = T * 2^s
    z_t Z_i = D_i * T * 2^s                    // z_t = ap_fixed<Wz, 1, AP_RND, AP_SAT>: the exact
                                               // product rounded half up and saturated once;
                                               // Z ~ (x - mean) / sigma / sqrt(M), |Z| < 1
    accum_t acc = (accum_t)B_i;                // B = beta in the bias type
    acc += (accum_t)(Z_i * G_i);               // G = gamma * sqrt(M) in the weight type, exact product
    result_t y = acc;                          // one cast; fused ReLU, if any, after it

Overflows counted: accumulator casts and the final cast that wrapped/saturated.  The error
against float (table of 2^10 entries: ~2^-11 relative, Z's rounding, G's quantisation) shows
in the comparison.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from ..errors import FpgaSimError
from ..fixed import Fixed
from ..fixed_kernels import requant
from ..graph import LayerTypes, Node
from .base import Op, op
from .common import bias_type, check_product_width, element_cost, in_type, node_name, out_size, param_type, \
    relu_flag, result_type, unsupported
from .mantissa_lut import MantissaAttrs, mantissa_parts

RND, SAT = 2, 1   # codes of AP_RND and AP_SAT (Fixed.codes order), for z_t


@dataclass(frozen=True)
class NormAttrs:
    """Per-sample axis where the normalised (trailing) axes start, or the channel rows (instance
    norm); epsilon; Z's width; the rsqrt table geometry."""

    axis: int = -1
    epsilon: float = 1e-5
    per_channel: bool = False        # InstanceNormalization: rows are (channel), M = spatial size
    z_bits: int = 18
    table_bits: int = 10
    table_width: int = 18

    @property
    def table(self) -> MantissaAttrs:
        return MantissaAttrs("rsqrt", self.table_bits, self.table_width)

    @property
    def z_type(self) -> Fixed:
        return Fixed(self.z_bits, 1, True, "AP_RND", "AP_SAT")


def rows(attrs: NormAttrs, shape: tuple[int, ...]) -> tuple[int, int]:
    """(rows per sample, M values per row) of a per-sample shape."""
    if attrs.per_channel:
        return int(shape[0]), int(np.prod(shape[1:], dtype=np.int64))
    a = attrs.axis % len(shape)
    return int(np.prod(shape[:a], dtype=np.int64)), int(np.prod(shape[a:], dtype=np.int64))


@dataclass(frozen=True)
class RowPlan:
    """The integer constants of one row size M over an input type (see the docstring)."""

    m: int
    k: int
    e: int
    v_frac: int
    z_shift_base: int          # F + F_T - F_z: Z = round(D * T >> (base - s))

    @staticmethod
    def make(attrs: NormAttrs, t_in: Fixed, m: int) -> "RowPlan":
        lg = max(1, math.ceil(math.log2(m))) if m > 1 else 1
        b_d = t_in.width + lg + 1                      # bits of D (signed)
        if b_d + attrs.table_width > 63:
            raise FpgaSimError(f"a norm over {m} values of {t_in} needs {b_d + attrs.table_width}-bit products; "
                               "inputs up to 62 - table_width - log2(M) bits wide are accepted")
        k = max(0, b_d - (63 - lg) // 2)
        v_frac = 2 * t_in.frac - 2 * k
        e = round(attrs.epsilon * m ** 3 * 2.0 ** v_frac)
        if e >= 1 << 61:
            raise FpgaSimError(f"epsilon {attrs.epsilon} over {m} values of {t_in} does not fit the 62-bit variance")
        return RowPlan(m, k, int(e), v_frac, t_in.frac + attrs.table.table_type.frac - attrs.z_type.frac)


@njit(cache=True, nogil=True)
def norm_kernel(x, g, b, k, e, v_frac, table, tb, z_base, z_width,
                p_shift, b_shift, a_width, a_signed, a_rnd, a_ovf, r_shift, r_width, r_signed, r_rnd, r_ovf,
                relu, out) -> int:
    """x (rows, M) raw; g, b (rows_per_sample, M) raw, row r uses g[r % len(g)]; returns overflows."""
    n_rows, m = x.shape
    g_rows = g.shape[0]
    n = 0
    for r in range(n_rows):
        s_sum = np.int64(0)
        for i in range(m):
            s_sum += x[r, i]
        v = np.int64(e)
        for i in range(m):
            q = (m * x[r, i] - s_sum) >> k
            v += q * q
        if v < 1:
            v = np.int64(1)
        t, s = mantissa_parts(v, 2, tb, v_frac, table)
        gr = r % g_rows
        for i in range(m):
            d = m * x[r, i] - s_sum
            z, o0 = requant(d * t, z_base - s, z_width, True, RND, SAT)
            acc, o1 = requant(b[gr, i], b_shift, a_width, a_signed, a_rnd, a_ovf)
            p, o2 = requant(z * g[gr, i], p_shift, a_width, a_signed, a_rnd, a_ovf)
            acc, o3 = requant(acc + p, 0, a_width, a_signed, a_rnd, a_ovf)
            y, o4 = requant(acc, r_shift, r_width, r_signed, r_rnd, r_ovf)
            if relu and y < 0:
                y = 0
            out[r, i] = y
            n += o1 + o2 + o3 + o4
    return n


class NormOp:
    """Mixin: quantisation, kernels and cost shared by LayerNormalization and InstanceNormalization."""

    template = "layer"

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(in_shapes[0])]

    def safe_accum(self, node: Node, in_types: list[Fixed], weight: Fixed | None) -> Fixed | None:
        """The product Z*G's grid; room for |Z*G| < max|G| plus max|B|, and one bit of growth."""
        w = weight if weight is not None else Fixed(18, 8)
        frac = node.attrs.z_type.frac + w.frac
        mags = [float(np.max(np.abs(node.params[p]), initial=0.0)) for p in ("scale", "bias")]
        i = max(1, math.floor(math.log2(sum(mags))) + 2 if sum(mags) > 0 else 1) + 1
        if i + frac > 62:
            frac = 62 - i
        return Fixed(i + frac, i, True)

    def quantize_params(self, node: Node, types: LayerTypes) -> tuple[dict[str, np.ndarray], int]:
        table, n0 = node.attrs.table.table_type.quantize_counted(node.attrs.table.table())
        g, n1 = param_type(types).quantize_counted(node.params["scale"])
        b, n2 = bias_type(types).quantize_counted(node.params["bias"])
        return {"table": table, "scale": g, "bias": b}, n0 + n1 + n2

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = np.asarray(inputs[0], dtype=np.float64)
        r, m = rows(node.attrs, x.shape[1:])
        x2 = x.reshape(x.shape[0], r, m)
        mean = x2.mean(axis=2, keepdims=True)
        var = ((x2 - mean) ** 2).mean(axis=2, keepdims=True)
        z = (x2 - mean) / np.sqrt(var + node.attrs.epsilon)
        g, b = self.row_params(node, r, m, node.params["scale"] / math.sqrt(m), node.params["bias"])
        y = (z * g + b).reshape(x.shape)
        return [np.maximum(y, 0.0) if node.activation == "relu" else y]

    def row_params(self, node: Node, r: int, m: int, g: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """scale and bias as (rows per sample or 1, M) arrays; ".scale" holds gamma * sqrt(M)."""
        if node.attrs.per_channel:
            return (np.repeat(np.asarray(g).reshape(-1, 1), m, axis=1), np.repeat(np.asarray(b).reshape(-1, 1), m, axis=1))
        return np.asarray(g).reshape(1, m), np.asarray(b).reshape(1, m)

    def accum_type(self, node: Node, qg: Any) -> Fixed:
        lt = qg.layer_types[node.name]
        return lt.accum if lt.accum is not None else self.safe_accum(node, [in_type(qg, node)], param_type(lt))

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        t_in, t_out = in_type(qg, node), result_type(qg, node)
        lt = qg.layer_types[node.name]
        t_g, t_b, t_acc = param_type(lt), bias_type(lt), self.accum_type(node, qg)
        check_product_width(node, node.attrs.z_type, t_g)
        x = np.asarray(inputs[0], dtype=np.int64)
        r, m = rows(node.attrs, x.shape[1:])
        plan = RowPlan.make(node.attrs, t_in, m)
        qp = qg.qparams[node.name]
        g, b = self.row_params(node, r, m, qp["scale"], qp["bias"])
        out = np.empty((x.shape[0] * r, m), dtype=np.int64)
        n = norm_kernel(np.ascontiguousarray(x.reshape(-1, m)), np.ascontiguousarray(g, dtype=np.int64),
                        np.ascontiguousarray(b, dtype=np.int64), plan.k, plan.e, plan.v_frac,
                        np.ascontiguousarray(qp["table"], dtype=np.int64), node.attrs.table_bits, plan.z_shift_base,
                        node.attrs.z_bits, node.attrs.z_type.frac + t_g.frac - t_acc.frac, t_b.frac - t_acc.frac,
                        *t_acc.codes, t_acc.frac - t_out.frac, *t_out.codes, relu_flag(node), out)
        return [out.reshape(x.shape)], int(n)

    def rom(self, node: Node, qg: Any) -> tuple[tuple[int, int], ...]:
        """(words, bits) of the on-chip ROMs: G and B (one per row's position; InstanceNorm: one
        per row), the rsqrt table."""
        lt = qg.layer_types[node.name]
        g_words = node.params["scale"].size
        return ((g_words, param_type(lt).width), (g_words, bias_type(lt).width),
                (node.attrs.table.entries, node.attrs.table.table_type.width))

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """Per element: the sum, M*x - S, its square and sum, Z's multiply and the multiply-add
        (6 ops) and a read of G and of B; per row one rsqrt table read.  G, B and the table are
        on-chip ROMs."""
        (gw, gb), (bw, bb), (tw, tb) = self.rom(node, qg)
        n = out_size(qg, node)
        _, m = rows(node.attrs, tuple(qg.graph.shapes[node.inputs[0]]))
        return element_cost(self, node, qg, hw, ops_per_output=6, weight_words=gw + bw + tw, weight_bits=max(gb, bb, tb),
                            accum_bits=self.accum_type(node, qg).width,
                            rom_reads=((n, gb), (n, bb), (n // m, tb)))


@op("LayerNormalization")
class LayerNormalization(NormOp, Op):
    onnx_ops = ("LayerNormalization",)

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        shape = tuple(ctx.shape(onnx_node.input[0]))
        a = ctx.attrs(onnx_node)
        rank = len(shape) + 1
        axis = int(a.get("axis", -1))
        axis = axis + rank if axis < 0 else axis
        if not 1 <= axis < rank:
            raise unsupported(ctx, onnx_node, f"axis {axis} normalises the batch axis; a per-sample axis (1..{rank - 1}) is accepted")
        if any(o for o in onnx_node.output[1:]):
            raise unsupported(ctx, onnx_node, "the Mean / InvStdDev outputs are not supported; only Y is computed")
        norm = shape[axis - 1:]
        gamma = ctx.const(onnx_node.input[1]) if len(onnx_node.input) > 1 else None
        if gamma is None:
            raise unsupported(ctx, onnx_node, "the scale must be a constant")
        beta = ctx.const(onnx_node.input[2]) if len(onnx_node.input) > 2 and onnx_node.input[2] else np.zeros(norm)
        if beta is None:
            raise unsupported(ctx, onnx_node, "the bias must be a constant")
        try:
            gamma = np.broadcast_to(np.asarray(gamma, np.float64), norm)
            beta = np.broadcast_to(np.asarray(beta, np.float64), norm)
        except ValueError:
            raise unsupported(ctx, onnx_node, f"scale/bias do not broadcast to the normalised shape {norm}") from None
        m = int(np.prod(norm))
        attrs = NormAttrs(axis=axis - 1, epsilon=float(a.get("epsilon", 1e-5)))
        return [Node(node_name(onnx_node), self.name, [onnx_node.input[0]], [onnx_node.output[0]], attrs,
                     params={"scale": gamma.reshape(-1) * math.sqrt(m), "bias": beta.reshape(-1).copy()})]
