"""The MAC engine's routes as one table: what each computes, when it is exact, when it is chosen.

Every route computes the same thing, the HLS arithmetic of docs/ARCHITECTURE.md (products cast
to the accumulator, sums in the accumulator, the bias as initial value, the final cast to the
result type, then the fused ReLU), and the same overflow-event count; they differ in how.
`ROUTES` lists them in the order the engine prefers them.  For a call, a route is *exact* when
its `exact` check returns None (else the reason it is not), and *chosen* when it is exact, its
`preferred` test holds and its `run` does not decline (onnxruntime refusing a geometry, int32
not holding mac_narrow's sums).  `run_mac(..., route="name")` forces one route: it raises
ConfigError when that route is not exact for the call, or declines.

The "bound" below: when every product casts exactly (the accumulator keeps all product
fraction bits, pshift <= 0) and |bias| + max|x| * sum|w| << -pshift (per output channel) is
within the accumulator, no partial sum can leave it: the per-term casts are identities and the
layer is an integer GEMM, which any arithmetic exact on those integers computes
(mac_bounds.py says when float32, float64, int32 are).

| route | computes the exact sums with | exact when | chosen when |
|---|---|---|---|
| depthwise | a Numba pass per channel plane (mac_depthwise), in float32, float64 or int64 lanes | bound; the lane type by max|x| of the channel * sum|w| (< 2**24: f32, < 2**53: f64, else int64; the input type's range first) | a grouped conv with one input channel per output (Cin/groups == 1, groups > 1: a plain conv of a one-channel image, LeNet's first layer, keeps the onnxruntime routes and compiles no depthwise kernel on a first run) |
| ort_f32 | one float32 Conv in onnxruntime | bound; max|x|*sum|w| < 2**24 | >= 16 outputs per channel |
| ort_int8 | onnxruntime ConvInteger (u8 x u8 -> i32) | bound; values fit 8 bits; sum < 2**31 | as ort_f32 |
| ort_f32_slices | float32 Conv on J channel slices | bound; each slice's bound < 2**24 | as ort_f32 |
| ort_f32_limbs | float32 Conv on two limbs of x | bound; each limb's bound < 2**24 | as ort_f32 |
| ort_int8_limbs | ConvIntegers on the 8-bit limbs of x and w | bound; values fit 16 bits; 255*255*k < 2**31 | as ort_f32 |
| blas_f32, blas_f32_limbs, blas_f64, blas_f64_limbs | im2col + BLAS GEMM | bound; the dtype's limit | k >= 16, >= 4 outputs per group, >= 16 pixels |
| dense_int32 | int32 loop on a narrow weight copy | bound; sum bound < 2**31; dense | dense, from the 2nd call (copy made) |
| dense_int64 | int64 loop reading each weight once | bound; dense | dense |
| conv_int64 | int64 loop, one output row at a time | bound | always (bound holds) |
| narrow_batch | int32 lanes = samples (mac_narrow) | per-output proof or recomputation: always | batch >= 64, <= 32 outputs per group |
| narrow_channels | int32 lanes = output channels (mac_narrow) | as narrow_batch | always |
| per_term | Numba loop casting every term and add (mac_per_term) | types and sums fit int64 | always |
| wide | Python integers (mac_wide) | always (types up to 128 bits) | nothing above is exact |

Every route but wide needs the int64 facts of `Fixed`: the data and weight product fits int64
(`product_type(...).fits_int64`) and so does the accumulator (`fits_int64`); per_term also adds
two accumulator values (`sum_fits_int64`).  The final cast is mac_epilogue's fused pass.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import ConfigError
from ..fixed import Fixed, product_type
from ..fixed_kernels import cast_params
from .mac_bounds import F32_EXACT, F64_EXACT, INT32_EXACT, MAX_SLICES, gemm_plan, limb_bits, limb_bound, slice_plan
from .mac_depthwise import depthwise_conv, lane_zero
from .mac_epilogue import fused_epilogue
from .mac_int64 import abs_sums, conv_exact, dense_exact, dense_int32, im2col, narrowest
from .mac_narrow import BATCH_LANES_MAX_COUT, BATCH_LANES_MIN_N, run_mac_narrow
from .mac_per_term import conv_direct
from .mac_stats import channel_stats
from .mac_wide import run_wide
from .ort_int8 import conv_float32, conv_integer, conv_integer_limbs
from .weight_cache import derived

USE_ORT = True          # whether the onnxruntime routes may be chosen (tests turn it off to reach BLAS)
ORT_MIN_OUTPUTS = 16    # fewer outputs per channel (batch x H x W): a session run costs more than a loop


class MacCall:
    """One MAC layer call: its arrays, types, and the bounds the routes are checked against
    (computed on first use: only the routes that read them pay for them)."""

    def __init__(self, node: Any, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, types: tuple,
                 attrs: Any, out_hw: tuple[int, int]) -> None:
        self.node, self.attrs = node, attrs
        self.tin, self.tw, self.tb, self.acc, self.res = types
        self.types = types
        self.x = np.ascontiguousarray(x, dtype=np.int64)
        self.w = np.ascontiguousarray(w, dtype=np.int64)
        self.b = b
        self.n_b = self.x.shape[0]
        self.cout, self.cg, self.kh, self.kw = self.w.shape
        self.ho, self.wo = out_hw
        self.groups = attrs.groups
        self.coutg = self.cout // self.groups
        self.k = self.cg * self.kh * self.kw
        self.pshift = self.tin.frac + self.tw.frac - self.acc.frac
        self.fshift = self.acc.frac - self.res.frac
        self.relu = node.activation == "relu"
        self.out = np.empty((self.n_b, self.cout, self.ho, self.wo), np.int64)
        self.out3 = self.out.reshape(self.n_b, self.cout, self.ho * self.wo)
        # int64 holds every product, accumulator value, and sum |w| (so the bounds are computable)
        self.int64 = (product_type(self.tin, self.tw).fits_int64 and self.acc.fits_int64
                      and self.tw.width + self.k.bit_length() <= 63 and self.res.fits_int64)
        self.bias_overflows = 0
        self.bias = np.zeros(self.cout, np.int64)
        if b is not None and self.tb is None:
            raise ConfigError(f"node {node.name!r} ({node.op}) has a bias but no bias type")
        if self.int64 and b is not None:
            self.bias, n = self.acc.cast_counted(np.asarray(b, dtype=np.int64).reshape(-1), self.tb)
            self.bias_overflows = n * self.n_b * self.ho * self.wo
        self.cache = derived(self.w)
        self.plans: dict[tuple, Any] = {}

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        """The weights' derived data under key, made once (every call when w cannot be cached)."""
        if self.cache is None:
            return make()
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    @cached_property
    def w_range(self) -> tuple[int, int]:
        """(min, max) raw weight, computed once per weight array (a pass over 16 M weights
        costs tens of ms: never per call)."""
        return self.cached("w_range", lambda: (int(self.w.min(initial=0)), int(self.w.max(initial=0))))

    @cached_property
    def sums(self) -> dict[int, np.ndarray]:
        return self.cached("abs_sums", lambda: abs_sums(self.w))

    @cached_property
    def wsum_max(self) -> int:
        return int(self.sums[1][:, 0].max(initial=0))

    @cached_property
    def x_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """(min, max) of x per input channel: one pass serves every bound below."""
        return channel_stats(self.x)

    @cached_property
    def x_range(self) -> tuple[int, int]:
        lo, hi = self.x_stats
        return int(lo.min(initial=0)), int(hi.max(initial=0))

    @cached_property
    def xmax_ch(self) -> np.ndarray:
        lo, hi = self.x_stats
        return np.maximum(-lo, hi)

    @cached_property
    def xmax(self) -> int:
        return int(self.xmax_ch.max(initial=0))

    @property
    def type_xmax(self) -> int:
        """max |x| the input type allows: a bound that needs no pass over the data."""
        return max(-self.tin.min_raw, self.tin.max_raw)

    def acc_bound(self, xmax: int) -> int:
        """max over outputs of |bias| + xmax * sum|w| << -pshift: one scalar bound first (Python
        ints: no overflow), per output channel only if it exceeds the accumulator."""
        acc, s, bias = self.acc, -self.pshift, self.bias
        coarse = int(np.abs(bias).max(initial=0)) + (xmax * self.wsum_max << s)
        if coarse <= acc.max_raw:
            return coarse
        return max(np.abs(bias) + (xmax * self.sums[1][:, 0].astype(object) << s), default=0)

    @cached_property
    def bound_reason(self) -> str | None:
        """None when the bound proves the per-term casts are identities, else why not (the
        input type's range first: when it proves the bound, x is not read)."""
        if not self.int64:
            return "the types leave int64"
        if self.pshift > 0:
            return f"products drop {self.pshift} fraction bits in the accumulator {self.acc}"
        acc, bias = self.acc, self.bias
        if self.acc_bound(self.type_xmax) <= acc.max_raw and (
                acc.signed or (not self.tin.signed and self.w_range[0] >= 0 and bias.min(initial=0) >= 0)):
            return None
        bound = self.acc_bound(self.xmax)
        if bound > acc.max_raw:
            return f"|bias| + max|x| * sum|w| = {bound} exceeds the accumulator {acc}"
        if not acc.signed and (self.x_range[0] < 0 or self.w_range[0] < 0 or bias.min(initial=0) < 0):
            return f"negative terms in the unsigned accumulator {acc}"
        return None

    @property
    def pixels(self) -> int:
        return self.n_b * self.ho * self.wo

    @property
    def is_dense(self) -> bool:
        return self.kh == self.kw == 1 and self.x.shape[2] == self.x.shape[3] == 1 and self.groups == 1

    def epilogue(self, parts: np.ndarray, shifts: np.ndarray, bias: np.ndarray, out3: np.ndarray) -> int:
        """The fused final cast of exact sums (N, A, J, B, HW) into out3 (see mac_epilogue)."""
        cast = cast_params(self.fshift, *self.res.codes)
        return int(fused_epilogue(parts, shifts, -self.pshift, bias, cast, self.relu, out3))


@dataclass(frozen=True)
class Route:
    """One way to compute a MAC layer: `exact(call)` is None when the route is exact for the
    call (else the reason it is not), `preferred(call)` whether the engine picks it when it is
    exact, `run(call)` the overflow count into call.out, or None when it declines."""

    name: str
    computes: str
    exact: Callable[[MacCall], str | None]
    preferred: Callable[[MacCall], bool]
    run: Callable[[MacCall], int | None]


# ----------------------------------------------------------------------------- depthwise
def _exact_depthwise(c: MacCall) -> str | None:
    if c.bound_reason:
        return c.bound_reason
    return None if c.cg == 1 else f"{c.cg} input channels per output (depthwise reads one)"


def _depthwise_bound(c: MacCall) -> float:
    """The partial-sum bound the lanes are chosen by: the input type's when it already admits
    float32 (no pass over x), else max over outputs of max|x| over its channel * sum|w|."""
    by_type = float(c.type_xmax) * float(c.wsum_max)
    if by_type < F32_EXACT:
        return by_type
    ic = np.arange(c.cout) // (c.cout // c.x.shape[1])
    return float((c.xmax_ch[ic].astype(np.float64) * c.sums[1][:, 0]).max(initial=0))


def _run_depthwise(c: MacCall) -> int:
    zero = lane_zero(_depthwise_bound(c))
    wl = c.cached(("lanes", zero.dtype.str), lambda: c.w.astype(zero.dtype))
    (sh, sw), (pt, pl, pb, pr), (dh, dw) = c.attrs.strides, c.attrs.pads, c.attrs.dilations
    return int(depthwise_conv(c.x, wl, c.bias, sh, sw, pt, pl, pb, pr, dh, dw, c.ho, c.wo, -c.pshift,
                              cast_params(c.fshift, *c.res.codes), c.relu, zero, c.out))


# ----------------------------------------------------------------------------- onnxruntime
def _ort_ok(c: MacCall) -> str | None:
    if c.bound_reason:
        return c.bound_reason
    return "the weights cannot be cached (no owning array)" if c.cache is None else None


def _ort_preferred(c: MacCall) -> bool:
    return USE_ORT and c.pixels >= ORT_MIN_OUTPUTS


def _slices_needed(c: MacCall, min_parts: int, max_parts: int = MAX_SLICES) -> int | None:
    key = ("slices", min_parts, max_parts)
    if key not in c.plans:
        c.plans[key] = slice_plan(c.xmax_ch, c.sums, c.groups, min_parts, max_parts)
    return c.plans[key]


def _exact_f32(c: MacCall) -> str | None:
    if _ort_ok(c):
        return _ort_ok(c)
    return None if _slices_needed(c, 1, 1) == 1 else "some output's bound reaches 2**24"


def _exact_int8(c: MacCall) -> str | None:
    if _ort_ok(c):
        return _ort_ok(c)
    lo, hi = c.x_range
    wlo, whi = c.w_range
    if not ((-128 <= lo and hi <= 127) or (0 <= lo and hi <= 255)) or not (
            (-128 <= wlo and whi <= 127) or (0 <= wlo and whi <= 255)):
        return "the inputs or weights need more than 8 bits"
    return None if c.xmax * c.wsum_max < INT32_EXACT else "the sum bound reaches 2**31"


def _exact_slices(c: MacCall) -> str | None:
    if _ort_ok(c):
        return _ort_ok(c)
    return None if _slices_needed(c, 2) else "no split into 2..4 channel slices keeps each bound below 2**24"


def _exact_ort_limbs(c: MacCall) -> str | None:
    if _ort_ok(c):
        return _ort_ok(c)
    return None if limb_bound(c.xmax, c.wsum_max) < F32_EXACT else "a limb's bound reaches 2**24"


def _ort_parts(c: MacCall, got: np.ndarray | None, shifts: list[int]) -> int | None:
    if got is None:
        return None
    parts = got.reshape(c.n_b, c.groups, len(shifts), c.coutg, c.ho * c.wo)
    return c.epilogue(parts, np.array(shifts, np.int64), c.bias, c.out3)


def _run_f32(c: MacCall) -> int | None:
    return _ort_parts(c, conv_float32(c.x, c.w, c.attrs, 1, 0, c.cache), [0])


def _run_int8(c: MacCall) -> int | None:
    got = conv_integer(c.x, c.w, c.attrs, c.x_range, float(c.xmax) * float(c.wsum_max), c.cache)
    return _ort_parts(c, got, [0])


def _run_slices(c: MacCall) -> int | None:
    j = _slices_needed(c, 2)
    return _ort_parts(c, conv_float32(c.x, c.w, c.attrs, j, 0, c.cache), [0] * j)


def _run_ort_limbs(c: MacCall) -> int | None:
    b = limb_bits(c.xmax)
    return _ort_parts(c, conv_float32(c.x, c.w, c.attrs, 2, b, c.cache), [0, b])


def _exact_int8_limbs(c: MacCall) -> str | None:
    if _ort_ok(c):
        return _ort_ok(c)
    for what, (lo, hi) in (("inputs", c.x_range), ("weights", c.w_range)):
        if lo < -(1 << 15) or hi >= (1 << 16) or (lo < 0 and hi >= (1 << 15)):
            return f"the {what} need more than 16 bits"
    # each part: max |x limb| (<= 255) times sum |w limb| (<= 255 per term) below 2**31
    return None if 255 * 255 * c.k < INT32_EXACT else "a byte limb's sum bound reaches 2**31"


def _run_int8_limbs(c: MacCall) -> int | None:
    got = conv_integer_limbs(c.x, c.w, c.attrs, c.cache, c.x_range)
    if got is None:
        return None
    return c.epilogue(got[0], got[1], c.bias, c.out3)


# ----------------------------------------------------------------------------- BLAS
def _blas_route(dtype: type, limbs: bool) -> tuple[Callable[[MacCall], str | None], Callable[[MacCall], int]]:
    limit = F32_EXACT if dtype is np.float32 else F64_EXACT

    def exact(c: MacCall) -> str | None:
        if c.bound_reason:
            return c.bound_reason
        b = limb_bound(c.xmax, c.wsum_max) if limbs else c.xmax * c.wsum_max
        return None if b < limit else f"the {'limb ' if limbs else ''}bound {b} reaches 2**{limit.bit_length() - 1}"

    def run(c: MacCall) -> int:
        lb = limb_bits(c.xmax) if limbs else 0
        nj = 2 if limbs else 1
        (sh, sw), (pt, pl, _, _), (dh, dw) = c.attrs.strides, c.attrs.pads, c.attrs.dilations
        cols = np.empty((c.k, c.pixels * nj), dtype)
        wf = c.w.reshape(c.cout, c.k).astype(dtype)
        shifts = np.array([0, lb][:nj], np.int64)
        n = 0
        for g in range(c.groups):
            sl = slice(g * c.coutg, (g + 1) * c.coutg)
            im2col(c.x, g * c.cg, c.cg, c.kh, c.kw, sh, sw, pt, pl, dh, dw, c.ho, c.wo, lb, cols)
            accf = (wf[sl] @ cols).reshape(c.coutg, nj, c.n_b, c.ho * c.wo).transpose(2, 1, 0, 3)
            n += c.epilogue(accf[:, None], shifts, c.bias[sl], c.out3[:, sl])
        return n

    return exact, run


def _blas_preferred(c: MacCall) -> bool:
    """BLAS pays when a weight is reused over enough output pixels and the GEMM is not tiny;
    otherwise (dense at small batch, depthwise) an int64 loop reads the weights once."""
    return c.k >= 16 and c.coutg >= 4 and c.pixels >= 16


def _blas_first(dtype: type, limbs: bool) -> Callable[[MacCall], bool]:
    """BLAS variants are preferred in gemm_plan's order: this one only when it is gemm_plan's pick."""
    return lambda c: _blas_preferred(c) and gemm_plan(c.xmax, c.wsum_max) == (dtype, limb_bits(c.xmax) if limbs else 0)


# ----------------------------------------------------------------------------- int64 / int32 loops
def _exact_dense(c: MacCall) -> str | None:
    if c.bound_reason:
        return c.bound_reason
    return None if c.is_dense else "not a dense layer (1x1 kernel on a 1x1 image, one group)"


def _narrow_weights(c: MacCall, make_now: bool) -> np.ndarray:
    """The dense weights (Cout, K), narrowed to int8/16/32 once it pays: the copy costs three
    passes over the weights, so it is made on the second call (or now when forced)."""
    wn = c.w.reshape(c.cout, -1)
    if c.cache is None:
        return narrowest(wn) if make_now else wn
    if (make_now or c.cache.get("dense_seen")) and "narrow" not in c.cache:
        c.cache["narrow"] = narrowest(wn)
    c.cache["dense_seen"] = True
    return c.cache.get("narrow", wn)


def _exact_dense_int32(c: MacCall) -> str | None:
    if _exact_dense(c):
        return _exact_dense(c)
    if not (c.xmax * c.wsum_max < INT32_EXACT and c.xmax < INT32_EXACT):
        return "the sum bound reaches 2**31"
    return None if np.iinfo(np.int32).min <= c.w_range[0] and c.w_range[1] < INT32_EXACT else "weights need more than 32 bits"


def _dense_call(c: MacCall, kernel: Callable, x: np.ndarray, wn: np.ndarray) -> int:
    return int(kernel(x.reshape(c.n_b, -1), wn, c.bias, -c.pshift, c.fshift, *c.res.codes, c.relu,
                      c.out.reshape(c.n_b, c.cout)))


def _run_dense_int32(c: MacCall) -> int:
    return _dense_call(c, dense_int32, c.x.astype(np.int32), _narrow_weights(c, True))


def _dense_int32_preferred(c: MacCall) -> bool:
    return c.cache is not None and c.cache.get("dense_seen", False)


def _run_dense_int64(c: MacCall) -> int:
    return _dense_call(c, dense_exact, c.x, _narrow_weights(c, False))


def _run_conv_int64(c: MacCall) -> int:
    pt, pl, pb, pr = c.attrs.pads
    xp = np.pad(c.x, ((0, 0), (0, 0), (pt, pb), (pl, pr))) if any(c.attrs.pads) else c.x
    (sh, sw), (dh, dw) = c.attrs.strides, c.attrs.dilations
    return int(conv_exact(xp, c.w, c.bias, sh, sw, dh, dw, c.groups, c.ho, c.wo, -c.pshift, c.fshift,
                          *c.res.codes, c.relu, c.out))


# ----------------------------------------------------------------------------- per term
def _exact_int64_terms(c: MacCall) -> str | None:
    if not c.int64:
        return "the types leave int64"
    return None if c.acc.sum_fits_int64 else f"two values of the accumulator {c.acc} can sum beyond int64"


def _run_narrow(lanes: str) -> Callable[[MacCall], int | None]:
    def run(c: MacCall) -> int | None:
        n = run_mac_narrow(c.x, c.w, c.bias, c.attrs, c.pshift, c.acc, c.fshift, c.res, c.relu, c.out, lanes=lanes)
        return None if n is None else int(n)
    return run


def _narrow_batch_preferred(c: MacCall) -> bool:
    return c.n_b >= BATCH_LANES_MIN_N and c.coutg <= BATCH_LANES_MAX_COUT


def _run_per_term(c: MacCall) -> int:
    (sh, sw), (pt, pl, _, _), (dh, dw) = c.attrs.strides, c.attrs.pads, c.attrs.dilations
    return int(conv_direct(c.x, c.w, c.bias, sh, sw, pt, pl, dh, dw, c.groups, c.ho, c.wo, c.pshift, *c.acc.codes,
                           c.fshift, *c.res.codes, c.relu, c.out))


def _run_wide(c: MacCall) -> int:
    n = run_wide(c.x, c.w, c.b, c.types, c.attrs, (c.ho, c.wo), c.relu, c.out)
    c.bias_overflows = 0            # the wide route counts the bias casts itself
    return n


def _always(_: MacCall) -> bool:
    return True


def _no_reason(_: MacCall) -> str | None:
    return None


_BLAS = {(d, lb): _blas_route(d, lb) for d in (np.float32, np.float64) for lb in (False, True)}

ROUTES: tuple[Route, ...] = (
    Route("depthwise", "a direct pass per channel plane in exact float32/float64/int64 lanes", _exact_depthwise,
          lambda c: c.cg == 1 and c.groups > 1, _run_depthwise),
    Route("ort_f32", "one float32 Conv in onnxruntime", _exact_f32, _ort_preferred, _run_f32),
    Route("ort_int8", "onnxruntime ConvInteger on values offset into uint8", _exact_int8, _ort_preferred, _run_int8),
    Route("ort_f32_slices", "a float32 Conv on J channel slices, parts added in int64", _exact_slices, _ort_preferred,
          _run_slices),
    Route("ort_f32_limbs", "a float32 Conv on two limbs of x, parts added in int64", _exact_ort_limbs, _ort_preferred,
          _run_ort_limbs),
    Route("ort_int8_limbs", "onnxruntime ConvIntegers on the 8-bit limbs of x and w (<= 4 parts), added in int64",
          _exact_int8_limbs, _ort_preferred, _run_int8_limbs),
    *(Route(f"blas_{'f32' if d is np.float32 else 'f64'}{'_limbs' if lb else ''}",
            f"im2col and a {d.__name__} BLAS GEMM{' on two limbs of x' if lb else ''}",
            _BLAS[d, lb][0], _blas_first(d, lb), _BLAS[d, lb][1])
      for d in (np.float32, np.float64) for lb in (False, True)),
    Route("dense_int32", "int32 sums on a narrow copy of the weights", _exact_dense_int32, _dense_int32_preferred,
          _run_dense_int32),
    Route("dense_int64", "int64 sums reading each weight once", _exact_dense, _always, _run_dense_int64),
    Route("conv_int64", "int64 sums one output row at a time (parallel)", lambda c: c.bound_reason, _always,
          _run_conv_int64),
    Route("narrow_batch", "per-term casts proved idle per output; int32 lanes over the samples",
          _exact_int64_terms, _narrow_batch_preferred, _run_narrow("batch")),
    Route("narrow_channels", "per-term casts proved idle per pixel; int32 lanes over the output channels",
          _exact_int64_terms, _always, _run_narrow("channels")),
    Route("per_term", "every product and add cast in the accumulator (parallel Numba loop)", _exact_int64_terms,
          _always, _run_per_term),
    Route("wide", "Python integers for types beyond int64 (up to 128 bits)", _no_reason, _always, _run_wide),
)
ROUTE_NAMES = tuple(r.name for r in ROUTES)
_BY_NAME = {r.name: r for r in ROUTES}


def choose(c: MacCall) -> Iterator[Route]:
    """The routes the engine tries for this call, in order, lazily (the first that runs wins;
    the cheap `preferred` test goes first, so a call pays only for the bounds it reaches)."""
    return (r for r in ROUTES if r.preferred(c) and r.exact(c) is None)


def run_mac(node: Any, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, types: tuple[Fixed, ...], attrs: Any,
            out_hw: tuple[int, int], route: str | None = None, taken: list[str] | None = None) -> tuple[np.ndarray, int]:
    """Bit-accurate conv of raw x (N,C,H,W) with raw w (Cout,Cg,kh,kw): (raw out, overflows).
    `route` forces one route of ROUTES by name; `taken`, when given, receives the route's name."""
    c = MacCall(node, x, w, b, types, attrs, out_hw)
    if route is not None:
        r = _BY_NAME.get(route)
        if r is None:
            raise ConfigError(f"unknown MAC route {route!r}; accepted: {', '.join(ROUTE_NAMES)}")
        why = r.exact(c)
        if why is not None:
            raise ConfigError(f"node {node.name!r}: route {route!r} is not exact here: {why}")
        tries: Iterator[Route] = iter([r])
    else:
        tries = choose(c)
    for r in tries:
        n = r.run(c)
        if n is not None:
            if taken is not None:
                taken.append(r.name)
            return c.out, c.bias_overflows + n
    if route is not None:
        raise ConfigError(f"node {node.name!r}: route {route!r} declined (onnxruntime refused the geometry, or "
                          f"int32 cannot hold the sums)")
    raise AssertionError("the wide route never declines")
