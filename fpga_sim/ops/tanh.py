"""Tanh by table look-up over [-4, 4) (1024 entries by default); arithmetic in `ops.lut`."""
from __future__ import annotations

import numpy as np

from .base import Op, op
from .lut import LutOp


def tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(np.asarray(x, dtype=np.float64))


@op("Tanh")
class Tanh(LutOp, Op):
    onnx_ops = ("Tanh",)
    func = staticmethod(tanh)
    default_range_log2 = 2
