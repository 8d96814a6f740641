"""Quantisers from the model become types: fold them on constants, absorb them into layers.

Three steps of the importer (ARCHITECTURE.md, "Types from the model"):

1. `FoldConstQuant` (ONNX level): a QONNX quantiser whose input is a constant (a weight or a
   bias) is evaluated exactly as qonnx evaluates it; the result is a constant and its type
   (`ops.quant.quantize_const`) is remembered in `OnnxState.const_types`.
2. `attach_const_types` (after lowering): a layer parameter whose values are those of a typed
   constant gets that type as the layer's weight or bias type (matched by value, so transposes
   and renames on the way, e.g. MatMul + Add -> Gemm, keep the type).
3. `AbsorbQuant` (graph level, after ReLU fusion): a `Quant` node whose input is produced by a
   layer that computes its pre-cast value exactly (MAC layers sum in an accumulator that cannot
   overflow; layout, max and clip ops only move or compare values) and read by nothing else
   becomes that layer's result type; a `Quant` alone on a graph input types the input.
   Anything else stays a standalone cast node.
"""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node
from ..ops.quant import covering_type
from .base import NodePass
from .state import OnnxState

# layers whose value before the final cast is exact, so casting it into a quantiser's type is
# the quantiser itself (rounding and saturation are monotone and keep 0: a fused ReLU commutes)
EXACT_BEFORE_CAST = ("Conv", "Dense", "Relu", "MaxPool", "Reshape", "Add", "Pad", "Concat")


class FoldConstQuant(NodePass):
    """Quant/BipolarQuant on a constant -> the quantised constant, its type remembered."""

    name = "fold_const_quant"

    def match(self, st: OnnxState, n) -> bool:
        from ..ops.quant import is_qonnx

        return is_qonnx(n) and bool(n.input) and n.input[0] in st.consts and n.output[0] not in st.outputs

    def rewrite(self, st: OnnxState, n) -> None:
        from ..ops.quant import quantize_const

        value, t = quantize_const(n, st.consts)
        st.consts[n.output[0]] = value.astype(np.float32)
        st.const_types[n.output[0]] = (t, np.asarray(value, np.float64))
        st.remove(n)
        st.log.append(f"folded quantiser {n.name or n.output[0]!r} on a constant: {t}")


def _key(value: np.ndarray) -> tuple[int, bytes]:
    v = np.sort(np.asarray(value, np.float64).reshape(-1))
    return v.size, v.tobytes()


def attach_model_types(g: Graph, st: OnnxState) -> None:
    """Model types of the lowered nodes: weight/bias types of every parameter that is a typed
    constant, and the slots the ONNX-level passes recorded by output tensor (QDQ layers)."""
    for n in g.nodes:
        if n.outputs and n.outputs[0] in st.model_tensor_types:
            g.model_types.setdefault(n.name, {}).update(st.model_tensor_types[n.outputs[0]])
    if not st.const_types:
        return
    by_value = {_key(v): t for t, v in st.const_types.values()}
    for n in g.nodes:
        for pname, value in n.params.items():
            t = by_value.get(_key(value))
            if t is None:
                continue
            if pname == "bias":
                # a bias is typed by its values (exporters write 32-bit biases whose range no
                # accumulator needs); the model's fraction bits are kept
                t = covering_type(np.asarray(value, np.float64), t.frac, True)
            g.model_types.setdefault(n.name, {})["bias" if pname == "bias" else "weight"] = t


def _absorbing_producer(g: Graph, q: Node) -> Node | None:
    t = q.inputs[0]
    p = g.producer(t)
    if p is None or p.op not in EXACT_BEFORE_CAST or len(p.outputs) != 1 or t in g.outputs:
        return None
    if "result" in g.model_types.get(p.name, {}) or [m.name for m in g.consumers(t)] != [q.name]:
        return None
    return p


class AbsorbQuant(NodePass):
    """Quant after an exact layer -> that layer's result type; Quant on an input -> the input's type."""

    name = "absorb_quant"

    def match(self, g: Graph, n: Node) -> bool:
        if n.op != "Quant" or n.attrs.bipolar or n.activation is not None:
            return False
        t = n.inputs[0]
        if t in g.inputs:
            return t not in g.model_types and [m.name for m in g.consumers(t)] == [n.name]
        return _absorbing_producer(g, n) is not None

    def rewrite(self, g: Graph, q: Node) -> None:
        t = q.inputs[0]
        if t in g.inputs:          # the input is fed in this type; the cast that stays is a no-op
            g.model_types[t] = {"result": q.attrs.fixed}
            g.model_types.setdefault(q.name, {})["result"] = q.attrs.fixed
            return
        p = _absorbing_producer(g, q)
        p.outputs = list(q.outputs)
        g.model_types.setdefault(p.name, {})["result"] = q.attrs.fixed
        g.nodes[:] = [m for m in g.nodes if m is not q]
        g.shapes.pop(t, None)


QUANT_GRAPH_PASSES = (AbsorbQuant(),)


def type_standalone(g: Graph) -> None:
    """Every Quant node left is a cast into its own type (the model's)."""
    for n in g.nodes:
        if n.op == "Quant":
            g.model_types.setdefault(n.name, {}).setdefault("result", n.attrs.fixed)
