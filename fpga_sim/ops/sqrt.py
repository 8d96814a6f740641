"""Sqrt by a normalised mantissa table, two halves by the exponent's parity (arithmetic in
`ops.mantissa_lut`); x <= 0 gives 0 (ONNX gives NaN for x < 0: a fixed-point type has none)."""
from __future__ import annotations

import numpy as np

from .base import Op, op
from .mantissa_lut import MantissaOp


@op("Sqrt")
class Sqrt(MantissaOp, Op):
    onnx_ops = ("Sqrt",)
    kind = "sqrt"
    func = staticmethod(np.sqrt)      # applied to float64 arrays
