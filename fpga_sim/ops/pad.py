"""Constant Pad: the input cast to the result type, surrounded by a constant.

Integer arithmetic (per output element):

    // VALUE: the pad constant as a raw result_t (quantised with result_t's rounding/overflow)
    result_t y = inside ? (result_t)x[...] : VALUE;   // one cast of each input element
    // fused ReLU, if any, after: if (y < 0) y = 0;

Opsets 2-10 take pads/value as attributes, 11+ as inputs (pads must be a constant, the value
a constant scalar; opset 18's axes input too).  Only mode "constant", non-negative pads and no
padding of the batch axis are supported.  Overflows counted: input casts that wrapped/saturated
(a saturating pad value is counted when it is quantised).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..graph import LayerTypes, Node
from .base import Op, op
from .common import apply_activation, cast, element_cost, in_type, node_name, result_type, unsupported


@dataclass(frozen=True)
class PadAttrs:
    """(begin, end) per per-sample axis; the value is the "value" param."""

    pads: tuple[tuple[int, int], ...]


@op("Pad")
class Pad(Op):
    onnx_ops = ("Pad",)
    keeps_input_type = True
    template = "layer"

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        a = ctx.attrs(onnx_node)
        shape = tuple(ctx.shape(onnx_node.input[0]))
        rank = len(shape) + 1
        mode = a.get("mode", "constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode != "constant":
            raise unsupported(ctx, onnx_node, f"mode {mode!r} is not supported; only 'constant' is")
        inputs = list(onnx_node.input) + [""] * 4
        if ctx.opset < 11:
            pads, value = a.get("pads", a.get("paddings")), float(a.get("value", 0.0))
            axes = None
        else:
            pads = ctx.const(inputs[1])
            if pads is None:
                raise unsupported(ctx, onnx_node, "the pads input must be a constant")
            value = 0.0
            if inputs[2]:
                v = ctx.const(inputs[2])
                if v is None or np.asarray(v).size != 1:
                    raise unsupported(ctx, onnx_node, "constant_value must be a constant scalar")
                value = float(np.asarray(v).reshape(()))
            axes = None
            if inputs[3]:
                axes = ctx.const(inputs[3])
                if axes is None:
                    raise unsupported(ctx, onnx_node, "the axes input must be a constant")
                axes = [int(x) + rank if int(x) < 0 else int(x) for x in np.asarray(axes).reshape(-1)]
        if pads is None:
            raise unsupported(ctx, onnx_node, "the pads are missing")
        pads = [int(p) for p in np.asarray(pads).reshape(-1)]
        axes = list(range(rank)) if axes is None else axes
        if len(pads) != 2 * len(axes):
            raise unsupported(ctx, onnx_node, f"{len(pads)} pads for {len(axes)} axes; 2 per axis are accepted")
        full = [[0, 0] for _ in range(rank)]
        for i, ax in enumerate(axes):
            full[ax] = [pads[i], pads[i + len(axes)]]
        if min(pads) < 0:
            raise unsupported(ctx, onnx_node, f"negative pads {pads} (cropping) are not supported")
        if full[0] != [0, 0]:
            raise unsupported(ctx, onnx_node, "padding the batch axis is not supported")
        return [Node(node_name(onnx_node), "Pad", [onnx_node.input[0]], [onnx_node.output[0]],
                     PadAttrs(tuple((b, e) for b, e in full[1:])), params={"value": np.array([value])})]

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(int(d) + b + e for d, (b, e) in zip(in_shapes[0], node.attrs.pads))]

    def quantize_params(self, node: Node, types: LayerTypes) -> tuple[dict[str, np.ndarray], int]:
        raw, n = types.result.quantize_counted(node.params["value"])
        return {"value": raw}, n

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = np.asarray(inputs[0], dtype=np.float64)
        y = np.pad(x, ((0, 0),) + node.attrs.pads, constant_values=float(node.params["value"][0]))
        return [np.maximum(y, 0.0) if node.activation == "relu" else y]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        x, n = cast(np.asarray(inputs[0], dtype=np.int64), in_type(qg, node), result_type(qg, node))
        value = int(qg.qparams[node.name]["value"][0])
        y = np.pad(x, ((0, 0),) + node.attrs.pads, constant_values=value)
        return [apply_activation(node, y)], n

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """A copy (or a constant write) per output."""
        return element_cost(self, node, qg, hw, ops_per_output=1)
