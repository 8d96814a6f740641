"""Split of an activation along a per-sample axis, lowered to one Slice node per output (each
output is a plain slice; the arithmetic is Slice's: one cast per element, none by default).

Sizes come from the `split` attribute (opset < 13), the `split` input (13+, constant), or equal
parts: the axis must divide evenly (opset < 18); opset 18's `num_outputs` takes ceil(d / n)
per part with a smaller last one, as ONNX defines it.  Refused, with one sentence: sizes that do
not sum to the axis, a number of sizes other than the number of outputs, the batch axis.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Node
from .base import Op, op
from .common import node_name, unsupported
from .remap import per_sample_axis
from .slice import slice_node


def split_sizes(ctx: Any, onnx_node: Any, dim: int) -> list[int]:
    """The sizes of the parts, checked against the axis and the number of outputs."""
    a = ctx.attrs(onnx_node)
    n_out = len(onnx_node.output)
    sizes = None
    if ctx.opset < 13 and "split" in a:
        sizes = [int(v) for v in a["split"]]
    elif ctx.opset >= 13 and len(onnx_node.input) > 1 and onnx_node.input[1]:
        v = ctx.const(onnx_node.input[1])
        if v is None:
            raise unsupported(ctx, onnx_node, "the split sizes are not a constant; constant sizes are supported")
        sizes = [int(s) for s in np.asarray(v).reshape(-1)]
    if sizes is None:
        if "num_outputs" in a and int(a["num_outputs"]) != n_out:
            raise unsupported(ctx, onnx_node, f"num_outputs {a['num_outputs']} differs from the node's {n_out} outputs; equal counts are accepted")
        if ctx.opset >= 18 and "num_outputs" in a:
            part = -(-dim // n_out)
            sizes = [min(part, dim - part * i) for i in range(n_out)]
        elif dim % n_out:
            raise unsupported(ctx, onnx_node, f"the axis of size {dim} does not split into {n_out} equal parts; "
                                              f"give split sizes, or an axis divisible by the number of outputs")
        else:
            sizes = [dim // n_out] * n_out
    if len(sizes) != n_out:
        raise unsupported(ctx, onnx_node, f"{len(sizes)} split sizes {sizes} for {n_out} outputs; one size per output is accepted")
    if sum(sizes) != dim or any(s <= 0 for s in sizes):
        raise unsupported(ctx, onnx_node, f"split sizes {sizes} sum to {sum(sizes)} but the axis has {dim} elements; "
                                          f"positive sizes summing to {dim} are accepted")
    return sizes


@op("Split")
class Split(Op):
    """Lowering only: the graph holds the Slice nodes it produces (no "Split" node exists)."""

    onnx_ops = ("Split",)

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        x = onnx_node.input[0]
        shape = tuple(int(d) for d in ctx.shape(x))
        axis = per_sample_axis(ctx, onnx_node, ctx.attrs(onnx_node).get("axis", 0), len(shape) + 1)
        sizes = split_sizes(ctx, onnx_node, shape[axis])
        nodes, start = [], 0
        for k, (y, n) in enumerate(zip(onnx_node.output, sizes)):
            if y:
                nodes.append(slice_node(ctx, onnx_node, f"{node_name(onnx_node)}/{k}", x, y, shape,
                                        {axis: (start, start + n, 1)}))
            start += n
        return nodes
