"""The MAC route for types that leave int64: accumulators up to 128 bits, products of data and
weights up to 64 bits each (a helper of ops/mac_routes.py, route "wide").

Python integers on NumPy object arrays, vectorised over the outputs: exact for any width, and
slow (about 0.1 us per output and tap), so the route table picks it only when no int64 route is
exact.  Two ways, both HLS arithmetic of docs/ARCHITECTURE.md:
- the bias cast to the accumulator is the initial value; when every product casts exactly
  (pshift <= 0) and |bias| + max|x| * sum|w| proves no partial sum leaves the accumulator, the
  per-term casts are identities: the sum is computed exactly as int64 GEMMs on limbs of x and w
  (each limb GEMM's bound below 2**63, `limb_plan`), added back in Python integers;
- otherwise every product and every add is cast in the accumulator (events counted).
Then the final cast to the result type and the fused ReLU.
"""
from __future__ import annotations

import numpy as np

from ..fixed import Fixed


def requant_obj(v: np.ndarray, shift: int, t: Fixed) -> tuple[np.ndarray, np.ndarray]:
    """(raw values of t, overflowed flags) for exact integers v (object array) with `shift`
    more fractional bits than t: ap_fixed's rounding, then its overflow mode (fixed_kernels'
    semantics, for any width)."""
    v = np.asarray(v, dtype=object)
    if shift <= 0:
        q = v * (1 << -shift)
    else:
        q = v >> shift                                   # Python ints: floor
        r = v - q * (1 << shift)
        half = 1 << (shift - 1)
        gt, eq, nz, neg = r > half, r == half, r != 0, v < 0
        rnd = t.rounding
        if rnd == "AP_TRN":
            up = np.zeros(v.shape, bool)
        elif rnd == "AP_TRN_ZERO":
            up = neg & nz
        else:
            tie = {"AP_RND": np.ones(v.shape, bool), "AP_RND_ZERO": neg, "AP_RND_MIN_INF": np.zeros(v.shape, bool),
                   "AP_RND_INF": ~neg, "AP_RND_CONV": (q & 1) != 0}[rnd]
            up = gt | (eq & tie)
        q = q + up.astype(np.int64).astype(object)
    lo, hi = t.min_raw, t.max_raw
    inside = (q >= lo) & (q <= hi)
    sym = t.min_exact_raw != lo
    out = q.copy()
    if not inside.all():
        bad = ~inside
        if t.overflow == "AP_WRAP":
            out[bad] = (q[bad] - lo) % (1 << t.width) + lo
        elif t.overflow == "AP_SAT_ZERO":
            out[bad] = 0
        else:
            out[q > hi] = hi
            out[q < lo] = t.min_exact_raw
    flags = ~inside
    if sym:
        at_lo = inside & (q == lo)
        out[at_lo] = lo + 1
        flags |= at_lo
    return out, flags


def _cols(x: np.ndarray, kh: int, kw: int, attrs, ho: int, wo: int) -> np.ndarray:
    """im2col (N, C, Ho, Wo, kh, kw) view of the zero-padded int64 input."""
    (sh, sw), (pt, pl, pb, pr), (dh, dw) = attrs.strides, attrs.pads, attrs.dilations
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    n, c = x.shape[:2]
    out = np.empty((n, c, ho, wo, kh, kw), np.int64)
    for i in range(kh):
        for j in range(kw):
            out[..., i, j] = xp[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw]
    return out


def limb_plan(xmax: int, wmax: int, k: int) -> tuple[int, int]:
    """(x limb bits, w limb bits) such that a GEMM of one limb of x by one limb of w over k
    terms stays below 2**63 in int64: limbs are < 2**b (low limbs unsigned, the top one signed)."""
    room = 62 - max(k, 1).bit_length()
    bx = max(int(xmax).bit_length(), 1)
    bw = max(int(wmax).bit_length(), 1)
    if bx + bw <= room:
        return 64, 64                                     # one GEMM, no split
    half = max(room // 2, 1)
    return (bx if bx <= half else half), (bw if bw <= room - min(bx, half) else room - min(bx, half))


def _limbs(a: np.ndarray, bits: int) -> list[tuple[int, np.ndarray]]:
    """[(shift, limb)] with a == sum limb << shift; all limbs below 2**bits but the top one."""
    if bits >= 64:
        return [(0, a)]
    out, s, rest = [], 0, a.copy()
    mask = (1 << bits) - 1
    while True:
        if int(np.abs(rest).max(initial=0)) < (1 << bits):
            out.append((s, rest))
            return out
        out.append((s, rest & mask))
        rest = rest >> bits
        s += bits


def exact_sums(cols: np.ndarray, wk: np.ndarray) -> np.ndarray:
    """sum_k cols[m, k] * wk[o, k] exactly, as an (M, O) object array of Python integers."""
    k = cols.shape[1]
    bx, bw = limb_plan(int(np.abs(cols).max(initial=0)), int(np.abs(wk).max(initial=0)), k)
    total = np.zeros((cols.shape[0], wk.shape[0]), object)
    for sx, xl in _limbs(cols, bx):
        for sw_, wl in _limbs(wk, bw):
            total += (xl @ wl.T).astype(object) * (1 << (sx + sw_))
    return total


def run_wide(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, types: tuple, attrs, out_hw: tuple[int, int],
             relu: bool, out: np.ndarray) -> int:
    """The layer into out (N, Cout, Ho, Wo) int64 (the result type fits int64) for raw int64
    x (N,C,H,W), w (Cout,Cg,kh,kw) and bias b (Cout,) of the bias type; returns overflow events."""
    tin, tw, tb, acc, res = types
    n_b = x.shape[0]
    cout, cg, kh, kw = w.shape
    ho, wo = out_hw
    groups = attrs.groups
    coutg = cout // groups
    m = n_b * ho * wo
    events = 0
    bias = np.zeros(cout, object)
    if b is not None:
        bias, f = requant_obj(np.asarray(b, np.int64).reshape(-1).astype(object), tb.frac - acc.frac, acc)
        events += int(f.sum()) * m
    pshift = tin.frac + tw.frac - acc.frac
    k = cg * kh * kw
    win = _cols(x, kh, kw, attrs, ho, wo)
    xmax = int(np.abs(x).max(initial=0))
    wsum = [sum(abs(int(v)) for v in row) for row in w.reshape(cout, k).tolist()]
    bmax = int(max((abs(v) for v in bias.tolist()), default=0))
    unsigned_ok = acc.signed or (x.min(initial=0) >= 0 and w.min(initial=0) >= 0 and min(bias.tolist(), default=0) >= 0)
    exact = pshift <= 0 and unsigned_ok and bmax + (xmax * max(wsum, default=0) << -pshift) <= acc.max_raw
    sums = np.empty((m, cout), object)
    for g in range(groups):
        cols = win[:, g * cg:(g + 1) * cg].transpose(0, 2, 3, 1, 4, 5).reshape(m, k)
        wg = w[g * coutg:(g + 1) * coutg].reshape(coutg, k)
        bg = bias[g * coutg:(g + 1) * coutg]
        if exact:
            sums[:, g * coutg:(g + 1) * coutg] = exact_sums(cols, wg) * (1 << -pshift) + bg[None, :]
            continue
        for o in range(coutg):
            a = np.full(m, bg[o], object)
            for t in range(k):
                wv = int(wg[o, t])
                if wv == 0:
                    continue                              # a zero product neither changes nor overflows the sum
                term, f1 = requant_obj(cols[:, t].astype(object) * wv, pshift, acc)
                a, f2 = requant_obj(a + term, 0, acc)
                events += int(f1.sum()) + int(f2.sum())
            sums[:, g * coutg + o] = a
    y, f = requant_obj(sums, acc.frac - res.frac, res)
    events += int(f.sum())
    y = y.astype(np.int64)
    if relu:
        np.maximum(y, 0, out=y)
    out[...] = y.reshape(n_b, ho, wo, cout).transpose(0, 3, 1, 2)
    return events

