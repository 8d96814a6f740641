"""Fast exact MAC for narrow accumulators (hls4ml's default: every type ap_fixed<16,6>).

With an accumulator narrower than the sum can grow, `conv_direct` must cast every product and
every partial sum.  Most such layers never actually overflow, so this module proves it per
output instead of paying for it per term:

- Each product is cast to the accumulator by a floor shift: t = (x*w + rc) >> s, where rc is 0
  (AP_TRN), half an LSB (AP_RND: ties up) or half an LSB minus one (AP_RND_MIN_INF: ties down);
  when s <= 0 the cast is an exact left shift, folded into the weights.
- The sum of those terms is accumulated unwrapped in int32, vectorised over output channels
  (weights laid out channel-last, input padded once, zero inputs skipped: a zero term can
  neither change nor overflow the sum), tracking each output's smallest and largest partial sum.
- If every term and every partial sum of an output lies in the accumulator's range (a global
  bound proves it for the terms, or they are tracked too), no cast ever changed a value and no
  overflow event happened: the unwrapped sum IS the accumulator's value, whatever its overflow
  mode.  Otherwise that one output is recomputed by `conv_direct`'s own per-term loop (every
  mode, every event counted), so outputs and overflow counts equal `conv_direct`'s exactly.
`run_mac_narrow` returns None where int32 cannot hold the arithmetic or the product rounding is
sign- or parity-dependent; the caller then uses `conv_direct`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from ..fixed import Fixed
from ..fixed_kernels import RND, RND_MIN_INF, SAT_SYM, TRN, requant

I32_MAX = (1 << 31) - 1
I32_MIN = -(1 << 31)


@njit(cache=True, nogil=True)
def _output_exact(xp, w, n, oc, ch0, oh, ow, sh, sw, dh, dw, acc0, pshift, aw, asg, ar, ao):
    """One output by conv_direct's per-term arithmetic on the padded input (a padding tap adds
    an exact zero, which neither changes nor overflows the accumulator).  Returns (acc, events)."""
    _, cg, kh, kw = w.shape
    acc = acc0
    cnt = 0
    for c in range(cg):
        for i in range(kh):
            ih = oh * sh + i * dh
            for j in range(kw):
                prod = np.int64(xp[n, ch0 + c, ih, ow * sw + j * dw]) * w[oc, c, i, j]
                term, f1 = requant(prod, pshift, aw, asg, ar, ao)
                acc, f2 = requant(acc + term, 0, aw, asg, ar, ao)
                cnt += f1 + f2
    return acc, cnt


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


@njit(cache=True, nogil=True)
def conv_narrow(xp, wt, w, bias, sh, sw, dh, dw, ho, wo, ps, rc, lo, hi, check_terms,
                pshift, aw, asg, ar, ao, fshift, rw, rsg, rr, ro, relu, out):
    """out[n, oc, oh, ow] of a convolution with per-term accumulator casts, on the padded int32
    input xp (N, C, Hp, Wp) and int32 weights wt (groups, Cg, kh, kw, Cout/groups) (shifted left
    when the product cast is a left shift), terms (x*w + rc) >> ps.  lo..hi is the accumulator's
    event-free range; with check_terms the terms are range-checked too.  An output pixel whose
    terms or partial sums (over all its channels) leave lo..hi is recomputed exactly from w (int64,
    original layout) and the accumulator codes.  Returns the overflow event count."""
    n_b = xp.shape[0]
    groups, cg, kh, kw, coutg = wt.shape
    ps32 = np.int32(ps)
    rc32 = np.int32(rc)
    s = np.empty(coutg, np.int32)
    cnt = 0
    for n in range(n_b):
        for g in range(groups):
            for oh in range(ho):
                for ow in range(wo):
                    mnr = np.int32(0)
                    mxr = np.int32(0)
                    for o in range(coutg):
                        s[o] = bias[g * coutg + o]
                        mnr = min(mnr, s[o])
                        mxr = max(mxr, s[o])
                    for c in range(cg):
                        for i in range(kh):
                            xrow = xp[n, g * cg + c, oh * sh + i * dh]
                            for j in range(kw):
                                xv = xrow[ow * sw + j * dw]
                                if xv == 0:
                                    continue
                                wr = wt[g, c, i, j]
                                if check_terms:
                                    for o in range(coutg):
                                        t = _term32(xv, wr[o], rc32, ps32)
                                        v = np.int32(s[o] + t)
                                        s[o] = v
                                        mnr = min(mnr, min(v, t))
                                        mxr = max(mxr, max(v, t))
                                else:
                                    for o in range(coutg):
                                        v = np.int32(s[o] + _term32(xv, wr[o], rc32, ps32))
                                        s[o] = v
                                        mnr = min(mnr, v)
                                        mxr = max(mxr, v)
                    clean = lo <= mnr and mxr <= hi
                    for o in range(coutg):
                        oc = g * coutg + o
                        a = np.int64(s[o])
                        if not clean:
                            a, f = _output_exact(xp, w, n, oc, g * cg, oh, ow, sh, sw, dh, dw, bias[oc],
                                                 pshift, aw, asg, ar, ao)
                            cnt += f
                        y, f = requant(a, fshift, rw, rsg, rr, ro)
                        cnt += f
                        if relu and y < 0:
                            y = 0
                        out[n, oc, oh, ow] = y
    return cnt


def _round_const(pshift: int, rnd: int) -> int | None:
    """rc such that (p + rc) >> pshift is the accumulator's rounding of p / 2**pshift, or None
    when that rounding depends on the sign or parity (no single constant)."""
    if pshift <= 0 or rnd == TRN:
        return 0
    half = 1 << (pshift - 1)
    return {RND: half, RND_MIN_INF: half - 1}.get(rnd)


def run_mac_narrow(x: np.ndarray, w: np.ndarray, bias: np.ndarray, attrs, out_hw: tuple[int, int], pshift: int,
                   acc: Fixed, fshift: int, res: Fixed, relu: bool, out: np.ndarray) -> int | None:
    """conv_direct's result (into out) and overflow count, fast; None when int32 cannot hold the
    arithmetic or the product rounding needs conv_direct.  x (N,C,H,W), w (Cout,Cg,kh,kw) and
    bias (Cout, already in the accumulator type) are int64."""
    aw, asg, ar, ao = acc.codes
    rc = _round_const(pshift, ar)
    lo, hi = acc.min_raw, acc.max_raw
    if rc is None or lo < I32_MIN or hi > I32_MAX or w.size == 0 or x.size == 0:
        return None
    if ao == SAT_SYM and asg and aw > 1:
        lo += 1                                   # AP_SAT_SYM turns the lowest code into an event
    left = max(-pshift, 0)
    wmin, wmax = int(w.min()) << left, int(w.max()) << left
    if wmin < I32_MIN or wmax > I32_MAX:
        return None
    ws = w << left if left else w
    ps = max(pshift, 0)
    xmin, xmax = int(x.min()), int(x.max())
    ext = [a * b for a in (xmin, xmax) for b in (wmin, wmax)]
    pmin, pmax = min(ext), max(ext)
    if pmin < I32_MIN or pmax + rc > I32_MAX or min(xmin, wmin) < I32_MIN or max(xmax, wmax) > I32_MAX:
        return None
    tlo, thi = (pmin + rc) >> ps, (pmax + rc) >> ps
    cout, cg, kh, kw = w.shape
    bmax = int(np.abs(bias).max()) if bias.size else 0
    if bmax + cg * kh * kw * max(-tlo, thi) > I32_MAX:
        return None                               # unwrapped partial sums could leave int32
    (sh, sw), (pt, pl, pb, pr), (dh, dw), groups = attrs.strides, attrs.pads, attrs.dilations, attrs.groups
    x32 = x.astype(np.int32)
    xp = np.pad(x32, ((0, 0), (0, 0), (pt, pb), (pl, pr))) if any(attrs.pads) else x32
    wt = np.ascontiguousarray(ws.astype(np.int32).reshape(groups, cout // groups, cg, kh, kw).transpose(0, 2, 3, 4, 1))
    ho, wo = out_hw
    check_terms = not (lo <= tlo and thi <= hi)
    return int(conv_narrow(xp, wt, w, bias, sh, sw, dh, dw, ho, wo, ps, rc, lo, hi, check_terms,
                           pshift, aw, asg, ar, ao, fshift, *res.codes, relu, out))
