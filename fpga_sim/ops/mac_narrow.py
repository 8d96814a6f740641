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
Layers with few output channels per group (a 10-output dense layer, LeNet's 16- and 32-channel
convolutions) waste most channel lanes on padding or cannot pay for the per-pixel gather; from
a batch of BATCH_LANES_MIN_N, `conv_narrow_batch` makes the samples the lanes instead (input
transposed, weights broadcast, zero weights skipped) with the same three tiers per output.
Measured at batch 200 (ms, channels -> samples): LeNet conv1 1.51 -> 0.61, conv2 3.39 -> 1.72,
10-output dense layers 0.21 -> 0.12 and 0.09 -> 0.07; wider dense layers stay on channel lanes
(256 outputs: 0.36 vs 0.60, they skip the zero inputs).
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
from ..fixed_kernels import SAT_SYM, cast_params, round_terms
from .mac_epilogue import fused_epilogue
from .mac_per_term import output_per_term
from .weight_cache import derived
from .windows import tap_table

I32_MAX = (1 << 31) - 1
I32_MIN = -(1 << 31)
BATCH_LANES_MIN_N = 64        # samples as lanes from this batch size (below ~32-64 the channel lanes win) ...
BATCH_LANES_MAX_COUT = 32     # ... for groups of at most this many output channels
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
    t0 = 0
    if not track:
        # only the final sum counts here: four taps a pass over the lanes (any order gives the
        # same int32 sum, run_mac_narrow checked that no partial sum leaves int32)
        while t0 + 4 <= nt:
            xa, xb, xc, xd = vals[t0], vals[t0 + 1], vals[t0 + 2], vals[t0 + 3]
            wa, wb, wc, wd = wt[rows[t0]], wt[rows[t0 + 1]], wt[rows[t0 + 2]], wt[rows[t0 + 3]]
            for o in range(nl):
                s[o] = np.int32(s[o] + (_term32(xa, wa[o], rc32, ps32) + _term32(xb, wb[o], rc32, ps32)
                                        + _term32(xc, wc[o], rc32, ps32) + _term32(xd, wd[o], rc32, ps32)))
            t0 += 4
    for t in range(t0, nt):
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


@njit(cache=True, nogil=True)
def _transpose32(x2d, xT):
    """xT[k, n] = x2d[n, k] as int32 (the caller checked the values fit), eight samples a pass."""
    n_b, k = x2d.shape
    nfull = n_b - n_b % 8
    for n0 in range(0, nfull, 8):
        for kk in range(k):
            for j in range(8):
                xT[kk, n0 + j] = np.int32(x2d[n0 + j, kk])
    for n in range(nfull, n_b):
        for kk in range(k):
            xT[kk, n] = np.int32(x2d[n, kk])


@njit(cache=True, nogil=True, inline="always")
def _sum4(s, b, first, ra, rb, rc_, rd, wa, wb, wc, wd, rc32, ps32):
    """s[n] = (b if first else s[n]) + four taps' terms, every sample (lane) n."""
    for n in range(s.size):
        t = (_term32(ra[n], wa, rc32, ps32) + _term32(rb[n], wb, rc32, ps32)
             + _term32(rc_[n], wc, rc32, ps32) + _term32(rd[n], wd, rc32, ps32))
        s[n] = np.int32((b if first else s[n]) + t)


@njit(cache=True, nogil=True)
def conv_narrow_batch(xT, x, wq, w, bias, w2s, room, sh, sw, pt, pl, dh, dw, ps, rc, lo, hi, check_terms,
                      pshift, aw, asg, ar, ao, ho, wo, sums_t):
    """conv_narrow with the samples as the int32 lanes (weights broadcast) instead of the output
    channels, for layers with few output channels (their channel lanes are mostly padding, or
    too few to pay for the per-pixel gather): sums_t[oc, oh*wo + ow, n], from xT (C*H*W, N)
    int32 (x transposed) and wq (Cout, Cg*kh*kw) int32 (shifted left like wt).  Zero weights
    are skipped (their terms are 0); four taps are added per pass over the lanes (any order
    gives the same int32 sum: run_mac_narrow checked that no partial sum leaves int32).

    The same three tiers, per output instead of per pixel: (1) the plain sum, accepted by the
    same Cauchy-Schwarz test from sum x**2 and the non-zero count of the sample's taps (one
    pass per pixel for all samples); (2) that output summed again alone, in tap order, tracking
    its partial sums (and terms, with check_terms); (3) output_per_term.  Returns the overflow
    event count."""
    cout, cg, kh, kw = w.shape
    n_b, cin, h, wdt = x.shape
    groups = cin // cg
    coutg = cout // groups
    ps32 = np.int32(ps)
    rc32 = np.int32(rc)
    s = np.empty(n_b, np.int32)
    x2 = np.empty(n_b, np.float64)
    nzc = np.empty(n_b, np.int32)
    tw = np.empty(cg * kh * kw, np.int32)
    to = np.empty(cg * kh * kw, np.int64)
    starts, offs, rws = tap_table(cg, kh, kw, h, wdt, ho, wo, sh, sw, pt, pl, dh, dw)
    cnt = 0
    for g in range(groups):
        xg = xT[g * cg * h * wdt:]
        for p in range(ho * wo):
            t0 = starts[p]
            t1 = starts[p + 1]
            x2[:] = 0.0
            nzc[:] = 0
            for t in range(t0, t1):
                row = xg[offs[t]]
                for n in range(n_b):
                    v = row[n]
                    x2[n] += float(v) * float(v)
                    nzc[n] += v != 0
            for o in range(coutg):
                oc = g * coutg + o
                b = np.int32(bias[oc])
                nt = 0
                for t in range(t0, t1):
                    wv = wq[oc, rws[t]]
                    tw[nt] = wv
                    to[nt] = offs[t]
                    nt += wv != 0
                k = 0
                while k + 4 <= nt:
                    if rc32 == 0:                 # AP_TRN: a constant 0 lets LLVM drop the add
                        _sum4(s, b, k == 0, xg[to[k]], xg[to[k + 1]], xg[to[k + 2]], xg[to[k + 3]],
                              tw[k], tw[k + 1], tw[k + 2], tw[k + 3], np.int32(0), ps32)
                    else:
                        _sum4(s, b, k == 0, xg[to[k]], xg[to[k + 1]], xg[to[k + 2]], xg[to[k + 3]],
                              tw[k], tw[k + 1], tw[k + 2], tw[k + 3], rc32, ps32)
                    k += 4
                if k == 0:
                    s[:] = b
                while k < nt:
                    ra = xg[to[k]]
                    wa = tw[k]
                    for n in range(n_b):
                        s[n] = np.int32(s[n] + _term32(ra[n], wa, rc32, ps32))
                    k += 1
                rm = room[oc]
                ws2 = w2s[oc]
                nbad = 0
                for n in range(n_b):
                    m = rm - 2.0 * nzc[n]
                    nbad += not ((m >= 0.0) & (x2[n] * ws2 <= m * m))
                dst = sums_t[oc, p]
                if nbad == 0:
                    dst[:] = s
                    continue
                for n in range(n_b):
                    m = rm - 2.0 * nzc[n]
                    if (m >= 0.0) & (x2[n] * ws2 <= m * m):
                        dst[n] = s[n]
                        continue
                    acc = b
                    mnr = min(np.int32(0), acc)
                    mxr = max(np.int32(0), acc)
                    for t in range(t0, t1):
                        tv = _term32(np.int32(xg[offs[t], n]), wq[oc, rws[t]], rc32, ps32)
                        acc = np.int32(acc + tv)
                        mnr = min(mnr, acc)
                        mxr = max(mxr, acc)
                        if check_terms:
                            mnr = min(mnr, tv)
                            mxr = max(mxr, tv)
                    if lo <= mnr and mxr <= hi:
                        dst[n] = acc
                    else:
                        a, f = output_per_term(x, w, n, oc, g * cg, p // wo, p % wo, sh, sw, pt, pl, dh, dw,
                                               bias[oc], pshift, aw, asg, ar, ao)
                        cnt += f
                        dst[n] = a
    return cnt


@njit(cache=True, nogil=True)
def _copy_relu_t(sums_t, relu, out):
    """out[n, oc, p] = ReLU?(sums_t[oc, p, n]): conv_narrow_batch's identity final cast,
    eight pixels a pass."""
    n_b, cout, npx = out.shape
    pfull = npx - npx % 8
    for oc in range(cout):
        for p0 in range(0, pfull, 8):
            for n in range(n_b):
                for j in range(8):
                    v = sums_t[oc, p0 + j, n]
                    out[n, oc, p0 + j] = max(v, 0) if relu else v
        for p in range(pfull, npx):
            for n in range(n_b):
                v = sums_t[oc, p, n]
                out[n, oc, p] = max(v, 0) if relu else v


def _round_const(pshift: int, rnd: int) -> int | None:
    """rc such that (p + rc) >> pshift is the accumulator's rounding of p / 2**pshift, or None
    when that rounding depends on the sign or parity (no single constant): mac_epilogue's terms."""
    if pshift <= 0:
        return 0
    c0, cneg, codd = round_terms(pshift, rnd)
    return None if cneg or codd else c0


def run_mac_narrow(x: np.ndarray, w: np.ndarray, bias: np.ndarray, attrs: Any, pshift: int, acc: Fixed, fshift: int,
                   res: Fixed, relu: bool, out: np.ndarray, lanes: str | None = None) -> int | None:
    """conv_direct's result (into out) and overflow count, fast; None when int32 cannot hold the
    arithmetic or the product rounding needs conv_direct.  x (N,C,H,W), w (Cout,Cg,kh,kw) and
    bias (Cout, already in the accumulator type) are int64.  `lanes` ("channels" or "batch")
    forces the kernel; by default the samples are the lanes when the batch fills them and a
    group has few output channels (BATCH_LANES_MAX_COUT)."""
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
    wt, wmin, wmax, w2 = prep[:4]
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
    n_b, cout, ho, wo = out.shape
    if lanes is None:
        lanes = "batch" if n_b >= BATCH_LANES_MIN_N and cout // attrs.groups <= BATCH_LANES_MAX_COUT else "channels"
    if lanes == "batch":
        xT = np.empty((x[0].size, n_b), np.int32)
        _transpose32(x.reshape(n_b, -1), xT)
        sums_t = np.empty((cout, ho * wo, n_b), np.int32)
        events = conv_narrow_batch(xT, x, prep[4], w, bias, w2s, room, sh, sw, pt, pl, dh, dw, ps, rc, lo, hi,
                                   check_terms, pshift, aw, asg, ar, ao, ho, wo, sums_t)
        sums = None
    else:
        sums = np.empty(out.shape, np.int32)
        events = conv_narrow(x, wt, w, bias, w2s, room, sh, sw, pt, pl, dh, dw, ps, rc, lo, hi, check_terms,
                             pshift, aw, asg, ar, ao, sums)
    res_lo = res.min_raw + 1 if res.overflow == "AP_SAT_SYM" and res.signed and res.width > 1 else res.min_raw
    if fshift == 0 and res_lo <= acc.min_raw and acc.max_raw <= res.max_raw:
        # the result type holds every accumulator value
        if sums is None:
            _copy_relu_t(sums_t, relu, out.reshape(n_b, cout, ho * wo))
        else:
            _copy_relu(sums.reshape(-1), relu, out.reshape(-1))
    else:
        if sums is None:
            sums = np.ascontiguousarray(sums_t.reshape(cout, ho, wo, n_b).transpose(3, 0, 1, 2))
        # the bias is already in the sums: the final cast is the same for every output, one long row
        events += fused_epilogue(sums.reshape(1, 1, 1, 1, -1), _NO_SHIFT, 0, _NO_BIAS,
                                 cast_params(fshift, *res.codes), relu, out.reshape(1, 1, -1))
    return int(events)


def _prepare_weights(w: np.ndarray, left: int, groups: int) -> tuple:
    """(int32 weights shifted left by `left`, laid out (groups*Cg*kh*kw, lanes) with the output
    channels of a group zero-padded to a multiple of 16 lanes (whole vectors), min, max, sum of
    squares per output channel, the same weights (Cout, Cg*kh*kw) for conv_narrow_batch), or
    (None, 0, 0, None, None) when they do not fit int32."""
    wmin, wmax = int(w.min()) << left, int(w.max()) << left
    if wmin < I32_MIN or wmax > I32_MAX:
        return None, 0, 0, None, None
    cout, cg, kh, kw = w.shape
    coutg = cout // groups
    ws = (w << left if left else w).astype(np.int32).reshape(groups, coutg, cg * kh * kw)
    lanes = -(-coutg // 16) * 16
    wt = np.zeros((groups, cg * kh * kw, lanes), np.int32)
    wt[:, :, :coutg] = ws.transpose(0, 2, 1)
    w2 = (ws.astype(np.float64) ** 2).reshape(cout, -1).sum(axis=1)
    return wt.reshape(groups * cg * kh * kw, lanes), wmin, wmax, w2, ws.reshape(cout, cg * kh * kw)
