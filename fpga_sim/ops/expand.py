"""Expand: an activation broadcast to a constant shape (numpy rules, aligned to the right).

Broadcast axes read the same input element for every output index: an index map whose table is
all zeros on those axes (`ops.remap`).  Integer arithmetic: one cast per output element from the
input type to the result type (none by default); overflows are counted per output element.

Refused, with one sentence: a shape that is not a constant, a shape that does not broadcast with
the input, one that adds axes in front of the batch or changes the batch size.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..graph import Node
from .base import op
from .common import node_name, unsupported
from .remap import IndexMap, RemapOp, axis_table, data_input, strides


@dataclass(frozen=True)
class ExpandAttrs:
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]


@op("Expand")
class Expand(RemapOp):
    onnx_ops = ("Expand",)

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        x, shape = data_input(ctx, onnx_node)
        target = ctx.const(onnx_node.input[1])
        if target is None:
            raise unsupported(ctx, onnx_node, "the shape input is not a constant; a constant shape is supported")
        target = [int(v) for v in np.asarray(target).reshape(-1)]
        rank = len(shape) + 1
        if len(target) > rank:
            raise unsupported(ctx, onnx_node, f"shape {target} has more axes than the rank-{rank} input and would put "
                                              f"axes before the batch; shapes of at most {rank} entries are accepted")
        full = [1] * (rank - len(target)) + target
        if full[0] != 1:
            raise unsupported(ctx, onnx_node, f"shape {target} sets the batch axis to {full[0]}; 1 there is accepted")
        out = []
        for d, t in zip(shape, full[1:]):
            if d != t and 1 not in (d, t):
                raise unsupported(ctx, onnx_node, f"shape {target} does not broadcast with the input (N, "
                                                  f"{', '.join(map(str, shape))}); numpy-broadcastable shapes are accepted")
            out.append(max(d, t))
        return [Node(node_name(onnx_node), "Expand", [x], [onnx_node.output[0]], ExpandAttrs((shape,), tuple(out)))]

    def maps(self, node: Node) -> list[IndexMap]:
        shape, out = node.attrs.in_shapes[0], node.attrs.out_shape
        tabs = tuple(axis_table(s, range(n) if d == n else [0] * n) for s, d, n in zip(strides(shape), shape, out))
        return [IndexMap(out, tabs)]
