"""The exact integer kernels of the MAC routes (ops/mac_routes.py): int64 loops, im2col for
BLAS, and the per-channel bounds the routes are chosen by.

Memory-light passes (im2col, epilogues) are serial: on a shared 2-core machine a parallel
region waits for a descheduled thread (measured: 1 ms best, 20-60 ms median under load), while
the serial pass takes 2 ms.  The compute-heavy loops (per-term casts, exact int64) stay parallel.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..fixed_kernels import cast_by, cast_params, fast_terms, requant, wide_codes
from .mac_bounds import MAX_SLICES


@njit(cache=True, nogil=True, parallel=True)
def conv_exact(xp, w, bias, sh, sw, dh, dw, groups, ho, wo, s_left, fshift, rw, rsg, rr, ro, relu, out):
    """The exact int64 path of a convolution on an already padded input xp: a bound proved the
    per-term casts are identities, so the sum is accumulated one output row at a time (the
    inner loop runs along a contiguous input row).  Returns the final casts' overflow count."""
    n_b = xp.shape[0]
    cout, cg, kh, kw = w.shape
    coutg = cout // groups
    counts = np.zeros(n_b * cout, np.int64)
    for t in prange(n_b * cout):
        n = t // cout
        oc = t % cout
        g = oc // coutg
        acc = np.empty(wo, np.int64)
        cnt = 0
        for oh in range(ho):
            acc[:] = 0
            for c in range(cg):
                for i in range(kh):
                    row = xp[n, g * cg + c, oh * sh + i * dh]
                    for j in range(kw):
                        wv = w[oc, c, i, j]
                        off = j * dw
                        for ow in range(wo):
                            acc[ow] += row[off + ow * sw] * wv
            for ow in range(wo):
                y, f = requant((acc[ow] << s_left) + bias[oc], fshift, rw, rsg, rr, ro)
                cnt += f
                if relu and y < 0:
                    y = 0
                out[n, oc, oh, ow] = y
        counts[t] = cnt
    return counts.sum()


def dense_exact(x: np.ndarray, w: np.ndarray, bias: np.ndarray, s_left: int, fshift: int, rw: int, rsg: bool,
                rr: int, ro: int, relu: bool, out: np.ndarray) -> int:
    """out[n, o] = ReLU?(cast((sum_i x[n,i]*w[o,i]) << s_left + bias[o])): the exact int64 path
    of a dense layer (a bound proved the per-term casts are identities), cast by fshift and the
    result codes (rw, rsg, rr, ro).  Returns overflows.  Serial: it reads each weight once per
    sample (memory-bound), and a parallel region costs seconds of compilation on a cold cache
    and waits for descheduled threads on a shared machine."""
    p = cast_params(fshift, rw, rsg, rr, ro)
    return int(_dense_exact(x, w, bias, s_left, p, wide_codes(p), relu, out))


@njit(cache=True, nogil=True)
def _dense_exact(x, w, bias, s_left, p, wide, relu, out):
    n_b, n_in = x.shape
    t = fast_terms(p)
    cnt = 0
    for o in range(w.shape[0]):
        for n in range(n_b):
            acc = np.int64(0)
            for i in range(n_in):
                acc += x[n, i] * w[o, i]
            y, f = cast_by((acc << s_left) + bias[o], t, wide)
            cnt += f
            out[n, o] = max(y, np.int64(0)) if relu else y
    return cnt


def dense_int32(x: np.ndarray, w: np.ndarray, bias: np.ndarray, s_left: int, fshift: int, rw: int, rsg: bool,
                rr: int, ro: int, relu: bool, out: np.ndarray) -> int:
    """dense_exact for int32 x and narrow (int8/16/32) weights when a bound keeps every partial
    sum inside int32: int32 sums vectorise (4096x4096 int16: 2.1 ms, int8: 1.6 ms; int64 sums
    3.6-3.9 ms).  Serial: a parallel region on the shared 2-core machine waits for a
    descheduled thread (measured 2.8 ms best, 20-24 ms while one other process runs)."""
    p = cast_params(fshift, rw, rsg, rr, ro)
    return int(_dense_int32(x, w, bias, s_left, p, wide_codes(p), relu, out))


@njit(cache=True, nogil=True)
def _dense_int32(x, w, bias, s_left, p, wide, relu, out):
    n_b, n_in = x.shape
    t = fast_terms(p)
    cnt = 0
    for n in range(n_b):
        for o in range(w.shape[0]):
            acc = np.int32(0)
            for i in range(n_in):
                acc = np.int32(acc + np.int32(x[n, i] * np.int32(w[o, i])))
            y, f = cast_by((np.int64(acc) << s_left) + bias[o], t, wide)
            cnt += f
            out[n, o] = max(y, np.int64(0)) if relu else y
    return cnt


@njit(cache=True, nogil=True)
def im2col(x, ch0, cg, kh, kw, sh, sw, pt, pl, dh, dw, ho, wo, limb_bits, cols):
    """cols[(c,i,j), n*ho*wo + oh*wo + ow] = x[n, ch0+c, ih, iw] (0 in the padding).  With
    limb_bits > 0, x is split into two limbs: the low limb (x & (2**limb_bits - 1)) fills
    columns [0, L) and the high limb (x >> limb_bits) columns [L, 2L), L = n*ho*wo."""
    n_b, _, h, wdt = x.shape
    hw = ho * wo
    big = n_b * hw
    mask = (np.int64(1) << limb_bits) - 1
    for r in range(cg * kh * kw):
        c = r // (kh * kw)
        i = (r // kw) % kh
        j = r % kw
        for n in range(n_b):
            base = n * hw
            for oh in range(ho):
                ih = oh * sh - pt + i * dh
                row = base + oh * wo
                inside = 0 <= ih < h
                for ow in range(wo):
                    iw = ow * sw - pl + j * dw
                    v = x[n, ch0 + c, ih, iw] if inside and 0 <= iw < wdt else np.int64(0)
                    if limb_bits > 0:
                        cols[r, row + ow] = v & mask
                        cols[r, big + row + ow] = v >> limb_bits
                    else:
                        cols[r, row + ow] = v
    return 0


ABS_SUM_BLOCK = 1 << 22          # weights per block of abs_sums (32 MB of int64 at a time)


def abs_sums(w: np.ndarray) -> dict[int, np.ndarray]:
    """{J: sum |w| over each of J equal slices of the input channels (Cout, J)} for every
    J <= MAX_SLICES dividing the channels per group: the weight side of the bounds (J = 1:
    sum |w| per output channel).  NumPy: computed once per weight array (cached by the caller),
    a block of output channels at a time, so no temporary grows with the weight array (VGG-19's
    25088x4096 dense weights are 822 MB of int64)."""
    cout, cg = w.shape[:2]
    w3 = w.reshape(cout, cg, -1)
    parts = [j for j in range(1, min(cg, MAX_SLICES) + 1) if cg % j == 0]
    out = {j: np.empty((cout, j), np.int64) for j in parts}
    rows = max(1, ABS_SUM_BLOCK // max(1, w3[0].size))
    for r in range(0, cout, rows):
        per_channel = np.abs(w3[r:r + rows]).sum(axis=2)
        for j in parts:
            per_channel.reshape(-1, j, cg // j).sum(axis=2, out=out[j][r:r + rows])
    return out


def narrowest(w: np.ndarray) -> np.ndarray:
    """w in the narrowest of int8/16/32/64 holding its values: fewer bytes for a loop that is
    bound by reading the weights once (a dense layer at small batch)."""
    lo, hi = int(w.min(initial=0)), int(w.max(initial=0))
    for t in (np.int8, np.int16, np.int32):
        if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max:
            return w.astype(t)
    return w
