"""HardSwish, x * max(0, min(1, x/6 + 1/2)), by table look-up (arithmetic in `ops.lut`).

The table spans [-4, 4) (1024 entries by default); below it the output is 0 and above it x
itself (the `zero` and `identity` tails), both exact there, since the ramp ends at -3 and +3.
"""
from __future__ import annotations

import numpy as np

from .base import Op, op
from .hard_sigmoid import hard_sigmoid
from .lut import LutOp


def hard_swish(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x * hard_sigmoid(x, 1.0 / 6.0, 0.5)


@op("HardSwish")
class HardSwish(LutOp, Op):
    onnx_ops = ("HardSwish",)
    func = staticmethod(hard_swish)
    default_range_log2 = 2
    tails = ("zero", "identity")
