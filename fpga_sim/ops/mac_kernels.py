"""The multiply-accumulate engine shared by Conv and Dense: exact HLS arithmetic, fast.

HLS arithmetic (ARCHITECTURE.md): each product is exact, cast to the accumulator type, summed
in the accumulator type (overflow applied per add); the bias, cast to the accumulator type, is
the initial value; the sum is cast to the result type, then the fused ReLU.

Two exact ways to compute it (`run_mac_fixed` picks):
- fast: when every product casts exactly (accumulator keeps all product fraction bits) and a
  bound |bias| + max|x| * sum|w| (per output channel) proves no partial sum can leave the
  accumulator, the per-term casts are identities, so the layer is an integer GEMM.  With
  enough output pixels it runs in onnxruntime (`ort_int8.py`): one float32 Conv when the
  bound on the actual data stays below 2**24, else 8-bit ConvInteger, else a float32 Conv on
  input channel slices or limbs; without onnxruntime through float BLAS on im2col columns
  (float32 below 2**24, float64 below 2**53: every partial sum is then an exactly
  representable integer).  One fused pass (`mac_epilogue.py`) adds the parts, the bias and
  applies the final cast.  Dense layers at small batch and small groups use exact integer
  loops that read each weight once (dense: int32 sums on a narrow copy cached with the
  weights, `weight_cache.py`, when the bound allows).
- exact per term: a Numba loop applying every cast (rounding/overflow events counted).
A dense layer is a 1x1 convolution on a 1x1 image here.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from numba import njit, prange

from ..errors import ConfigError
from ..fixed import Fixed, product_type
from ..fixed_kernels import requant
from ..graph import Node
from ..machine import LayerWork
from .mac_epilogue import cast_params, fused_epilogue
from .mac_narrow import run_mac_narrow
from .mac_per_term import conv_direct
from .ort_int8 import F32_EXACT, INT32_EXACT, MAX_SLICES, ort_sums
from .weight_cache import derived

if TYPE_CHECKING:
    from ..graph import QGraph
    from ..hardware import Hardware

F64_EXACT = 1 << 53
USE_ORT = True          # exact integer sums through onnxruntime's ConvInteger / float32 Conv (ort_int8.py)
ORT_MIN_OUTPUTS = 16    # fewer outputs per channel (batch x H x W): a session run costs more than a loop
# Memory-light passes (im2col, epilogues) are serial: on a shared 2-core machine a parallel
# region waits for a descheduled thread (measured: 1 ms best, 20-60 ms median under load), while
# the serial pass takes 2 ms.  The compute-heavy loops (per-term casts, exact int64) stay parallel.


# ----------------------------------------------------------------------------- kernels
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


@njit(cache=True, nogil=True, parallel=True)
def dense_exact(x, w, bias, s_left, fshift, rw, rsg, rr, ro, relu, out):
    """out[n, o] = ReLU?(cast((sum_i x[n,i]*w[o,i]) << s_left + bias[o])): the exact int64 path
    of a dense layer (a bound proved the per-term casts are identities).  Returns overflows."""
    n_b, n_in = x.shape
    n_out = w.shape[0]
    counts = np.zeros(n_out, np.int64)
    for o in prange(n_out):
        cnt = 0
        for n in range(n_b):
            acc = np.int64(0)
            for i in range(n_in):
                acc += x[n, i] * w[o, i]
            y, f = requant((acc << s_left) + bias[o], fshift, rw, rsg, rr, ro)
            cnt += f
            if relu and y < 0:
                y = 0
            out[n, o] = y
        counts[o] = cnt
    return counts.sum()


@njit(cache=True, nogil=True)
def dense_int32(x, w, bias, s_left, fshift, rw, rsg, rr, ro, relu, out):
    """dense_exact for int32 x and narrow (int8/16/32) weights when a bound keeps every partial
    sum inside int32: int32 sums vectorise (4096x4096 int16: 2.1 ms, int8: 1.6 ms; int64 sums
    3.6-3.9 ms).  Serial: a parallel region on the shared 2-core machine waits for a
    descheduled thread (measured 2.8 ms best, 20-24 ms while one other process runs)."""
    n_b, n_in = x.shape
    n_out = w.shape[0]
    cnt = 0
    for n in range(n_b):
        for o in range(n_out):
            acc = np.int32(0)
            for i in range(n_in):
                acc = np.int32(acc + np.int32(x[n, i] * np.int32(w[o, i])))
            y, f = requant((np.int64(acc) << s_left) + bias[o], fshift, rw, rsg, rr, ro)
            cnt += f
            if relu and y < 0:
                y = 0
            out[n, o] = y
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


@njit(cache=True, nogil=True)
def channel_abs_max(x):
    """max |x[:, c, :]| per channel of an (N, C, HW) int64 array, without a temporary."""
    n_b, c_in, hw = x.shape
    out = np.zeros(c_in, np.int64)
    for n in range(n_b):
        for c in range(c_in):
            m = out[c]
            for i in range(hw):
                v = x[n, c, i]
                m = max(m, v if v >= 0 else -v)
            out[c] = m
    return out


@njit(cache=True, nogil=True)
def slice_abs_sums(w, parts, out):
    """out[oc, off_J + j] = sum |w[oc, c, :]| over slice j of J equal slices of the Cg input
    channels, for each J in `parts` (off_J: the sum of the earlier J), in one pass over a
    (Cout, Cg, taps) int64 array."""
    cout, cg, taps = w.shape
    per_channel = np.empty(cg, np.int64)
    for oc in range(cout):
        for c in range(cg):
            s = np.int64(0)
            for t in range(taps):
                v = w[oc, c, t]
                s += v if v >= 0 else -v
            per_channel[c] = s
        off = 0
        for j in parts:
            size = cg // j
            for sl in range(j):
                s = np.int64(0)
                for c in range(sl * size, (sl + 1) * size):
                    s += per_channel[c]
                out[oc, off + sl] = s
            off += j


def abs_sums(w: np.ndarray) -> dict[int, np.ndarray]:
    """{J: sum |w| over each of J equal slices of the input channels (Cout, J)} for every
    J <= MAX_SLICES dividing the channels per group: the weight side of the bounds (J = 1:
    sum |w| per output channel)."""
    cout, cg = w.shape[:2]
    parts = np.array([j for j in range(1, min(cg, MAX_SLICES) + 1) if cg % j == 0], np.int64)
    out = np.zeros((cout, int(parts.sum())), np.int64)
    slice_abs_sums(w.reshape(cout, cg, -1), parts, out)
    offs = np.cumsum(parts) - parts
    return {int(j): out[:, o:o + j] for j, o in zip(parts, offs)}


@njit(cache=True, nogil=True)
def cast_flags(src, shift, w, sg, r, o, out, flags):
    """out[i], flags[i] = requant(src[i]) (per-channel bias casts)."""
    for i in range(src.size):
        out[i], flags[i] = requant(src[i], shift, w, sg, r, o)


# ----------------------------------------------------------------------------- fixed point
def layer_types_of(node: Node, qg: "QGraph", safe: Any) -> tuple[Fixed, Fixed, Fixed | None, Fixed, Fixed]:
    """(input, weight, bias, accum, result) types of a MAC layer, checked for int64 arithmetic."""
    lt = qg.layer_types.get(node.name)
    if lt is None or lt.weight is None:
        raise ConfigError(f"node {node.name!r} ({node.op}) has no weight type in the quantised graph")
    tin = qg.tensor_types[node.inputs[0]]
    acc = lt.accum or safe(node, [tin], lt.weight)
    if tin.width + lt.weight.width > 63:
        raise ConfigError(f"node {node.name!r} ({node.op}): input {tin} x weight {lt.weight} products exceed "
                          f"63 bits; the engine accepts input width + weight width <= 63")
    if acc.width > 62:
        raise ConfigError(f"node {node.name!r} ({node.op}): accumulator {acc} is wider than the 62 bits the engine accepts")
    return tin, lt.weight, lt.bias, acc, lt.result


def mac_safe_accum(k: int, tin: Fixed, weight: Fixed) -> Fixed:
    """Narrowest accumulator holding any sum of k products and one product-sized bias exactly."""
    p = product_type(tin, weight)
    width = p.width + math.ceil(math.log2(k + 1))
    return Fixed(width, width - p.frac, p.signed)


def gemm_plan(xmax: int, wsum_max: int) -> tuple[type, int] | None:
    """(float dtype, limb bits) under which BLAS computes sum_k x*w exactly, or None.

    Every partial sum of a dot product is bounded by max|x| * sum|w|; float32 is exact below
    2**24, float64 below 2**53.  When float32 alone is too narrow, x is split into two limbs
    (x = hi * 2**b + lo, 0 <= lo < 2**b) whose GEMMs are float32-exact: two float32 GEMMs
    move the same bytes as one float64 GEMM and run faster on BLAS."""
    if xmax * wsum_max < F32_EXACT:
        return np.float32, 0
    b = (max(xmax, 1).bit_length() + 1) // 2
    if max((1 << b) - 1, (xmax >> b) + 1) * wsum_max < F32_EXACT:
        return np.float32, b
    if xmax * wsum_max < F64_EXACT:
        return np.float64, 0
    return None


def _cached(cache: dict | None, key: str, make: Callable[[], Any]) -> Any:
    """cache[key], made once (made every call when the weights cannot be cached)."""
    if cache is None:
        return make()
    if key not in cache:
        cache[key] = make()
    return cache[key]


def narrowest(w: np.ndarray) -> np.ndarray:
    """w in the narrowest of int8/16/32/64 holding its values: fewer bytes for a loop that is
    bound by reading the weights once (a dense layer at small batch)."""
    lo, hi = int(w.min(initial=0)), int(w.max(initial=0))
    for t in (np.int8, np.int16, np.int32):
        if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max:
            return w.astype(t)
    return w


def run_mac_fixed(node: Node, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, types: tuple,
                  attrs: Any, out_hw: tuple[int, int]) -> tuple[np.ndarray, int]:
    """Bit-accurate conv of raw x (N,C,H,W) with raw w (Cout,Cg,kh,kw): (raw out, overflows)."""
    tin, tw, tb, acc, res = types
    x = np.ascontiguousarray(x, dtype=np.int64)
    w = np.ascontiguousarray(w, dtype=np.int64)
    n_b = x.shape[0]
    cout, cg, kh, kw = w.shape
    ho, wo = out_hw
    aw, asg, ar, ao = acc.codes
    rw, rsg, rr, ro = res.codes
    bias = np.zeros(cout, np.int64)
    overflows = 0
    if b is not None:
        if tb is None:
            raise ConfigError(f"node {node.name!r} ({node.op}) has a bias but no bias type")
        flags = np.zeros(cout, np.bool_)
        cast_flags(np.ascontiguousarray(b, dtype=np.int64).reshape(-1), tb.frac - acc.frac, aw, asg, ar, ao, bias, flags)
        overflows += int(flags.sum()) * n_b * ho * wo
    pshift = tin.frac + tw.frac - acc.frac
    fshift = acc.frac - res.frac
    relu = node.activation == "relu"
    out = np.empty((n_b, cout, ho, wo), np.int64)
    (sh, sw), (pt, pl, _, _), (dh, dw), groups = attrs.strides, attrs.pads, attrs.dilations, attrs.groups
    cache = derived(w)
    sums = _cached(cache, "abs_sums", lambda: abs_sums(w))
    wsum = sums[1][:, 0]
    exact = pshift <= 0
    xmax_ch, xmax = None, 0                       # the input's bounds: only the exact routes read them
    if exact:
        xmax_ch = channel_abs_max(x.reshape(n_b, x.shape[1], x.shape[2] * x.shape[3]))
        xmax = int(xmax_ch.max(initial=0))
        s = -pshift
        # one scalar bound first (Python ints: no overflow); per output channel only if it fails
        coarse = int(np.abs(bias).max(initial=0)) + (xmax * int(wsum.max(initial=0)) << s)
        bound = coarse if coarse <= acc.max_raw else max(np.abs(bias) + (xmax * wsum.astype(object) << s), default=0)
        limit = acc.max_raw if acc.signed else -1
        exact = bool(bound <= limit) if acc.signed else bool(
            x.min(initial=0) >= 0 and w.min(initial=0) >= 0 and bias.min(initial=0) >= 0 and bound <= acc.max_raw)
    coutg = cout // groups
    k = cg * kh * kw
    out3 = out.reshape(n_b, cout, ho * wo)
    cast = cast_params(fshift, rw, rsg, rr, ro)
    if exact and USE_ORT and cache is not None and n_b * ho * wo >= ORT_MIN_OUTPUTS:
        got = ort_sums(x, w, attrs, xmax_ch, sums, cache)
        if got is not None:
            overflows += int(fused_epilogue(got[0].reshape(n_b, groups, -1, coutg, ho * wo), got[1], -pshift, bias,
                                            cast, relu, out3))
            return out, overflows
    # BLAS pays when a weight is reused over enough output pixels and the GEMM is not tiny;
    # otherwise (dense at small batch, depthwise) the int64 loop reads the weights once.
    big_enough = k >= 16 and coutg >= 4 and n_b * ho * wo >= 16
    plan = gemm_plan(xmax, int(wsum.max(initial=0))) if exact and big_enough else None
    if plan is not None:
        dtype, limb_bits = plan
        nj = 2 if limb_bits else 1
        cols = np.empty((k, n_b * ho * wo * nj), dtype)
        wf = w.reshape(cout, k).astype(dtype)
        shifts = np.array([0, limb_bits][:nj], np.int64)
        for g in range(groups):
            im2col(x, g * cg, cg, kh, kw, sh, sw, pt, pl, dh, dw, ho, wo, limb_bits, cols)
            accf = (wf[g * coutg:(g + 1) * coutg] @ cols).reshape(coutg, nj, n_b, ho * wo).transpose(2, 1, 0, 3)
            overflows += int(fused_epilogue(accf[:, None], shifts, -pshift, bias[g * coutg:(g + 1) * coutg], cast, relu,
                                            out3[:, g * coutg:(g + 1) * coutg]))
        return out, overflows
    if exact and kh == kw == 1 and x.shape[2] == x.shape[3] == 1 and groups == 1:
        wn = w.reshape(cout, -1)
        if cache is not None:
            # the narrow copy costs three passes over the weights: worth it from the second call on
            if cache.get("dense_seen") and "narrow" not in cache:
                cache["narrow"] = narrowest(wn)
            cache["dense_seen"] = True
            wn = cache.get("narrow", wn)
        kernel = dense_exact
        if wn.dtype != np.int64 and xmax * int(wsum.max(initial=0)) < INT32_EXACT and xmax < INT32_EXACT:
            kernel, x = dense_int32, x.astype(np.int32)
        overflows += int(kernel(x.reshape(n_b, -1), wn, bias, -pshift, fshift, rw, rsg, rr, ro, relu,
                                out.reshape(n_b, cout)))
        return out, overflows
    if exact:
        _, _, pb, pr = attrs.pads
        xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr))) if any(attrs.pads) else x
        overflows += int(conv_exact(xp, w, bias, sh, sw, dh, dw, groups, ho, wo, -pshift, fshift,
                                    rw, rsg, rr, ro, relu, out))
        return out, overflows
    narrow = run_mac_narrow(x, w, bias, attrs, pshift, acc, fshift, res, relu, out)
    if narrow is not None:
        return out, overflows + narrow
    overflows += int(conv_direct(x, w, bias, sh, sw, pt, pl, dh, dw, groups, ho, wo, pshift, aw, asg, ar, ao,
                                 fshift, rw, rsg, rr, ro, relu, out))
    return out, overflows


def mac_layer_work(node: Node, qg: "QGraph", outputs: int, k: int, input_words: int, safe: Any,
                   hw: "Hardware | None" = None) -> LayerWork:
    """LayerWork of a conv/dense node from its types and raw (or float) parameters.  The
    non-zero count and codebook width are computed only when `hw` uses them (or hw is None)."""
    tin, tw, tb, acc, res = layer_types_of(node, qg, safe)
    params = qg.qparams.get(node.name) or node.params
    w = np.asarray(params["weight"])
    nb = int(np.asarray(params["bias"]).size) if "bias" in params else 0
    nonzero = int(np.count_nonzero(w)) if hw is None or hw.skip_zero_weights else None
    cb = None
    if hw is None or hw.weights_as_codebook:
        cb = max(1, math.ceil(math.log2(max(int(np.unique(w).size), 2))))
    return LayerWork(name=node.name, op=node.op, outputs=int(outputs), macs_per_output=int(k),
                     input_words=int(input_words), weight_words=int(w.size) + nb, input_bits=tin.width,
                     weight_bits=tw.width, output_bits=res.width, accum_bits=acc.width,
                     nonzero_weight_words=nonzero, codebook_bits=cb, bias_words=nb)
