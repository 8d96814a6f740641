"""Window geometry shared by MaxPool and AveragePool (and their Global forms), as ONNX defines it.

Spatial rank 1 (N, C, L) and 2 (N, C, H, W) are supported; rank 1 runs as H = 1.  Pads are
(top, left, bottom, right) after auto_pad is resolved at lowering.  Output length per axis is
onnxruntime's: floor((n + p0 + p1 - d(k-1) - 1) / s) + 1, or with ceil_mode the ceiling, minus
one when the last window would start beyond the input and its leading pad.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .common import unsupported


@dataclass(frozen=True)
class PoolAttrs:
    """A 2-D pooling window (rank-1 pools are stored with a unit H axis)."""

    kernel: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)   # top, left, bottom, right
    dilations: tuple[int, int] = (1, 1)
    ceil_mode: bool = False
    count_include_pad: bool = False                   # AveragePool only
    global_pool: bool = False
    rank: int = 2                                     # spatial rank of the tensor (1 or 2)


def out_len(n: int, k: int, s: int, p0: int, p1: int, d: int, ceil_mode: bool) -> int:
    num = n + p0 + p1 - (d * (k - 1) + 1)
    if num < 0:
        return 0
    if ceil_mode:
        o = -(-num // s) + 1
        if (o - 1) * s >= n + p0:
            o -= 1
        return o
    return num // s + 1


def out_shape(a: PoolAttrs, in_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Per-sample output shape for a per-sample (C, L) or (C, H, W) input."""
    c, h, w = as_chw(in_shape)
    if a.global_pool:
        oh, ow = 1, 1
    else:
        oh = out_len(h, a.kernel[0], a.strides[0], a.pads[0], a.pads[2], a.dilations[0], a.ceil_mode)
        ow = out_len(w, a.kernel[1], a.strides[1], a.pads[1], a.pads[3], a.dilations[1], a.ceil_mode)
    return (c, ow) if len(in_shape) == 2 else (c, oh, ow)


def as_chw(shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) == 2:
        return int(shape[0]), 1, int(shape[1])
    if len(shape) == 3:
        return int(shape[0]), int(shape[1]), int(shape[2])
    raise ValueError(f"pooling takes (C, L) or (C, H, W) per-sample inputs, got {tuple(shape)}")


def window(a: PoolAttrs, h: int, w: int) -> PoolAttrs:
    """Global pools become an explicit full-size window for the kernels."""
    if a.global_pool:
        return PoolAttrs((h, w), (1, 1), (0, 0, 0, 0), (1, 1), False, a.count_include_pad, True, a.rank)
    return a


def axis_counts(n: int, k: int, s: int, p0: int, p1: int, d: int, o: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output position: (inputs inside the tensor, positions inside tensor + pads)."""
    valid = np.zeros(o, dtype=np.int64)
    incl = np.zeros(o, dtype=np.int64)
    for i in range(o):
        for j in range(k):
            x = i * s - p0 + j * d
            valid[i] += 0 <= x < n
            incl[i] += -p0 <= x < n + p1
    return valid, incl


def window_counts(a: PoolAttrs, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(counts along H, counts along W) that an average divides by (count_include_pad decides)."""
    a = window(a, h, w)
    oh = out_len(h, a.kernel[0], a.strides[0], a.pads[0], a.pads[2], a.dilations[0], a.ceil_mode)
    ow = out_len(w, a.kernel[1], a.strides[1], a.pads[1], a.pads[3], a.dilations[1], a.ceil_mode)
    vh, ih = axis_counts(h, a.kernel[0], a.strides[0], a.pads[0], a.pads[2], a.dilations[0], oh)
    vw, iw = axis_counts(w, a.kernel[1], a.strides[1], a.pads[1], a.pads[3], a.dilations[1], ow)
    return (ih, iw) if a.count_include_pad else (vh, vw)


@lru_cache(maxsize=64)
def window_taps(a: PoolAttrs, h: int, w: int, oh: int, ow: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts, offs): output p = oh*OW + ow reads the inputs at flat offsets ih*W + iw listed
    in offs[starts[p]:starts[p+1]] (row by row; positions in the padding left out), computed in
    NumPy once per geometry so a pooling kernel's loops carry no bounds tests and nothing more
    is compiled (ops/windows.py's tap_table is the same table for Numba callers)."""
    (kh, kw), (sh, sw), (dh, dw) = a.kernel, a.strides, a.dilations
    ih = (np.arange(oh) * sh - a.pads[0])[:, None] + np.arange(kh) * dh          # (OH, KH)
    iw = (np.arange(ow) * sw - a.pads[1])[:, None] + np.arange(kw) * dw          # (OW, KW)
    inside = ((0 <= ih) & (ih < h))[:, None, :, None] & ((0 <= iw) & (iw < w))[None, :, None, :]
    offs = (ih * w)[:, None, :, None] + iw[None, :, None, :]                     # (OH, OW, KH, KW)
    starts = np.zeros(oh * ow + 1, np.int64)
    np.cumsum(inside.sum(axis=(2, 3)).reshape(-1), out=starts[1:])
    return starts, np.ascontiguousarray(offs[inside], dtype=np.int64)


def _ints(value: Any, n: int, default: int) -> list[int]:
    return [default] * n if value is None else [int(v) for v in value]


def lower_pool(onnx_node: Any, ctx: Any, *, average: bool) -> PoolAttrs:
    """Read an ONNX (Global)MaxPool/AveragePool node into PoolAttrs, with clear errors."""
    shape = tuple(ctx.shape(onnx_node.input[0]))
    if len(shape) not in (2, 3):
        raise unsupported(ctx, onnx_node, f"input has per-sample shape {shape}; 1-D and 2-D pooling ((C, L) or (C, H, W)) are supported")
    rank = len(shape) - 1
    if len(onnx_node.output) > 1 and onnx_node.output[1]:
        raise unsupported(ctx, onnx_node, "the Indices output is not supported; only the pooled values are")
    if onnx_node.op_type.startswith("Global"):
        return PoolAttrs(kernel=(1, 1), global_pool=True, rank=rank, count_include_pad=False)
    a = ctx.attrs(onnx_node)
    if "kernel_shape" not in a:
        raise unsupported(ctx, onnx_node, "the required attribute kernel_shape is missing")
    k = _ints(a["kernel_shape"], rank, 1)
    s = _ints(a.get("strides"), rank, 1)
    d = _ints(a.get("dilations"), rank, 1)
    p = _ints(a.get("pads"), 2 * rank, 0)
    if not (len(k) == len(s) == len(d) == rank and len(p) == 2 * rank):
        raise unsupported(ctx, onnx_node, f"kernel_shape/strides/dilations need {rank} values and pads {2 * rank}")
    if min(k + s + d) < 1 or min(p) < 0:
        raise unsupported(ctx, onnx_node, "kernel_shape, strides and dilations must be >= 1 and pads >= 0")
    auto_pad = a.get("auto_pad", "NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    ceil_mode = bool(a.get("ceil_mode", 0))
    if average and a.get("storage_order"):
        raise unsupported(ctx, onnx_node, "storage_order is not an AveragePool attribute")
    spatial = list(shape[1:])
    if auto_pad in ("SAME_UPPER", "SAME_LOWER", "VALID"):
        p = [0] * (2 * rank)
        if auto_pad != "VALID":
            for i, n in enumerate(spatial):
                o = -(-n // s[i])
                need = max(0, (o - 1) * s[i] + d[i] * (k[i] - 1) + 1 - n)
                head = need // 2 if auto_pad == "SAME_UPPER" else need - need // 2
                p[i], p[rank + i] = head, need - head
        ceil_mode = False
    elif auto_pad != "NOTSET":
        raise unsupported(ctx, onnx_node, f"auto_pad {auto_pad!r} is not accepted; NOTSET, SAME_UPPER, SAME_LOWER or VALID")
    if rank == 1:
        k, s, d, p = [1] + k, [1] + s, [1] + d, [0, p[0], 0, p[1]]
    attrs = PoolAttrs(
        kernel=(k[0], k[1]), strides=(s[0], s[1]), pads=(p[0], p[1], p[2], p[3]), dilations=(d[0], d[1]),
        ceil_mode=ceil_mode, count_include_pad=bool(a.get("count_include_pad", 0)) if average else False,
        rank=rank,
    )
    _, h, w = as_chw(shape)
    vh, vw = window_counts(PoolAttrs(**{**attrs.__dict__, "count_include_pad": False}), h, w)
    if vh.size == 0 or vw.size == 0:
        raise unsupported(ctx, onnx_node, f"the window is larger than the padded input {shape}")
    if vh.min() == 0 or vw.min() == 0:
        raise unsupported(ctx, onnx_node, "a pooling window lies entirely in the padding; pads smaller than the window are accepted")
    return attrs
