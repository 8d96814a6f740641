"""Fuse a ReLU into the layer before it when its op says `relu_fusable` (Conv, Dense) (Node.activation = "relu"), as HLS layers do.

Only when the layer's output feeds nothing but the ReLU: the fused layer then produces the
ReLU's tensor (its ONNX name), so the comparison with onnxruntime still lines up.
"""
from __future__ import annotations

from ..graph import Graph, Node
from ..ops import get_op
from .base import NodePass


def _is_plain_relu(n: Node) -> bool:
    """A Relu node that is max(x, 0) (the Relu op also carries Clip, e.g. ReLU6: not fused)."""
    if n.op != "Relu" or n.activation is not None:
        return False
    lo, hi = getattr(n.attrs, "lo", 0.0), getattr(n.attrs, "hi", None)
    return lo == 0 and hi is None


class FuseRelu(NodePass):
    """Conv/Dense (any `relu_fusable` op) -> Relu with no other reader of the intermediate -> Conv/Dense(activation="relu")."""

    name = "fuse_relu"

    def _relu_after(self, g: Graph, n: Node) -> Node | None:
        if not get_op(n.op).relu_fusable or n.activation is not None or len(n.outputs) != 1:
            return None
        t = n.outputs[0]
        if t in g.outputs:
            return None
        users = g.consumers(t)
        if len(users) != 1 or not _is_plain_relu(users[0]):
            return None
        return users[0]

    def match(self, g: Graph, n: Node) -> bool:
        return self._relu_after(g, n) is not None

    def rewrite(self, g: Graph, n: Node) -> None:
        relu = self._relu_after(g, n)
        old, new = n.outputs[0], relu.outputs[0]
        n.outputs = [new]
        n.activation = "relu"
        g.nodes[:] = [m for m in g.nodes if m is not relu]
        g.shapes.pop(old, None)
