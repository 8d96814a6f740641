"""The MAC layers' final cast as one fused, vectorisable pass (a helper of mac_kernels.py).

After an exact integer sum (from onnxruntime, BLAS or a Numba loop) a layer still adds the bias,
casts to the result type and applies the fused ReLU: a memory pass over every output.  The
generic `fixed_kernels.requant` branches on the rounding and overflow modes per value (about
10 ns a value); here each mode is turned, once per call, into constants of branch-free integer
formulas, so the loop vectorises (under 1 ns a value):

- rounding: q = (v + c) >> s with c = c0 + (v < 0 ? c_neg : 0) + (floor(v / 2**s) odd ? c_odd : 0)
  (TRN c=0; TRN_ZERO 2**s-1 if negative; RND half; RND_MIN_INF half-1; RND_INF half, -1 if
  negative; RND_ZERO half-1, +1 if negative; RND_CONV half-1, +1 if floor odd);
- overflow: flag = q outside [lo', hi] (lo' = lo + 1 for AP_SAT_SYM on a signed type, which
  also flags the most negative code, as `_finish` does); WRAP wraps, SAT/SAT_SYM clip, SAT_ZERO
  zeroes.  A left shift (shift < 0) is checked on v against [ceil(lo'/2**k), floor(hi/2**k)].

tests/test_mac_routes.py checks it against `requant` for every mode at the edges.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..fixed_kernels import RND, RND_CONV, RND_INF, RND_MIN_INF, RND_ZERO, SAT_SYM, SAT_ZERO, TRN, TRN_ZERO, WRAP, requant

# parameter vector of the fast cast (int64, built once per call by `cast_params`)
_FAST, _SHIFT, _C0, _CNEG, _CODD, _LO, _HI, _VLO, _VHI, _MASK, _OVF, _W, _SG, _RND = range(14)


def round_terms(shift: int, rnd: int) -> tuple[int, int, int]:
    """(c0, c_neg, c_odd) of the rounding formula in the module docstring, for shift > 0."""
    half = 1 << (shift - 1)
    return {TRN: (0, 0, 0), TRN_ZERO: (0, (1 << shift) - 1, 0), RND: (half, 0, 0),
            RND_MIN_INF: (half - 1, 0, 0), RND_INF: (half, -1, 0), RND_ZERO: (half - 1, 1, 0),
            RND_CONV: (half - 1, 0, 1)}[rnd]


def cast_params(shift: int, width: int, signed: bool, rnd: int, ovf: int) -> np.ndarray:
    """The constants of the fused cast to a (width, signed, rnd, ovf) type from `shift` more
    fractional bits; element _FAST is 0 when the type is too wide for the fast formulas (the
    kernel then calls `requant`, which is exact for any type)."""
    p = np.zeros(14, np.int64)
    p[_SHIFT], p[_OVF], p[_W], p[_SG], p[_RND] = shift, ovf, width, signed, rnd
    if width > 62 or abs(shift) > 62:
        return p
    lo = -(1 << (width - 1)) if signed else 0
    hi = (1 << (width - 1)) - 1 if signed else (1 << width) - 1
    lo_eff = lo + 1 if ovf == SAT_SYM and signed and width > 1 else lo
    if shift > 0:
        p[_C0], p[_CNEG], p[_CODD] = round_terms(shift, rnd)
    k = max(-shift, 0)
    p[_LO], p[_HI], p[_VLO], p[_VHI] = lo_eff, hi, -((-lo_eff) >> k), hi >> k
    p[_MASK] = (1 << width) - 1
    p[_FAST] = 1
    return p


@njit(cache=True, nogil=True, inline="always")
def _cast(v, sr, k, c0, cneg, codd, vlo, vhi, lo, hi, lo_eff, mask, wrap, zero):
    """(raw, overflowed) of v cast by the fast formulas, branch-free (see the module docstring);
    sr/k: right/left shift (one is 0), [vlo, vhi]: the range of (v + c) >> sr that fits."""
    t = (v + c0 + ((v >> 63) & cneg) + ((v >> sr) & 1) * codd) >> sr
    over = t > vhi
    under = t < vlo
    q = t << k
    y_wrap = ((q - lo) & mask) + lo
    y_sat = hi if over else (lo_eff if under else q)
    y_zero = np.int64(0) if over | under else q
    return y_wrap if wrap else (y_zero if zero else y_sat), over | under


@njit(cache=True, nogil=True, inline="always")
def _unpack(p):
    """The constants of cast_params' vector, in the order `_cast` and `requant` take them."""
    s = p[_SHIFT]
    width, signed = p[_W], p[_SG] != 0
    lo = -(np.int64(1) << (width - 1)) if signed else np.int64(0)
    return (s, max(s, 0), max(-s, 0), p[_C0], p[_CNEG], p[_CODD], p[_VLO], p[_VHI], lo, p[_HI], p[_LO], p[_MASK],
            p[_OVF] == WRAP, p[_OVF] == SAT_ZERO, width, signed, p[_RND], p[_OVF])


@njit(cache=True, nogil=True)
def fused_epilogue(acc, part_shift, s_left, bias, p, relu, out):
    """out[n, a*B + b, i] = ReLU?(cast((sum_j int(acc[n, a, j, b, i]) << part_shift[j]) << s_left
    + bias[a*B + b])) for exact integer-valued sums acc (N, A, J, B, HW) (float or int): J
    partial sums of one output, from split inputs (K slices or limbs).  out is (N, A*B, HW)
    int64; the caller's bound keeps every value inside int64.  Returns the number of
    overflowed final casts."""
    n_b, na, nj, nb, hw = acc.shape
    s, sr, k, c0, cneg, codd, vlo, vhi, lo, hi, lo_eff, mask, wrap, zero, width, signed, rnd, ovf = _unpack(p)
    row = np.empty(hw, np.int64)
    cnt = 0
    for n in range(n_b):
        for a in range(na):
            for b in range(nb):
                oc = a * nb + b
                bb = bias[oc]
                for i in range(hw):
                    row[i] = np.int64(acc[n, a, 0, b, i]) << part_shift[0]
                for j in range(1, nj):
                    sj = part_shift[j]
                    for i in range(hw):
                        row[i] += np.int64(acc[n, a, j, b, i]) << sj
                o = out[n, oc]
                if p[_FAST] == 1:
                    for i in range(hw):
                        y, f = _cast((row[i] << s_left) + bb, sr, k, c0, cneg, codd, vlo, vhi, lo, hi, lo_eff,
                                     mask, wrap, zero)
                        cnt += f
                        o[i] = max(y, np.int64(0)) if relu else y
                else:
                    for i in range(hw):
                        y, f = requant((row[i] << s_left) + bb, s, width, signed, rnd, ovf)
                        cnt += f
                        o[i] = max(y, np.int64(0)) if relu else y
    return cnt


@njit(cache=True, nogil=True)
def sum_cast(a, sa, b, sb, p, cast, relu, out):
    """out[i] = a[i] << sa + b[i] << sb, then (with `cast`) ReLU?(cast by p) of it, for 1-d int64
    arrays whose shifted sum the caller proved exact (an element-wise Add whose accumulator
    holds every partial sum): one vectorised pass, the cast by the fast formulas (or `requant`
    when p says the type is too wide).  More terms: chain calls, casting in the last.  Returns
    the number of overflowed casts."""
    s, sr, k, c0, cneg, codd, vlo, vhi, lo, hi, lo_eff, mask, wrap, zero, width, signed, rnd, ovf = _unpack(p)
    cnt = 0
    if not cast:
        for i in range(out.size):
            out[i] = (a[i] << sa) + (b[i] << sb)
    elif p[_FAST] == 1:
        for i in range(out.size):
            y, f = _cast((a[i] << sa) + (b[i] << sb), sr, k, c0, cneg, codd, vlo, vhi, lo, hi, lo_eff, mask, wrap,
                         zero)
            cnt += f
            out[i] = max(y, np.int64(0)) if relu else y
    else:
        for i in range(out.size):
            y, f = requant((a[i] << sa) + (b[i] << sb), s, width, signed, rnd, ovf)
            cnt += f
            out[i] = max(y, np.int64(0)) if relu else y
    return cnt


@njit(cache=True, nogil=True)
def scale_cast(x, scale, p, relu, out):
    """out[n, c, i] = ReLU?(cast(x[n, c, i] * scale[c, i or 0])) for x (N, C, R) int64 and scale
    (C, R) or (C, 1): an element-wise Mul by a constant whose products fit int64, one pass per
    row with the fast cast.  Returns the number of overflowed casts."""
    s, sr, k, c0, cneg, codd, vlo, vhi, lo, hi, lo_eff, mask, wrap, zero, width, signed, rnd, ovf = _unpack(p)
    fast = p[_FAST] == 1
    n_b, nc, nr = x.shape
    per_row = scale.shape[1] == 1
    cnt = 0
    for b in range(n_b):
        for c in range(nc):
            src = x[b, c]
            dst = out[b, c]
            sc = scale[c]
            if per_row:
                m = sc[0]
                if fast:
                    for i in range(nr):
                        y, f = _cast(src[i] * m, sr, k, c0, cneg, codd, vlo, vhi, lo, hi, lo_eff, mask, wrap, zero)
                        cnt += f
                        dst[i] = max(y, np.int64(0)) if relu else y
                    continue
                for i in range(nr):
                    y, f = requant(src[i] * m, s, width, signed, rnd, ovf)
                    cnt += f
                    dst[i] = max(y, np.int64(0)) if relu else y
                continue
            for i in range(nr):
                if fast:
                    y, f = _cast(src[i] * sc[i], sr, k, c0, cneg, codd, vlo, vhi, lo, hi, lo_eff, mask, wrap, zero)
                else:
                    y, f = requant(src[i] * sc[i], s, width, signed, rnd, ovf)
                cnt += f
                dst[i] = max(y, np.int64(0)) if relu else y
    return cnt
