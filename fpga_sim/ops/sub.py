"""Sub, a - b: the Add op's sum with the second term subtracted (arithmetic in `ops.add`).

Either input may be a constant (it becomes the signed "bias" addend); activations broadcast as
in Add.  In HLS the subtracted input is `acc -= (accum_t)b[i]`, so a - b is one pass through the
same accumulator, and the safe accumulator (one bit of growth) holds every difference.
"""
from __future__ import annotations

from typing import Any

from ..graph import Node
from .add import Add
from .base import op


@op("Sub")
class Sub(Add):
    onnx_ops = ("Sub",)
    template = "layer"
    keeps_input_type = False
    relu_fusable = False

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        return self.lower_signed(onnx_node, ctx, [1, -1])
