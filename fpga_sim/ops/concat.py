"""Concat along the channel axis: every input cast to the result type, then laid side by side.

Integer arithmetic (per element of input k, written at its channel offset):

    result_t y = (result_t)x_k;      // one cast per input: result_t's rounding/overflow
                                     // (no work when x_k's type equals result_t)
    // fused ReLU, if any, after the cast: if (y < 0) y = 0;

Overflows counted: casts that wrapped/saturated.  Only the channel axis (batched axis 1) is
supported; inputs must agree on every other axis.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..graph import Node
from .base import Op, op
from .common import apply_activation, cast, element_cost, node_name, result_type, unsupported


@dataclass(frozen=True)
class ConcatAttrs:
    """Concatenation axis of the per-sample tensor (always 0: channels)."""

    axis: int = 0


@op("Concat")
class Concat(Op):
    onnx_ops = ("Concat",)
    keeps_input_type = True
    template = "layer"

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        a = ctx.attrs(onnx_node)
        if "axis" not in a:
            raise unsupported(ctx, onnx_node, "the required attribute axis is missing")
        names = [n for n in onnx_node.input if n]
        if any(ctx.const(n) is not None for n in names):
            raise unsupported(ctx, onnx_node, "a constant input is not supported; Concat of activations is")
        shapes = [tuple(ctx.shape(n)) for n in names]
        rank = len(shapes[0]) + 1
        axis = int(a["axis"])
        axis = axis + rank if axis < 0 else axis
        if axis != 1:
            raise unsupported(ctx, onnx_node, f"axis {a['axis']} is not supported; only the channel axis (1) is")
        if any(len(s) != len(shapes[0]) or s[1:] != shapes[0][1:] for s in shapes):
            raise unsupported(ctx, onnx_node, f"input shapes {shapes} differ outside the channel axis")
        return [Node(node_name(onnx_node), "Concat", names, [onnx_node.output[0]], ConcatAttrs(0))]

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        first = tuple(in_shapes[0])
        return [(sum(int(s[0]) for s in in_shapes),) + first[1:]]

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        y = np.concatenate([np.asarray(x, dtype=np.float64) for x in inputs], axis=1)
        return [np.maximum(y, 0.0) if node.activation == "relu" else y]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        t_out = result_type(qg, node)
        parts, n = [], 0
        for x, t in zip(inputs, node.inputs):
            y, k = cast(np.asarray(x, dtype=np.int64), qg.tensor_types[t], t_out)
            parts.append(y)
            n += k
        return [apply_activation(node, np.concatenate(parts, axis=1))], n

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """A copy (and cast) per output."""
        return element_cost(self, node, qg, hw, ops_per_output=1)
