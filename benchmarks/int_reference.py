"""A plain NumPy int64 conv/dense: the slow peer in the layer ratios and the exactness oracle.

It shares no code with the engine's kernels: im2col through `sliding_window_view`, an int64
matmul (NumPy's own integer loop, no BLAS), and the HLS arithmetic of docs/ARCHITECTURE.md
written out step by step: bias cast to the accumulator as its initial value, each exact product
cast to the accumulator, the sum in the accumulator, the final cast to the result type, then a
fused ReLU.  Wrap-around accumulators are exact whatever the order of the adds (two's-complement
sums are associative); a saturating accumulator is accepted only when a bound proves it cannot
saturate.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from fpga_sim.fixed import Fixed, product_type


class ReferenceUnsupported(ValueError):
    """The reference cannot decide this case (e.g. a saturating accumulator that may saturate)."""


def im2col(x: np.ndarray, kh: int, kw: int, stride: tuple[int, int],
           pads: tuple[int, int, int, int]) -> np.ndarray:
    """(N, C, H, W) -> windows (N, C, Ho, Wo, kh, kw), a view of the zero-padded input."""
    top, left, bottom, right = pads
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))
    return win[:, :, ::stride[0], ::stride[1]]


def conv_products_sum(x: np.ndarray, w: np.ndarray, stride: tuple[int, int] = (1, 1),
                      pads: tuple[int, int, int, int] = (0, 0, 0, 0), groups: int = 1,
                      cast_product=None) -> np.ndarray:
    """Sum over each window of (optionally cast) exact int64 products: (N, Cout, Ho, Wo)."""
    n, c = x.shape[:2]
    cout, cg, kh, kw = w.shape
    win = im2col(x.astype(np.int64), kh, kw, stride, pads)
    ho, wo = win.shape[2:4]
    og = cout // groups
    out = np.empty((n, cout, ho, wo), dtype=np.int64)
    for g in range(groups):
        wg = w[g * og:(g + 1) * og].reshape(og, cg * kh * kw).astype(np.int64)
        cols = win[:, g * cg:(g + 1) * cg].transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, cg * kh * kw)
        out[:, g * og:(g + 1) * og] = _dot(cols, wg, cast_product).reshape(n, ho, wo, og).transpose(0, 3, 1, 2)
    return out


def dense_products_sum(x: np.ndarray, w: np.ndarray, cast_product=None) -> np.ndarray:
    """(N, in) x (out, in) -> (N, out) sums of (optionally cast) exact products."""
    return _dot(x.astype(np.int64), w.astype(np.int64), cast_product)


def _dot(cols: np.ndarray, w: np.ndarray, cast_product) -> np.ndarray:
    if cast_product is None:
        return cols @ w.T
    out = np.empty((cols.shape[0], w.shape[0]), dtype=np.int64)
    for o in range(w.shape[0]):          # one output channel at a time keeps memory small
        out[:, o] = cast_product(cols * w[o]).sum(axis=1)
    return out


def hls_layer(x_raw: np.ndarray, in_t: Fixed, w_raw: np.ndarray, b_raw: np.ndarray | None,
              weight_t: Fixed, bias_t: Fixed | None, accum_t: Fixed, result_t: Fixed,
              relu: bool, conv: dict | None = None) -> np.ndarray:
    """The layer as HLS C++ computes it; `conv` holds stride/pads/groups (None: a dense layer)."""
    prod_t = product_type(in_t, weight_t)
    shift = prod_t.frac - accum_t.frac
    cast_product = None
    if shift != 0 or not _fits(prod_t, accum_t):
        def cast_product(p: np.ndarray) -> np.ndarray:
            return accum_t.cast(p, prod_t)
    if conv is None:
        k = w_raw.shape[1]
        acc = dense_products_sum(x_raw, w_raw, cast_product)
        bshape = (1, -1)
    else:
        k = int(np.prod(w_raw.shape[1:]))
        acc = conv_products_sum(x_raw, w_raw, conv.get("stride", (1, 1)), conv.get("pads", (0, 0, 0, 0)),
                                conv.get("groups", 1), cast_product)
        bshape = (1, -1, 1, 1)
    bias_acc = np.zeros(w_raw.shape[0], dtype=np.int64)
    if b_raw is not None:
        bias_acc = accum_t.cast(b_raw, bias_t if bias_t is not None else weight_t)
    if accum_t.overflow != "AP_WRAP":
        # Saturation depends on the order of the adds: accept only when no partial sum can reach it.
        pmax = max(abs(prod_t.min_raw), prod_t.max_raw)
        pmax = pmax >> shift if shift > 0 else pmax << -shift
        bound = int(np.abs(bias_acc).max(initial=0)) + k * (pmax + 1)
        if bound > accum_t.max_raw:
            raise ReferenceUnsupported(
                f"saturating accumulator {accum_t} may saturate mid-sum (bound {bound}); "
                "the order-free reference cannot decide it")
    total = acc + bias_acc.reshape(bshape)
    acc_final = accum_t.cast(total, accum_t)      # wrap (or check) once: equal to wrapping each add
    out = result_t.cast(acc_final, accum_t)
    if relu:
        out = np.maximum(out, 0)
    return out


def _fits(prod_t: Fixed, accum_t: Fixed) -> bool:
    """Whether every product is representable in the accumulator without rounding or overflow."""
    return (accum_t.frac >= prod_t.frac and accum_t.int_bits >= prod_t.int_bits
            and (accum_t.signed or not prod_t.signed))
