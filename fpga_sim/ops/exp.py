"""Exp by table look-up over [-8, 8) (1024 entries by default), clamped beyond: e^x for x < -8
reads e^(-8 + bin/2) (error < 3.4e-4), and above 8 the top entry (the result type saturates
long before in most designs).  Arithmetic in `ops.lut`; a softmax's exp sees x - max <= 0."""
from __future__ import annotations

import numpy as np

from .base import Op, op
from .lut import LutOp


@op("Exp")
class Exp(LutOp, Op):
    onnx_ops = ("Exp",)
    func = staticmethod(np.exp)      # applied to float64 arrays
