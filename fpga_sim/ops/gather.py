"""Gather of an activation with constant indices along a per-sample axis (ViT's class token
`x[:, 0]`, channel selections, shuffles written as index lists).

The indices (any shape; negative ones count from the end) replace the axis in the output, as
ONNX defines it; in row-major order the index axes are one loop axis whose table is
`index * stride` (an index map, `ops.remap`).  Integer arithmetic: one cast per output element
from the input type to the result type (none by default).

Refused, with one sentence: indices that are not a constant (an embedding lookup of a constant
table by activation indices is not supported), indices out of range, the batch axis.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..graph import Node
from .base import op
from .common import node_name, unsupported
from .remap import IndexMap, RemapOp, axis_table, per_sample_axis, strides


@dataclass(frozen=True)
class GatherAttrs:
    """Per-sample axis, the flattened in-range indices, and the shapes."""

    axis: int
    indices: tuple[int, ...]
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]


@op("Gather")
class Gather(RemapOp):
    onnx_ops = ("Gather",)

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        x, ind = onnx_node.input[0], onnx_node.input[1]
        if ctx.const(x) is not None:
            raise unsupported(ctx, onnx_node, "the data input is a constant and the indices are not; Gather of an "
                                              "activation by constant indices is supported")
        idx = ctx.const(ind)
        if idx is None:
            raise unsupported(ctx, onnx_node, "the indices are not a constant; constant indices are supported")
        shape = tuple(int(d) for d in ctx.shape(x))
        axis = per_sample_axis(ctx, onnx_node, ctx.attrs(onnx_node).get("axis", 0), len(shape) + 1)
        idx = np.asarray(idx, dtype=np.int64)
        d = shape[axis]
        if idx.size == 0 or (idx < -d).any() or (idx >= d).any():
            raise unsupported(ctx, onnx_node, f"indices {idx.reshape(-1).tolist()[:8]} are empty or out of range for "
                                              f"an axis of {d}; indices in [-{d}, {d - 1}] are accepted")
        flat = tuple(int(i) % d for i in idx.reshape(-1))
        out = shape[:axis] + tuple(int(s) for s in idx.shape) + shape[axis + 1:]
        return [Node(node_name(onnx_node), "Gather", [x], [onnx_node.output[0]], GatherAttrs(axis, flat, (shape,), out))]

    def maps(self, node: Node) -> list[IndexMap]:
        a = node.attrs
        shape = a.in_shapes[0]
        st = strides(shape)
        loop = shape[:a.axis] + (len(a.indices),) + shape[a.axis + 1:]
        tabs = [axis_table(s, range(n)) for s, n in zip(st, shape)]
        tabs[a.axis] = axis_table(st[a.axis], a.indices)
        return [IndexMap(loop, tuple(tabs))]
