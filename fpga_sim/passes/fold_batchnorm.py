"""Fold an inference BatchNormalization into the Conv or Gemm that feeds it.

y = gamma * (x - mean) / sqrt(var + eps) + beta with x = W*a + b becomes one layer with
W' = W * s (s = gamma / sqrt(var + eps) per output channel) and b' = (b - mean) * s + beta.
A BatchNormalization with no foldable producer is left for its own op (per-channel scale and
shift).
"""
from __future__ import annotations

import numpy as np
from onnx import NodeProto, helper

from .base import NodePass
from .state import OnnxState


def _bn_scale_shift(st: OnnxState, bn: NodeProto) -> tuple[np.ndarray, np.ndarray]:
    gamma, beta, mean, var = (st.consts[i].astype(np.float64) for i in bn.input[1:5])
    eps = float(st.attr(bn, "epsilon", 1e-5))
    s = gamma / np.sqrt(var + eps)
    return s, beta - mean * s


def _set_attr(node: NodeProto, name: str, value) -> None:
    for i, a in enumerate(node.attribute):
        if a.name == name:
            del node.attribute[i]
            break
    node.attribute.append(helper.make_attribute(name, value))


def foldable_layer(st: OnnxState, tensor: str, reader: NodeProto) -> NodeProto | None:
    """The Conv/Gemm producing `tensor` when `reader` is its only reader and its weights are constant."""
    prev = st.producer(tensor)
    if prev is None or st.only_consumer(tensor) is not reader:
        return None
    const_bias = len(prev.input) < 3 or not prev.input[2] or prev.input[2] in st.consts
    if prev.op_type == "Conv" and prev.input[1] in st.consts and const_bias:
        return prev
    if prev.op_type == "Gemm" and prev.input[1] in st.consts and const_bias and int(st.attr(prev, "transA", 0)) == 0:
        return prev
    return None


def out_channels(st: OnnxState, layer: NodeProto) -> int:
    w = st.consts[layer.input[1]]
    if layer.op_type == "Conv":
        return int(w.shape[0])
    return int(w.shape[0] if int(st.attr(layer, "transB", 0)) else w.shape[1])


def fold_scale_shift(st: OnnxState, layer: NodeProto, s: np.ndarray, shift: np.ndarray, reader: NodeProto) -> None:
    """layer's output y becomes y * s + shift (per output channel); `reader` (which computed
    that) is removed and the layer produces its output name."""
    w = st.consts[layer.input[1]].astype(np.float64)
    has_b = len(layer.input) > 2 and bool(layer.input[2])
    n_out = out_channels(st, layer)
    s = np.broadcast_to(np.asarray(s, np.float64).reshape(-1), (n_out,))
    shift = np.broadcast_to(np.asarray(shift, np.float64).reshape(-1), (n_out,))
    if layer.op_type == "Conv":
        b = st.consts[layer.input[2]].astype(np.float64) if has_b else np.zeros(n_out)
        w2 = w * s.reshape(-1, *([1] * (w.ndim - 1)))
        b2 = b * s + shift
    else:  # Gemm: y = alpha * x @ B' + beta * C, output features on B's column (or row if transB)
        alpha, beta = float(st.attr(layer, "alpha", 1.0)), float(st.attr(layer, "beta", 1.0))
        trans_b = int(st.attr(layer, "transB", 0))
        c = st.consts[layer.input[2]].astype(np.float64) if has_b else np.zeros(1)
        c = np.broadcast_to(beta * c, (1, n_out)).reshape(-1)
        w2 = alpha * (w * s[:, None] if trans_b else w * s[None, :])
        b2 = c * s + shift
        _set_attr(layer, "alpha", 1.0)
        _set_attr(layer, "beta", 1.0)
    dtype = st.consts[layer.input[1]].dtype
    w_name = st.new_const(f"{layer.input[1]}__{reader.op_type.lower()}", w2.astype(dtype))
    b_name = st.new_const(f"{reader.output[0]}__bias", b2.astype(dtype))
    layer.input[1] = w_name
    if has_b:
        layer.input[2] = b_name
    else:
        layer.input.append(b_name)
    old = layer.output[0]
    st.remove(reader)
    st.rename_output(layer, old, reader.output[0])
    st.log.append(f"folded {reader.op_type} {reader.name or reader.output[0]!r} into {layer.op_type} {layer.name or old!r}")


class FoldBatchNorm(NodePass):
    """BatchNormalization(Conv(x, W, b)) or BatchNormalization(Gemm(x, B, C)) -> one Conv/Gemm."""

    name = "fold_batchnorm"

    def match(self, st: OnnxState, bn: NodeProto) -> bool:
        if bn.op_type != "BatchNormalization" or len(bn.output) > 1 and any(bn.output[1:]):
            return False  # training-mode outputs requested
        if not all(i in st.consts for i in bn.input[1:5]):
            return False
        return foldable_layer(st, bn.input[0], bn) is not None

    def rewrite(self, st: OnnxState, bn: NodeProto) -> None:
        layer = foldable_layer(st, bn.input[0], bn)
        s, shift = _bn_scale_shift(st, bn)
        fold_scale_shift(st, layer, s, shift, bn)
