"""MatMul of two activations (attention's Q·Kᵀ and A·V) with batch dims, on the MAC array.

Shapes as numpy.matmul per sample: A (..., n, k) times B (..., k, m) -> (..., n, m), the
leading dims broadcast (equal ranks).  ONNX MatMul with a constant right operand is a Dense
layer (`ops.dense`); its lowering hands products of two activations to this module.

Integer arithmetic (per output element, as every MAC layer):

    accum_t acc = 0;
    for (p = 0; p < k; p++)
        acc += (accum_t)(A[i][p] * B[p][j]);   // exact product cast to accum_t, sum in accum_t
    result_t y = acc;                           // one cast; fused ReLU, if any, after it

The default accumulator (`mac_safe_accum`) holds any sum of k products exactly.  The machine
costs it as a MAC layer: outputs = prod(...)*n*m, K = k multiply-accumulates per output, both
operands read from activation memory, no weights.  Overflows counted: product casts, sums and
final casts that wrapped/saturated.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from ..fixed import Fixed
from ..fixed_kernels import requant
from ..graph import Node
from .base import Op, op
from .common import check_accum_width, check_product_width, in_type, node_name, relu_flag, result_type, unsupported
from .mac_kernels import mac_safe_accum


@dataclass(frozen=True)
class MatMulAttrs:
    """The contraction length k (A's last axis = B's second to last)."""

    k: int = 1


@njit(cache=True, nogil=True)
def matmul_kernel(a, b, p_shift, a_width, a_signed, a_rnd, a_ovf, r_shift, r_width, r_signed, r_rnd, r_ovf,
                  relu, out) -> int:
    """a (G, n, k), b (G, k, m) raw -> out (G, n, m) raw; returns the overflow count."""
    n_ovf = 0
    for g in range(a.shape[0]):
        for i in range(a.shape[1]):
            for j in range(b.shape[2]):
                acc = np.int64(0)
                for p in range(a.shape[2]):
                    t, o1 = requant(a[g, i, p] * b[g, p, j], p_shift, a_width, a_signed, a_rnd, a_ovf)
                    acc, o2 = requant(acc + t, 0, a_width, a_signed, a_rnd, a_ovf)
                    n_ovf += o1 + o2
                y, o = requant(acc, r_shift, r_width, r_signed, r_rnd, r_ovf)
                if relu and y < 0:
                    y = 0
                out[g, i, j] = y
                n_ovf += o
    return n_ovf


def out_shape(sa: tuple[int, ...], sb: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(np.broadcast_shapes(sa[:-2], sb[:-2])) + (sa[-2], sb[-1])


def lower_matmul(onnx_node: Any, ctx: Any) -> list[Node]:
    """MatMul(A, B) of two activations -> one MatMul node (called by Dense's lowering)."""
    sa, sb = tuple(ctx.shape(onnx_node.input[0])), tuple(ctx.shape(onnx_node.input[1]))
    if len(sa) != len(sb) or len(sa) < 2:
        raise unsupported(ctx, onnx_node, f"operands of per-sample shapes {sa} and {sb}; equal ranks of at least 2 "
                                          "(batch dims broadcast, not across the batch axis) are supported")
    if sa[-1] != sb[-2]:
        raise unsupported(ctx, onnx_node, f"A's last axis ({sa[-1]}) differs from B's second to last ({sb[-2]})")
    try:
        out_shape(sa, sb)
    except ValueError:
        raise unsupported(ctx, onnx_node, f"the batch dims of {sa} and {sb} do not broadcast") from None
    return [Node(node_name(onnx_node), "MatMul", list(onnx_node.input[:2]), [onnx_node.output[0]], MatMulAttrs(sa[-1]))]


@op("MatMul")
class MatMul(Op):
    onnx_ops = ()               # ONNX MatMul is lowered by ops.dense, which sends two-activation products here
    template = "layer"
    keeps_input_type = False
    relu_fusable = True

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [out_shape(tuple(in_shapes[0]), tuple(in_shapes[1]))]

    def safe_accum(self, node: Node, in_types: list[Fixed], weight: Fixed | None) -> Fixed | None:
        return mac_safe_accum(node.attrs.k, in_types[0], in_types[1])

    def accum_type(self, node: Node, qg: Any) -> Fixed:
        lt = qg.layer_types[node.name]
        return lt.accum if lt.accum is not None else self.safe_accum(node, [in_type(qg, node, 0), in_type(qg, node, 1)], None)

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        y = np.matmul(np.asarray(inputs[0], np.float64), np.asarray(inputs[1], np.float64))
        return [np.maximum(y, 0.0) if node.activation == "relu" else y]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        ta, tb, t_out = in_type(qg, node, 0), in_type(qg, node, 1), result_type(qg, node)
        t_acc = self.accum_type(node, qg)
        check_product_width(node, ta, tb)
        check_accum_width(node, t_acc)
        a, b = np.asarray(inputs[0], np.int64), np.asarray(inputs[1], np.int64)
        lead = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a3 = np.ascontiguousarray(np.broadcast_to(a, lead + a.shape[-2:])).reshape(-1, *a.shape[-2:])
        b3 = np.ascontiguousarray(np.broadcast_to(b, lead + b.shape[-2:])).reshape(-1, *b.shape[-2:])
        out = np.empty((a3.shape[0], a.shape[-2], b.shape[-1]), dtype=np.int64)
        n = matmul_kernel(a3, b3, ta.frac + tb.frac - t_acc.frac, *t_acc.codes, t_acc.frac - t_out.frac,
                          *t_out.codes, relu_flag(node), out)
        return [out.reshape(lead + (a.shape[-2], b.shape[-1]))], int(n)

    def cost(self, node: Node, qg: Any, hw: Any, float32: bool = False) -> Any:
        """A MAC layer with K = k and both operands read as activations (no weights)."""
        from ..machine import LayerWork, cost_layer
        from ..memory_policy import layer_io

        shapes = [tuple(qg.graph.shapes[t]) for t in node.inputs]
        outputs = int(np.prod(qg.graph.shapes[node.outputs[0]]))
        words = sum(int(np.prod(s)) for s in shapes)
        ta, tb = in_type(qg, node, 0), in_type(qg, node, 1)
        work = LayerWork(name=node.name, op=node.op, outputs=outputs, macs_per_output=node.attrs.k,
                         input_words=words, weight_words=0, input_bits=ta.width, weight_bits=tb.width,
                         output_bits=result_type(qg, node).width, accum_bits=self.accum_type(node, qg).width)
        return cost_layer(work, hw, float32=float32, io=layer_io(node, qg, hw))

    def cost_float32(self, node: Node, qg: Any, hw: Any) -> Any:
        """The same products with float32 operands and words."""
        return self.cost(node, qg, hw, float32=True)
