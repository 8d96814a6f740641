"""HardSigmoid, max(0, min(1, alpha*x + beta)), by table look-up (arithmetic in `ops.lut`).

The table spans the smallest [-2^r, 2^r) holding both corners of the ramp (x = -beta/alpha and
(1-beta)/alpha; r = 2 for ONNX's default alpha 0.2 and PyTorch's 1/6); beyond it both tails
clamp, which is exact there (0 below, 1 above).  Inside, the error is that of a table of 2^n
entries (at most alpha * bin / 2 plus the entries' rounding), visible in the comparison.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import Op, op
from .lut import LutAttrs, LutOp


def hard_sigmoid(x: np.ndarray, alpha: float = 0.2, beta: float = 0.5) -> np.ndarray:
    return np.clip(alpha * np.asarray(x, dtype=np.float64) + beta, 0.0, 1.0)


def ramp_range_log2(alpha: float, beta: float) -> int:
    """The smallest r whose table range [-2^r, 2^r) holds both corners of the ramp."""
    if alpha == 0:
        return 1
    corner = max(abs(-beta / alpha), abs((1.0 - beta) / alpha), 1.0)
    return max(1, math.ceil(math.log2(corner * (1 + 1e-12))))


@op("HardSigmoid")
class HardSigmoid(LutOp, Op):
    onnx_ops = ("HardSigmoid",)

    def default_attrs(self, onnx_attrs: dict[str, Any]) -> LutAttrs:
        alpha, beta = float(onnx_attrs.get("alpha", 0.2)), float(onnx_attrs.get("beta", 0.5))
        return LutAttrs(range_log2=ramp_range_log2(alpha, beta), coeffs=(alpha, beta))

    def evaluate(self, x: np.ndarray, attrs: LutAttrs) -> np.ndarray:
        return hard_sigmoid(x, *attrs.coeffs)
