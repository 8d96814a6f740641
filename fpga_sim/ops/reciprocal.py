"""Reciprocal, 1/x, by a normalised mantissa table (arithmetic in `ops.mantissa_lut`): relative
error ~2^-11 at every magnitude with the default 1024 entries of 18 bits; 1/0 reads x as one LSB
(the result type saturates or wraps as it says)."""
from __future__ import annotations

import numpy as np

from .base import Op, op
from .mantissa_lut import MantissaOp


@op("Reciprocal")
class Reciprocal(MantissaOp, Op):
    onnx_ops = ("Reciprocal",)
    kind = "recip"
    func = staticmethod(np.reciprocal)      # applied to float64 arrays
