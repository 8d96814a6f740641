"""Slow, obviously-correct reference for ap_fixed semantics: Python integers and Fractions.

Used by the tests of fpga_sim.fixed and fpga_sim.fixed_kernels.  A value is decoded exactly,
multiplied by 2**frac, rounded by the mode's definition, then the overflow mode is applied to
the rounded integer.  Two ap_fixed.h details are modelled explicitly (see fixed_kernels):
its decoding of doubles (denormals with the hidden bit set and exponent -1023; infinities and
NaN with exponent 1024) and AP_SAT_SYM's "never the most negative code" (min | 1 for W = 1).
"""
from __future__ import annotations

import math
import struct
from fractions import Fraction

from fpga_sim.fixed import Fixed


def ap_double_value(x: float) -> Fraction:
    """The exact value ap_fixed's constructor reads from the bits of double x."""
    bits = struct.unpack("<Q", struct.pack("<d", float(x)))[0]
    sign, exp_field, frac_bits = bits >> 63, (bits >> 52) & 0x7FF, bits & ((1 << 52) - 1)
    if exp_field == 0 and frac_bits == 0:
        return Fraction(0)
    man = (1 << 52) | frac_bits  # hidden bit always set, even for denormals, inf and NaN
    exp = exp_field - 1023  # -1023 for denormals, 1024 for inf and NaN
    value = Fraction(man) * Fraction(2) ** (exp - 52)
    return -value if sign else value


def round_to_integer(v: Fraction, rounding: str) -> int:
    """v rounded to an integer by an ap_fixed rounding mode, straight from the definitions."""
    fl = math.floor(v)
    rem = v - fl
    half = Fraction(1, 2)
    if rounding == "AP_TRN":  # toward minus infinity
        return fl
    if rounding == "AP_TRN_ZERO":  # toward zero
        return fl if v >= 0 or rem == 0 else fl + 1
    if rem != half:  # not a tie: every AP_RND* mode goes to the nearest integer
        return fl + (1 if rem > half else 0)
    tie_up = {
        "AP_RND": True,  # halves toward plus infinity
        "AP_RND_ZERO": v < 0,  # halves toward zero
        "AP_RND_MIN_INF": False,  # halves toward minus infinity
        "AP_RND_INF": v > 0,  # halves away from zero
        "AP_RND_CONV": fl % 2 == 1,  # halves to even
    }[rounding]
    return fl + (1 if tie_up else 0)


def apply_overflow(q: int, t: Fixed) -> tuple[int, bool]:
    """The overflow mode of t applied to the rounded integer q: (raw, overflowed)."""
    lo = -(1 << (t.width - 1)) if t.signed else 0
    hi = (1 << (t.width - 1)) - 1 if t.signed else (1 << t.width) - 1
    sym = t.overflow == "AP_SAT_SYM" and t.signed
    if lo <= q <= hi:
        if sym and q == lo and t.width > 1:
            return lo + 1, True
        return q, False
    if t.overflow == "AP_WRAP":
        return (q - lo) % (1 << t.width) + lo, True
    if t.overflow == "AP_SAT_ZERO":
        return 0, True
    if q > hi:
        return hi, True
    return (lo + 1 if sym and t.width > 1 else lo), True


def ref_from_value(v: Fraction, t: Fixed) -> tuple[int, bool]:
    """An exact value converted into t: (raw, overflowed)."""
    return apply_overflow(round_to_integer(v * Fraction(2) ** t.frac, t.rounding), t)


def ref_quantize(x: float, t: Fixed) -> tuple[int, bool]:
    """t(x) for a double x, as ap_fixed's constructor from double."""
    return ref_from_value(ap_double_value(x), t)


def ref_cast(raw: int, src: Fixed, dst: Fixed) -> tuple[int, bool]:
    """dst(src value with raw bits `raw`)."""
    return ref_from_value(Fraction(int(raw)) / Fraction(2) ** src.frac, dst)
