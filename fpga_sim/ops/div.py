"""Div by a constant: a Mul by the constant's reciprocal, quantised in the layer's weight type
(arithmetic in `ops.mul`; y = (result_t)(x * (1/c)), an exact product and one cast).

Dividing by an activation is refused here (LayerNorm's x / sqrt(var + eps) is fused into
LayerNormalization by the `fuse_patterns` pass first); a zero divisor is refused.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Node
from .base import op
from .common import node_name, unsupported
from .mul import Mul


@op("Div")
class Div(Mul):
    onnx_ops = ("Div",)
    template = "layer"
    keeps_input_type = False
    relu_fusable = False

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        a, b = onnx_node.input[0], onnx_node.input[1]
        c = ctx.const(b)
        if c is None:
            raise unsupported(ctx, onnx_node, "the divisor is an activation; Div by a constant is supported")
        if ctx.const(a) is not None:
            raise unsupported(ctx, onnx_node, "both inputs are constants; constant folding should have removed this node")
        c = np.asarray(c, dtype=np.float64)
        if np.any(c == 0):
            raise unsupported(ctx, onnx_node, "the divisor has a zero element; a non-zero constant divisor is accepted")
        return [self.scale_node(node_name(onnx_node), a, 1.0 / c, onnx_node.output[0], ctx, onnx_node)]
