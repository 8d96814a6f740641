"""When an integer sum computed in a narrower arithmetic is exact: the bounds behind the MAC routes.

Stated once here (the type facts, int64 headroom and AP_SAT_SYM's lower bound, live on `Fixed`:
`fits_int64`, `sum_fits_int64`, `min_exact_raw`):
- float32 holds every integer below 2**24 exactly (F32_EXACT), float64 below 2**53, int32 sums
  below 2**31: a dot product sum_k x*w computed in one of them is exact when the bound
  max|x| * sum|w| (every partial sum lies within it) is below the limit.
- The limb split: x = hi * 2**b + lo with 0 <= lo < 2**b and b = ceil(bits(max|x|) / 2), so each
  limb's bound, max(2**b - 1, (max|x| >> b) + 1) * sum|w|, is about the square root of the
  whole one; the parts are added back in int64 (or Python integers) after the sums.
- Channel slices: J equal slices of the input channels, each with its own smaller bound.
"""
from __future__ import annotations

import numpy as np

F32_EXACT = 1 << 24
F64_EXACT = 1 << 53
INT32_EXACT = 1 << 31
MAX_SLICES = 4          # more slices: smaller grouped Convs and a longer epilogue than two limbs


def limb_bits(xmax: int) -> int:
    """b of the limb split x = hi * 2**b + lo for values with |x| <= xmax."""
    return (max(int(xmax), 1).bit_length() + 1) // 2


def limb_bound(xmax: int, wsum_max: float) -> float:
    """The partial-sum bound of either limb of the split at limb_bits(xmax)."""
    b = limb_bits(xmax)
    return max((1 << b) - 1, (int(xmax) >> b) + 1) * wsum_max


def gemm_plan(xmax: int, wsum_max: int) -> tuple[type, int] | None:
    """(float dtype, limb bits) under which BLAS computes sum_k x*w exactly, or None: float32
    alone, float32 on two limbs (two float32 GEMMs move the same bytes as one float64 GEMM and
    run faster), float64 alone, float64 on two limbs."""
    if xmax * wsum_max < F32_EXACT:
        return np.float32, 0
    if limb_bound(xmax, wsum_max) < F32_EXACT:
        return np.float32, limb_bits(xmax)
    if xmax * wsum_max < F64_EXACT:
        return np.float64, 0
    if limb_bound(xmax, wsum_max) < F64_EXACT:
        return np.float64, limb_bits(xmax)
    return None


def slice_plan(xmax_ch: np.ndarray, sums: dict[int, np.ndarray], groups: int, min_parts: int = 1,
               max_parts: int = MAX_SLICES) -> int | None:
    """The fewest J in min_parts..max_parts channel slices under which each slice's float32 sum is exact,
    or None.  xmax_ch: max |x| per input channel; sums[J][oc, j]: sum |w| over slice j of J
    equal slices of output oc's input channels (mac_int64.abs_sums).  A partial sum over slice
    j of output oc is bounded by max |x| over the slice times sums[J][oc, j]; evaluated in
    float64 (exact below 2**53, and a rounded product above 2**53 stays above 2**24)."""
    for j, ws in sorted(sums.items()):
        if not min_parts <= j <= max_parts:
            continue
        cout = ws.shape[0]
        xs = xmax_ch.reshape(groups, j, -1).max(axis=2).astype(np.float64)
        if (np.repeat(xs, cout // groups, axis=0) * ws).max(initial=0) < F32_EXACT:
            return j
    return None


def split_plan(xmax_ch: np.ndarray, sums: dict[int, np.ndarray], groups: int) -> tuple[int, int] | None:
    """(J channel slices, 0) or (2, limb bits) under which each part of a float32 Conv sums
    exactly (the fewest slices first, then limbs), or None."""
    j = slice_plan(xmax_ch, sums, groups)
    if j is not None:
        return j, 0
    xmax = int(xmax_ch.max(initial=0))
    if limb_bound(xmax, float(sums[1].max(initial=0))) < F32_EXACT:
        return 2, limb_bits(xmax)
    return None
