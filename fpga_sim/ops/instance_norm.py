"""InstanceNormalization: each channel of each sample normalised over its spatial positions,
with a per-channel scale and bias; the integer arithmetic is LayerNorm's (`ops.layer_norm`)
with rows = channels and M = H*W."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..graph import Node
from .base import Op, op
from .common import node_name, unsupported
from .layer_norm import NormAttrs, NormOp


@op("InstanceNormalization")
class InstanceNormalization(NormOp, Op):
    onnx_ops = ("InstanceNormalization",)

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        shape = tuple(ctx.shape(onnx_node.input[0]))
        if len(shape) < 2:
            raise unsupported(ctx, onnx_node, f"input of per-sample shape {shape}; (C, spatial...) is accepted")
        params = []
        for k, what in ((1, "scale"), (2, "bias")):
            v = ctx.const(onnx_node.input[k])
            if v is None or np.asarray(v).size != shape[0]:
                raise unsupported(ctx, onnx_node, f"the {what} must be a constant with one value per channel ({shape[0]})")
            params.append(np.asarray(v, np.float64).reshape(-1))
        m = int(np.prod(shape[1:]))
        attrs = NormAttrs(epsilon=float(ctx.attrs(onnx_node).get("epsilon", 1e-5)), per_channel=True)
        return [Node(node_name(onnx_node), self.name, [onnx_node.input[0]], [onnx_node.output[0]], attrs,
                     params={"scale": params[0] * math.sqrt(m), "bias": params[1]})]
