"""Sigmoid by table look-up over [-8, 8) (1024 entries by default); arithmetic in `ops.lut`."""
from __future__ import annotations

import numpy as np

from .base import Op, op
from .lut import LutOp


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x), evaluated so that neither tail overflows or cancels."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))            # in (0, 1]: never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@op("Sigmoid")
class Sigmoid(LutOp, Op):
    onnx_ops = ("Sigmoid",)
    func = staticmethod(sigmoid)
    default_range_log2 = 3
