"""Concat along any per-sample axis: every input cast to the result type, then laid side by side.

Integer arithmetic (per element of input k, written at its offset along the axis):

    result_t y = (result_t)x_k;      // one cast per input: result_t's rounding/overflow
                                     // (no work when x_k's type equals result_t)
    // fused ReLU, if any, after the cast: if (y < 0) y = 0;

Input k is an index map (`ops.remap`) whose destination tables place its loop at offset
`sum of the earlier inputs' sizes along the axis`.  Overflows counted: casts that
wrapped/saturated.  Inputs must agree on every other axis; the batch axis is refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..graph import Node
from .base import op
from .common import apply_activation, node_name, unsupported
from .remap import IndexMap, RemapOp, axis_table, identity_map, per_sample_axis, strides


@dataclass(frozen=True)
class ConcatAttrs:
    """Concatenation axis of the per-sample tensor (0: channels) and the shapes."""

    axis: int
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]


@op("Concat")
class Concat(RemapOp):
    onnx_ops = ("Concat",)

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        a = ctx.attrs(onnx_node)
        if "axis" not in a:
            raise unsupported(ctx, onnx_node, "the required attribute axis is missing")
        names = [n for n in onnx_node.input if n]
        if any(ctx.const(n) is not None for n in names):
            raise unsupported(ctx, onnx_node, "a constant input is not supported; Concat of activations is")
        shapes = [tuple(int(d) for d in ctx.shape(n)) for n in names]
        axis = per_sample_axis(ctx, onnx_node, a["axis"], len(shapes[0]) + 1)
        rest = lambda s: s[:axis] + s[axis + 1:]  # noqa: E731
        if any(len(s) != len(shapes[0]) or rest(s) != rest(shapes[0]) for s in shapes):
            raise unsupported(ctx, onnx_node, f"input shapes {shapes} differ outside axis {axis + 1}; "
                              f"inputs that agree on every other axis are accepted")
        out = shapes[0][:axis] + (sum(s[axis] for s in shapes),) + shapes[0][axis + 1:]
        return [Node(node_name(onnx_node), "Concat", names, [onnx_node.output[0]], ConcatAttrs(axis, tuple(shapes), out))]

    def maps(self, node: Node) -> list[IndexMap]:
        a = node.attrs
        out_st = strides(a.out_shape)
        maps, offset = [], 0
        for shape in a.in_shapes:
            src = identity_map(shape)
            dst = [axis_table(s, range(d)) for s, d in zip(out_st, shape)]
            dst[a.axis] = axis_table(out_st[a.axis], range(offset, offset + shape[a.axis]))
            maps.append(IndexMap(src.loop, src.src, tuple(dst)))
            offset += shape[a.axis]
        return maps

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        y = np.concatenate([np.asarray(x, dtype=np.float64) for x in inputs], axis=node.attrs.axis + 1)
        return [np.maximum(y, 0.0) if node.activation == "relu" else y]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        from .common import cast, result_type

        t_out = result_type(qg, node)
        parts, n = [], 0
        for x, t in zip(inputs, node.inputs):
            y, k = cast(np.asarray(x, dtype=np.int64), qg.tensor_types[t], t_out)
            parts.append(y)
            n += k
        return [apply_activation(node, np.concatenate(parts, axis=node.attrs.axis + 1))], n
