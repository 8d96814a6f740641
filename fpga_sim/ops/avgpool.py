"""AveragePool and GlobalAveragePool: a sum in the accumulator times a quantised reciprocal.

Integer arithmetic (per output window with `count` positions counted, see below):

    accum_t acc = 0;
    for (every valid (in-tensor) position p of the window)
        acc += (accum_t)x[p];            // x cast to accum_t (its rounding/overflow), then the
                                         // add, whose sum is assigned to accum_t (its overflow)
    result_t y = acc * RECIP[count];     // exact product accum_t x recip_t, one cast to result_t
    // fused ReLU, if any, after the cast: if (y < 0) y = 0;

count = positions inside the tensor, or with count_include_pad also those inside the explicit
pads (never those a ceil_mode window hangs beyond the pads), as onnxruntime divides.
RECIP[c] = 1/c as recip_t = ap_ufixed<W, 1 - ceil(log2(c_min)), AP_RND, AP_SAT>, W = the weight
type's width (18 when the layer has none) but at most 64 - W_accum (63 - W_accum for an
unsigned accumulator: the engine holds the product in int64), c_min the smallest count used;
RECIP has kh*kw + 1 raw entries indexed by count (unused ones 0): the "recip" param, see
`reciprocal_type`.
Overflows counted: accumulator adds and final casts that wrapped/saturated.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from ..errors import FpgaSimError
from ..fixed import Fixed
from ..fixed_kernels import requant
from ..graph import LayerTypes, Node
from .base import Op, op
from .common import check_accum_width, check_product_width, element_cost, max_accum_width, in_type, node_name, relu_flag, result_type
from .maxpool import as_nchw
from .pooling import PoolAttrs, as_chw, lower_pool, out_shape, window, window_counts
from .windows import plane_taps


@njit(cache=True, nogil=True)
def avgpool_kernel(x, kh, kw, sh, sw, pt, pl, dh, dw, cnt_h, cnt_w, recip,
                   a_shift, a_width, a_signed, a_rnd, a_ovf,
                   r_shift, r_width, r_signed, r_rnd, r_ovf, relu, out) -> int:
    """x (N, C, H, W) raw -> out (N, C, OH, OW) raw; returns the overflow count.  The window's
    positions inside the tensor, row by row, are `tap_table`'s."""
    starts, offs, xs, outs = plane_taps(x, out, kh, kw, sh, sw, pt, pl, dh, dw)
    ow_n = out.shape[3]
    n_ovf = 0
    for bc in range(xs.shape[0]):
        xr = xs[bc]
        for p in range(outs.shape[1]):
            acc = np.int64(0)
            for t in range(starts[p], starts[p + 1]):
                v, o1 = requant(xr[offs[t]], a_shift, a_width, a_signed, a_rnd, a_ovf)
                acc, o2 = requant(acc + v, 0, a_width, a_signed, a_rnd, a_ovf)
                n_ovf += o1 + o2
            r, o = requant(acc * recip[cnt_h[p // ow_n] * cnt_w[p % ow_n]], r_shift, r_width, r_signed, r_rnd, r_ovf)
            if relu and r < 0:
                r = 0
            outs[bc, p] = r
            n_ovf += o
    return n_ovf


@njit(cache=True, nogil=True)
def avgpool_exact(x, kh, kw, sh, sw, pt, pl, dh, dw, cnt_h, cnt_w, recip, a_left,
                  r_shift, r_width, r_signed, r_rnd, r_ovf, relu, out) -> int:
    """avgpool_kernel when the accumulator provably holds every window's sum of inputs shifted
    left by a_left (the casts into it are exact, no add can overflow): plain integer sums along
    contiguous rows, shifted once, then the one cast per output.  Returns the overflow count."""
    nb, nc, h, w = x.shape
    oh_n, ow_n = out.shape[2], out.shape[3]
    n_ovf = 0
    for b in range(nb):
        for c in range(nc):
            for oh in range(oh_n):
                for ow in range(ow_n):
                    acc = np.int64(0)
                    for i in range(kh):
                        hh = oh * sh - pt + i * dh
                        if hh < 0 or hh >= h:
                            continue
                        row = x[b, c, hh]
                        base = ow * sw - pl
                        j_lo = (-base + dw - 1) // dw if base < 0 else 0      # the taps inside the row
                        j_hi = min(kw, (w - 1 - base) // dw + 1) if base <= w - 1 else 0
                        for j in range(j_lo, j_hi):
                            acc += row[base + j * dw]
                    r, o = requant((acc << a_left) * recip[cnt_h[oh] * cnt_w[ow]], r_shift, r_width, r_signed, r_rnd,
                                   r_ovf)
                    out[b, c, oh, ow] = max(r, 0) if relu else r
                    n_ovf += o
    return n_ovf


def reciprocal_type(node: Node, types: LayerTypes) -> Fixed:
    """The type of the RECIP constants (see the module docstring)."""
    recip = node.params["recip"]
    c_min = int(np.flatnonzero(recip)[0])
    width = types.weight.width if types.weight is not None else 18
    if types.accum is not None:   # keep the exact product accum x recip inside int64
        width = min(width, 64 - types.accum.width - (0 if types.accum.signed else 1))
    if width < 2:
        raise FpgaSimError(f"node {node.name!r} (AveragePool): accumulator {types.accum} leaves no room for the reciprocal in a 64-bit product; accumulators of at most 62 bits are accepted")
    return Fixed(width, 1 - (c_min - 1).bit_length(), False, "AP_RND", "AP_SAT")


def _counts(node: Node, in_shape: tuple[int, ...]) -> tuple[PoolAttrs, np.ndarray, np.ndarray]:
    _, h, w = as_chw(in_shape)
    a = window(node.attrs, h, w)
    ch, cw = window_counts(node.attrs, h, w)
    return a, ch, cw


@op("AveragePool")
class AveragePool(Op):
    onnx_ops = ("AveragePool", "GlobalAveragePool")
    template = "layer"

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        attrs = lower_pool(onnx_node, ctx, average=True)
        node = Node(node_name(onnx_node), "AveragePool", [onnx_node.input[0]], [onnx_node.output[0]], attrs)
        a, ch, cw = _counts(node, tuple(ctx.shape(onnx_node.input[0])))
        recip = np.zeros(a.kernel[0] * a.kernel[1] + 1)
        used = np.unique(np.multiply.outer(ch, cw))
        recip[used] = 1.0 / used
        node.params["recip"] = recip
        return [node]

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [out_shape(node.attrs, tuple(in_shapes[0]))]

    def safe_accum(self, node: Node, in_types: list[Fixed], weight: Fixed | None) -> Fixed | None:
        """The input type widened by ceil(log2(window size)) integer bits: a window sum cannot overflow."""
        t = in_types[0]
        grow = (len(node.params["recip"]) - 2).bit_length()   # ceil(log2(kh*kw))
        i = t.int_bits + grow
        if i > max_accum_width(t.signed):
            raise FpgaSimError(f"node {node.name!r} (AveragePool): a safe accumulator for {t} needs {i} integer bits; at most 62 (unsigned) or 63 are supported")
        return Fixed(min(t.width + grow, max_accum_width(t.signed)), i, t.signed)   # too wide: fractional bits go

    def quantize_params(self, node: Node, types: LayerTypes) -> tuple[dict[str, np.ndarray], int]:
        raw, n = reciprocal_type(node, types).quantize_counted(node.params["recip"])
        return {"recip": raw}, n

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = np.asarray(inputs[0], dtype=np.float64)
        x4 = as_nchw(x)
        a, ch, cw = _counts(node, x.shape[1:])
        shape = out_shape(node.attrs, x.shape[1:])
        oh, ow = ch.size, cw.size
        pt, pl, pb, pr = a.pads
        xp = np.pad(x4, ((0, 0), (0, 0), (pt, pb + a.strides[0] * oh), (pl, pr + a.strides[1] * ow)))
        y = np.zeros((x.shape[0], x4.shape[1], oh, ow))
        for i in range(a.kernel[0]):
            for j in range(a.kernel[1]):
                h0, w0 = i * a.dilations[0], j * a.dilations[1]
                y += xp[:, :, h0:h0 + a.strides[0] * oh:a.strides[0], w0:w0 + a.strides[1] * ow:a.strides[1]]
        y /= np.multiply.outer(ch, cw)
        if node.activation == "relu":
            y = np.maximum(y, 0.0)
        return [y.reshape((x.shape[0],) + shape)]

    def accum_type(self, node: Node, qg: Any) -> Fixed:
        lt = qg.layer_types[node.name]
        return lt.accum if lt.accum is not None else self.safe_accum(node, [in_type(qg, node)], lt.weight)

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        t_in, t_out = in_type(qg, node), result_type(qg, node)
        t_acc = self.accum_type(node, qg)
        t_rc = reciprocal_type(node, qg.layer_types[node.name])
        check_accum_width(node, t_acc)
        check_product_width(node, t_acc, t_rc)
        x = np.asarray(inputs[0], dtype=np.int64)
        x4 = np.ascontiguousarray(as_nchw(x))
        a, ch, cw = _counts(node, x.shape[1:])
        shape = out_shape(node.attrs, x.shape[1:])
        out = np.empty((x.shape[0], x4.shape[1], ch.size, cw.size), dtype=np.int64)
        recip = np.ascontiguousarray(qg.qparams[node.name]["recip"], dtype=np.int64)
        k = t_acc.frac - t_in.frac
        count = a.kernel[0] * a.kernel[1]
        if k >= 0 and t_acc.sum_fits_int64 and (t_in.max_raw << k) * count <= t_acc.max_raw \
                and (t_in.min_raw << k) * count >= t_acc.min_exact_raw:
            # every cast into the accumulator is an exact left shift and no window sum can leave it
            if ch.size == cw.size == 1 and a.kernel == x4.shape[2:] and not any(a.pads) \
                    and tuple(a.dilations) == (1, 1):
                # global pooling: one contiguous sum per channel (NumPy's pairwise int64 sum is exact)
                acc = x4.reshape(x4.shape[0], x4.shape[1], -1).sum(axis=2) << k
                raw, n = t_out.cast_counted(acc * int(recip[int(ch[0]) * int(cw[0])]),
                                            Fixed(64, 64 - (t_acc.frac + t_rc.frac)))
                if relu_flag(node):
                    np.maximum(raw, 0, out=raw)
                return [raw.reshape((x.shape[0],) + shape)], int(n)
            n = avgpool_exact(x4, a.kernel[0], a.kernel[1], a.strides[0], a.strides[1], a.pads[0], a.pads[1],
                              a.dilations[0], a.dilations[1], ch, cw, recip, k,
                              t_acc.frac + t_rc.frac - t_out.frac, *t_out.codes, relu_flag(node), out)
            return [out.reshape((x.shape[0],) + shape)], int(n)
        n = avgpool_kernel(x4, a.kernel[0], a.kernel[1], a.strides[0], a.strides[1], a.pads[0], a.pads[1],
                           a.dilations[0], a.dilations[1], ch, cw, recip,
                           t_in.frac - t_acc.frac, *t_acc.codes,
                           t_acc.frac + t_rc.frac - t_out.frac, *t_out.codes, relu_flag(node), out)
        return [out.reshape((x.shape[0],) + shape)], int(n)

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """kh*kw adds and one multiply by the reciprocal per output."""
        a, _, _ = _counts(node, qg.graph.shapes[node.inputs[0]])
        return element_cost(self, node, qg, hw, ops_per_output=a.kernel[0] * a.kernel[1] + 1,
                            accum_bits=self.accum_type(node, qg).width)
