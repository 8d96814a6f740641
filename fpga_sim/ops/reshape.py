"""Flatten and Reshape (and, lowered by their own modules, Squeeze/Unsqueeze and Transposes
that only move axes of size 1): layout changes, no arithmetic.

The row-major order of the per-sample elements never changes, so on the accelerator the layer
is a renaming of a buffer.  Integer arithmetic (per element, only when the types differ):

    result_t y = (result_t)x;        // one cast: result_t's rounding/overflow

Accepted: Flatten whose axis keeps the batch apart (every axis between the batch and `axis`
has size 1); Reshape to a constant shape that keeps the batch axis first (0 copies, -1 infers
the per-sample size when the batch entry is 0 or 1; allowzero=1 with a 0 is refused).  Anything
else is an UnsupportedModelError.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..graph import Node
from ..results import LayerReport
from .base import Op, op
from .common import apply_activation, cast, in_type, node_name, out_size, result_type, unsupported


@dataclass(frozen=True)
class ReshapeAttrs:
    """The per-sample output shape, and the ONNX op it came from."""

    shape: tuple[int, ...]
    source: str = "Reshape"


def _flatten(onnx_node: Any, ctx: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    rank = len(shape) + 1
    axis = int(ctx.attrs(onnx_node).get("axis", 1))
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis <= rank:
        raise unsupported(ctx, onnx_node, f"axis {axis} is out of range for a rank-{rank} input")
    if axis == 0 or any(d != 1 for d in shape[:axis - 1]):
        raise unsupported(ctx, onnx_node, f"axis {axis} would mix the batch with the per-sample axes {shape}; axis 1 is accepted")
    return (int(np.prod(shape[axis - 1:], dtype=np.int64)),)


def _reshape(onnx_node: Any, ctx: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    if len(onnx_node.input) < 2:   # opset 1-4: the shape is an attribute
        target = ctx.attrs(onnx_node).get("shape")
    else:
        target = ctx.const(onnx_node.input[1])
    if target is None:
        raise unsupported(ctx, onnx_node, "the target shape is not a constant; only constant (or folded) shapes are supported")
    target = [int(v) for v in np.asarray(target).reshape(-1)]
    if not target:
        raise unsupported(ctx, onnx_node, "a reshape to a scalar drops the batch axis")
    allowzero = int(ctx.attrs(onnx_node).get("allowzero", 0))
    if allowzero and 0 in target:
        raise unsupported(ctx, onnx_node, "allowzero=1 with a 0 in the shape makes an empty tensor")
    size = int(np.prod(shape, dtype=np.int64))
    rest = []
    for i, d in enumerate(target[1:], start=1):
        if d == 0:
            if i - 1 >= len(shape):
                raise unsupported(ctx, onnx_node, f"shape entry {i} is 0 but the input has no axis {i}")
            d = shape[i - 1]
        rest.append(d)
    if rest.count(-1) > 1 or (rest.count(-1) == 1 and target[0] == -1):
        raise unsupported(ctx, onnx_node, f"target shape {target} has more than one -1 once the batch axis is kept first")
    if -1 in rest and target[0] not in (0, 1):
        raise unsupported(ctx, onnx_node, f"target shape {target} infers a -1 against a batch of {target[0]}; "
                                          f"with a -1 the batch entry must be 0 or 1 (one sample per batch entry)")
    if -1 in rest:
        known = int(np.prod([d for d in rest if d != -1], dtype=np.int64))
        if known == 0 or size % known:
            raise unsupported(ctx, onnx_node, f"cannot infer -1 in {target} from {size} elements per sample")
        rest[rest.index(-1)] = size // known
    if target[0] not in (0, -1) and target[0] < 1 or int(np.prod(rest, dtype=np.int64)) != size:
        raise unsupported(ctx, onnx_node, f"target shape {target} does not keep the batch axis first with "
                                          f"{size} elements per sample (input per-sample shape {shape})")
    return tuple(rest)


@op("Reshape")
class Reshape(Op):
    onnx_ops = ("Flatten", "Reshape")
    keeps_input_type = True
    template = "layer"

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        shape = tuple(ctx.shape(onnx_node.input[0]))
        if ctx.const(onnx_node.input[0]) is not None:
            raise unsupported(ctx, onnx_node, "the data input is a constant; constant folding should have removed this node")
        build = {"Flatten": _flatten, "Reshape": _reshape}[onnx_node.op_type]
        out = build(onnx_node, ctx, shape)
        return [Node(node_name(onnx_node), "Reshape", [onnx_node.input[0]], [onnx_node.output[0]],
                     ReshapeAttrs(tuple(int(d) for d in out), onnx_node.op_type))]

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        if int(np.prod(in_shapes[0], dtype=np.int64)) != int(np.prod(node.attrs.shape, dtype=np.int64)):
            raise ValueError(f"node {node.name!r}: cannot reshape {tuple(in_shapes[0])} into {node.attrs.shape}")
        return [node.attrs.shape]

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = np.asarray(inputs[0], dtype=np.float64)
        y = x.reshape((x.shape[0],) + node.attrs.shape)
        return [np.maximum(y, 0.0) if node.activation == "relu" else y]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        x = np.asarray(inputs[0], dtype=np.int64)
        y, n = cast(x.reshape((x.shape[0],) + node.attrs.shape), in_type(qg, node), result_type(qg, node))
        return [apply_activation(node, y)], n

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """Free when the types agree (a buffer renamed in place); otherwise a cast per element."""
        if in_type(qg, node) == result_type(qg, node) and node.activation is None:
            return LayerReport(name=node.name, op=node.op, outputs=out_size(qg, node), bound="layout",
                               notes="layout change only: no data moved, no cycles")
        from .common import element_cost
        return element_cost(self, node, qg, hw, ops_per_output=1, notes="types differ: a cast per element")
