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


class FoldBatchNorm(NodePass):
    """BatchNormalization(Conv(x, W, b)) or BatchNormalization(Gemm(x, B, C)) -> one Conv/Gemm."""

    name = "fold_batchnorm"

    def match(self, st: OnnxState, bn: NodeProto) -> bool:
        if bn.op_type != "BatchNormalization" or len(bn.output) > 1 and any(bn.output[1:]):
            return False  # training-mode outputs requested
        if not all(i in st.consts for i in bn.input[1:5]):
            return False
        prev = st.producer(bn.input[0])
        if prev is None or st.only_consumer(bn.input[0]) is not bn:
            return False
        if prev.op_type == "Conv":
            return prev.input[1] in st.consts and (len(prev.input) < 3 or not prev.input[2] or prev.input[2] in st.consts)
        if prev.op_type == "Gemm":
            ok_c = len(prev.input) < 3 or not prev.input[2] or prev.input[2] in st.consts
            return prev.input[1] in st.consts and ok_c and int(st.attr(prev, "transA", 0)) == 0
        return False

    def rewrite(self, st: OnnxState, bn: NodeProto) -> None:
        prev = st.producer(bn.input[0])
        s, shift = _bn_scale_shift(st, bn)
        w = st.consts[prev.input[1]].astype(np.float64)
        has_b = len(prev.input) > 2 and bool(prev.input[2])
        if prev.op_type == "Conv":
            b = st.consts[prev.input[2]].astype(np.float64) if has_b else np.zeros(w.shape[0])
            w2 = w * s.reshape(-1, *([1] * (w.ndim - 1)))
            b2 = b * s + shift
        else:  # Gemm: y = alpha * x @ B' + beta * C, output features on B's column (or row if transB)
            alpha, beta = float(st.attr(prev, "alpha", 1.0)), float(st.attr(prev, "beta", 1.0))
            trans_b = int(st.attr(prev, "transB", 0))
            n_out = w.shape[0] if trans_b else w.shape[1]
            c = st.consts[prev.input[2]].astype(np.float64) if has_b else np.zeros(1)
            c = np.broadcast_to(beta * c, (1, n_out)).reshape(-1)
            w2 = alpha * (w * s[:, None] if trans_b else w * s[None, :])
            b2 = c * s + shift
            _set_attr(prev, "alpha", 1.0)
            _set_attr(prev, "beta", 1.0)
        dtype = st.consts[prev.input[1]].dtype
        w_name = st.new_const(f"{prev.input[1]}__bn", w2.astype(dtype))
        b_name = st.new_const(f"{bn.output[0]}__bias", b2.astype(dtype))
        prev.input[1] = w_name
        if has_b:
            prev.input[2] = b_name
        else:
            prev.input.append(b_name)
        st.remove(bn)
        st.rename_output(prev, bn.input[0], bn.output[0])
        st.log.append(f"folded BatchNormalization {bn.name or bn.output[0]!r} into {prev.op_type} {prev.name or bn.output[0]!r}")
