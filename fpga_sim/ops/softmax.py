"""Softmax and LogSoftmax at the end of a network, executed on the host, not the accelerator
(a Softmax that feeds other layers, as in attention, runs in fixed point: `ops.softmax_lut`).

Computed in float64 from the dequantised input (max-subtracted exp, normalised) and converted to
the result type exactly as `result_t y = (double)v;` does (result_t's rounding and overflow); a
C++ host must use double arithmetic and libm's exp.  Opsets < 13 flatten the axes from `axis`
on (default 1) into one; opsets >= 13 normalise along the single axis `axis` (default -1).  The
batch axis cannot be the softmax axis.  The report marks the layer "host".

Output ranges are known before any data is seen (`result_bound`), so `auto<W>` sizes the result
from them, not from calibration (one image's largest probability bounds no other image's):
a probability is at most 1 (ap_fixed<W,2>, as TFLite fixes its softmax output to [0, 1)); a
log-probability x_j - max - log(sum exp) lies in [-(x_max - x_min) - ln M, 0] for inputs in
the input type's range [x_min, x_max] and rows of M values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..fixed import Fixed
from ..graph import Node
from .base import Op, op
from .common import element_cost, in_type, node_name, result_type, unsupported


@dataclass(frozen=True)
class SoftmaxAttrs:
    """axis of the per-sample tensor; coerce2d: the opset < 13 rule (flatten axes >= axis)."""

    axis: int = 0
    coerce2d: bool = False


def _along(x: np.ndarray, attrs: SoftmaxAttrs, fn) -> np.ndarray:
    """fn(x, axis) on the batched float64 x along attrs' axis (opset < 13: the flattened tail)."""
    x = np.asarray(x, dtype=np.float64)
    ax = attrs.axis + 1
    if attrs.coerce2d:
        return fn(x.reshape(x.shape[:ax] + (-1,)), ax).reshape(x.shape)
    return fn(x, ax)


def row_shape(attrs: Any, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """(axes reduced, M) of a per-sample shape for attrs with `axis` and `coerce2d` (SoftmaxAttrs,
    SoftmaxLutAttrs; opset < 13: every axis from `axis` on)."""
    axes = tuple(range(attrs.axis, len(shape))) if attrs.coerce2d else (attrs.axis,)
    return axes, int(np.prod([shape[a] for a in axes], dtype=np.int64))


def softmax(x: np.ndarray, attrs: SoftmaxAttrs) -> np.ndarray:
    """Batched float64 softmax; per-sample axis attrs.axis (batched axis + 1)."""
    def fn(v: np.ndarray, ax: int) -> np.ndarray:
        e = np.exp(v - v.max(axis=ax, keepdims=True))
        return e / e.sum(axis=ax, keepdims=True)
    return _along(x, attrs, fn)


def log_softmax(x: np.ndarray, attrs: SoftmaxAttrs) -> np.ndarray:
    """Batched float64 log-softmax: x - max - log(sum(exp(x - max)))."""
    def fn(v: np.ndarray, ax: int) -> np.ndarray:
        d = v - v.max(axis=ax, keepdims=True)
        return d - np.log(np.exp(d).sum(axis=ax, keepdims=True))
    return _along(x, attrs, fn)


@op("Softmax")
class Softmax(Op):
    onnx_ops = ("Softmax",)
    template = "softmax"
    on_accelerator = False
    keeps_input_type = False
    relu_fusable = False
    func = staticmethod(softmax)

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        shape = tuple(ctx.shape(onnx_node.input[0]))
        rank = len(shape) + 1
        legacy = ctx.opset < 13
        axis = int(ctx.attrs(onnx_node).get("axis", 1 if legacy else -1))
        axis = axis + rank if axis < 0 else axis
        if not 1 <= axis < rank:
            raise unsupported(ctx, onnx_node, f"axis {axis} is not supported for a rank-{rank} input; a per-sample axis (1..{rank - 1}) is")
        return [Node(node_name(onnx_node), self.name, [onnx_node.input[0]], [onnx_node.output[0]],
                     SoftmaxAttrs(axis - 1, legacy and axis < rank - 1))]

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(in_shapes[0])]

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [type(self).func(inputs[0], node.attrs)]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        x = in_type(qg, node).to_float(inputs[0])
        raw, n = result_type(qg, node).quantize_counted(type(self).func(x, node.attrs))
        return [raw], n

    def result_bound(self, node: Node, in_types: list[Fixed], in_shapes: list[tuple[int, ...]]) -> float:
        """Probabilities: at most 1."""
        return 1.0

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """On the host: reported, not costed in cycles."""
        return element_cost(self, node, qg, hw, ops_per_output=3)


@op("LogSoftmax")
class LogSoftmax(Softmax):
    """LogSoftmax on the host: as Softmax, with the log taken in float64."""

    onnx_ops = ("LogSoftmax",)
    func = staticmethod(log_softmax)

    def result_bound(self, node: Node, in_types: list[Fixed], in_shapes: list[tuple[int, ...]]) -> float:
        """|x_j - max - log(sum exp)| <= (x_max - x_min) + ln M over the input type's range."""
        t = in_types[0]
        return float(t.max - t.min) + math.log(row_shape(node.attrs, in_shapes[0])[1])
