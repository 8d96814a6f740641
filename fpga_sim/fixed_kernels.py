"""Numba kernels behind `Fixed`: rounding and overflow exactly as Xilinx's ap_fixed.

Everything works on raw two's-complement integers: a value of type ap_fixed<W,I> is stored as
value * 2**(W-I) in an int64.  The scalar kernels are meant to be inlined into other Numba
kernels (the engine's layer loops call `requant` on every accumulator), the array kernels are
what `Fixed.quantize` / `Fixed.cast` call.

Rounding and overflow codes are the positions in `ROUNDING` and `OVERFLOW`.
"""
from __future__ import annotations

import numpy as np
from numba import njit

ROUNDING = ("AP_TRN", "AP_TRN_ZERO", "AP_RND", "AP_RND_ZERO", "AP_RND_MIN_INF", "AP_RND_INF", "AP_RND_CONV")
OVERFLOW = ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM")

TRN, TRN_ZERO, RND, RND_ZERO, RND_MIN_INF, RND_INF, RND_CONV = range(7)
WRAP, SAT, SAT_ZERO, SAT_SYM = range(4)


@njit(cache=True, nogil=True, inline="always")
def _round_up(q: np.int64, r_cmp: int, r_nonzero: bool, negative: bool, rnd: int) -> bool:
    """Whether floor quotient q must be incremented.

    r_cmp compares the dropped remainder with half an LSB (-1 below, 0 equal, 1 above);
    r_nonzero says whether anything non-zero was dropped; negative is the sign of the source.
    """
    if rnd == TRN:
        return False
    if rnd == TRN_ZERO:
        return negative and r_nonzero
    if r_cmp > 0:
        return True
    if r_cmp < 0:
        return False
    # exact tie
    if rnd == RND:
        return True
    if rnd == RND_ZERO:
        return negative
    if rnd == RND_MIN_INF:
        return False
    if rnd == RND_INF:
        return not negative
    # RND_CONV: to even
    return (q & 1) != 0


@njit(cache=True, nogil=True, inline="always")
def _range(width: int, signed: bool):
    if signed:
        if width >= 64:
            return np.int64(-9223372036854775807 - 1), np.int64(9223372036854775807)
        return -(np.int64(1) << (width - 1)), (np.int64(1) << (width - 1)) - 1
    if width >= 63:
        return np.int64(0), np.int64(9223372036854775807)
    return np.int64(0), (np.int64(1) << width) - 1


@njit(cache=True, nogil=True, inline="always")
def _wrap(q: np.int64, width: int, signed: bool) -> np.int64:
    if width >= 64:
        return q
    mask = (np.int64(1) << width) - 1
    low = q & mask
    if signed and low >= (np.int64(1) << (width - 1)):
        return low - (np.int64(1) << width)
    return low


@njit(cache=True, nogil=True, inline="always")
def _overflow(q: np.int64, width: int, signed: bool, ovf: int):
    """Apply the overflow mode to an already rounded integer; returns (raw, overflowed)."""
    lo, hi = _range(width, signed)
    if lo <= q <= hi:
        return q, False
    if ovf == WRAP:
        return _wrap(q, width, signed), True
    if ovf == SAT_ZERO:
        return np.int64(0), True
    if q > hi:
        return hi, True
    if ovf == SAT_SYM and signed:
        return -hi, True
    return lo, True


@njit(cache=True, nogil=True)
def requant(v: np.int64, shift: int, width: int, signed: bool, rnd: int, ovf: int):
    """Requantise raw v: drop `shift` fractional bits (or add -shift), round, handle overflow.

    shift = src_frac - dst_frac.  Returns (raw, overflowed).
    """
    if shift <= 0:
        k = -shift
        lo, hi = _range(width, signed)
        if k >= 63:
            if v == 0:
                return np.int64(0), False
            fits = False
        else:
            fits = (lo >> k) <= v <= (hi >> k)
        if fits:
            return v << k, False
        if ovf == WRAP:
            if k >= 64:
                return np.int64(0), True
            return _wrap(v << k, width, signed), True
        if ovf == SAT_ZERO:
            return np.int64(0), True
        if v > 0:
            return hi, True
        if ovf == SAT_SYM and signed:
            return -hi, True
        return lo, True
    s = shift
    if s > 62:
        # squash everything below the half-LSB into a sticky bit; rounding is unchanged
        k = s - 62
        if k >= 64:
            vv = np.int64(-1) if v < 0 else np.int64(0)
            sticky = v != vv
        else:
            vv = v >> k
            sticky = (vv << k) != v
        v = vv | np.int64(1) if sticky else vv
        s = 62
    q = v >> s
    r = v - (q << s)
    half = np.int64(1) << (s - 1)
    r_cmp = 0 if r == half else (1 if r > half else -1)
    if _round_up(q, r_cmp, r != 0, v < 0, rnd):
        q += 1
    return _overflow(q, width, signed, ovf)


@njit(cache=True, nogil=True)
def quantize_scalar(x: float, frac: int, width: int, signed: bool, rnd: int, ovf: int):
    """Convert a double to raw fixed point exactly as ap_fixed's constructor from double."""
    if np.isnan(x):
        return np.int64(0), True
    y = np.ldexp(x, frac)  # exact: a power-of-two scale
    q = np.floor(y)
    r = y - q  # exact for doubles
    r_cmp = 0 if r == 0.5 else (1 if r > 0.5 else -1)
    up = _round_up(np.int64(0) if abs(q) >= 9.2e18 else np.int64(q), r_cmp, r != 0.0, x < 0, rnd)
    if up:
        q += 1.0
    lo, hi = _range(width, signed)
    if float(lo) <= q <= float(hi) and abs(q) < 9.2e18:
        return np.int64(q), False
    if np.isinf(q) or abs(q) >= 9.2e18:
        if ovf == WRAP:
            if np.isinf(q):
                return np.int64(0), True
            m = np.fmod(q, 18446744073709551616.0)  # exact
            if m >= 9223372036854775808.0:
                m -= 18446744073709551616.0
            elif m < -9223372036854775808.0:
                m += 18446744073709551616.0
            return _wrap(np.int64(m), width, signed), True
        if ovf == SAT_ZERO:
            return np.int64(0), True
        if q > 0:
            return hi, True
        if ovf == SAT_SYM and signed:
            return -hi, True
        return lo, True
    return _overflow(np.int64(q), width, signed, ovf)


@njit(cache=True, nogil=True)
def requant_array(src, shift: int, width: int, signed: bool, rnd: int, ovf: int, out) -> int:
    """out[i] = requant(src[i]); returns the number of overflowed values (1-d arrays)."""
    n = 0
    for i in range(src.size):
        out[i], o = requant(src[i], shift, width, signed, rnd, ovf)
        n += o
    return n


@njit(cache=True, nogil=True)
def quantize_array(x, frac: int, width: int, signed: bool, rnd: int, ovf: int, out) -> int:
    """out[i] = quantize_scalar(x[i]); returns the number of overflowed values (1-d arrays)."""
    n = 0
    for i in range(x.size):
        out[i], o = quantize_scalar(x[i], frac, width, signed, rnd, ovf)
        n += o
    return n
