"""Numba kernels behind `Fixed`: rounding and overflow exactly as Xilinx's ap_fixed.h.

Everything works on raw two's-complement integers: a value of type ap_fixed<W,I> is stored as
value * 2**(W-I) in an int64.  The scalar kernels are meant to be called from other Numba
kernels (the engine's layer loops call `requant` on every accumulator); the array kernels are
what `Fixed.quantize` / `Fixed.cast` call.  Rounding and overflow codes are the positions in
`ROUNDING` and `OVERFLOW`.

Semantics (checked bit for bit against ap_fixed.h by tests/test_apfixed_gxx.py): the exact
source value is rounded to the target's LSB by the rounding mode, then the overflow mode
applies to the rounded integer.  ap_fixed details reproduced here:
- AP_SAT_SYM on a signed type never yields the most negative code: a value that rounds to
  -2**(W-1) (in range or not) becomes -(2**(W-1) - 1), except for W = 1, where ap_fixed's
  "min | 1" is the only negative code, -1.  Both count as overflow (the value was clipped).
- A double is converted from its exact binary value.  NaN behaves as an infinity of the same
  sign bit (ap_fixed decodes its exponent as 1024 and only warns); infinities saturate, or wrap
  to 0.  Denormals are decoded as ap_fixed does (hidden bit set, exponent -1023); this changes
  nothing unless the type has more than ~1000 fractional bits.  -0.0 is 0.
`requant(v, ...)` takes v as the exact source value, so callers keep their sums inside int64
(e.g. accumulators of at most 62 bits leave room for adding one more accumulator-typed value).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

ROUNDING = ("AP_TRN", "AP_TRN_ZERO", "AP_RND", "AP_RND_ZERO", "AP_RND_MIN_INF", "AP_RND_INF", "AP_RND_CONV")
OVERFLOW = ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM")

TRN, TRN_ZERO, RND, RND_ZERO, RND_MIN_INF, RND_INF, RND_CONV = range(7)
WRAP, SAT, SAT_ZERO, SAT_SYM = range(4)

_HUGE_SHIFT = -(1 << 20)  # left shift standing for "infinitely far out of range"
_MIN_NORMAL = 2.2250738585072014e-308


@njit(cache=True, nogil=True, inline="always")
def _round_up(q, gt: bool, eq: bool, nz: bool, neg: bool, rnd: int) -> bool:
    """Whether the floor quotient q must be incremented.

    gt / eq: the dropped remainder is above / exactly half an LSB; nz: it is non-zero; neg: the
    source is negative.  Written without data-dependent branches so array loops stay fast.
    """
    tie = (rnd == RND) | ((rnd == RND_ZERO) & neg) | ((rnd == RND_INF) & (not neg)) | (
        (rnd == RND_CONV) & ((q & 1) != 0))
    return ((rnd >= RND) & (gt | (eq & tie))) | ((rnd == TRN_ZERO) & neg & nz)


@njit(cache=True, nogil=True, inline="always")
def _range(width: int, signed: bool):
    """(lowest, highest) raw value of the type."""
    if signed:
        if width >= 64:
            return np.int64(-9223372036854775807 - 1), np.int64(9223372036854775807)
        return -(np.int64(1) << (width - 1)), (np.int64(1) << (width - 1)) - 1
    if width >= 63:
        return np.int64(0), np.int64(9223372036854775807)
    return np.int64(0), (np.int64(1) << width) - 1


@njit(cache=True, nogil=True, inline="always")
def _wrap(q: np.int64, width: int, signed: bool) -> np.int64:
    """q modulo 2**width, as a two's-complement (signed) or plain (unsigned) raw value."""
    if width >= 64:
        return q
    low = q & ((np.int64(1) << width) - 1)
    if signed:
        return low - ((low & (np.int64(1) << (width - 1))) << 1)
    return low


@njit(cache=True, nogil=True, inline="always")
def _finish(q: np.int64, in_range: bool, positive: bool, width: int, signed: bool, ovf: int):
    """Apply the overflow mode: q is the rounded value (exact when in_range, else correct
    modulo 2**width), positive the sign of the true value.  Returns (raw, overflowed)."""
    lo, hi = _range(width, signed)
    sym_mode = (ovf == SAT_SYM) & signed & (width > 1)
    sat = hi if positive else (lo + 1 if sym_mode else lo)
    sat = np.int64(0) if ovf == SAT_ZERO else sat
    out = _wrap(q, width, signed) if ovf == WRAP else sat
    sym = sym_mode & in_range & (q == lo)
    res = q if in_range else out
    res = lo + 1 if sym else res
    return res, (not in_range) | sym


@njit(cache=True, nogil=True, inline="always")
def _requant(v: np.int64, shift: int, width: int, signed: bool, rnd: int, ovf: int):
    """requant's body, inlined into this module's array loops."""
    lo, hi = _range(width, signed)
    if shift <= 0:
        k = -shift
        if k < 63:
            # v << k within [lo, hi]  <=>  ceil(lo / 2**k) <= v <= floor(hi / 2**k)
            fits = ((lo + (np.int64(1) << k) - 1) >> k <= v) & (v <= hi >> k)
            return _finish(v << k, fits, v > 0, width, signed, ovf)
        q = v << 63 if k == 63 else np.int64(0)  # correct modulo 2**64
        fits = (v == 0) | ((k == 63) & (v == -1) & (lo == q))  # -2**63 in a signed 64-bit type
        return _finish(q, fits, v > 0, width, signed, ovf)
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
        v = vv | np.int64(sticky)
        s = 62
    q = v >> s
    r = v - (q << s)
    half = np.int64(1) << (s - 1)
    q += _round_up(q, r > half, r == half, r != 0, v < 0, rnd)
    return _finish(q, (lo <= q) & (q <= hi), q > 0, width, signed, ovf)


@njit(cache=True, nogil=True)
def requant(v: np.int64, shift: int, width: int, signed: bool, rnd: int, ovf: int):
    """Requantise raw v: drop `shift` fractional bits (or append -shift zero bits), round,
    handle overflow.  shift = src_frac - dst_frac.  Returns (raw, overflowed).

    Call it from other Numba kernels.  No explicit signature: with one, Numba links it as an
    opaque call that LLVM cannot inline (measured: dense_int32 at 4096x4096 went from 3.3 ms
    to 50 ms), so each caller's argument types compile their own copy (a few seconds each on a
    cold cache).  (Numba's cache would not notice when this changes under a cached caller;
    `_numba_cache` keys the whole cache on every kernel source instead.)
    """
    return _requant(v, shift, width, signed, rnd, ovf)


@njit(cache=True, nogil=True)
def quantize_scalar(x: float, frac: int, width: int, signed: bool, rnd: int, ovf: int):
    """Convert a double to raw fixed point exactly as ap_fixed's constructor from double.

    The double is split into its integer mantissa and exponent, so the value is exact and the
    conversion is `requant` of the mantissa; returns (raw, overflowed).  It calls the compiled
    `requant` rather than inlining it: this is quantize_array's rare path, and one copy of
    requant's code less saves seconds of compilation on a cold cache.
    """
    if x == 0.0:
        return np.int64(0), False
    if not math.isfinite(x):
        v = np.int64(-1) if math.copysign(1.0, x) < 0 else np.int64(1)
        return requant(v, _HUGE_SHIFT, width, signed, rnd, ovf)
    a = abs(x)
    if a < _MIN_NORMAL:
        # ap_fixed decodes a denormal with the hidden bit set and exponent -1023
        man = np.int64(4503599627370496) + np.int64(a * 2.0**1074)
        exp = -1075
    else:
        m, e = math.frexp(a)
        man = np.int64(m * 9007199254740992.0)  # m * 2**53: exact
        exp = e - 53
    if x < 0:
        man = -man
    return requant(man, -(exp + frac), width, signed, rnd, ovf)


@njit(cache=True, nogil=True, inline="always")
def _fast_ok(x: float, scale: float) -> bool:
    """Whether _quantize_fast is exact for x (see there)."""
    a = abs(x * scale)
    return ((a < 4503599627370496.0) & (a >= _MIN_NORMAL) & (abs(x) >= _MIN_NORMAL)) | (x == 0.0)


@njit(cache=True, nogil=True, inline="always")
def _quantize_fast(x: float, scale: float, width: int, signed: bool, rnd: int, ovf: int):
    """quantize_scalar for 2**-1022 <= |x|, |x * 2**frac| < 2**52 (or x = 0): (raw, ovf, ok).

    There y = x * scale is exact, and so are floor(y), q + 0.5 and the comparisons that decide
    the rounding.  ok is False (and raw meaningless) for values that need the integer path
    (huge, tiny, denormal, NaN); the array kernel redoes those with quantize_scalar, so the
    main loop has no data-dependent branch.
    """
    y = x * scale
    ok = _fast_ok(x, scale)
    y = y if ok else 0.0
    q = math.floor(y)
    mid = q + 0.5
    qi = np.int64(q)
    qi += _round_up(qi, y > mid, y == mid, y != q, x < 0.0, rnd)
    lo, hi = _range(width, signed)
    raw, o = _finish(qi, (lo <= qi) & (qi <= hi), qi > 0, width, signed, ovf)
    return raw, o & ok, ok


@njit(cache=True, nogil=True)
def requant_array(src, shift: int, width: int, signed: bool, rnd: int, ovf: int, out) -> int:
    """out[i] = requant(src[i]); returns the number of overflowed values (1-d arrays)."""
    n = 0
    for i in range(src.size):
        out[i], o = _requant(src[i], shift, width, signed, rnd, ovf)
        n += o
    return n


@njit(cache=True, nogil=True)
def quantize_array(x, frac: int, width: int, signed: bool, rnd: int, ovf: int, out) -> int:
    """out[i] = quantize_scalar(x[i]); returns the number of overflowed values (1-d arrays)."""
    if not -1000 < frac < 1000:
        n = 0
        for i in range(x.size):
            out[i], o = quantize_scalar(x[i], frac, width, signed, rnd, ovf)
            n += o
        return n
    scale = 2.0 ** frac
    n = 0
    all_ok = True
    for i in range(x.size):
        out[i], o, ok = _quantize_fast(x[i], scale, width, signed, rnd, ovf)
        n += o
        all_ok &= ok
    if not all_ok:
        for i in range(x.size):
            if not _fast_ok(x[i], scale):
                out[i], o = quantize_scalar(x[i], frac, width, signed, rnd, ovf)
                n += o
    return n


@njit(cache=True, nogil=True)
def scale_to_float(raw, scale: float, out) -> None:
    """out[i] = float(raw[i]) * scale (1-d arrays): dequantisation by a power of two, exact
    while |raw| < 2**53 (one vectorised pass; np.ldexp costs ~15 ns a value)."""
    for i in range(raw.size):
        out[i] = float(raw[i]) * scale
