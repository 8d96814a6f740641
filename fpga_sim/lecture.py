"""The lecture's `fixed_point(X, NOB, NOIB)`, reproduced on top of `Fixed`.

The slide's function (Python 2, after Courbariaux et al., ICLR 2015)::

    power = 2.**(NOB - NOIB); max = 2.**NOB - 1
    value = numpy.clip(round(X * power), -max, max) / power

NOB counts the bits without the sign (it saturates at +-(2**NOB - 1)), NOIB the integer bits
without the sign, and Python 2's `round` rounds halves away from zero (Python 3's rounds to
even: fixed_point(1.25, 3, 2) would print 1.0 instead of the slide's 1.5).  So the function is
the ap_fixed type `Fixed(NOB+1, NOIB+1, rounding="AP_RND_INF", overflow="AP_SAT_SYM")`:
one sign bit on top, round half away from zero, symmetric saturation.

Two places where the slide and ap_fixed part ways, and the slide wins here: NaN stays NaN (the
slide's numpy arithmetic), and NOB = 0 gives 0 for every input (clip to [-0, 0]), whereas
ap_fixed<1,...,AP_SAT_SYM> keeps its only negative code.
"""
from __future__ import annotations

import numbers

import numpy as np

from .errors import FpgaSimError
from .fixed import Fixed


def lecture_type(NOB: int, NOIB: int) -> Fixed:
    """The Fixed type that `fixed_point(X, NOB, NOIB)` rounds and saturates like."""
    for name, v in (("NOB", NOB), ("NOIB", NOIB)):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise FpgaSimError(f"fixed_point: {name}={v!r} must be an integer")
    if not 0 <= NOB <= 63:
        raise FpgaSimError(
            f"fixed_point: NOB={NOB!r} is the number of bits without the sign and must be 0..63 "
            "(the value plus its sign bit is held in an int64)")
    try:
        return Fixed(int(NOB) + 1, int(NOIB) + 1, True, "AP_RND_INF", "AP_SAT_SYM")
    except FpgaSimError as e:
        raise FpgaSimError(f"fixed_point: NOB={NOB!r}, NOIB={NOIB!r} is not supported: {e}") from None


def fixed_point(X, NOB: int, NOIB: int):
    """The lecture's fixed_point: X rounded to NOB-NOIB fractional bits, half away from zero,
    saturated at +-(2**NOB - 1) LSBs.  Scalars give a float, arrays an array of float64."""
    t = lecture_type(NOB, NOIB)
    x = np.asarray(X, dtype=np.float64)
    out = t.to_float(t.quantize(x))
    if NOB == 0:
        out = np.zeros_like(out)
    out = np.where(np.isnan(x), np.nan, out)
    return float(out) if out.ndim == 0 else out
