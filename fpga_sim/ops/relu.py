"""Relu and Clip (ReLU6 and any clip with constant bounds) as one op: clamp, then cast.

Integer arithmetic (what the HLS template computes, per element):

    // lo/hi: the bounds on the INPUT type's grid, as raw input_t constants
    //   lo_raw = ceil(lo * 2^F_in)  (the smallest input_t value >= lo),
    //   hi_raw = floor(hi * 2^F_in) (the largest input_t value <= hi);
    //   a bound outside input_t's range is dropped (it can never clamp).
    input_t v = x;
    if (HAS_LO && v < LO) v = LO;       // exact comparison in input_t
    if (HAS_HI && v > HI) v = HI;
    result_t y = v;                     // one cast: result_t's rounding and overflow
    // fused ReLU, if any, after the cast: if (y < 0) y = 0;

Relu is lo = 0 with no upper bound.  Overflows counted: values the final cast wraps/saturates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..fixed import Fixed
from ..graph import Node
from .base import Op, op
from .common import apply_activation, cast, element_cost, in_type, node_name, result_type, unsupported


@dataclass(frozen=True)
class ClipAttrs:
    """ONNX Clip's bounds (None: unbounded, as the spec's defaults -inf / +inf)."""

    lo: float | None = None
    hi: float | None = None


def bounds_raw(attrs: ClipAttrs, t: Fixed) -> tuple[int | None, int | None]:
    """The bounds as raw values of the input type t (None where the bound cannot clamp)."""
    lo = hi = None
    if attrs.lo is not None:
        v = math.ceil(math.ldexp(attrs.lo, t.frac))
        if v > t.min_raw:
            lo = min(v, t.max_raw)
    if attrs.hi is not None:
        v = math.floor(math.ldexp(attrs.hi, t.frac))
        if v < t.max_raw:
            hi = max(v, t.min_raw)
    return lo, hi


def _scalar_const(ctx: Any, onnx_node: Any, index: int, what: str) -> float | None:
    if len(onnx_node.input) <= index or not onnx_node.input[index]:
        return None
    value = ctx.const(onnx_node.input[index])
    if value is None:
        raise unsupported(ctx, onnx_node, f"the {what} bound must be a constant; only constant Clip bounds are supported")
    value = np.asarray(value, dtype=np.float64)
    if value.size != 1:
        raise unsupported(ctx, onnx_node, f"the {what} bound must be a scalar, got shape {value.shape}")
    return float(value.reshape(()))


@op("Relu")
class Relu(Op):
    onnx_ops = ("Relu", "Clip")
    keeps_input_type = True
    template = "layer"

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        if onnx_node.op_type == "Relu":
            attrs = ClipAttrs(lo=0.0, hi=None)
        elif ctx.opset < 11:
            a = ctx.attrs(onnx_node)
            lo, hi = a.get("min"), a.get("max")
            attrs = ClipAttrs(
                lo=None if lo is None or lo <= -3.4e38 else float(lo),
                hi=None if hi is None or hi >= 3.4e38 else float(hi),
            )
        else:
            attrs = ClipAttrs(
                lo=_scalar_const(ctx, onnx_node, 1, "min"), hi=_scalar_const(ctx, onnx_node, 2, "max")
            )
        if attrs.lo is not None and attrs.hi is not None and attrs.lo > attrs.hi:
            raise unsupported(ctx, onnx_node, f"min {attrs.lo} is greater than max {attrs.hi}; min <= max is accepted")
        return [Node(node_name(onnx_node), "Relu", [onnx_node.input[0]], [onnx_node.output[0]], attrs)]

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(in_shapes[0])]

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = np.asarray(inputs[0], dtype=np.float64)
        a = node.attrs
        y = np.clip(x, -np.inf if a.lo is None else a.lo, np.inf if a.hi is None else a.hi)
        if node.activation == "relu":
            y = np.maximum(y, 0.0)
        return [y]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        t_in, t_out = in_type(qg, node), result_type(qg, node)
        lo, hi = bounds_raw(node.attrs, t_in)
        v = np.asarray(inputs[0], dtype=np.int64)
        if lo is not None or hi is not None:
            v = np.clip(v, lo, hi)          # one pass for both bounds (ReLU6 would take two)
        y, n = cast(v, t_in, t_out)
        return [apply_activation(node, y)], n

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """One compare per bound per output."""
        lo, hi = bounds_raw(node.attrs, in_type(qg, node))
        return element_cost(self, node, qg, hw, ops_per_output=max(1, (lo is not None) + (hi is not None)))
