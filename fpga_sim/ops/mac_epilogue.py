"""The MAC layers' final cast as one fused, vectorisable pass (a helper of mac_kernels.py).

After an exact integer sum (from onnxruntime, BLAS or a Numba loop) a layer still adds the bias,
casts to the result type and applies the fused ReLU: a memory pass over every output.  The cast
is `fixed_kernels.fast_cast` (each mode turned, once per call, into constants of branch-free
formulas, so the loop vectorises), or `requant` when cast_params says the type is too wide.
tests/test_mac_routes.py checks these kernels against `requant` for every mode at the edges.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..fixed_kernels import _FAST, _OVF, _RND, _SG, _SHIFT, _W, cast_params, fast_cast, fast_terms, requant, round_terms

__all__ = ["cast_params", "fused_epilogue", "round_terms", "scale_cast", "sum_cast"]


@njit(cache=True, nogil=True)
def _unpack(p):
    """The constants of cast_params' vector, in the order `fast_cast` and `requant` take them."""
    return (p[_SHIFT],) + fast_terms(p) + (p[_W], p[_SG] != 0, p[_RND], p[_OVF])


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
                        y, f = fast_cast((row[i] << s_left) + bb, sr, k, c0, cneg, codd, vlo, vhi, lo, hi, lo_eff,
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
            y, f = fast_cast((a[i] << sa) + (b[i] << sb), sr, k, c0, cneg, codd, vlo, vhi, lo, hi, lo_eff, mask, wrap,
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
                        y, f = fast_cast(src[i] * m, sr, k, c0, cneg, codd, vlo, vhi, lo, hi, lo_eff, mask, wrap, zero)
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
                    y, f = fast_cast(src[i] * sc[i], sr, k, c0, cneg, codd, vlo, vhi, lo, hi, lo_eff, mask, wrap, zero)
                else:
                    y, f = requant(src[i] * sc[i], s, width, signed, rnd, ovf)
                cnt += f
                dst[i] = max(y, np.int64(0)) if relu else y
    return cnt
