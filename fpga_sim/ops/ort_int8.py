"""Exact integer convolution sums through onnxruntime (a helper of ops/mac_kernels.py, not an op).

Two routes, both exact and both checked against per-term references in tests/test_ops_conv.py:
- 8-bit values: ConvInteger (u8 x u8 -> int32), below;
- integer-valued float32 Conv (`conv_float32_limbs`) when a bound keeps every partial sum
  below 2**24, with the input split into two limbs when one is not enough.

When a layer's raw inputs and weights fit in 8 bits and a bound proves the sum cannot leave
int32, onnxruntime's u8 x u8 -> int32 ConvInteger computes sum_k x*w exactly, faster than a
float GEMM on im2col columns.  Signed values are offset by 128 into uint8 with zero point 128
(x_u - 128 == x exactly); the int32 arithmetic wraps modulo 2**32 inside, and the true result
fits in int32, so the result is exact.  Sessions are cached per geometry; weights are a run-time
input, so a changed weight array can never be served stale.
"""
from __future__ import annotations

from collections import OrderedDict
from threading import Lock
from typing import Any

import numpy as np
from numba import njit

INT32_EXACT = 1 << 31
_SESSIONS: "OrderedDict[tuple, Any]" = OrderedDict()
_LOCK = Lock()
_MAX_SESSIONS = 64


def _session(key: tuple, c: int, w_shape: tuple[int, ...], attrs: Any, x_zero: int, w_zero: int) -> Any:
    with _LOCK:
        if key in _SESSIONS:
            _SESSIONS.move_to_end(key)
            return _SESSIONS[key]
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node("ConvInteger", ["x", "w", "xz", "wz"], ["y"], kernel_shape=list(attrs.kernel_shape),
                            strides=list(attrs.strides), pads=list(attrs.pads), dilations=list(attrs.dilations),
                            group=int(attrs.groups))
    g = helper.make_graph([node], "conv_int8",
                          [helper.make_tensor_value_info("x", TensorProto.UINT8, ["N", c, None, None]),
                           helper.make_tensor_value_info("w", TensorProto.UINT8, list(w_shape))],
                          [helper.make_tensor_value_info("y", TensorProto.INT32, None)],
                          [numpy_helper.from_array(np.array(x_zero, np.uint8), "xz"),
                           numpy_helper.from_array(np.array(w_zero, np.uint8), "wz")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # no spinning after a run: the Numba epilogue that follows needs the cores
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    with _LOCK:
        _SESSIONS[key] = sess
        while len(_SESSIONS) > _MAX_SESSIONS:
            _SESSIONS.popitem(last=False)
    return sess


def _zero_point(lo: int, hi: int) -> int | None:
    """128 for values in [-128, 127], 0 for [0, 255], None when they need more than 8 bits."""
    if -128 <= lo and hi <= 127:
        return 128
    if 0 <= lo and hi <= 255:
        return 0
    return None


def conv_integer(x: np.ndarray, w: np.ndarray, attrs: Any, xmax: int, wsum_max: int) -> np.ndarray | None:
    """Exact int32 sum_k x*w for raw int64 x (N,C,H,W) and w (Cout,Cg,kh,kw), or None when the
    values need more than 8 bits, the sum could leave int32, or onnxruntime is unavailable."""
    if xmax * wsum_max >= INT32_EXACT or x.size == 0:
        return None
    xz = _zero_point(int(x.min()), int(x.max()))
    wz = _zero_point(int(w.min()), int(w.max()))
    if xz is None or wz is None:
        return None
    key = (x.shape[1:], w.shape, attrs, xz, wz)
    try:
        sess = _session(key, x.shape[1], w.shape, attrs, xz, wz)
        xu = (x + xz).astype(np.uint8)
        wu = (w + wz).astype(np.uint8)
        return sess.run(None, {"x": xu, "w": wu})[0]
    except Exception:          # onnxruntime missing or refusing the geometry: the BLAS path takes over
        return None


@njit(cache=True, nogil=True)
def split_limbs(x, limb_bits, out):
    """out[:n] = x & (2**b - 1), out[n:] = x >> b as float32 in one pass (out[:] = x if b == 0)."""
    n = x.size
    if limb_bits == 0:
        for i in range(n):
            out[i] = x[i]
        return
    mask = (np.int64(1) << limb_bits) - 1
    for i in range(n):
        out[i] = x[i] & mask
        out[n + i] = x[i] >> limb_bits


def _float_session(key: tuple, c: int, w_shape: tuple[int, ...], attrs: Any) -> Any:
    with _LOCK:
        if key in _SESSIONS:
            _SESSIONS.move_to_end(key)
            return _SESSIONS[key]
    import onnxruntime as ort
    from onnx import TensorProto, helper

    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=list(attrs.kernel_shape),
                            strides=list(attrs.strides), pads=list(attrs.pads), dilations=list(attrs.dilations),
                            group=int(attrs.groups))
    g = helper.make_graph([node], "conv_f32_exact",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c, None, None]),
                           helper.make_tensor_value_info("w", TensorProto.FLOAT, list(w_shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    with _LOCK:
        _SESSIONS[key] = sess
        while len(_SESSIONS) > _MAX_SESSIONS:
            _SESSIONS.popitem(last=False)
    return sess


def conv_float32_limbs(x: np.ndarray, w: np.ndarray, attrs: Any, limb_bits: int) -> np.ndarray | None:
    """sum_k x*w through onnxruntime's float32 Conv, exact because the caller's bound keeps every
    partial sum an integer below 2**24 (see conv.gemm_plan).  With limb_bits > 0, x is split
    into lo = x & (2**b - 1) and hi = x >> b, stacked along the batch: returns float32 (2N, ...)
    whose first N samples are the low limb's sums, else (N, ...).  None if onnxruntime refuses."""
    xs = np.empty((x.shape[0] * (2 if limb_bits else 1),) + x.shape[1:], np.float32)
    split_limbs(x.reshape(-1), limb_bits, xs.reshape(-1))
    key = ("f32", x.shape[1:], w.shape, attrs)
    try:
        return _float_session(key, x.shape[1], w.shape, attrs).run(None, {"x": xs, "w": w.astype(np.float32)})[0]
    except Exception:          # onnxruntime missing or refusing the geometry: the BLAS path takes over
        return None
