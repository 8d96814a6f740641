"""Sqrt by a normalised mantissa table, two halves by the exponent's parity (arithmetic in
`ops.mantissa_lut`); x <= 0 gives 0 (ONNX gives NaN for x < 0: a fixed-point type has none)."""
from __future__ import annotations

import numpy as np

from .base import Op, op
from .mantissa_lut import MantissaOp


def sqrt(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.asarray(x, dtype=np.float64))


@op("Sqrt")
class Sqrt(MantissaOp, Op):
    onnx_ops = ("Sqrt",)
    template = "layer"
    keeps_input_type = False
    relu_fusable = False
    kind = "sqrt"
    op_name = "Sqrt"
    func = staticmethod(sqrt)
