"""DepthToSpace (modes DCR and CRD) and SpaceToDepth on (C, H, W) per sample: the
pixel-shuffle of super-resolution heads and the space-to-depth stem of detectors.

Each is a reshape, a transpose and a reshape, i.e. an index map (`ops.remap`) over a 5-axis
loop in output order.  DepthToSpace with block b, C' = C / b^2:

    DCR: y[c, h*b + i, w*b + j] = x[(i*b + j)*C' + c, h, w]
    CRD: y[c, h*b + i, w*b + j] = x[c*b*b + i*b + j, h, w]
    SpaceToDepth: y[(i*b + j)*C + c, h, w] = x[c, h*b + i, w*b + j]

Integer arithmetic: one cast per output element from the input type to the result type (none by
default).  Refused, with one sentence: a mode other than DCR/CRD, a blocksize below 1, channels
(or height/width) not divisible by the block, a per-sample rank other than 3.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..graph import Node
from .base import op
from .common import node_name, unsupported
from .remap import IndexMap, RemapOp, axis_table


@dataclass(frozen=True)
class DepthToSpaceAttrs:
    mode: str           # "DCR", "CRD" (DepthToSpace) or "S2D" (SpaceToDepth)
    block: int
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]


@op("DepthToSpace")
class DepthToSpace(RemapOp):
    onnx_ops = ("DepthToSpace", "SpaceToDepth")

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        x = onnx_node.input[0]
        shape = tuple(int(d) for d in ctx.shape(x))
        a = ctx.attrs(onnx_node)
        if "blocksize" not in a or int(a["blocksize"]) < 1:
            raise unsupported(ctx, onnx_node, f"blocksize {a.get('blocksize')} is missing or below 1; a positive blocksize is accepted")
        b = int(a["blocksize"])
        if len(shape) != 3:
            raise unsupported(ctx, onnx_node, f"per-sample shape {shape} is not (C, H, W); rank-4 NCHW inputs are supported")
        c, h, w = shape
        if onnx_node.op_type == "SpaceToDepth":
            mode = "S2D"
            if h % b or w % b:
                raise unsupported(ctx, onnx_node, f"height {h} and width {w} are not multiples of blocksize {b}; multiples are accepted")
            out = (c * b * b, h // b, w // b)
        else:
            mode = str(a.get("mode", "DCR")).upper()
            if mode not in ("DCR", "CRD"):
                raise unsupported(ctx, onnx_node, f"mode {a.get('mode')!r} is not supported; 'DCR' and 'CRD' are")
            if c % (b * b):
                raise unsupported(ctx, onnx_node, f"{c} channels are not a multiple of blocksize^2 = {b * b}; multiples are accepted")
            out = (c // (b * b), h * b, w * b)
        return [Node(node_name(onnx_node), "DepthToSpace", [x], [onnx_node.output[0]],
                     DepthToSpaceAttrs(mode, b, (shape,), out))]

    def maps(self, node: Node) -> list[IndexMap]:
        a = node.attrs
        b = a.block
        c, h, w = a.in_shapes[0]
        hw = h * w
        if a.mode == "S2D":         # loop (i, j, c, h', w') is the output's row-major order
            oh, ow = h // b, w // b
            loop = (b, b, c, oh, ow)
            src = (axis_table(w, range(b)), axis_table(1, range(b)), axis_table(hw, range(c)),
                   axis_table(b * w, range(oh)), axis_table(b, range(ow)))
        else:                       # loop (c', h, i, w, j) is the output's row-major order
            co = c // (b * b)
            loop = (co, h, b, w, b)
            c_stride, i_stride, j_stride = ((hw, b * co * hw, co * hw) if a.mode == "DCR" else (b * b * hw, b * hw, hw))
            src = (axis_table(c_stride, range(co)), axis_table(w, range(h)), axis_table(i_stride, range(b)),
                   axis_table(1, range(w)), axis_table(j_stride, range(b)))
        return [IndexMap(loop, src)]
