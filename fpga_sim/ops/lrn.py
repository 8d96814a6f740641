"""LRN (local response normalisation across channels), executed on the host, not the accelerator.

    y = x / (bias + alpha / size * sum_{c' in window(c)} x[c']^2) ^ beta      (ONNX LRN)

Computed in float64 from the dequantised input and converted to the result type exactly as
`result_t y = (double)v;` does (result_t's rounding and overflow): a C++ host must use double
arithmetic and pow/sqrt from its libm; a last-ulp libm difference can move a value by one LSB
only when it lands exactly on a rounding boundary.  The report marks the layer "host".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..graph import Node
from .base import Op, op
from .common import element_cost, in_type, node_name, result_type, unsupported


@dataclass(frozen=True)
class LrnAttrs:
    """ONNX LRN attributes with the spec's defaults (size is required)."""

    size: int
    alpha: float = 1e-4
    beta: float = 0.75
    bias: float = 1.0


@op("LRN")
class Lrn(Op):
    onnx_ops = ("LRN",)
    template = "lrn"
    on_accelerator = False

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        a = ctx.attrs(onnx_node)
        if "size" not in a or int(a["size"]) < 1:
            raise unsupported(ctx, onnx_node, "the required attribute size (>= 1) is missing")
        shape = tuple(ctx.shape(onnx_node.input[0]))
        if len(shape) < 1:
            raise unsupported(ctx, onnx_node, "the input needs a channel axis")
        attrs = LrnAttrs(int(a["size"]), float(a.get("alpha", 1e-4)), float(a.get("beta", 0.75)), float(a.get("bias", 1.0)))
        return [Node(node_name(onnx_node), "LRN", [onnx_node.input[0]], [onnx_node.output[0]], attrs)]

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(in_shapes[0])]

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        a: LrnAttrs = node.attrs
        x = np.asarray(inputs[0], dtype=np.float64)
        c = x.shape[1]
        sq = x * x
        csum = np.concatenate([np.zeros_like(sq[:, :1]), np.cumsum(sq, axis=1)], axis=1)
        lo = np.maximum(np.arange(c) - (a.size - 1) // 2, 0)
        hi = np.minimum(np.arange(c) + -(-(a.size - 1) // 2), c - 1) + 1
        window = np.take(csum, hi, axis=1) - np.take(csum, lo, axis=1)
        y = x / (a.bias + a.alpha / a.size * window) ** a.beta
        return [np.maximum(y, 0.0) if node.activation == "relu" else y]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        x = in_type(qg, node).to_float(inputs[0])
        raw, n = result_type(qg, node).quantize_counted(self.run_float(node, [x])[0])
        return [raw], n

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """On the host: reported, not costed in cycles."""
        return element_cost(self, node, qg, hw, ops_per_output=node.attrs.size + 3)
