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

Compile time is what a first run pays (a cold Numba cache): the common paths are small
branch-free kernels (`fast_cast`, `cast_array`, `quantize_array`) and the exact general ones
(`requant_array`, `quantize_exact`) compile only when a cast or a value needs them.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numba import njit

ROUNDING = ("AP_TRN", "AP_TRN_ZERO", "AP_RND", "AP_RND_ZERO", "AP_RND_MIN_INF", "AP_RND_INF", "AP_RND_CONV")
OVERFLOW = ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM")

TRN, TRN_ZERO, RND, RND_ZERO, RND_MIN_INF, RND_INF, RND_CONV = range(7)
WRAP, SAT, SAT_ZERO, SAT_SYM = range(4)

_HUGE_SHIFT = -(1 << 20)  # left shift standing for "infinitely far out of range"
_MIN_NORMAL = 2.2250738585072014e-308


@njit(cache=True, nogil=True)
def _round_up(q, gt: bool, eq: bool, nz: bool, neg: bool, rnd: int) -> bool:
    """Whether the floor quotient q must be incremented.

    gt / eq: the dropped remainder is above / exactly half an LSB; nz: it is non-zero; neg: the
    source is negative.  Written without data-dependent branches so array loops stay fast.
    """
    tie = (rnd == RND) | ((rnd == RND_ZERO) & neg) | ((rnd == RND_INF) & (not neg)) | (
        (rnd == RND_CONV) & ((q & 1) != 0))
    return ((rnd >= RND) & (gt | (eq & tie))) | ((rnd == TRN_ZERO) & neg & nz)


@njit(cache=True, nogil=True)
def _range(width: int, signed: bool):
    """(lowest, highest) raw value of the type."""
    if signed:
        if width >= 64:
            return np.int64(-9223372036854775807 - 1), np.int64(9223372036854775807)
        return -(np.int64(1) << (width - 1)), (np.int64(1) << (width - 1)) - 1
    if width >= 63:
        return np.int64(0), np.int64(9223372036854775807)
    return np.int64(0), (np.int64(1) << width) - 1


@njit(cache=True, nogil=True)
def _wrap(q: np.int64, width: int, signed: bool) -> np.int64:
    """q modulo 2**width, as a two's-complement (signed) or plain (unsigned) raw value."""
    if width >= 64:
        return q
    low = q & ((np.int64(1) << width) - 1)
    if signed:
        return low - ((low & (np.int64(1) << (width - 1))) << 1)
    return low


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def requant(v: np.int64, shift: int, width: int, signed: bool, rnd: int, ovf: int):
    """Requantise raw v: drop `shift` fractional bits (or append -shift zero bits), round,
    handle overflow.  shift = src_frac - dst_frac.  Returns (raw, overflowed).

    Call it from other Numba kernels.  No explicit signature (with one, Numba links it as an
    opaque call), and no `inline="always"` here or in its helpers: Numba's IR inlining
    deep-copies the callee's IR at every call site (measured: 2.4 s to compile requant with
    its helpers inlined, 0.95 s without).  A loop that needs speed uses `fast_cast` instead.
    (Numba's cache would not notice when this changes under a cached caller; `_numba_cache`
    keys the whole cache on every kernel source instead.)
    """
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
def quantize_scalar(x: float, frac: int, width: int, signed: bool, rnd: int, ovf: int):
    """Convert a double to raw fixed point exactly as ap_fixed's constructor from double.

    The double is split into its integer mantissa and exponent, so the value is exact and the
    conversion is `requant` of the mantissa; returns (raw, overflowed).
    """
    if x == 0.0:
        return np.int64(0), False
    if not math.isfinite(x):
        v = np.int64(-1) if math.copysign(1.0, x) < 0 else np.int64(1)
        return requant(v, np.int64(_HUGE_SHIFT), width, signed, rnd, ovf)   # int64, not a literal: one specialisation
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
    return requant(man, np.int64(-(exp + frac)), width, signed, rnd, ovf)


# ----------------------------------------------------------------------------- the fast cast
# Each rounding and overflow mode turned, once per call, into constants of branch-free integer
# formulas, so a loop over values vectorises (under 1 ns a value; `requant` branches on the
# modes per value, about 10 ns):
# - rounding: q = (v + c) >> s with c = c0 + (v < 0 ? c_neg : 0) + (floor(v / 2**s) odd ? c_odd : 0)
#   (TRN c=0; TRN_ZERO 2**s-1 if negative; RND half; RND_MIN_INF half-1; RND_INF half, -1 if
#   negative; RND_ZERO half-1, +1 if negative; RND_CONV half-1, +1 if floor odd);
# - overflow: flag = q outside [lo', hi] (lo' = lo + 1 for AP_SAT_SYM on a signed type, which
#   also flags the most negative code, as `_finish` does); WRAP wraps, SAT/SAT_SYM clip, SAT_ZERO
#   zeroes.  A left shift (shift < 0) is checked on v against [ceil(lo'/2**k), floor(hi/2**k)].
# Exact for every int64 v (see fast_cast).
# tests/test_mac_routes.py checks it against `requant` for every mode at the edges.

# parameter vector of the fast cast (int64, built once per call by `cast_params`)
_FAST, _SHIFT, _C0, _CNEG, _CODD, _LO, _HI, _VLO, _VHI, _MASK, _OVF, _W, _SG, _RND, _LOW = range(15)
FAST_MAX_SHIFT = 62     # the shifts the fast formulas take (any type whose raw values fit int64)
_QUANT_LIMIT = 4503599627370496.0   # 2**52: below it 2 * x * 2**frac and its floor are exact integers


def round_terms(shift: int, rnd: int) -> tuple[int, int, int]:
    """(c0, c_neg, c_odd) of the rounding formula above, for shift > 0."""
    half = 1 << (shift - 1)
    return {TRN: (0, 0, 0), TRN_ZERO: (0, (1 << shift) - 1, 0), RND: (half, 0, 0),
            RND_MIN_INF: (half - 1, 0, 0), RND_INF: (half, -1, 0), RND_ZERO: (half - 1, 1, 0),
            RND_CONV: (half - 1, 0, 1)}[rnd]


@lru_cache(maxsize=4096)
def cast_params(shift: int, width: int, signed: bool, rnd: int, ovf: int) -> np.ndarray:
    """The constants of the fast cast to a (width, signed, rnd, ovf) type from `shift` more
    fractional bits; element _FAST is 0 when the fast formulas do not take the cast (a type
    wider than int64, |shift| > 62: a kernel then calls `requant`, exact for any type).
    Made once per cast and read-only (a call per layer call: building it costs 4 us)."""
    p = np.zeros(15, np.int64)
    p[_SHIFT], p[_OVF], p[_W], p[_SG], p[_RND] = shift, ovf, width, signed, rnd
    if width > (64 if signed else 63) or abs(shift) > FAST_MAX_SHIFT:
        p.flags.writeable = False
        return p
    lo = -(1 << (width - 1)) if signed else 0
    hi = (1 << (width - 1)) - 1 if signed else (1 << width) - 1
    lo_eff = lo + 1 if ovf == SAT_SYM and signed and width > 1 else lo
    if shift > 0:
        p[_C0], p[_CNEG], p[_CODD] = round_terms(shift, rnd)
    k = max(-shift, 0)
    p[_LO], p[_HI], p[_VLO], p[_VHI], p[_LOW] = lo_eff, hi, -((-lo_eff) >> k), hi >> k, lo
    p[_MASK] = (1 << width) - 1 if width < 64 else -1     # -1: all 64 bits, wrapping is int64's own
    p[_FAST] = 1
    p.flags.writeable = False
    return p


@njit(cache=True, nogil=True)
def fast_terms(p):
    """cast_params' vector as the tuple `fast_cast` takes, read once before a loop."""
    s = p[_SHIFT]
    sr = max(s, 0)
    return (sr, max(-s, 0), (np.int64(1) << sr) - 1, p[_C0], p[_CNEG], p[_CODD], p[_VLO], p[_VHI], p[_LOW], p[_HI],
            p[_LO], p[_MASK], p[_OVF] == WRAP, p[_OVF] == SAT_ZERO)


@njit(cache=True, nogil=True)
def fast_cast(v, t):
    """(raw, overflowed) of any int64 v cast by the fast formulas, branch-free; t = fast_terms(p)
    (sr/k: right/left shift, one of them 0; [vlo, vhi]: the range of (v + c) >> sr that fits).
    (v + c) >> sr is taken as (v >> sr) + ((low bits of v + c) >> sr), so nothing leaves int64
    (c < 2**sr).  Small enough for LLVM to inline into a caller's loop."""
    sr, k, low_bits, c0, cneg, codd, vlo, vhi, lo, hi, lo_eff, mask, wrap, zero = t
    c = c0 + ((v >> 63) & cneg) + ((v >> sr) & 1) * codd
    u = (v >> sr) + (((v & low_bits) + c) >> sr)
    over = u > vhi
    under = u < vlo
    q = u << k
    y_wrap = ((q - lo) & mask) + lo
    y_sat = hi if over else (lo_eff if under else q)
    y_zero = np.int64(0) if over | under else q
    return y_wrap if wrap else (y_zero if zero else y_sat), over | under


def wide_codes(p: np.ndarray) -> tuple[int, int, bool, int, int] | None:
    """None when cast_params' vector p takes the fast formulas, else the (shift, width, signed,
    rnd, ovf) that `requant` needs: the `wide` argument of `cast_by`."""
    if p[_FAST]:
        return None
    return int(p[_SHIFT]), int(p[_W]), bool(p[_SG]), int(p[_RND]), int(p[_OVF])


@njit(cache=True, nogil=True)
def cast_by(v, t, wide):
    """(raw, overflowed) of v cast to cast_params' type: fast_cast by the terms t when wide is
    None (the branch on it is pruned at compile time: a kernel called with None never compiles
    `requant`), else requant by the codes in wide."""
    if wide is None:
        return fast_cast(v, t)
    s, width, signed, rnd, ovf = wide
    return requant(v, s, width, signed, rnd, ovf)


@njit(cache=True, nogil=True)
def cast_array(src, p, out) -> int:
    """out[i] = fast_cast(src[i]) by cast_params' vector p (1-d int64 arrays); returns the
    number of overflowed values."""
    t = fast_terms(p)
    n = 0
    for i in range(src.size):
        y, o = fast_cast(src[i], t)
        out[i] = y
        n += o
    return n


@njit(cache=True, nogil=True)
def requant_array(src, shift: int, width: int, signed: bool, rnd: int, ovf: int, out) -> int:
    """out[i] = requant(src[i]); returns the number of overflowed values (1-d arrays).  The exact
    path for any int64 source and type (compiled only when a cast needs it: `Fixed.cast`)."""
    n = 0
    for i in range(src.size):
        out[i], o = requant(src[i], shift, width, signed, rnd, ovf)
        n += o
    return n


@njit(cache=True, nogil=True)
def _common(x: float, y: float) -> bool:
    """Whether x, with y = x * 2**frac, lies in quantize_array's domain (see there)."""
    a = abs(y)
    return ((a < _QUANT_LIMIT) & (a >= _MIN_NORMAL) & (abs(x) >= _MIN_NORMAL)) | (x == 0.0)


@njit(cache=True, nogil=True)
def quantize_array(x, scale: float, p, out):
    """The common path of ap_fixed's conversion from double (1-d arrays): for
    2**-1022 <= |x|, |y| < 2**52 with y = x * scale (scale = 2**frac), or x = 0, y is exact and
    so are t = floor(2y) and whether 2y > t, so v = 2t + (2y > t) is an integer with two more
    fractional bits whose rounding (by `fast_cast`, p = cast_params(2, ...)) is the rounding of
    y: v >> 2 is floor(y), and its low two bits say below, at or above half, and whether
    anything was dropped.  Returns (overflow count, number of values outside that domain: huge,
    tiny, denormal, NaN, infinite); those outputs are meaningless and `quantize_exact` redoes
    them, so this loop has no data-dependent branch and is all a common model compiles."""
    tm = fast_terms(p)
    n = 0
    bad = 0
    for i in range(x.size):
        xi = x[i]
        y = xi * scale
        ok = _common(xi, y)
        y2 = (y + y) if ok else 0.0
        t = math.floor(y2)
        v = (np.int64(t) << 1) | np.int64(y2 != t)
        r, o = fast_cast(v, tm)
        out[i] = r
        n += o & ok
        bad += not ok
    return n, bad


@njit(cache=True, nogil=True)
def quantize_exact(x, frac: int, width: int, signed: bool, rnd: int, ovf: int, only_rare: bool, out) -> int:
    """out[i] = quantize_scalar(x[i]) (1-d arrays); with only_rare, just the values outside
    quantize_array's domain (the others are already in out).  Returns the overflow count of
    the values it converted.  Compiled only when a model meets such a value or type."""
    scale = 2.0 ** frac if -1000 < frac < 1000 else 1.0
    n = 0
    for i in range(x.size):
        xi = x[i]
        if not (only_rare and _common(xi, xi * scale)):
            out[i], o = quantize_scalar(xi, frac, width, signed, rnd, ovf)
            n += o
    return n


@njit(cache=True, nogil=True)
def scale_to_float(raw, scale: float, out) -> None:
    """out[i] = float(raw[i]) * scale (1-d arrays): dequantisation by a power of two, exact
    while |raw| < 2**53 (one vectorised pass; np.ldexp costs ~15 ns a value)."""
    for i in range(raw.size):
        out[i] = float(raw[i]) * scale
