"""Mul by a constant (per-tensor, per-channel or any scale that broadcasts into the input) and
Mul of two activations (broadcast per sample as numpy does: squeeze-excite gates, GELU's x*Phi).

Integer arithmetic (per element, S or b broadcast to the element's position):

    // scale_t: the layer's weight type (its result type when it has none); S[] raw scale_t
    result_t y = x * S[i];     // exact product ap_fixed<W_in+W_s, I_in+I_s>, one cast to result_t
    result_t y = a[i] * b[i];  // two activations: the same exact product and one cast
    // fused ReLU, if any, after the cast: if (y < 0) y = 0;

Overflows counted: casts that wrapped/saturated.  `ops.div` (by a constant) and `ops.pow` (x^2)
lower to this arithmetic.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from ..fixed_kernels import cast_params, requant
from ..graph import LayerTypes, Node
from .base import Op, op
from .common import (
    check_product_width, element_cost, in_type, node_name, param_type, relu_flag, result_type, unsupported,
)
from .mac_epilogue import scale_cast


@dataclass(frozen=True)
class MulAttrs:
    """Mul has no ONNX attributes; the constant is the "scale" param."""

    per_channel: bool = False


@njit(cache=True, nogil=True)
def mul_kernel(x, s, shift, width, signed, rnd, ovf, relu, out) -> int:
    """out[i] = cast(x[i] * s[i]); 1-d arrays of equal length."""
    n = 0
    for i in range(x.size):
        r, o = requant(x[i] * s[i], shift, width, signed, rnd, ovf)
        if relu and r < 0:
            r = 0
        out[i] = r
        n += o
    return n


def _scale_rows(scale: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """The scale as (C, 1) or (C, R) rows of a batch (N, C, ...) when it is one value, one per
    channel, or a whole sample; else None (other broadcasts are materialised)."""
    per_sample = shape[1:]
    if scale.size == 1:
        return scale.reshape(1, 1)
    if len(per_sample) >= 1 and scale.ndim == len(per_sample) and scale.shape[0] == per_sample[0] \
            and scale.size == per_sample[0]:
        return np.ascontiguousarray(scale.reshape(-1, 1))
    if scale.shape == per_sample:
        return np.ascontiguousarray(scale.reshape(1, -1))
    return None


@op("Mul")
class Mul(Op):
    onnx_ops = ("Mul",)
    template = "layer"

    keeps_input_type = False
    relu_fusable = False

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        a, b = onnx_node.input[0], onnx_node.input[1]
        ca, cb = ctx.const(a), ctx.const(b)
        if ca is None and cb is None:
            return [self.product_node(node_name(onnx_node), a, b, onnx_node.output[0], ctx, onnx_node)]
        if ca is not None and cb is not None:
            raise unsupported(ctx, onnx_node, "both inputs are constants; constant folding should have removed this node")
        act, const = (a, cb) if cb is not None else (b, ca)
        return [self.scale_node(node_name(onnx_node), act, const, onnx_node.output[0], ctx, onnx_node)]

    def product_node(self, name: str, a: str, b: str, y: str, ctx: Any, onnx_node: Any) -> Node:
        """a * b of two activations of equal rank that broadcast (per sample)."""
        sa, sb = tuple(ctx.shape(a)), tuple(ctx.shape(b))
        if len(sa) != len(sb):
            raise unsupported(ctx, onnx_node, f"activation inputs of different ranks {[sa, sb]} would broadcast across the batch axis; equal ranks are supported")
        try:
            np.broadcast_shapes(sa, sb)
        except ValueError:
            raise unsupported(ctx, onnx_node, f"the inputs of shapes {sa} and {sb} do not broadcast") from None
        return Node(name, self.name, [a, b], [y], MulAttrs(False))

    def scale_node(self, name: str, act: str, const: Any, y: str, ctx: Any, onnx_node: Any) -> Node:
        """act * const, the constant broadcast into the activation's per-sample shape."""
        shape = tuple(ctx.shape(act))
        s = np.asarray(const, dtype=np.float64)
        if s.ndim == len(shape) + 1:
            if s.shape[0] != 1:
                raise unsupported(ctx, onnx_node, f"the constant of shape {s.shape} varies along the batch axis")
            s = s[0]
        try:
            ok = np.broadcast_shapes(s.shape, shape) == shape
        except ValueError:
            ok = False
        if not ok:
            raise unsupported(ctx, onnx_node, f"the constant of shape {s.shape} does not broadcast into the input {shape}")
        per_channel = s.size > 1 and len(shape) >= 1 and s.ndim == len(shape) and s.shape[0] == shape[0] \
            and s.size == shape[0]
        return Node(name, self.name, [act], [y], MulAttrs(per_channel), params={"scale": s})

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(np.broadcast_shapes(*[tuple(s) for s in in_shapes]))]

    def quantize_params(self, node: Node, types: LayerTypes) -> tuple[dict[str, np.ndarray], int]:
        if "scale" not in node.params:
            return {}, 0
        raw, n = param_type(types).quantize_counted(node.params["scale"])
        return {"scale": raw}, n

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = np.asarray(inputs[0], dtype=np.float64)
        y = x * (node.params["scale"] if "scale" in node.params else np.asarray(inputs[-1], dtype=np.float64))
        if node.activation == "relu":
            y = np.maximum(y, 0.0)
        return [y]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        t_in, t_out = in_type(qg, node), result_type(qg, node)
        if "scale" in node.params:
            t_s = param_type(qg.layer_types[node.name])
            x = np.ascontiguousarray(inputs[0], dtype=np.int64)
            scale = np.asarray(qg.qparams[node.name]["scale"], dtype=np.int64)
            rows = _scale_rows(scale, x.shape)
            s = None
        else:   # two activations (or x * x for Pow)
            t_s = in_type(qg, node, len(node.inputs) - 1)
            shape = np.broadcast_shapes(np.shape(inputs[0]), np.shape(inputs[-1]))
            x = np.ascontiguousarray(np.broadcast_to(inputs[0], shape), dtype=np.int64)
            s, rows = np.broadcast_to(inputs[-1], shape), None
        check_product_width(node, t_in, t_s)
        shift = t_in.frac + t_s.frac - t_out.frac
        if rows is not None and x.size and t_in.width + t_s.width <= 62:
            # a per-tensor or per-channel scale: one pass with the fused cast, no broadcast copy
            out = np.empty(x.shape, dtype=np.int64)
            n_b = x.shape[0]
            n = scale_cast(x.reshape(n_b, rows.shape[0], -1), rows, cast_params(shift, *t_out.codes), relu_flag(node),
                           out.reshape(n_b, rows.shape[0], -1))
            return [out], int(n)
        if s is None:
            s = np.broadcast_to(scale, x.shape)
        s = np.ascontiguousarray(s, dtype=np.int64)
        out = np.empty(x.size, dtype=np.int64)
        n = mul_kernel(x.reshape(-1), s.reshape(-1), shift, *t_out.codes, relu_flag(node), out)
        return [out.reshape(x.shape)], int(n)

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """One multiply per output (on the element-wise path, not the MAC array)."""
        if "scale" not in node.params:
            return element_cost(self, node, qg, hw, ops_per_output=1)
        t_s = param_type(qg.layer_types[node.name])
        return element_cost(self, node, qg, hw, ops_per_output=1, weight_words=node.params["scale"].size,
                            weight_bits=t_s.width)
