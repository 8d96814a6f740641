"""LeakyRelu and PRelu: a negative slope that is a quantised constant (per tensor or broadcast).

Integer arithmetic (per element, alpha broadcast to the element's position):

    // alpha_t: the layer's weight type (its result type when it has none); ALPHA[] raw alpha_t
    if (x > 0) y = (result_t)x;                  // positive: one cast of x
    else       y = (result_t)(x * ALPHA[i]);     // exact product ap_fixed<W_in+W_a, I_in+I_a>,
                                                 // then one cast: result_t's rounding/overflow
    // fused ReLU, if any, after the cast: if (y < 0) y = 0;

x == 0 takes the product branch (0 * alpha = 0, identical).  Overflows counted: final casts that
wrap/saturate.  LeakyRelu's alpha defaults to 0.01 (ONNX spec); PRelu's slope must be a
constant that broadcasts to the per-sample shape.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from ..fixed_kernels import requant
from ..graph import LayerTypes, Node
from .base import Op, op
from .common import (
    check_product_width, element_cost, in_type, node_name, param_type, relu_flag, result_type, unsupported,
)


@dataclass(frozen=True)
class LeakyReluAttrs:
    """Which ONNX op it came from (the slope itself is the "alpha" param)."""

    source: str = "LeakyRelu"


@njit(cache=True, nogil=True)
def leaky_kernel(x, alpha, shift_pos, shift_neg, width, signed, rnd, ovf, relu, out) -> int:
    """out = x > 0 ? cast(x) : cast(x * alpha); x, alpha, out 1-d of equal length."""
    n = 0
    for i in range(x.size):
        v = x[i]
        if v > 0:
            r, o = requant(v, shift_pos, width, signed, rnd, ovf)
        else:
            r, o = requant(v * alpha[i], shift_neg, width, signed, rnd, ovf)
        if relu and r < 0:
            r = 0
        out[i] = r
        n += o
    return n


def _slope_for(shape: tuple[int, ...], slope: np.ndarray, name: str) -> np.ndarray:
    """Broadcast a slope (per-sample semantics, numpy rules) to a per-sample-shaped array."""
    s = np.asarray(slope, dtype=np.float64)
    try:
        b = np.broadcast_shapes(s.shape, tuple(shape))
    except ValueError:
        b = None
    if b != tuple(shape):
        raise ValueError(f"slope of shape {s.shape} does not broadcast to the per-sample shape {tuple(shape)} ({name})")
    return s


@op("LeakyRelu")
class LeakyRelu(Op):
    onnx_ops = ("LeakyRelu", "PRelu")
    template = "layer"

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        shape = tuple(ctx.shape(onnx_node.input[0]))
        if onnx_node.op_type == "LeakyRelu":
            alpha = np.array([float(ctx.attrs(onnx_node).get("alpha", 0.01))])
        else:
            slope = ctx.const(onnx_node.input[1])
            if slope is None:
                raise unsupported(ctx, onnx_node, "the slope must be a constant; PRelu with a computed slope is not supported")
            alpha = np.asarray(slope, dtype=np.float64)
            # ONNX broadcasts the slope against the batched input: drop a leading batch axis of 1
            if alpha.ndim == len(shape) + 1:
                if alpha.shape[0] != 1:
                    raise unsupported(ctx, onnx_node, f"slope shape {alpha.shape} varies along the batch axis")
                alpha = alpha[0]
            try:
                alpha = _slope_for(shape, alpha, onnx_node.name)
            except ValueError as e:
                raise unsupported(ctx, onnx_node, str(e)) from None
        return [
            Node(node_name(onnx_node), "LeakyRelu", [onnx_node.input[0]], [onnx_node.output[0]],
                 LeakyReluAttrs(onnx_node.op_type), params={"alpha": alpha})
        ]

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        _slope_for(in_shapes[0], node.params["alpha"], node.name)
        return [tuple(in_shapes[0])]

    def quantize_params(self, node: Node, types: LayerTypes) -> tuple[dict[str, np.ndarray], int]:
        raw, n = param_type(types).quantize_counted(node.params["alpha"])
        return {"alpha": raw}, n

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = np.asarray(inputs[0], dtype=np.float64)
        y = np.where(x > 0, x, x * node.params["alpha"])
        if node.activation == "relu":
            y = np.maximum(y, 0.0)
        return [y]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        t_in, t_out = in_type(qg, node), result_type(qg, node)
        t_a = param_type(qg.layer_types[node.name])
        check_product_width(node, t_in, t_a)
        x = np.ascontiguousarray(inputs[0], dtype=np.int64)
        a = np.ascontiguousarray(np.broadcast_to(qg.qparams[node.name]["alpha"], x.shape), dtype=np.int64)
        out = np.empty(x.size, dtype=np.int64)
        w, s, r, o = t_out.codes
        n = leaky_kernel(x.reshape(-1), a.reshape(-1), t_in.frac - t_out.frac, t_in.frac + t_a.frac - t_out.frac,
                         w, s, r, o, relu_flag(node), out)
        return [out.reshape(x.shape)], int(n)

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """A compare and (for negatives) a multiply per output; the slope words are parameters."""
        t_a = param_type(qg.layer_types[node.name])
        return element_cost(self, node, qg, hw, ops_per_output=2, weight_words=node.params["alpha"].size,
                             weight_bits=t_a.width)
