"""Transpose by any permutation of the per-sample axes (the channel shuffle of ShuffleNet, the
token-mixing transposes of MLP-Mixer, NCHW <-> NHWC, attention heads), and by one that moves the
batch axis where a batch of one makes that a per-sample transpose.

Output axis k of the per-sample tensor reads input axis perm[k]: an index map (`ops.remap`)
whose tables are the input's strides in permuted order.  Integer arithmetic: one cast per output
element from the input type to the result type (none by default: `keeps_input_type`).

The batch axis: fpga-sim keeps it first (`graph.shapes` drops it), so a perm may move it only
where an axis of size 1 takes its place at the front.  With one sample the two size-1 axes
are interchangeable, so ONNX's (1, 1, T, D) -> perm [1, 3, 0, 2] -> (1, D, 1, T) is the
per-sample (1, T, D) -> perm [2, 0, 1] -> (D, 1, T), reading the size-1 axis where the batch
went.  That is exact for a batch of 1; a model whose batch dimension is the constant 1 runs any batch
as that many single-sample inferences (onnxruntime takes one at a time); a model with a symbolic
batch is refused at simulate time for a batch above 1 (there the batch would enter the sample).

A permutation that only moves axes of size 1 is a layout change: it lowers to a free Reshape
(unless it moves the batch of a model whose batch is symbolic: the batch is checked).  Refused, with one sentence: a perm that is not a permutation of the axes,
one that brings an axis longer than 1 to the batch's place, a constant data input (constant
folding handles it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UnsupportedModelError
from ..graph import Node
from .base import op
from .common import node_name, unsupported
from .remap import IndexMap, RemapOp, axis_table, data_input, strides
from .reshape import ReshapeAttrs


@dataclass(frozen=True)
class TransposeAttrs:
    """perm of the per-sample axes (output axis k = input axis perm[k]) and the shapes; for a perm
    that moves the batch, `onnx_perm` (the model's) and `batch_one` (the model's batch is 1)."""

    perm: tuple[int, ...]
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]
    onnx_perm: tuple[int, ...] | None = None
    batch_one: bool = False


def per_sample_perm(ctx: Any, onnx_node: Any, shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    """The ONNX perm (default: reversed axes) checked and turned into a per-sample perm, with the
    ONNX perm itself when it moves the batch axis (else None)."""
    rank = len(shape) + 1
    raw = ctx.attrs(onnx_node).get("perm")
    perm = list(range(rank))[::-1] if raw is None else [int(p) for p in raw]
    if sorted(perm) != list(range(rank)):
        raise unsupported(ctx, onnx_node, f"perm {perm} is not a permutation of the {rank} axes 0..{rank - 1}; "
                                          f"a permutation of each axis exactly once is accepted")
    if perm[0] == 0:
        return tuple(p - 1 for p in perm[1:]), None
    front = perm[0]
    if shape[front - 1] != 1:
        raise unsupported(ctx, onnx_node, f"perm {perm} brings axis {front} (size {shape[front - 1]}) to the front, where "
                                          f"fpga-sim keeps the batch axis; perms that keep axis 0 first, or bring an "
                                          f"axis of size 1 there (exact at batch 1), are accepted")
    # one sample: the batch's new place reads the size-1 axis that took the batch's place
    return tuple((front if p == 0 else p) - 1 for p in perm[1:]), tuple(perm)


@op("Transpose")
class Transpose(RemapOp):
    onnx_ops = ("Transpose",)

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        x, shape = data_input(ctx, onnx_node)
        perm, onnx_perm = per_sample_perm(ctx, onnx_node, shape)
        out = tuple(shape[p] for p in perm)
        name = node_name(onnx_node)
        moves_data = [p for p in perm if shape[p] != 1] != [p for p in range(len(shape)) if shape[p] != 1]
        if not moves_data and (onnx_perm is None or ctx.batch_one):
            return [Node(name, "Reshape", [x], [onnx_node.output[0]], ReshapeAttrs(out, "Transpose"))]
        attrs = TransposeAttrs(perm, (shape,), out, onnx_perm, onnx_perm is not None and ctx.batch_one)
        return [Node(name, "Transpose", [x], [onnx_node.output[0]], attrs)]

    def maps(self, node: Node) -> list[IndexMap]:
        a = node.attrs
        shape = a.in_shapes[0]
        st = strides(shape)
        return [IndexMap(a.out_shape, tuple(axis_table(st[p], range(shape[p])) for p in a.perm))]

    def _check_batch(self, node: Node, x: np.ndarray) -> None:
        """A perm that moves the batch, in a model with a symbolic batch, at a batch above 1: refused."""
        a = node.attrs
        if a.onnx_perm is not None and not a.batch_one and x.shape[0] != 1:
            raise UnsupportedModelError(
                f"node {node.name!r} (Transpose): perm {list(a.onnx_perm)} moves the batch axis 0 to axis "
                f"{a.onnx_perm.index(0)}, which is a per-sample transpose only for a batch of 1, but the batch "
                f"is {x.shape[0]}; a batch of 1, or a model whose batch dimension is the constant 1 (each "
                f"sample then runs alone), is accepted")

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        self._check_batch(node, inputs[0])
        return super().run_float(node, inputs)

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        self._check_batch(node, inputs[0])
        return super().run_fixed(node, inputs, qg)
