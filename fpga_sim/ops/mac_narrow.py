"""Fast exact MAC for narrow accumulators (hls4ml's default: every type ap_fixed<16,6>).

With an accumulator narrower than the sum can grow, `conv_direct` casts every product and every
partial sum (about 65 M MAC/s).  Most such layers never actually overflow, so this module proves
that per output pixel instead of paying for it per term:

- Each product is cast to the accumulator by a floor shift, t = (x*w + rc) >> s, with rc = 0
  (AP_TRN), half an LSB (AP_RND: ties up) or half an LSB minus one (AP_RND_MIN_INF: ties
  down); when s <= 0 the cast is an exact left shift, folded into the weights.
- The terms are summed unwrapped in int32 lanes, one per output channel (weights laid out
  channel-last, padded to whole vectors and cached per weight array; padding taps and zero
  inputs skipped: a zero term neither changes nor overflows the sum).
- If every term and every partial sum of an output lies in the accumulator's range, no cast
  changed a value and no overflow event happened, whatever the overflow mode: the unwrapped sum
  IS the accumulator's value.  Cauchy-Schwarz proves that from sum x**2 of the pixel's taps
  (one multiply per tap, not per lane); failing that, the pixel is summed again tracking the
  extremes; failing that, each of its outputs is recomputed by conv_direct's own per-term
  arithmetic (every mode, every event counted).  So outputs and overflow counts equal
  conv_direct's exactly.
The final cast to the result type is mac_epilogue's fused pass, or a copy when the result type
holds every accumulator value.  `run_mac_narrow` returns None where int32 cannot hold the
arithmetic or the product rounding depends on sign or parity; the caller then uses `conv_direct`.
Serial: on the shared 2-core machine a two-thread split of the batch measured 1.25x faster at
best but 8-20x slower at the median (load average 1.5; 4x slower at best under load 4.5).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from ..fixed import Fixed
from ..fixed_kernels import RND, RND_MIN_INF, SAT_SYM, TRN
from .mac_epilogue import cast_params, fused_epilogue
from .mac_per_term import output_per_term
from .weight_cache import derived
from .windows import tap_table

I32_MAX = (1 << 31) - 1
I32_MIN = -(1 << 31)
_NO_SHIFT = np.zeros(1, np.int64)
_NO_BIAS = np.zeros(1, np.int64)


@njit(cache=True, nogil=True)
def _min_max(a):
    """(min, max) of a 1-d array in one pass."""
    lo = a[0]
    hi = a[0]
    for i in range(1, a.size):
        lo = min(lo, a[i])
        hi = max(hi, a[i])
    return lo, hi


@njit(cache=True, nogil=True)
def _copy_relu(src, relu, dst):
    """dst = ReLU?(src): the final cast when it is the identity (hls4ml: one type everywhere)."""
    if relu:
        for i in range(src.size):
            dst[i] = max(src[i], 0)
    else:
        for i in range(src.size):
            dst[i] = src[i]


@intrinsic
def _term32(typingctx, x, w, rc, ps):
    """(x*w + rc) >> ps as int32 instructions (Numba would widen them to int64, which keeps LLVM
    from using 8-lane int32 vectors); the caller guarantees x*w + rc fits int32."""
    if not all(t == types.int32 for t in (x, w, rc, ps)):
        return None

    def codegen(context, builder, sig, args):
        xv, wv, r, sh = args
        return builder.ashr(builder.add(builder.mul(xv, wv, flags=("nsw",)), r, flags=("nsw",)), sh)

    return types.int32(types.int32, types.int32, types.int32, types.int32), codegen


@njit(cache=True, nogil=True, inline="always")
def _gather(xrow, t0, t1, offs, rws, r0, rows, vals):
    """The non-zero taps t0..t1 of one output pixel (xrow: the sample's input from the group's
    first channel, flat): rows[k] (its row of the laid-out weights) and vals[k] (the input),
    k < count; compacted without a branch on the value (a zero test per tap mispredicts on
    post-ReLU data).  Returns (count, sum of the inputs squared)."""
    nt = 0
    x2 = 0.0
    for t in range(t0, t1):
        xv = np.int32(xrow[offs[t]])
        rows[nt] = r0 + rws[t]
        vals[nt] = xv
        x2 += float(xv) * float(xv)
        nt += xv != 0
    return nt, x2


@njit(cache=True, nogil=True, inline="always")
def _lane_sums(wt, s, rows, vals, nt, ps32, rc32, track, check_terms):
    """Add the terms (x*w + rc) >> ps of taps [0, nt) into the int32 lanes s (one per output
    channel of the group).  With `track`, returns the smallest and largest partial sum (and
    term, with check_terms) over all lanes, else (0, 0)."""
    nl = s.size
    mnr = np.int32(0)
    mxr = np.int32(0)
    if track:
        for o in range(nl):
            mnr = min(mnr, s[o])
            mxr = max(mxr, s[o])
    for t in range(nt):
        xv = vals[t]
        r = rows[t]
        if not track:
            for o in range(nl):
                s[o] = np.int32(s[o] + _term32(xv, wt[r, o], rc32, ps32))
        elif check_terms:
            for o in range(nl):
                tv = _term32(xv, wt[r, o], rc32, ps32)
                v = np.int32(s[o] + tv)
                s[o] = v
                mnr = min(mnr, min(v, tv))
                mxr = max(mxr, max(v, tv))
        else:
            for o in range(nl):
                v = np.int32(s[o] + _term32(xv, wt[r, o], rc32, ps32))
                s[o] = v
                mnr = min(mnr, v)
                mxr = max(mxr, v)
    return mnr, mxr


@njit(cache=True, nogil=True)
def conv_narrow(x, wt, w, bias, w2s, room, sh, sw, pt, pl, dh, dw, ps, rc, lo, hi, check_terms,
                pshift, aw, asg, ar, ao, sums):
    """sums[n, oc, oh, ow]: the accumulator's final value in a convolution with per-term casts
    (before the cast to the result type), for int64 x (N,C,H,W) and int32 weights wt
    (groups*Cg*kh*kw, lanes >= Cout/groups, zero-padded; shifted left when the product cast is
    a left shift): terms (x*w + rc) >> ps summed in int32 lanes.

    Three tiers per output pixel, each exact where it answers: (1) the plain sum, accepted when
    Cauchy-Schwarz bounds every partial sum and term inside lo..hi: sum|t| <= sqrt(sum x^2 *
    w2s[oc]) + 2 * (non-zero taps) <= room[oc] (w2s = sum w^2 / 4**ps with a safety margin,
    room = the distance from the bias to the edges of lo..hi and of the terms' range); (2) the
    sum again tracking its extremes (and the terms', with check_terms); (3) conv_direct's per-term
    arithmetic from w (int64, original layout).  Returns the overflow event count."""
    _, _, ho, wo = sums.shape
    cout, cg, kh, kw = w.shape
    nl = wt.shape[1]
    coutg = cout // (wt.shape[0] // (cg * kh * kw))
    groups = cout // coutg
    ps32 = np.int32(ps)
    rc32 = np.int32(rc)
    s = np.empty(nl, np.int32)
    rows = np.empty(cg * kh * kw, np.int64)
    vals = np.empty(cg * kh * kw, np.int32)
    n_b, cin, h, wdt = x.shape
    starts, offs, rws = tap_table(cg, kh, kw, h, wdt, ho, wo, sh, sw, pt, pl, dh, dw)
    xf = x.reshape(n_b, cin * h * wdt)
    cnt = 0
    for n in range(n_b):
        for g in range(groups):
            r0 = g * cg * kh * kw
            xrow = xf[n, g * cg * h * wdt:]
            for oh in range(ho):
                for ow in range(wo):
                    p = oh * wo + ow
                    nz, x2 = _gather(xrow, starts[p], starts[p + 1], offs, rws, r0, rows, vals)
                    for o in range(nl):
                        s[o] = bias[g * coutg + o] if o < coutg else 0
                    _lane_sums(wt, s, rows, vals, nz, ps32, rc32, False, check_terms)
                    proven = True
                    for o in range(coutg):
                        m = room[g * coutg + o] - 2.0 * nz
                        proven &= (m >= 0.0) & (x2 * w2s[g * coutg + o] <= m * m)
                    clean = proven
                    if not proven:
                        for o in range(nl):
                            s[o] = bias[g * coutg + o] if o < coutg else 0
                        mnr, mxr = _lane_sums(wt, s, rows, vals, nz, ps32, rc32, True, check_terms)
                        clean = lo <= mnr and mxr <= hi
                    for o in range(coutg):
                        oc = g * coutg + o
                        a = np.int64(s[o])
                        if not clean:
                            a, f = output_per_term(x, w, n, oc, g * cg, oh, ow, sh, sw, pt, pl, dh, dw, bias[oc],
                                                 pshift, aw, asg, ar, ao)
                            cnt += f
                        sums[n, oc, oh, ow] = a
    return cnt


def _round_const(pshift: int, rnd: int) -> int | None:
    """rc such that (p + rc) >> pshift is the accumulator's rounding of p / 2**pshift, or None
    when that rounding depends on the sign or parity (no single constant)."""
    if pshift <= 0 or rnd == TRN:
        return 0
    half = 1 << (pshift - 1)
    return {RND: half, RND_MIN_INF: half - 1}.get(rnd)


def run_mac_narrow(x: np.ndarray, w: np.ndarray, bias: np.ndarray, attrs: Any, pshift: int, acc: Fixed, fshift: int,
                   res: Fixed, relu: bool, out: np.ndarray) -> int | None:
    """conv_direct's result (into out) and overflow count, fast; None when int32 cannot hold the
    arithmetic or the product rounding needs conv_direct.  x (N,C,H,W), w (Cout,Cg,kh,kw) and
    bias (Cout, already in the accumulator type) are int64."""
    aw, asg, ar, ao = acc.codes
    rc = _round_const(pshift, ar)
    lo, hi = acc.min_raw, acc.max_raw
    if rc is None or lo < I32_MIN or hi > I32_MAX or w.size == 0 or x.size == 0 or not x.flags.c_contiguous:
        return None
    if ao == SAT_SYM and asg and aw > 1:
        lo += 1                                   # AP_SAT_SYM turns the lowest code into an event
    left = max(-pshift, 0)
    cache = derived(w)
    key = ("mac_narrow", left, attrs.groups)
    prep = cache.get(key) if cache is not None else None
    if prep is None:
        prep = _prepare_weights(w, left, attrs.groups)
        if cache is not None:
            cache[key] = prep
    wt, wmin, wmax, w2 = prep
    if wt is None:
        return None
    ps = max(pshift, 0)
    xmin, xmax = (int(v) for v in _min_max(x.reshape(-1)))
    ext = [a * b for a in (xmin, xmax) for b in (wmin, wmax)]
    pmin, pmax = min(ext), max(ext)
    if pmin < I32_MIN or pmax + rc > I32_MAX or xmin < I32_MIN or xmax > I32_MAX:
        return None
    tlo, thi = (pmin + rc) >> ps, (pmax + rc) >> ps
    bmax = max(-int(bias.min()), int(bias.max())) if bias.size else 0
    if bmax + w[0].size * max(-tlo, thi) > I32_MAX:
        return None                               # unwrapped partial sums could leave int32
    (sh, sw), (pt, pl, _, _), (dh, dw) = attrs.strides, attrs.pads, attrs.dilations
    check_terms = not (lo <= tlo and thi <= hi)
    room = np.minimum(np.minimum(hi - bias, bias - lo), min(hi, -lo)).astype(np.float64)
    w2s = w2 * (1.0 + 1e-9) / 4.0 ** ps
    sums = np.empty(out.shape, np.int32)
    events = conv_narrow(x, wt, w, bias, w2s, room, sh, sw, pt, pl, dh, dw, ps, rc, lo, hi, check_terms,
                         pshift, aw, asg, ar, ao, sums)
    res_lo = res.min_raw + 1 if res.overflow == "AP_SAT_SYM" and res.signed and res.width > 1 else res.min_raw
    if fshift == 0 and res_lo <= acc.min_raw and acc.max_raw <= res.max_raw:
        _copy_relu(sums.reshape(-1), relu, out.reshape(-1))     # the result type holds every accumulator value
    else:
        # the bias is already in the sums: the final cast is the same for every output, one long row
        events += fused_epilogue(sums.reshape(1, 1, 1, 1, -1), _NO_SHIFT, 0, _NO_BIAS,
                                 cast_params(fshift, *res.codes), relu, out.reshape(1, 1, -1))
    return int(events)


def _prepare_weights(w: np.ndarray, left: int, groups: int) -> tuple:
    """(int32 weights shifted left by `left`, laid out (groups*Cg*kh*kw, lanes) with the output
    channels of a group zero-padded to a multiple of 16 lanes (whole vectors), min, max, sum of
    squares per output channel), or (None, 0, 0, None) when they do not fit int32."""
    wmin, wmax = int(w.min()) << left, int(w.max()) << left
    if wmin < I32_MIN or wmax > I32_MAX:
        return None, 0, 0, None
    cout, cg, kh, kw = w.shape
    coutg = cout // groups
    ws = (w << left if left else w).astype(np.int32).reshape(groups, coutg, cg * kh * kw)
    lanes = -(-coutg // 16) * 16
    wt = np.zeros((groups, cg * kh * kw, lanes), np.int32)
    wt[:, :, :coutg] = ws.transpose(0, 2, 1)
    w2 = (ws.astype(np.float64) ** 2).reshape(cout, -1).sum(axis=1)
    return wt.reshape(groups * cg * kh * kw, lanes), wmin, wmax, w2
