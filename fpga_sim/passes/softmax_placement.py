"""Run a Softmax that feeds other layers (attention) on the accelerator in fixed point.

A softmax at the end of a network is left to the host (`ops.softmax`), as FPGA designs leave
the classifier's normalisation to the CPU; one in the middle of the graph cannot be: its
readers are accelerator layers, so it becomes `ops.softmax_lut` (tables, exact sums).
"""
from __future__ import annotations

from ..graph import Graph, Node
from .base import NodePass


class PlaceSoftmax(NodePass):
    """Softmax whose output another node reads -> SoftmaxLut (same axis)."""

    name = "place_softmax"

    def match(self, g: Graph, n: Node) -> bool:
        return n.op == "Softmax" and bool(g.consumers(n.outputs[0]))

    def rewrite(self, g: Graph, n: Node) -> None:
        from ..ops.softmax_lut import SoftmaxLutAttrs

        n.op = "SoftmaxLut"
        n.attrs = SoftmaxLutAttrs(axis=n.attrs.axis, coerce2d=n.attrs.coerce2d)
        n.params = n.attrs.tables()
