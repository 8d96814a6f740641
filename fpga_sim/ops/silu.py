"""SiLU / Swish, x * sigmoid(alpha * x), by table look-up (arithmetic in `ops.lut`).

ONNX has `Swish` (opset 24, alpha default 1); older exporters write Mul(x, Sigmoid(x)), which
the `fuse_patterns` pass turns into this op.  The table spans [-8, 8) with 2048 entries by
default (bins of 1/128, as GELU's 1024 over [-4, 4): SiLU's wider range would otherwise halve
its resolution); below it the output is 0 (true value >= -0.0027 there), above it x (error <= 0.0027):
the `zero` and `identity` tails.  Scaled by alpha, the range is 8/alpha rounded up to 2^r.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import Op, op
from .lut import LutAttrs, LutOp
from .sigmoid import sigmoid


def silu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x * sigmoid(alpha * x)


@op("Silu")
class Silu(LutOp, Op):
    onnx_ops = ("Swish",)
    tails = ("zero", "identity")

    def default_attrs(self, onnx_attrs: dict[str, Any]) -> LutAttrs:
        alpha = float(onnx_attrs.get("alpha", 1.0))
        r = 3 if alpha == 1.0 else max(1, math.ceil(math.log2(8.0 / abs(alpha)))) if alpha else 3
        return LutAttrs(table_bits=11, range_log2=r, below=self.tails[0], above=self.tails[1], coeffs=(alpha,))

    def evaluate(self, x: np.ndarray, attrs: LutAttrs) -> np.ndarray:
        return silu(x, *attrs.coeffs)
