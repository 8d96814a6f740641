"""The depthwise route of the MAC table (ops/mac_routes.py): one Numba pass for convolutions
whose outputs each read one input channel (Cin/groups == 1, any channel multiplier).

A depthwise layer does few MACs per output (kh * kw), so what it costs is memory passes: the
onnxruntime routes convert x to float32, run a grouped Conv and cast its output in a third
pass.  Here each input channel is converted once into a small zero-padded plane (it stays in
L1), the taps are summed in a lane type that holds the exact sums (float32 when every partial
sum of the channel is below 2**24, float64 below 2**53, else int64: `lane_zero`), and the
channel's outputs are cast to the result type right away by mac_epilogue's fused formulas.
Exact under the route's bound (mac_bounds.py): |partial sum| <= max|x| over the channel *
sum|w| of the output, below the lane type's limit.  Serial: it is memory-bound, and a parallel
region on the shared 2-core machine waited 40 ms for a descheduled thread (measured).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..fixed_kernels import cast_by, fast_terms, wide_codes
from .mac_bounds import F32_EXACT, F64_EXACT


def lane_zero(bound: float) -> np.generic:
    """The zero of the narrowest lane type whose sums are exact below `bound` (see the module
    docstring); its type selects the kernel's specialisation."""
    if bound < F32_EXACT:
        return np.float32(0)
    if bound < F64_EXACT:
        return np.float64(0)
    return np.int64(0)


@njit(cache=True, nogil=True, inline="always")
def _u(i):
    """An index Numba need not check for negative wraparound (the loops then vectorise)."""
    return np.uint64(i)


def depthwise_conv(x: np.ndarray, wl: np.ndarray, bias: np.ndarray, sh: int, sw: int, pt: int, pl: int, pb: int,
                   pr: int, dh: int, dw: int, ho: int, wo: int, s_left: int, p: np.ndarray, relu: bool,
                   zero: np.generic, out: np.ndarray) -> int:
    """out[n, oc, oh, ow] = ReLU?(cast((sum_ij x[n, oc // m, ...] * wl[oc, 0, i, j]) << s_left
    + bias[oc])) for x (N, C, H, W) int64, weights wl (C*m, 1, kh, kw) already in the lane type
    of `zero`, out (N, C*m, ho, wo) int64 (both C-contiguous).  Returns the number of
    overflowed final casts.

    Each channel is copied into a zero-padded plane of row pitch wp; the sum of output (oh, ow)
    then sits at acc[oh * wp + ow * sw]: every tap adds one shifted run of the plane, one run
    for stride 1 in height (the columns between rows are computed and never read), one per
    output row otherwise.  A 3x3 kernel adds its nine taps in one pass.  The sums are gathered
    into a row of the channel's ho * wo outputs, cast in one long loop."""
    return _depthwise_conv(x, wl, bias, sh, sw, pt, pl, pb, pr, dh, dw, ho, wo, s_left, p, wide_codes(p), relu, zero,
                           out)


@njit(cache=True, nogil=True)
def _depthwise_conv(x, wl, bias, sh, sw, pt, pl, pb, pr, dh, dw, ho, wo, s_left, p, wide, relu, zero, out):
    n_b, c_in, h, wdt = x.shape
    cout, _, kh, kw = wl.shape
    mult = cout // c_in
    taps = kh * kw
    terms = fast_terms(p)
    hp, wp = h + pt + pb, wdt + pl + pr
    span = (wo - 1) * sw + 1
    n_acc = (ho - 1) * wp + span
    blocks, run = (1, n_acc) if sh == 1 else (ho, span)
    plane = np.full(hp * wp, zero)
    acc = np.full(n_acc, zero)
    row = np.empty(ho * wo, np.int64)
    xf, wf, of = x.reshape(-1), wl.reshape(-1), out.reshape(-1)
    r1, d1 = dh * wp, dw
    cnt = 0
    for n in range(n_b):
        for ic in range(c_in):
            s0 = (n * c_in + ic) * h * wdt
            for r in range(h):
                d0, x0 = (pt + r) * wp + pl, s0 + r * wdt
                for c in range(wdt):
                    plane[_u(d0 + c)] = xf[_u(x0 + c)]
            for oc in range(ic * mult, (ic + 1) * mult):
                t0 = oc * taps
                for blk in range(blocks):
                    a0, p0 = blk * wp, blk * sh * wp
                    if taps == 9 and kw == 3:
                        w0, w1, w2 = wf[_u(t0)], wf[_u(t0 + 1)], wf[_u(t0 + 2)]
                        w3, w4, w5 = wf[_u(t0 + 3)], wf[_u(t0 + 4)], wf[_u(t0 + 5)]
                        w6, w7, w8 = wf[_u(t0 + 6)], wf[_u(t0 + 7)], wf[_u(t0 + 8)]
                        for q in range(run):
                            b = p0 + q
                            acc[_u(a0 + q)] = (plane[_u(b)] * w0 + plane[_u(b + d1)] * w1 + plane[_u(b + 2 * d1)] * w2
                                               + plane[_u(b + r1)] * w3 + plane[_u(b + r1 + d1)] * w4
                                               + plane[_u(b + r1 + 2 * d1)] * w5 + plane[_u(b + 2 * r1)] * w6
                                               + plane[_u(b + 2 * r1 + d1)] * w7 + plane[_u(b + 2 * r1 + 2 * d1)] * w8)
                        continue
                    for q in range(run):
                        acc[_u(a0 + q)] = zero
                    for t in range(taps):
                        wv = wf[_u(t0 + t)]
                        b = p0 + (t // kw) * r1 + (t % kw) * d1
                        for q in range(run):
                            acc[_u(a0 + q)] += plane[_u(b + q)] * wv
                for oh in range(ho):
                    a0, g0 = oh * wp, oh * wo
                    for ow in range(wo):
                        row[_u(g0 + ow)] = np.int64(acc[_u(a0 + ow * sw)])
                bb, o0 = bias[oc], (n * cout + oc) * ho * wo
                for q in range(ho * wo):
                    y, f = cast_by((row[q] << s_left) + bb, terms, wide)
                    cnt += f
                    of[_u(o0 + q)] = max(y, np.int64(0)) if relu else y
    return cnt
