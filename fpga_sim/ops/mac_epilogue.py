"""The MAC layers' final cast as one fused, vectorisable pass (a helper of mac_kernels.py).

After an exact integer sum (from onnxruntime, BLAS or a Numba loop) a layer still adds the bias,
casts to the result type and applies the fused ReLU: a memory pass over every output.  The cast
is `fixed_kernels.fast_cast` (each mode turned, once per call, into constants of branch-free
formulas, so the loop vectorises), or `requant` when cast_params says the type is too wide;
each kernel is compiled only for the path its call needs (`fixed_kernels.cast_by`).
tests/test_mac_routes.py checks these kernels against `requant` for every mode at the edges.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..fixed_kernels import cast_by, fast_terms, wide_codes


def fused_epilogue(acc: np.ndarray, part_shift: np.ndarray, s_left: int, bias: np.ndarray, p: np.ndarray,
                   relu: bool, out: np.ndarray) -> int:
    """out[n, a*B + b, i] = ReLU?(cast((sum_j int(acc[n, a, j, b, i]) << part_shift[j]) << s_left
    + bias[a*B + b])) for exact integer-valued sums acc (N, A, J, B, HW) (float or int): J
    partial sums of one output, from split inputs (K slices or limbs), cast by cast_params'
    vector p.  out is (N, A*B, HW) int64; the caller's bound keeps every value inside int64.
    Returns the number of overflowed final casts.  A dense layer (HW = 1) runs its rows over the
    B outputs instead (rows of one element cost a view per output: 3x slower on an MLP)."""
    row = np.empty(max(acc.shape[3], acc.shape[4]), np.int64)   # here: no np.empty compiled into the kernel
    return _fused_epilogue(acc, part_shift, s_left, bias, p, wide_codes(p), relu, out, row)


@njit(cache=True, nogil=True)
def _fused_epilogue(acc, part_shift, s_left, bias, p, wide, relu, out, row):
    n_b, na, nj, nb, hw = acc.shape
    t = fast_terms(p)
    cnt = 0
    if hw == 1:
        for n in range(n_b):
            for a in range(na):
                for b in range(nb):
                    row[b] = 0
                for j in range(nj):
                    sj = part_shift[j]
                    for b in range(nb):
                        row[b] += np.int64(acc[n, a, j, b, 0]) << sj
                for b in range(nb):
                    oc = a * nb + b
                    y, f = cast_by((row[b] << s_left) + bias[oc], t, wide)
                    cnt += f
                    out[n, oc, 0] = max(y, np.int64(0)) if relu else y
        return cnt
    for n in range(n_b):
        for a in range(na):
            for b in range(nb):
                oc = a * nb + b
                bb = bias[oc]
                for i in range(hw):
                    row[i] = 0
                for j in range(nj):
                    sj = part_shift[j]
                    src = acc[n, a, j, b]
                    for i in range(hw):
                        row[i] += np.int64(src[i]) << sj
                o = out[n, oc]
                for i in range(hw):
                    y, f = cast_by((row[i] << s_left) + bb, t, wide)
                    cnt += f
                    o[i] = max(y, np.int64(0)) if relu else y
    return cnt


def sum_cast(a: np.ndarray, sa: int, b: np.ndarray, sb: int, p: np.ndarray, cast: bool, relu: bool,
             out: np.ndarray) -> int:
    """out[i] = a[i] << sa + b[i] << sb, then (with `cast`) ReLU?(cast by p) of it, for 1-d int64
    arrays whose shifted sum the caller proved exact (an element-wise Add whose accumulator
    holds every partial sum): one vectorised pass.  More terms: chain calls, casting in the
    last.  Returns the number of overflowed casts."""
    return _sum_cast(a, sa, b, sb, p, wide_codes(p), cast, relu, out)


@njit(cache=True, nogil=True)
def _sum_cast(a, sa, b, sb, p, wide, cast, relu, out):
    t = fast_terms(p)
    cnt = 0
    if not cast:
        for i in range(out.size):
            out[i] = (a[i] << sa) + (b[i] << sb)
        return cnt
    for i in range(out.size):
        y, f = cast_by((a[i] << sa) + (b[i] << sb), t, wide)
        cnt += f
        out[i] = max(y, np.int64(0)) if relu else y
    return cnt


def scale_cast(x: np.ndarray, scale: np.ndarray, p: np.ndarray, relu: bool, out: np.ndarray) -> int:
    """out[n, c, i] = ReLU?(cast(x[n, c, i] * scale[c, i or 0])) for x (N, C, R) int64 and scale
    (C, R) or (C, 1): an element-wise Mul by a constant whose products fit int64, one pass per
    row, cast by p.  Returns the number of overflowed casts."""
    return _scale_cast(x, scale, p, wide_codes(p), relu, out)


@njit(cache=True, nogil=True)
def _scale_cast(x, scale, p, wide, relu, out):
    t = fast_terms(p)
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
                for i in range(nr):
                    y, f = cast_by(src[i] * m, t, wide)
                    cnt += f
                    dst[i] = max(y, np.int64(0)) if relu else y
                continue
            for i in range(nr):
                y, f = cast_by(src[i] * sc[i], t, wide)
                cnt += f
                dst[i] = max(y, np.int64(0)) if relu else y
    return cnt
