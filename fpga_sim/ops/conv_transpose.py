"""ConvTranspose (2-D; strides, pads, dilations, output_padding, output_shape, auto_pad, groups)
on the MAC array, as a zero insertion followed by an ordinary stride-1 Conv.

A transposed convolution of x with W (Cin, Cout/g, kh, kw) equals a convolution of z with the
flipped, transposed kernel W'[g*Cog + o, i, a, b] = W[g*Cig + i, o, kh-1-a, kw-1-b], where z is x
with s-1 zeros between neighbours and (k-1)*d - pad_begin zeros before, (k-1)*d - pad_end +
output_padding after each spatial axis (negative counts crop).  So this module lowers one ONNX
node to two graph nodes:

    ZeroInsert (an index map, `ops.remap`): z = x moved, zeros where no input lands
               (integer arithmetic: z keeps x's type, the zeros are exact; no casts)
    Conv       (the MAC engine: weights W', the ONNX bias, stride 1, dilation d, groups g)

Cost: the array issues the Conv's MACs including the products with inserted zeros, about
s_h * s_w times what a zero-skipping (phase-decomposed) design issues; the report shows it as
such.  Refused, with one sentence: not 2-D, non-constant weights, channels that do not match
the groups, a zero-inserted input smaller than the kernel, unknown auto_pad.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..graph import Node
from .base import op
from .common import element_cost, node_name, unsupported
from .conv import ConvAttrs
from .remap import IndexMap, RemapOp, axis_table, strides


@dataclass(frozen=True)
class ZeroInsertAttrs:
    """Per spatial axis: stride (s - 1 zeros between inputs) and the leading zeros (negative: crop)."""

    strides: tuple[int, int]
    lead: tuple[int, int]
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]


def _ints(v: Any, n: int, default: int) -> tuple[int, ...]:
    return tuple(int(a) for a in v) if v is not None else (default,) * n


def transpose_pads(ctx: Any, onnx_node: Any, a: dict[str, Any], hw: tuple[int, int], k: tuple[int, int],
                   s: tuple[int, int], d: tuple[int, int], op_: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) pads of the transposed convolution, as ONNX defines them."""
    auto = str(a.get("auto_pad", "NOTSET"))
    out_shape = a.get("output_shape")
    if out_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        target = [int(v) for v in out_shape][-2:] if out_shape is not None else [n * st for n, st in zip(hw, s)]
        total = [max(0, st * (n - 1) + o + (kk - 1) * dd + 1 - t) for n, st, o, kk, dd, t in zip(hw, s, op_, k, d, target)]  # as onnxruntime: never negative
        if auto == "SAME_UPPER":
            begin = [t // 2 for t in total]
        else:
            begin = [t - t // 2 for t in total]
        return begin[0], begin[1], total[0] - begin[0], total[1] - begin[1]
    if auto not in ("NOTSET", "VALID", ""):
        raise unsupported(ctx, onnx_node, f"auto_pad {auto!r} is not supported; NOTSET, VALID, SAME_UPPER and SAME_LOWER are")
    p = _ints(a.get("pads"), 4, 0) if auto != "VALID" else (0, 0, 0, 0)
    if len(p) != 4:
        raise unsupported(ctx, onnx_node, f"pads {list(p)} must have 4 values (top, left, bottom, right)")
    return p[0], p[1], p[2], p[3]


@op("ZeroInsert")
class ZeroInsert(RemapOp):
    """The zero-insertion stage of a ConvTranspose (this module lowers ConvTranspose)."""

    onnx_ops = ("ConvTranspose",)

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        x = onnx_node.input[0]
        w = ctx.const(onnx_node.input[1])
        if w is None:
            raise unsupported(ctx, onnx_node, "the weights are not a constant; constant weights are supported")
        shape = tuple(int(v) for v in ctx.shape(x))
        if w.ndim != 4 or len(shape) != 3:
            raise unsupported(ctx, onnx_node, f"a {w.ndim - 2}-D transposed convolution; 2-D (NCHW) ones are supported")
        a = ctx.attrs(onnx_node)
        g = int(a.get("group", 1))
        cin, cog, kh, kw = (int(v) for v in w.shape)
        if cin != shape[0] or cin % g:
            raise unsupported(ctx, onnx_node, f"weights {tuple(w.shape)} do not match {shape[0]} input channels in "
                                              f"{g} groups; (Cin, Cout/group, kh, kw) weights are accepted")
        s, d = _ints(a.get("strides"), 2, 1), _ints(a.get("dilations"), 2, 1)
        op_ = _ints(a.get("output_padding"), 2, 0)
        k = (kh, kw)
        pads = transpose_pads(ctx, onnx_node, a, shape[1:], k, s, d, op_)
        lead = tuple((kk - 1) * dd - pads[i] for i, (kk, dd) in enumerate(zip(k, d)))
        trail = tuple((kk - 1) * dd - pads[i + 2] + o for i, (kk, dd, o) in enumerate(zip(k, d, op_)))
        z = tuple((n - 1) * st + 1 + lo + hi for n, st, lo, hi in zip(shape[1:], s, lead, trail))
        if any(zz < (kk - 1) * dd + 1 for zz, kk, dd in zip(z, k, d)):
            raise unsupported(ctx, onnx_node, f"the pads {list(pads)} leave a {z[0]}x{z[1]} zero-inserted input, smaller "
                                              f"than the {kh}x{kw} kernel; pads that keep an output are accepted")
        cig = cin // g
        wf = np.asarray(w, np.float64)
        w_conv = np.concatenate([wf[j * cig:(j + 1) * cig].transpose(1, 0, 2, 3)[:, :, ::-1, ::-1] for j in range(g)])
        params = {"weight": np.ascontiguousarray(w_conv)}
        if len(onnx_node.input) > 2 and onnx_node.input[2]:
            b = ctx.const(onnx_node.input[2])
            if b is None:
                raise unsupported(ctx, onnx_node, "the bias is not a constant; a constant bias is supported")
            params["bias"] = np.asarray(b, np.float64).reshape(-1)
        name, y = node_name(onnx_node), onnx_node.output[0]
        zname = f"{y}/zero_inserted"
        zi = Node(f"{name}/zero_insert", "ZeroInsert", [x], [zname], ZeroInsertAttrs(s, lead, (shape,), (shape[0],) + z))
        conv = Node(name, "Conv", [zname], [y], ConvAttrs(k, (1, 1), (0, 0, 0, 0), d, g), params)
        return [zi, conv]

    def maps(self, node: Node) -> list[IndexMap]:
        a = node.attrs
        shape = a.in_shapes[0]
        st = strides(shape)
        tabs = [axis_table(st[0], range(shape[0]))]
        for ax in (1, 2):
            n, s, lead = shape[ax], a.strides[ax - 1], a.lead[ax - 1]
            src = []
            for j in range(a.out_shape[ax]):
                u = j - lead
                src.append(u // s if u >= 0 and u % s == 0 and u // s < n else -1)
            tabs.append(axis_table(st[ax], src))
        return [IndexMap(a.out_shape, tuple(tabs))]

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """A copy per output (zeros included); the note says what the Conv after it costs."""
        sh, sw = node.attrs.strides
        return element_cost(self, node, qg, hw, ops_per_output=1,
                            notes=f"ConvTranspose's zero insertion: the Conv after it multiplies {sh * sw}x more "
                                  f"often than a zero-skipping design would (stride {sh}x{sw})")
