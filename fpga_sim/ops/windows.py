"""Which input positions each output pixel of a sliding window reads, computed once per call.

Conv (mac_narrow), MaxPool and AveragePool walk the same geometry; checking padding bounds here,
once per layer call, keeps the per-sample loops free of bounds tests.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def tap_table(cg, kh, kw, h, w, ho, wo, sh, sw, pt, pl, dh, dw):
    """(starts, offs, rows): output pixel p = oh*wo + ow reads the taps starts[p]..starts[p+1],
    each at flat offset offs[t] into its group's first input channel (c*h*w + ih*w + iw) with
    weight row rows[t] = (c*kh + i)*kw + j; taps in the padding are left out.  The same for
    every sample and group."""
    starts = np.zeros(ho * wo + 1, np.int64)
    offs = np.empty(ho * wo * cg * kh * kw, np.int64)
    rows = np.empty(ho * wo * cg * kh * kw, np.int64)
    t = 0
    for oh in range(ho):
        for ow in range(wo):
            for c in range(cg):
                for i in range(kh):
                    ih = oh * sh - pt + i * dh
                    if ih < 0 or ih >= h:
                        continue
                    for j in range(kw):
                        iw = ow * sw - pl + j * dw
                        if iw < 0 or iw >= w:
                            continue
                        offs[t] = (c * h + ih) * w + iw
                        rows[t] = (c * kh + i) * kw + j
                        t += 1
            starts[oh * wo + ow + 1] = t
    return starts, offs, rows


@njit(cache=True, nogil=True)
def plane_taps(x, out, kh, kw, sh, sw, pt, pl, dh, dw):
    """For pooling x (N, C, H, W) into out (N, C, OH, OW), channel by channel: tap_table's
    (starts, offs) of one plane (output p = oh*OW + ow reads xs[offs[starts[p]:starts[p+1]]]),
    and x and out as (N*C, plane) views xs and outs."""
    nb, nc, h, w = x.shape
    oh_n, ow_n = out.shape[2], out.shape[3]
    starts, offs, _ = tap_table(1, kh, kw, h, w, oh_n, ow_n, sh, sw, pt, pl, dh, dw)
    return starts, offs, x.reshape(nb * nc, h * w), out.reshape(nb * nc, oh_n * ow_n)
