"""GELU, exact x * Phi(x) = x/2 * (1 + erf(x/sqrt2)) or its tanh form, by table look-up.

ONNX has `Gelu` (opset 20, approximate = "none" | "tanh"); older exporters write the exact form
decomposed, x * 0.5 * (1 + erf(x / sqrt2)) in any order, which the `fuse_patterns` pass turns
into this op.  The table spans [-4, 4) (1024 entries by default); below it the output is 0
(true value >= -1.3e-4 there), above it x (the `zero` and `identity` tails).  Arithmetic in
`ops.lut`.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..graph import Node
from .base import Op, op
from .common import unsupported
from .erf import erf
from .lut import LutAttrs, LutOp

VARIANTS = ("none", "tanh")


def _form(onnx_attrs: dict[str, Any]) -> str:
    form = onnx_attrs.get("approximate", "none")
    return form.decode() if isinstance(form, bytes) else str(form)


def gelu(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


@op("Gelu")
class Gelu(LutOp, Op):
    onnx_ops = ("Gelu",)
    tails = ("zero", "identity")
    default_range_log2 = 2

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        form = _form(ctx.attrs(onnx_node))
        if form not in VARIANTS:
            raise unsupported(ctx, onnx_node, f"approximate={form!r} is not known; accepted: {', '.join(VARIANTS)}")
        return super().lower(onnx_node, ctx)

    def default_attrs(self, onnx_attrs: dict[str, Any]) -> LutAttrs:
        return LutAttrs(range_log2=2, below="zero", above="identity", variant=_form(onnx_attrs))

    def evaluate(self, x: np.ndarray, attrs: LutAttrs) -> np.ndarray:
        return gelu(x, attrs.variant or "none")
