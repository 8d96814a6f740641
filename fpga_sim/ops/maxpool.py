"""MaxPool and GlobalMaxPool: the largest input in each window, cast once to the result type.

Integer arithmetic (per output; padded positions are skipped, never compared):

    input_t m = x[first valid position of the window];
    for (every other valid position p of the window)   // dilations and strides as ONNX
        if (x[p] > m) m = x[p];                         // exact comparison in input_t
    result_t y = m;                                     // one cast: result_t's rounding/overflow
    // fused ReLU, if any, after the cast: if (y < 0) y = 0;

Overflows counted: outputs whose cast wrapped/saturated.  Window geometry: `ops.pooling`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from ..graph import Node
from .base import Op, op
from .common import element_cost, in_type, node_name, relu_flag, result_type
from .pooling import PoolAttrs, as_chw, lower_pool, out_shape, window, window_taps


@njit(cache=True, nogil=True)
def maxpool_kernel(x, starts, offs, out) -> None:
    """x (N*C, H*W) raw -> out (N*C, OH*OW): the largest input of each window, whose flat
    offsets are offs[starts[p]:starts[p+1]] (`pooling.window_taps`; a window wholly in the
    padding gives 0).  The cast to the result type is left to the caller (the shared cast
    kernel: no requant compiled into this loop; 2-d arrays: no reshape either)."""
    for bc in range(x.shape[0]):
        xr = x[bc]
        for p in range(out.shape[1]):
            t0, t1 = starts[p], starts[p + 1]
            best = xr[offs[t0]] if t1 > t0 else np.int64(0)
            for t in range(t0 + 1, t1):
                best = max(best, xr[offs[t]])
            out[bc, p] = best


def as_nchw(x: np.ndarray) -> np.ndarray:
    """Batched (N, C, L) -> (N, C, 1, L); (N, C, H, W) unchanged."""
    return x[:, :, None, :] if x.ndim == 3 else x


@op("MaxPool")
class MaxPool(Op):
    onnx_ops = ("MaxPool", "GlobalMaxPool")
    keeps_input_type = True
    template = "layer"

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        attrs = lower_pool(onnx_node, ctx, average=False)
        return [Node(node_name(onnx_node), "MaxPool", [onnx_node.input[0]], [onnx_node.output[0]], attrs)]

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [out_shape(node.attrs, tuple(in_shapes[0]))]

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = np.asarray(inputs[0], dtype=np.float64)
        x4 = as_nchw(x)
        a: PoolAttrs = window(node.attrs, x4.shape[2], x4.shape[3])
        shape = out_shape(node.attrs, x.shape[1:])
        _, oh, ow = as_chw(shape)
        pt, pl, pb, pr = a.pads
        xp = np.pad(x4, ((0, 0), (0, 0), (pt, pb + a.strides[0] * oh), (pl, pr + a.strides[1] * ow)),
                    constant_values=-np.inf)
        y = np.full((x.shape[0], x4.shape[1], oh, ow), -np.inf)
        for i in range(a.kernel[0]):
            for j in range(a.kernel[1]):
                h0, w0 = i * a.dilations[0], j * a.dilations[1]
                y = np.maximum(y, xp[:, :, h0:h0 + a.strides[0] * oh:a.strides[0], w0:w0 + a.strides[1] * ow:a.strides[1]])
        if node.activation == "relu":
            y = np.maximum(y, 0.0)
        return [y.reshape((x.shape[0],) + shape)]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        t_in, t_out = in_type(qg, node), result_type(qg, node)
        x = np.asarray(inputs[0], dtype=np.int64)
        x4 = np.ascontiguousarray(as_nchw(x))
        a = window(node.attrs, x4.shape[2], x4.shape[3])
        shape = out_shape(node.attrs, x.shape[1:])
        _, oh, ow = as_chw(shape)
        out = np.empty((x.shape[0], x4.shape[1], oh, ow), dtype=np.int64)
        nb, nc, h, w = x4.shape
        maxpool_kernel(x4.reshape(nb * nc, h * w), *window_taps(a, h, w, oh, ow), out.reshape(nb * nc, oh * ow))
        n = 0
        if not (t_in.frac == t_out.frac and t_out.min_raw <= t_in.min_raw and t_in.max_raw <= t_out.max_raw):
            out, n = t_out.cast_counted(out, t_in)      # not the identity: the shared cast kernel
        if relu_flag(node):
            np.maximum(out, 0, out=out)
        return [out.reshape((x.shape[0],) + shape)], n

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """One compare per window element (kh*kw per output)."""
        _, h, w = as_chw(qg.graph.shapes[node.inputs[0]])
        a = window(node.attrs, h, w)
        return element_cost(self, node, qg, hw, ops_per_output=a.kernel[0] * a.kernel[1])
