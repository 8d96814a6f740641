"""Fold Mul/Div/Add/Sub by a per-channel constant into the Conv or Gemm before it.

Exporters (and the ONNX zoo's Inception-v2 and DenseNet) write an inference BatchNormalization
as Mul by a scale and Add of a shift; folded, the layer computes y*k + c in its own weights and
bias, and the graph loses two element-wise layers.
"""
from __future__ import annotations

import numpy as np
from onnx import NodeProto

from .base import NodePass
from .fold_batchnorm import fold_scale_shift, foldable_layer, out_channels
from .state import OnnxState

_OPS = ("Mul", "Div", "Add", "Sub")


def _per_channel(st: OnnxState, layer: NodeProto, k: np.ndarray) -> np.ndarray | None:
    """k as one value per output channel, when it broadcasts along the channel axis only."""
    n_out = out_channels(st, layer)
    rank = st.consts[layer.input[1]].ndim if layer.op_type == "Conv" else 2  # rank of the layer's output
    if k.ndim > rank:
        return None
    full = k.reshape((1,) * (rank - k.ndim) + k.shape)
    if any(d != 1 for i, d in enumerate(full.shape) if i != 1) or full.shape[1] not in (1, n_out):
        return None
    return np.broadcast_to(full.reshape(-1).astype(np.float64), (n_out,))


class FoldScaleShift(NodePass):
    """Conv/Gemm -> Mul|Div|Add|Sub by a constant per channel -> one Conv/Gemm."""

    name = "fold_scale_shift"

    def _parts(self, st: OnnxState, n: NodeProto):
        if n.op_type not in _OPS or len(n.input) != 2:
            return None
        for pos in (0, 1):
            if pos == 1 and n.op_type in ("Div", "Sub"):
                break  # k / y and k - y are not affine in the layer's weights this way
            act, const = n.input[pos], n.input[1 - pos]
            if const not in st.consts or act in st.consts:
                continue
            layer = foldable_layer(st, act, n)
            if layer is None:
                continue
            k = _per_channel(st, layer, np.asarray(st.consts[const]))
            if k is None or (n.op_type == "Div" and np.any(k == 0)):
                continue
            return layer, k
        return None

    def match(self, st: OnnxState, n: NodeProto) -> bool:
        return self._parts(st, n) is not None

    def rewrite(self, st: OnnxState, n: NodeProto) -> None:
        layer, k = self._parts(st, n)
        ones, zeros = np.ones_like(k), np.zeros_like(k)
        s, shift = {"Mul": (k, zeros), "Div": (1.0 / k, zeros), "Add": (ones, k), "Sub": (ones, -k)}[n.op_type]
        fold_scale_shift(st, layer, s, shift, n)
