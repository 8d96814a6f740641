"""Exact integer convolution sums through onnxruntime (a helper of ops/mac_kernels.py, not an op).

Two kinds of routes of the MAC table (ops/mac_routes.py: ort_int8, ort_f32, ort_f32_slices,
ort_f32_limbs), picked from bounds on the actual data; tests/test_mac_routes.py forces each and
checks it bit for bit:
- `conv_integer`: raw values that fit 8 bits and a sum bound below 2**31: ConvInteger
  (u8 x u8 -> int32).  Signed values are offset by 128 into uint8 with zero point 128
  (x_u - 128 == x exactly); int32 wraps inside, the true sum fits, so it is exact.
- `conv_float32`: float32 Conv, exact when every partial sum is an integer below 2**24.  The
  input is presented as J parts whose sums the epilogue adds in int64 (`split_plan`): J slices
  of each group's input channels (a grouped Conv with J times the groups: the same MACs, each
  slice with a smaller bound), or J = 2 limbs of the values, x = hi * 2**b + lo (twice the MACs);
  the bounds are mac_bounds.py's.
Weights are initializers, so onnxruntime prepacks them once; sessions live with the weights
(`weight_cache.derived`), so a session can never run on other weights than its own.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from .mac_bounds import INT32_EXACT


def _session(op: str, w: np.ndarray, attrs: Any, groups: int, c_in: int, zero_points: tuple[int, int] | None) -> Any:
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    ins, inits = ["x", "w"], [numpy_helper.from_array(w, "w")]
    if zero_points is not None:
        ins += ["xz", "wz"]
        inits += [numpy_helper.from_array(np.array(z, np.uint8), n) for z, n in zip(zero_points, ("xz", "wz"))]
    node = helper.make_node(op, ins, ["y"], kernel_shape=list(attrs.kernel_shape), strides=list(attrs.strides),
                            pads=list(attrs.pads), dilations=list(attrs.dilations), group=groups)
    t_in = TensorProto.UINT8 if zero_points is not None else TensorProto.FLOAT
    t_out = TensorProto.INT32 if zero_points is not None else TensorProto.FLOAT
    g = helper.make_graph([node], "exact_sum", [helper.make_tensor_value_info("x", t_in, ["N", c_in, None, None])],
                          [helper.make_tensor_value_info("y", t_out, None)], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # no spinning after a run: the Numba epilogue that follows needs the cores
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _zero_point(lo: int, hi: int) -> int | None:
    """128 for values in [-128, 127], 0 for [0, 255], None when they need more than 8 bits."""
    if -128 <= lo and hi <= 127:
        return 128
    if 0 <= lo and hi <= 255:
        return 0
    return None


@njit(cache=True, nogil=True)
def to_uint8(x, zero, out):
    """out = x + zero as uint8 (the caller checked the range) in one pass."""
    for i in range(x.size):
        out[i] = np.uint8(x[i] + zero)


def conv_integer(x: np.ndarray, w: np.ndarray, attrs: Any, x_range: tuple[int, int], bound: float,
                 cache: dict) -> np.ndarray | None:
    """Exact int32 sum_k x*w (N, Cout, Ho, Wo) for raw int64 x (N,C,H,W) and w (Cout,Cg,kh,kw),
    or None when the values need more than 8 bits, the sum bound reaches 2**31, or onnxruntime
    refuses.  x_range: (min, max) of x; `cache`: the weights' derived-data dict."""
    if bound >= INT32_EXACT or x.size == 0:
        return None
    xz = _zero_point(*x_range)
    if ("w_range",) not in cache:              # once per weight array, not per call
        cache[("w_range",)] = (int(w.min(initial=0)), int(w.max(initial=0)))
    wz = _zero_point(*cache[("w_range",)])
    if xz is None or wz is None:
        return None
    key = ("ConvInteger", attrs, x.shape[1], xz, wz)
    try:
        if key not in cache:
            cache[key] = None          # stays None if onnxruntime refuses: not retried on every call
            cache[key] = _session("ConvInteger", (w + wz).astype(np.uint8), attrs, attrs.groups, x.shape[1], (xz, wz))
        if cache[key] is None:
            return None
        xu = np.empty(x.shape, np.uint8)
        to_uint8(x.reshape(-1), xz, xu.reshape(-1))
        return cache[key].run(None, {"x": xu})[0]
    except Exception:          # onnxruntime missing or refusing the geometry: another exact route takes over
        return None


@njit(cache=True, nogil=True)
def pack_limbs(x, groups, limb_bits, out):
    """out[n, g, 0, c] = x[n, g*cg + c] & (2**b - 1), out[n, g, 1, c] = x[n, g*cg + c] >> b as
    float32; x (N, C, HW), out (N, groups, 2, C/groups, HW)."""
    n_b, c_in, hw = x.shape
    cg = c_in // groups
    mask = (np.int64(1) << limb_bits) - 1
    for n in range(n_b):
        for c in range(c_in):
            g = c // cg
            lo = out[n, g, 0, c - g * cg]
            hi = out[n, g, 1, c - g * cg]
            src = x[n, c]
            for i in range(hw):
                lo[i] = src[i] & mask
                hi[i] = src[i] >> limb_bits


def conv_float32(x: np.ndarray, w: np.ndarray, attrs: Any, parts: int, limb_bits: int, cache: dict) -> np.ndarray | None:
    """float32 sums (N, groups * J * Cout/groups, Ho, Wo), ordered (group, part, output) and
    exact by `split_plan`'s bound: parts = J channel slices (limb_bits 0) or 2 limbs (low limb
    first).  None if onnxruntime refuses."""
    groups = attrs.groups
    cout, cg, kh, kw = w.shape
    n_b, c_in, h, wd = x.shape
    key = ("Conv", attrs, c_in, parts, limb_bits)
    try:
        if key not in cache:
            cache[key] = None          # stays None if onnxruntime refuses: not retried on every call
            wg = w.reshape(groups, cout // groups, cg, kh, kw).astype(np.float32)
            if limb_bits:
                wj = np.stack([wg, wg], axis=1)
            else:
                wj = wg.reshape(groups, cout // groups, parts, cg // parts, kh, kw).transpose(0, 2, 1, 3, 4, 5)
            wj = np.ascontiguousarray(wj).reshape(-1, cg // (1 if limb_bits else parts), kh, kw)
            cache[key] = _session("Conv", wj, attrs, groups * parts, c_in * (2 if limb_bits else 1), None)
        if cache[key] is None:
            return None
        if limb_bits:
            xs = np.empty((n_b, groups, 2, cg, h * wd), np.float32)
            pack_limbs(x.reshape(n_b, c_in, h * wd), groups, limb_bits, xs)
            xs = xs.reshape(n_b, 2 * c_in, h, wd)
        else:
            xs = x.astype(np.float32)
        return cache[key].run(None, {"x": xs})[0]
    except Exception:          # onnxruntime missing or refusing the geometry: another exact route takes over
        return None


@njit(cache=True, nogil=True)
def split_bytes(x, hi_zero, lo, hi):
    """lo = x & 255, hi = (x >> 8) + hi_zero as uint8, in one pass (the caller checked the ranges)."""
    for i in range(x.size):
        v = x[i]
        lo[i] = np.uint8(v & 255)
        hi[i] = np.uint8((v >> 8) + hi_zero)


def byte_limbs(a: np.ndarray, a_range: tuple[int, int] | None = None) -> tuple[list[tuple[np.ndarray, int, int]], int] | None:
    """a (int64, values within 16 bits) as 8-bit limbs [(uint8 array, zero point, shift)]:
    a itself when it fits 8 bits, else lo = a & 255 (zero point 0) and hi = a >> 8 (zero point
    128 when a has negative values, else 0); with the largest |limb value|.  None beyond 16 bits.
    a_range: (min, max) of a when the caller knows it (else computed)."""
    lo_v, hi_v = a_range if a_range is not None else (int(a.min(initial=0)), int(a.max(initial=0)))
    z = _zero_point(lo_v, hi_v)
    if z is not None:
        u = np.empty(a.shape, np.uint8)
        to_uint8(a.reshape(-1), z, u.reshape(-1))
        return [(u, z, 0)], max(-lo_v, hi_v)
    hz = 128 if lo_v < 0 else 0
    if (lo_v >> 8) + hz < 0 or (hi_v >> 8) + hz > 255:
        return None
    if not a.flags.writeable:          # the weights, once: NumPy (no second kernel specialisation)
        lo, hi = (a & 255).astype(np.uint8), ((a >> 8) + hz).astype(np.uint8)
        return [(lo, 0, 0), (hi, hz, 8)], max(255, -(lo_v >> 8), hi_v >> 8)
    lo, hi = np.empty(a.shape, np.uint8), np.empty(a.shape, np.uint8)
    split_bytes(np.ascontiguousarray(a).reshape(-1), hz, lo.reshape(-1), hi.reshape(-1))
    return [(lo, 0, 0), (hi, hz, 8)], max(255, -(lo_v >> 8), hi_v >> 8)


def conv_integer_limbs(x: np.ndarray, w: np.ndarray, attrs: Any, cache: dict,
                       x_range: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Exact sums of a convolution whose inputs and weights fit 16 bits, as ConvIntegers on their
    8-bit limbs: (parts (N, groups, J, Cout/groups, Ho*Wo) int32, left shift of each part), or
    None when a value needs more than 16 bits, a part's sum bound reaches 2**31, or onnxruntime
    refuses.  x = sum_a x_a << 8a and w = sum_b w_b << 8b, so the sum is sum_ab P_ab << 8(a+b),
    each P_ab one u8 x u8 ConvInteger with int32 sums (J = up to 4 parts).  x_range: (min, max)
    of x when known."""
    key = ("ConvInteger limbs", attrs, x.shape[1])
    try:
        if key not in cache:
            cache[key] = None          # stays None if refused or too wide: not retried on every call
            got = byte_limbs(w)
            if got is None:
                return None
            wl, _ = got
            sums = [np.abs(wv.astype(np.int64) - z).reshape(w.shape[0], -1).sum(axis=1).max(initial=0)
                    for wv, z, _ in wl]
            cache[key] = (wl, sums, {})
        if cache[key] is None:
            return None
        wl, wsums, sessions = cache[key]
        got = byte_limbs(x, x_range)
        if got is None:
            return None
        xl, xmax = got
        if max(wsums) * xmax >= INT32_EXACT:
            return None
        parts, shifts = [], []
        for wv, wz, ws in wl:
            for xv, xz, xs in xl:
                sk = (id(wv), xz)
                if sk not in sessions:
                    sessions[sk] = _session("ConvInteger", wv, attrs, attrs.groups, x.shape[1], (xz, wz))
                parts.append(sessions[sk].run(None, {"x": xv})[0])
                shifts.append(ws + xs)
        n_b, cout, ho, wo = parts[0].shape
        g = attrs.groups
        stacked = np.stack([p.reshape(n_b, g, cout // g, ho * wo) for p in parts], axis=2)
        return stacked, np.array(shifts, np.int64)
    except Exception:          # onnxruntime missing or refusing the geometry: another exact route takes over
        return None
