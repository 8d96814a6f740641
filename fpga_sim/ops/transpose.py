"""Transpose by any permutation that keeps the batch axis first (the channel shuffle of
ShuffleNet, the token-mixing transposes of MLP-Mixer, NCHW <-> NHWC, attention heads).

Output axis k of the per-sample tensor reads input axis perm[k]: an index map (`ops.remap`)
whose tables are the input's strides in permuted order.  Integer arithmetic: one cast per output
element from the input type to the result type (none by default: `keeps_input_type`).

A permutation that only moves axes of size 1 is a layout change: it lowers to a free Reshape.
Refused, with one sentence: a perm that is not a permutation of the axes, one that moves the
batch axis, a constant data input (constant folding handles it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..graph import Node
from .base import op
from .common import node_name, unsupported
from .remap import IndexMap, RemapOp, axis_table, data_input, strides
from .reshape import ReshapeAttrs


@dataclass(frozen=True)
class TransposeAttrs:
    """perm of the per-sample axes (output axis k = input axis perm[k]) and the shapes."""

    perm: tuple[int, ...]
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]


def per_sample_perm(ctx: Any, onnx_node: Any, rank: int) -> tuple[int, ...]:
    """The ONNX perm (default: reversed axes) checked and turned into a per-sample perm."""
    raw = ctx.attrs(onnx_node).get("perm")
    perm = list(range(rank))[::-1] if raw is None else [int(p) for p in raw]
    if sorted(perm) != list(range(rank)):
        raise unsupported(ctx, onnx_node, f"perm {perm} is not a permutation of the {rank} axes 0..{rank - 1}; "
                                          f"a permutation of each axis exactly once is accepted")
    if perm[0] != 0:
        raise unsupported(ctx, onnx_node, f"perm {perm} moves the batch axis 0; permutations that keep axis 0 first are supported")
    return tuple(p - 1 for p in perm[1:])


@op("Transpose")
class Transpose(RemapOp):
    onnx_ops = ("Transpose",)

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        x, shape = data_input(ctx, onnx_node)
        perm = per_sample_perm(ctx, onnx_node, len(shape) + 1)
        out = tuple(shape[p] for p in perm)
        name = node_name(onnx_node)
        if [p for p in perm if shape[p] != 1] == [p for p in range(len(shape)) if shape[p] != 1]:
            return [Node(name, "Reshape", [x], [onnx_node.output[0]], ReshapeAttrs(out, "Transpose"))]
        return [Node(name, "Transpose", [x], [onnx_node.output[0]], TransposeAttrs(perm, (shape,), out))]

    def maps(self, node: Node) -> list[IndexMap]:
        a = node.attrs
        shape = a.in_shapes[0]
        st = strides(shape)
        return [IndexMap(a.out_shape, tuple(axis_table(st[p], range(shape[p])) for p in a.perm))]
