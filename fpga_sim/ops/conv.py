"""Conv: 2-D convolution (stride, padding, dilation, groups incl. depthwise), fused ReLU.

Lowering from ONNX (explicit pads or auto_pad), shapes, the float64 reference, and the
bit-accurate integer execution and cost through the shared MAC engine (`mac_kernels.py`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import FpgaSimError
from ..fixed import Fixed
from ..graph import Node
from ..machine import LayerWork, cost_layer
from .base import Op, op
from .mac_kernels import layer_types_of, mac_layer_work, mac_safe_accum, run_mac_fixed

if TYPE_CHECKING:
    from ..graph import QGraph
    from ..hardware import Hardware
    from ..results import LayerReport


@dataclass(frozen=True)
class ConvAttrs:
    """ONNX Conv attributes, resolved: pads are explicit (auto_pad already applied)."""

    kernel_shape: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)      # top, left, bottom, right
    dilations: tuple[int, int] = (1, 1)
    groups: int = 1


def conv_float(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, attrs: ConvAttrs, relu: bool) -> np.ndarray:
    """Float64 reference convolution on NCHW arrays."""
    x = np.asarray(x, np.float64)
    (sh, sw), (pt, pl, pb, pr), (dh, dw), groups = attrs.strides, attrs.pads, attrs.dilations, attrs.groups
    cout, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    win = np.lib.stride_tricks.sliding_window_view(xp, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw]
    coutg = cout // groups
    outs = [np.einsum("nchwij,ocij->nohw", win[:, g * cg:(g + 1) * cg], w[g * coutg:(g + 1) * coutg], optimize=True)
            for g in range(groups)]
    y = np.concatenate(outs, axis=1)
    if b is not None:
        y = y + np.asarray(b, np.float64).reshape(1, -1, 1, 1)
    return np.maximum(y, 0.0) if relu else y


# ----------------------------------------------------------------------------- the op
def _pair(v: Any, name: str, node: Any, ctx: Any) -> tuple[int, int]:
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise ctx.error(node, f"{name} must have 2 values for a 2-D convolution, got {list(v)}")
    return v  # type: ignore[return-value]


@op("Conv")
class Conv(Op):
    """2-D convolution; weights (Cout, Cin/groups, kh, kw), optional bias (Cout,)."""
    relu_fusable = True

    onnx_ops = ("Conv",)
    template = "conv"

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        a = ctx.attrs(onnx_node)
        w = ctx.const(onnx_node.input[1])
        if w is None:
            raise ctx.error(onnx_node, "weights must be a constant initializer; dynamic weights are not supported")
        if w.ndim != 4:
            raise ctx.error(onnx_node, f"only 2-D convolutions (4-D weights) are supported, got {w.ndim}-D weights")
        params = {"weight": np.asarray(w, np.float64)}
        if len(onnx_node.input) > 2 and onnx_node.input[2]:
            b = ctx.const(onnx_node.input[2])
            if b is None:
                raise ctx.error(onnx_node, "bias must be a constant initializer")
            params["bias"] = np.asarray(b, np.float64).reshape(-1)
        ks = _pair(a.get("kernel_shape", w.shape[2:]), "kernel_shape", onnx_node, ctx)
        strides = _pair(a.get("strides", (1, 1)), "strides", onnx_node, ctx)
        dil = _pair(a.get("dilations", (1, 1)), "dilations", onnx_node, ctx)
        groups = int(a.get("group", 1))
        auto_pad = a.get("auto_pad", "NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
        if auto_pad in ("NOTSET", ""):
            p = tuple(int(v) for v in a.get("pads", (0, 0, 0, 0)))
            if len(p) != 4:
                raise ctx.error(onnx_node, f"pads must have 4 values (top, left, bottom, right), got {list(p)}")
            pads = (p[0], p[1], p[2], p[3])
        elif auto_pad == "VALID":
            pads = (0, 0, 0, 0)
        elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            _, h, wd = ctx.shape(onnx_node.input[0])
            tot = [max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
                   for n, s, k, d in zip((h, wd), strides, ks, dil)]
            lo = [t // 2 if auto_pad == "SAME_UPPER" else t - t // 2 for t in tot]
            pads = (lo[0], lo[1], tot[0] - lo[0], tot[1] - lo[1])
        else:
            raise ctx.error(onnx_node, f"auto_pad {auto_pad!r} is not supported; accepted: NOTSET, VALID, SAME_UPPER, SAME_LOWER")
        attrs = ConvAttrs(ks, strides, pads, dil, groups)
        return [Node(name=onnx_node.name or onnx_node.output[0], op="Conv", inputs=[onnx_node.input[0]],
                     outputs=[onnx_node.output[0]], attrs=attrs, params=params)]

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        a: ConvAttrs = node.attrs
        if len(in_shapes[0]) != 3:
            raise FpgaSimError(f"node {node.name!r} (Conv) expects a (C, H, W) input, got shape {in_shapes[0]}")
        c, h, w = in_shapes[0]
        cout, cg, kh, kw = node.params["weight"].shape
        if (kh, kw) != tuple(a.kernel_shape) or cg * a.groups != c or cout % a.groups:
            raise FpgaSimError(f"node {node.name!r} (Conv): weights {node.params['weight'].shape} do not match "
                               f"{c} input channels, groups={a.groups} and kernel {a.kernel_shape}")
        ho = (h + a.pads[0] + a.pads[2] - a.dilations[0] * (kh - 1) - 1) // a.strides[0] + 1
        wo = (w + a.pads[1] + a.pads[3] - a.dilations[1] * (kw - 1) - 1) // a.strides[1] + 1
        if ho <= 0 or wo <= 0:
            raise FpgaSimError(f"node {node.name!r} (Conv): a {h}x{w} input gives an empty {ho}x{wo} output")
        return [(cout, ho, wo)]

    def safe_accum(self, node: Node, in_types: list[Fixed], weight: Fixed | None) -> Fixed | None:
        k = int(np.prod(node.params["weight"].shape[1:]))
        return mac_safe_accum(k, in_types[0], weight)

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        _check_activation(node)
        return [conv_float(inputs[0], node.params["weight"], node.params.get("bias"), node.attrs, node.activation == "relu")]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: "QGraph") -> tuple[list[np.ndarray], int]:
        _check_activation(node)
        x = inputs[0]
        (cout, ho, wo), = self.infer_shapes(node, [tuple(x.shape[1:])])
        types = layer_types_of(node, qg, self.safe_accum)
        qp = qg.qparams[node.name]
        out, n = run_mac_fixed(node, x, qp["weight"], qp.get("bias"), types, node.attrs, (ho, wo))
        return [out], n

    def work(self, node: Node, qg: "QGraph", hw: "Hardware | None" = None) -> LayerWork:
        in_shape = qg.graph.shapes[node.inputs[0]]
        (cout, ho, wo), = self.infer_shapes(node, [in_shape])
        k = int(np.prod(node.params["weight"].shape[1:]))
        return mac_layer_work(node, qg, cout * ho * wo, k, int(np.prod(in_shape)), self.safe_accum, hw)

    def cost(self, node: Node, qg: "QGraph", hw: "Hardware", trace: bool = False, float32: bool = False) -> "LayerReport":
        return cost_layer(self.work(node, qg, hw), hw, trace=trace, float32=float32)

    def cost_float32(self, node: Node, qg: "QGraph", hw: "Hardware") -> "LayerReport":
        return self.cost(node, qg, hw, float32=True)


def _check_activation(node: Node) -> None:
    if node.activation not in (None, "relu"):
        raise FpgaSimError(f"node {node.name!r} ({node.op}): fused activation {node.activation!r} is not supported; accepted: relu or none")
