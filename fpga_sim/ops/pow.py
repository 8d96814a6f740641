"""Pow by the constant exponent 2: x * x, the Mul of two activations with its one input read twice
(arithmetic in `ops.mul`: an exact square and one cast).  Exponent 1 is a Mul by one; other
exponents are refused (Sqrt is its own op)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Node
from .base import op
from .common import node_name, unsupported
from .mul import Mul, MulAttrs


@op("Pow")
class Pow(Mul):
    onnx_ops = ("Pow",)
    template = "layer"
    keeps_input_type = False
    relu_fusable = False

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        x, e = onnx_node.input[0], onnx_node.input[1]
        c = ctx.const(e)
        if c is None or np.asarray(c).size != 1:
            raise unsupported(ctx, onnx_node, "the exponent must be a scalar constant; Pow by 2 is supported")
        k = float(np.asarray(c).reshape(()))
        if k == 2.0:
            return [Node(node_name(onnx_node), self.name, [x], [onnx_node.output[0]], MulAttrs(False))]
        if k == 1.0:
            return [self.scale_node(node_name(onnx_node), x, np.float64(1.0), onnx_node.output[0], ctx, onnx_node)]
        raise unsupported(ctx, onnx_node, f"exponent {k:g} is not supported; Pow by 2 (and 1) is")
