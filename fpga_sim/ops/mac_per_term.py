"""The MAC arithmetic of HLS written out term by term: the general, slow, always-exact path.

Every product is cast to the accumulator type and every add is cast again (the accumulator's
rounding and overflow, events counted), the bias being the initial value; the sum is cast to
the result type, then the fused ReLU.  `run_mac_fixed` uses it when no faster route applies,
and `mac_narrow` for the few outputs whose partial sums leave the accumulator's range.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..fixed_kernels import requant


@njit(cache=True, nogil=True)
def output_per_term(x, w, n, oc, ch0, oh, ow, sh, sw, pt, pl, dh, dw, acc0, pshift, aw, asg, ar, ao):
    """One output's accumulator, from acc0 (the cast bias): (accumulator, overflow events)."""
    _, _, h, wdt = x.shape
    _, cg, kh, kw = w.shape
    acc = acc0
    cnt = 0
    for c in range(cg):
        for i in range(kh):
            ih = oh * sh - pt + i * dh
            if ih < 0 or ih >= h:
                continue
            for j in range(kw):
                iw = ow * sw - pl + j * dw
                if iw < 0 or iw >= wdt:
                    continue
                term, f1 = requant(x[n, ch0 + c, ih, iw] * w[oc, c, i, j], pshift, aw, asg, ar, ao)
                acc, f2 = requant(acc + term, 0, aw, asg, ar, ao)
                cnt += f1 + f2
    return acc, cnt


@njit(cache=True, nogil=True, parallel=True)
def conv_direct(x, w, bias, sh, sw, pt, pl, dh, dw, groups, ho, wo, pshift, aw, asg, ar, ao,
                fshift, rw, rsg, rr, ro, relu, out):
    """out[n,oc,oh,ow] with every product and add cast in the accumulator type; returns the number
    of overflow events (product casts, adds, final casts)."""
    n_b = x.shape[0]
    cout, cg = w.shape[0], w.shape[1]
    coutg = cout // groups
    counts = np.zeros(n_b * cout, np.int64)
    for t in prange(n_b * cout):
        n = t // cout
        oc = t % cout
        cnt = 0
        for oh in range(ho):
            for ow in range(wo):
                acc, f = output_per_term(x, w, n, oc, (oc // coutg) * cg, oh, ow, sh, sw, pt, pl, dh, dw,
                                         bias[oc], pshift, aw, asg, ar, ao)
                y, f2 = requant(acc, fshift, rw, rsg, rr, ro)
                cnt += f + f2
                if relu and y < 0:
                    y = 0
                out[n, oc, oh, ow] = y
        counts[t] = cnt
    return counts.sum()
