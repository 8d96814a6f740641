"""Concat along any per-sample axis: every input cast to the result type, then laid side by side.

Integer arithmetic (per element of input k, written at its offset along the axis):

    result_t y = (result_t)x_k;      // one cast per input: result_t's rounding/overflow
                                     // (no work when x_k's type equals result_t)
    // fused ReLU, if any, after the cast: if (y < 0) y = 0;

A constant input (a class token, a learned query; batch dimension 1) is a parameter quantised
once to the result type (saturations counted at quantisation) and repeated for every sample.
Input k is an index map (`ops.remap`) whose destination tables place its loop at offset
`sum of the earlier inputs' sizes along the axis`.  Overflows counted: casts that
wrapped/saturated.  Inputs must agree on every other axis; the batch axis is refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..graph import LayerTypes, Node
from .base import op
from .common import apply_activation, node_name, unsupported
from .remap import IndexMap, RemapOp, axis_table, identity_map, per_sample_axis, strides


@dataclass(frozen=True)
class ConcatAttrs:
    """Concatenation axis of the per-sample tensor (0: channels), the activation inputs' shapes,
    the output shape, and the positions among all parts of the constant ones (params const<j>)."""

    axis: int
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]
    const_at: tuple[int, ...] = ()

    def parts(self, const_shapes: list[tuple[int, ...]]) -> list[tuple[str, int, tuple[int, ...]]]:
        """Every part in order: ("in", k, shape) for activation k, ("const", j, shape) for const<j>."""
        out, k, j = [], 0, 0
        for pos in range(len(self.in_shapes) + len(self.const_at)):
            if pos in self.const_at:
                out.append(("const", j, tuple(const_shapes[j])))
                j += 1
            else:
                out.append(("in", k, tuple(self.in_shapes[k])))
                k += 1
        return out


@op("Concat")
class Concat(RemapOp):
    onnx_ops = ("Concat",)
    template = "concat"          # one loop over the output at the element lanes (not an index map per input)
    index_tables = False         # so no index tables in ROM: its constants are its parameters

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        a = ctx.attrs(onnx_node)
        if "axis" not in a:
            raise unsupported(ctx, onnx_node, "the required attribute axis is missing")
        names = [n for n in onnx_node.input if n]
        consts = {n: ctx.const(n) for n in names if ctx.const(n) is not None}
        if len(consts) == len(names):
            raise unsupported(ctx, onnx_node, "every input is a constant; constant folding should have removed this node")
        shapes = [tuple(int(d) for d in (consts[n].shape[1:] if n in consts else ctx.shape(n))) for n in names]
        bad = [n for n in consts if consts[n].ndim != len(shapes[0]) + 1 or consts[n].shape[0] != 1]
        if bad:
            raise unsupported(ctx, onnx_node, f"constant input {bad[0]!r} of shape {list(consts[bad[0]].shape)} has no batch "
                                              f"axis of 1; constants shaped (1, ...) like the activations are accepted")
        axis = per_sample_axis(ctx, onnx_node, a["axis"], len(shapes[0]) + 1)
        rest = lambda s: s[:axis] + s[axis + 1:]  # noqa: E731
        if any(len(s) != len(shapes[0]) or rest(s) != rest(shapes[0]) for s in shapes):
            raise unsupported(ctx, onnx_node, f"input shapes {shapes} differ outside axis {axis + 1}; "
                              f"inputs that agree on every other axis are accepted")
        out = shapes[0][:axis] + (sum(s[axis] for s in shapes),) + shapes[0][axis + 1:]
        acts = [n for n in names if n not in consts]
        const_at = tuple(i for i, n in enumerate(names) if n in consts)
        params = {f"const{j}": np.asarray(consts[names[i]][0], np.float64) for j, i in enumerate(const_at)}
        attrs = ConcatAttrs(axis, tuple(s for n, s in zip(names, shapes) if n not in consts), out, const_at)
        return [Node(node_name(onnx_node), "Concat", acts, [onnx_node.output[0]], attrs, params)]

    def quantize_params(self, node: Node, types: LayerTypes) -> tuple[dict[str, np.ndarray], int]:
        """Constant parts in the result type: copied into the output as they are."""
        raw, n = {}, 0
        for k, v in node.params.items():
            raw[k], c = types.result.quantize_counted(v)
            n += c
        return raw, n

    def _parts(self, node: Node, inputs: list[np.ndarray], consts: dict[str, np.ndarray]) -> list[np.ndarray]:
        batch = inputs[0].shape[0]
        parts = node.attrs.parts([consts[f"const{j}"].shape for j in range(len(consts))])
        return [inputs[i] if kind == "in" else np.broadcast_to(consts[f"const{i}"], (batch,) + shape)
                for kind, i, shape in parts]

    def maps(self, node: Node) -> list[IndexMap]:
        """One map per activation input (constant parts are written by their own copy)."""
        a = node.attrs
        out_st = strides(a.out_shape)
        maps, offset = [], 0
        for kind, _, shape in a.parts([node.params[f"const{j}"].shape for j in range(len(a.const_at))]):
            if kind == "in":
                src = identity_map(shape)
                dst = [axis_table(s, range(d)) for s, d in zip(out_st, shape)]
                dst[a.axis] = axis_table(out_st[a.axis], range(offset, offset + shape[a.axis]))
                maps.append(IndexMap(src.loop, src.src, tuple(dst)))
            offset += shape[a.axis]
        return maps

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        xs = [np.asarray(x, dtype=np.float64) for x in inputs]
        y = np.concatenate(self._parts(node, xs, node.params), axis=node.attrs.axis + 1)
        return [np.maximum(y, 0.0) if node.activation == "relu" else y]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        from .common import cast, result_type

        t_out = result_type(qg, node)
        cast_in, n = [], 0
        for x, t in zip(inputs, node.inputs):
            y, k = cast(np.asarray(x, dtype=np.int64), qg.tensor_types[t], t_out)
            cast_in.append(y)
            n += k
        parts = self._parts(node, cast_in, qg.qparams.get(node.name, {}))
        return [apply_activation(node, np.concatenate(parts, axis=node.attrs.axis + 1))], n
