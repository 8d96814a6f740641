"""Squeeze and Unsqueeze on any per-sample axes: layout changes, lowered to a (free) Reshape.

Axes come from the attribute (opset < 13) or a constant input (13+); Squeeze without axes
removes every per-sample axis of size 1 (the batch axis is never squeezed: its size is not
known when the model is imported).  Refused, with one sentence: squeezing an axis whose size is
not 1, an axis out of range or given twice, squeezing or inserting at the batch axis 0.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Node
from .base import Op, op
from .common import node_name, unsupported
from .reshape import ReshapeAttrs


def _axes(ctx: Any, onnx_node: Any) -> list[int] | None:
    if ctx.opset < 13:
        v = ctx.attrs(onnx_node).get("axes")
        return None if v is None else [int(a) for a in v]
    if len(onnx_node.input) < 2 or not onnx_node.input[1]:
        return None
    v = ctx.const(onnx_node.input[1])
    if v is None:
        raise unsupported(ctx, onnx_node, "the axes input is not a constant; constant axes are supported")
    return [int(a) for a in np.asarray(v).reshape(-1)]


def _normalise(ctx: Any, onnx_node: Any, axes: list[int], rank: int) -> list[int]:
    out = []
    for a in axes:
        b = a + rank if a < 0 else a
        if not 0 <= b < rank:
            raise unsupported(ctx, onnx_node, f"axis {a} is out of range for a rank-{rank} tensor; -{rank}..{rank - 1} is accepted")
        if b == 0:
            raise unsupported(ctx, onnx_node, f"axis {a} is the batch axis; only per-sample axes (1..{rank - 1}) are supported")
        if b in out:
            raise unsupported(ctx, onnx_node, f"axis {a} is given twice; each axis once is accepted")
        out.append(b)
    return out


@op("Squeeze")
class Squeeze(Op):
    """Lowering only: the graph holds the Reshape node it produces."""

    onnx_ops = ("Squeeze", "Unsqueeze")

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        x = onnx_node.input[0]
        shape = tuple(int(d) for d in ctx.shape(x))
        axes = _axes(ctx, onnx_node)
        if onnx_node.op_type == "Squeeze":
            rank = len(shape) + 1
            drop = [k + 1 for k, d in enumerate(shape) if d == 1] if axes is None else _normalise(ctx, onnx_node, axes, rank)
            bad = [a for a in drop if shape[a - 1] != 1]
            if bad:
                raise unsupported(ctx, onnx_node, f"axis {bad[0]} has size {shape[bad[0] - 1]}; only axes of size 1 can be squeezed")
            out = tuple(d for k, d in enumerate(shape) if k + 1 not in drop)
        else:
            if axes is None:
                raise unsupported(ctx, onnx_node, "the axes are missing; Unsqueeze needs the axes to insert")
            rank = len(shape) + 1 + len(axes)
            ins = _normalise(ctx, onnx_node, axes, rank)
            rest = iter(shape)
            out = tuple(1 if k in ins else next(rest) for k in range(1, rank))
        return [Node(node_name(onnx_node), "Reshape", [x], [onnx_node.output[0]], ReshapeAttrs(out, onnx_node.op_type))]
