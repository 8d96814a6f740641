"""Standalone BatchNormalization (one not folded into a Conv/Gemm): per-channel scale and shift.

scale = gamma / sqrt(var + epsilon) and shift = beta - mean * scale are computed in float64 at
lowering; the params are "scale" (weight type, else result type) and "bias" (bias type, else the
scale's type), both shaped (C, 1, ...) to broadcast over the per-sample input.

Integer arithmetic (per element of channel c):

    accum_t acc = (accum_t)BIAS[c];          // the bias is the accumulator's initial value
    acc = acc + (accum_t)(x * SCALE[c]);     // exact product ap_fixed<W_in+W_s, I_in+I_s> cast
                                             // to accum_t, then the sum assigned to accum_t
    result_t y = acc;                        // one cast: result_t's rounding/overflow
    // fused ReLU, if any, after the cast: if (y < 0) y = 0;

Overflows counted: every cast and the add that wrapped/saturated.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from ..errors import FpgaSimError
from ..fixed import Fixed
from ..fixed_kernels import requant
from ..graph import LayerTypes, Node
from .base import Op, op
from .common import (
    bias_type, check_accum_width, check_product_width, element_cost, in_type, node_name, param_type, relu_flag, result_type,
    unsupported,
)


@dataclass(frozen=True)
class BatchNormAttrs:
    """The ONNX attribute that matters (momentum only concerns training)."""

    epsilon: float = 1e-5


@njit(cache=True, nogil=True)
def scale_shift_kernel(x, s, b, p_shift, b_shift, a_width, a_signed, a_rnd, a_ovf,
                       r_shift, r_width, r_signed, r_rnd, r_ovf, relu, out) -> int:
    """out[i] = cast(cast(b[i]) + cast(x[i] * s[i])); 1-d arrays of equal length."""
    n = 0
    for i in range(x.size):
        acc, o1 = requant(b[i], b_shift, a_width, a_signed, a_rnd, a_ovf)
        t, o2 = requant(x[i] * s[i], p_shift, a_width, a_signed, a_rnd, a_ovf)
        acc, o3 = requant(acc + t, 0, a_width, a_signed, a_rnd, a_ovf)
        r, o = requant(acc, r_shift, r_width, r_signed, r_rnd, r_ovf)
        if relu and r < 0:
            r = 0
        out[i] = r
        n += o1 + o2 + o3 + o
    return n


@op("BatchNormalization")
class BatchNorm(Op):
    onnx_ops = ("BatchNormalization",)
    template = "layer"

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        a = ctx.attrs(onnx_node)
        if int(a.get("spatial", 1)) != 1:
            raise unsupported(ctx, onnx_node, "spatial=0 (per-activation statistics) is not supported; spatial=1 is")
        if int(a.get("training_mode", 0)) != 0:
            raise unsupported(ctx, onnx_node, "training_mode=1 is not supported; inference (training_mode=0) is")
        if any(o for o in onnx_node.output[1:]):
            raise unsupported(ctx, onnx_node, "the running mean/var outputs are not supported; only Y is")
        consts = [ctx.const(n) for n in onnx_node.input[1:5]]
        if len(consts) != 4 or any(c is None for c in consts):
            raise unsupported(ctx, onnx_node, "scale, B, mean and var must all be constants")
        gamma, beta, mean, var = (np.asarray(c, dtype=np.float64).reshape(-1) for c in consts)
        shape = tuple(ctx.shape(onnx_node.input[0]))
        if not shape or not all(v.size == shape[0] for v in (gamma, beta, mean, var)):
            raise unsupported(ctx, onnx_node, f"per-channel constants must have {shape[0] if shape else '?'} values (the input's channels)")
        eps = float(a.get("epsilon", 1e-5))
        scale = gamma / np.sqrt(var + eps)
        shift = beta - mean * scale
        pshape = (shape[0],) + (1,) * (len(shape) - 1)
        return [Node(node_name(onnx_node), "BatchNormalization", [onnx_node.input[0]], [onnx_node.output[0]],
                     BatchNormAttrs(eps), params={"scale": scale.reshape(pshape), "bias": shift.reshape(pshape)})]

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(in_shapes[0])]

    def safe_accum(self, node: Node, in_types: list[Fixed], weight: Fixed | None) -> Fixed | None:
        """The product's grid, with room for the largest product plus the largest bias (+1 bit)."""
        if weight is None:
            return None
        t = in_types[0]
        prod_int = t.int_bits + weight.int_bits + (0 if (t.signed or weight.signed) else 1)
        b = float(np.max(np.abs(node.params["bias"]), initial=0.0))
        bias_int = math.floor(math.log2(b)) + 2 if b > 0 else 1
        i, f = max(prod_int, bias_int) + 1, min(t.frac + weight.frac, 63 - max(prod_int, bias_int) - 1)
        if not 1 <= i + f <= 63:
            raise FpgaSimError(f"node {node.name!r} (BatchNormalization): a safe accumulator needs {i + f} bits; 1..63 are supported")
        return Fixed(i + f, i, True)

    def quantize_params(self, node: Node, types: LayerTypes) -> tuple[dict[str, np.ndarray], int]:
        s, n1 = param_type(types).quantize_counted(node.params["scale"])
        b, n2 = bias_type(types).quantize_counted(node.params["bias"])
        return {"scale": s, "bias": b}, n1 + n2

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        y = np.asarray(inputs[0], dtype=np.float64) * node.params["scale"] + node.params["bias"]
        if node.activation == "relu":
            y = np.maximum(y, 0.0)
        return [y]

    def accum_type(self, node: Node, qg: Any) -> Fixed:
        lt = qg.layer_types[node.name]
        return lt.accum if lt.accum is not None else self.safe_accum(node, [in_type(qg, node)], param_type(lt))

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        lt = qg.layer_types[node.name]
        t_in, t_out, t_s, t_b = in_type(qg, node), result_type(qg, node), param_type(lt), bias_type(lt)
        t_acc = self.accum_type(node, qg)
        check_product_width(node, t_in, t_s)
        check_accum_width(node, t_acc)
        x = np.ascontiguousarray(inputs[0], dtype=np.int64)
        s = np.ascontiguousarray(np.broadcast_to(qg.qparams[node.name]["scale"], x.shape), dtype=np.int64)
        b = np.ascontiguousarray(np.broadcast_to(qg.qparams[node.name]["bias"], x.shape), dtype=np.int64)
        out = np.empty(x.size, dtype=np.int64)
        n = scale_shift_kernel(x.reshape(-1), s.reshape(-1), b.reshape(-1), t_in.frac + t_s.frac - t_acc.frac,
                               t_b.frac - t_acc.frac, *t_acc.codes, t_acc.frac - t_out.frac, *t_out.codes,
                               relu_flag(node), out)
        return [out.reshape(x.shape)], int(n)

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """A multiply and an add per output; scale and shift are per-channel parameters."""
        lt = qg.layer_types[node.name]
        c = node.params["scale"].size
        return element_cost(self, node, qg, hw, ops_per_output=2, weight_words=2 * c,
                            weight_bits=max(param_type(lt).width, bias_type(lt).width),
                            accum_bits=self.accum_type(node, qg).width)
