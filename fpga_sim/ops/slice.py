"""Slice with steps (negative too), negative starts/ends and any per-sample axes, as ONNX
defines it (opset 1-9 attributes, 10+ constant inputs; ends clamped, INT_MAX/INT_MIN accepted).

Per axis the output reads input indices start, start + step, ... (an index map, `ops.remap`:
tables `(start + step * j) * stride`).  Integer arithmetic: one cast per output element from the
input type to the result type (none by default).  Split lowers to one Slice node per output.

Refused, with one sentence: a step of 0, an axis given twice, a slice of the batch axis (other
than the whole of it), an empty result, non-constant starts/ends/axes/steps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..graph import Node
from .base import op
from .common import node_name, unsupported
from .remap import IndexMap, RemapOp, axis_table, data_input, per_sample_axis, strides

BIG = 1 << 62          # |end| beyond this: "to the end", as exporters write INT64_MAX


@dataclass(frozen=True)
class SliceAttrs:
    """Per per-sample axis: the first index and the step (every axis listed; untouched: 0, 1)."""

    starts: tuple[int, ...]
    steps: tuple[int, ...]
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]


def clamp_range(dim: int, start: int, end: int, step: int) -> tuple[int, int]:
    """ONNX's clamping of (start, end) on an axis of `dim` elements -> (first index, count)."""
    if start < 0:
        start += dim
    if end < 0:
        end += dim
    if step > 0:
        start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        count = max(0, -(-(end - start) // step))
    else:
        start, end = min(max(start, -1), dim - 1), min(max(end, -1), dim - 1)
        count = max(0, -(-(start - end) // -step))
    return start, count


def slice_node(ctx: Any, onnx_node: Any, name: str, x: str, y: str, shape: tuple[int, ...],
               ranges: dict[int, tuple[int, int, int]]) -> Node:
    """A Slice node on per-sample axes: ranges[axis] = (start, end, step) before clamping."""
    starts, steps, out = [], [], []
    for k, d in enumerate(shape):
        s, e, st = ranges.get(k, (0, d, 1))
        first, count = clamp_range(d, s, e, st)
        if count == 0:
            raise unsupported(ctx, onnx_node, f"the slice {s}:{e}:{st} of axis {k + 1} (size {d}) is empty; "
                                              f"slices that keep at least one element are supported")
        starts.append(first)
        steps.append(st)
        out.append(count)
    return Node(name, "Slice", [x], [y], SliceAttrs(tuple(starts), tuple(steps), (tuple(shape),), tuple(out)))


def _ints(ctx: Any, onnx_node: Any, tensor: str, what: str) -> list[int] | None:
    if not tensor:
        return None
    v = ctx.const(tensor)
    if v is None:
        raise unsupported(ctx, onnx_node, f"{what} is not a constant; constant {what} are supported")
    return [int(i) for i in np.asarray(v).reshape(-1)]


@op("Slice")
class Slice(RemapOp):
    onnx_ops = ("Slice",)

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        x, shape = data_input(ctx, onnx_node)
        rank = len(shape) + 1
        if ctx.opset < 10:
            a = ctx.attrs(onnx_node)
            starts, ends = [int(v) for v in a.get("starts", [])], [int(v) for v in a.get("ends", [])]
            axes, steps = a.get("axes"), None
            axes = [int(v) for v in axes] if axes is not None else None
        else:
            ins = list(onnx_node.input) + [""] * 5
            starts, ends = _ints(ctx, onnx_node, ins[1], "starts"), _ints(ctx, onnx_node, ins[2], "ends")
            axes, steps = _ints(ctx, onnx_node, ins[3], "axes"), _ints(ctx, onnx_node, ins[4], "steps")
        axes = list(range(len(starts))) if axes is None else axes
        steps = [1] * len(starts) if steps is None else steps
        if not len(starts) == len(ends) == len(axes) == len(steps):
            raise unsupported(ctx, onnx_node, f"starts, ends, axes and steps have lengths {len(starts)}, {len(ends)}, "
                                              f"{len(axes)}, {len(steps)}; equal lengths are accepted")
        ranges: dict[int, tuple[int, int, int]] = {}
        seen = set()
        for s, e, ax, st in zip(starts, ends, axes, steps):
            if st == 0:
                raise unsupported(ctx, onnx_node, f"step 0 on axis {ax}; non-zero steps are accepted")
            a_full = ax + rank if ax < 0 else ax
            if a_full in seen:
                raise unsupported(ctx, onnx_node, f"axis {ax} is given twice; each axis at most once is accepted")
            seen.add(a_full)
            if a_full == 0:
                if st == 1 and (s == 0 or s <= -(1 << 31)) and e >= (1 << 31) - 1:
                    continue            # the whole batch axis: nothing to do
                raise unsupported(ctx, onnx_node, f"the slice {s}:{e}:{st} cuts the batch axis 0; slices of "
                                                  f"per-sample axes (and the whole batch axis) are supported")
            k = per_sample_axis(ctx, onnx_node, ax, rank)
            clip = lambda v: max(min(v, BIG), -BIG)  # noqa: E731  (INT64 extremes stay exact ints)
            ranges[k] = (clip(s), clip(e), st)
        return [slice_node(ctx, onnx_node, node_name(onnx_node), x, onnx_node.output[0], shape, ranges)]

    def maps(self, node: Node) -> list[IndexMap]:
        a = node.attrs
        st = strides(a.in_shapes[0])
        tabs = tuple(axis_table(s, range(first, first + step * n, step)) for s, first, step, n in
                     zip(st, a.starts, a.steps, a.out_shape))
        return [IndexMap(a.out_shape, tabs)]
