"""Dense: y = W x + b over the last axis (ONNX Gemm, or MatMul with a constant right operand).

Weights are (out_features, in_features).  The integer arithmetic is the MAC engine's (see
`ops/mac_kernels.py`): a dense layer is a 1x1 convolution on a 1x1 image, so it shares the fast
exact GEMM path and the per-term-cast Numba loop.  MatMul + Add fusion and BatchNorm folding
are graph passes (`passes/`), not lowering.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import FpgaSimError
from ..fixed import Fixed
from ..graph import Node
from ..machine import LayerWork, cost_layer
from ..memory_policy import layer_io
from .base import Op, op
from .conv import ConvAttrs
from .mac_kernels import layer_types_of, mac_layer_work, mac_safe_accum, run_mac_fixed

if TYPE_CHECKING:
    from ..graph import QGraph
    from ..hardware import Hardware
    from ..results import LayerReport

_AS_CONV = ConvAttrs((1, 1))


@dataclass(frozen=True)
class DenseAttrs:
    in_features: int
    out_features: int


def _dense_node(onnx_node: Any, weight: np.ndarray, bias: np.ndarray | None) -> Node:
    params = {"weight": np.ascontiguousarray(weight, np.float64)}
    if bias is not None:
        params["bias"] = np.asarray(bias, np.float64).reshape(-1)
    return Node(name=onnx_node.name or onnx_node.output[0], op="Dense", inputs=[onnx_node.input[0]],
                outputs=[onnx_node.output[0]], attrs=DenseAttrs(weight.shape[1], weight.shape[0]), params=params)


@op("Dense")
class Dense(Op):
    """Fully connected layer on the last axis of the per-sample input."""
    relu_fusable = True

    onnx_ops = ("Gemm", "MatMul")
    template = "dense"

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        if ctx.const(onnx_node.input[0]) is not None:
            raise ctx.error(onnx_node, "a constant left operand is not supported; the activation must be the first input")
        b = ctx.const(onnx_node.input[1])
        if b is None and onnx_node.op_type == "MatMul":   # two activations (attention): ops/matmul.py
            from .matmul import lower_matmul
            return lower_matmul(onnx_node, ctx)
        if b is None or np.ndim(b) != 2:
            raise ctx.error(onnx_node, "the right operand must be a constant 2-D matrix (weights); "
                                       "products of two activations are not supported")
        b = np.asarray(b, np.float64)
        if onnx_node.op_type == "MatMul":
            return [_dense_node(onnx_node, b.T, None)]
        a = ctx.attrs(onnx_node)
        if int(a.get("transA", 0)):
            raise ctx.error(onnx_node, "transA=1 (a transposed activation) is not supported; accepted: transA=0")
        bt = b.T if int(a.get("transB", 0)) else b            # (in, out)
        weight = float(a.get("alpha", 1.0)) * bt.T
        bias = None
        if len(onnx_node.input) > 2 and onnx_node.input[2]:
            c = ctx.const(onnx_node.input[2])
            if c is None:
                raise ctx.error(onnx_node, "the C input (bias) must be a constant")
            c = np.asarray(c, np.float64)
            if c.size not in (1, weight.shape[0]):
                raise ctx.error(onnx_node, f"bias of shape {c.shape} does not broadcast to ({weight.shape[0]},) per sample")
            bias = float(a.get("beta", 1.0)) * np.broadcast_to(c.reshape(-1), (weight.shape[0],))
        return [_dense_node(onnx_node, weight, bias)]

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        out_f, in_f = node.params["weight"].shape
        s = tuple(in_shapes[0])
        if not s or s[-1] != in_f:
            raise FpgaSimError(f"node {node.name!r} (Dense) expects {in_f} input features on the last axis, got shape {s}")
        return [s[:-1] + (out_f,)]

    def safe_accum(self, node: Node, in_types: list[Fixed], weight: Fixed | None) -> Fixed | None:
        return mac_safe_accum(int(node.params["weight"].shape[1]), in_types[0], weight)

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        if node.activation not in (None, "relu"):
            raise FpgaSimError(f"node {node.name!r} (Dense): fused activation {node.activation!r} is not supported; accepted: relu or none")
        y = np.asarray(inputs[0], np.float64) @ node.params["weight"].T
        if "bias" in node.params:
            y = y + node.params["bias"]
        return [np.maximum(y, 0.0) if node.activation == "relu" else y]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: "QGraph") -> tuple[list[np.ndarray], int]:
        if node.activation not in (None, "relu"):
            raise FpgaSimError(f"node {node.name!r} (Dense): fused activation {node.activation!r} is not supported; accepted: relu or none")
        x = np.asarray(inputs[0])
        (out_shape,) = self.infer_shapes(node, [tuple(x.shape[1:])])
        qp = qg.qparams[node.name]
        w = qp["weight"]
        types = layer_types_of(node, qg, self.safe_accum)
        x4 = x.reshape(-1, w.shape[1], 1, 1)
        out, n = run_mac_fixed(node, x4, w.reshape(w.shape[0], w.shape[1], 1, 1), qp.get("bias"), types, _AS_CONV, (1, 1))
        return [out.reshape((x.shape[0],) + out_shape)], n

    def work(self, node: Node, qg: "QGraph", hw: "Hardware | None" = None) -> LayerWork:
        in_shape = qg.graph.shapes[node.inputs[0]]
        (out_shape,) = self.infer_shapes(node, [in_shape])
        return mac_layer_work(node, qg, int(np.prod(out_shape)), int(node.params["weight"].shape[1]),
                              int(np.prod(in_shape)), self.safe_accum, hw)

    def cost(self, node: Node, qg: "QGraph", hw: "Hardware", trace: bool = False, float32: bool = False) -> "LayerReport":
        return cost_layer(self.work(node, qg, hw), hw, trace=trace, float32=float32, io=layer_io(node, qg, hw))

    def cost_float32(self, node: Node, qg: "QGraph", hw: "Hardware") -> "LayerReport":
        return self.cost(node, qg, hw, float32=True)
