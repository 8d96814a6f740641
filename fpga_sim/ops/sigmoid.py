"""Sigmoid by table look-up over [-8, 8) (1024 entries by default); arithmetic in `ops.lut`."""
from __future__ import annotations

import numpy as np

from .base import Op, op
from .lut import LutOp


def sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # stable for large |x|


@op("Sigmoid")
class Sigmoid(LutOp, Op):
    onnx_ops = ("Sigmoid",)
    template = "sigmoid"
    func = staticmethod(sigmoid)
    default_range_log2 = 3
    op_name = "Sigmoid"
