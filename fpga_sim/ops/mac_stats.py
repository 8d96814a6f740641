"""Per-channel statistics of a MAC layer's input, the data side of the route bounds (a helper
of ops/mac_routes.py): one pass gives each channel's minimum and maximum, from which the
routes read max |x| per channel, the overall range (8- and 16-bit checks, zero points) and
the sign (unsigned accumulators).  At batch 16 a pass over a ResNet-50 input is ~10 ms: the
routes used to make up to seven of them (abs max, then x.min / x.max per route tried).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def channel_range(x, lo, hi):
    """lo[c], hi[c] = min, max of x[:, c, :] (x (N, C, HW) int64; lo/hi start at 0, so an
    empty channel reads as 0), in one pass without temporaries."""
    n_b, c_in, hw = x.shape
    for n in range(n_b):
        for c in range(c_in):
            a, b = lo[c], hi[c]
            src = x[n, c]
            for i in range(hw):
                v = src[i]
                a = min(a, v)
                b = max(b, v)
            lo[c], hi[c] = a, b


def channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) per channel of an (N, C, H, W) int64 array, both 0 for an empty one."""
    n_b, c_in = x.shape[:2]
    lo, hi = np.zeros(c_in, np.int64), np.zeros(c_in, np.int64)
    if x.size:
        x3 = x.reshape(n_b, c_in, -1)
        lo[:], hi[:] = x3[0, :, 0], x3[0, :, 0]
        channel_range(x3, lo, hi)
    return lo, hi
