"""Constant folding: evaluate every node whose inputs are all known, keep its result as a constant.

This removes the chains exporters write to compute shapes (Constant, ConstantOfShape, Shape,
Gather, Unsqueeze, Concat, Cast feeding a Reshape, ...) and weights produced by nodes
(ConstantOfShape in the ONNX zoo's light models, Transpose/Cast of an initializer).  Shape and
Size of an activation fold when shape inference gave a static shape.  The common exporter ops
are evaluated here with NumPy, opset by opset (`_FOLDERS`); anything else whose inputs are all
constant goes through onnx's reference evaluator.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from onnx import NodeProto, helper, numpy_helper

from .base import NodePass
from .state import OnnxState

# Never evaluated at import time: random generators, and ops whose results a user wants to see.
_NEVER = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}


def _axes(st: OnnxState, n: NodeProto, ins: list[np.ndarray], pos: int) -> list[int] | None:
    """`axes` from an attribute (old opsets) or from input `pos` (opset 13 on)."""
    if len(ins) > pos and ins[pos] is not None:
        return [int(a) for a in np.asarray(ins[pos]).reshape(-1)]
    a = st.attr(n, "axes")
    return None if a is None else [int(v) for v in a]


def _unsqueeze(st, n, ins):
    x = ins[0]
    axes = sorted(a % (x.ndim + len(_axes(st, n, ins, 1))) for a in _axes(st, n, ins, 1))
    for a in axes:
        x = np.expand_dims(x, a)
    return [x]


def _squeeze(st, n, ins):
    axes = _axes(st, n, ins, 1)
    x = ins[0]
    return [np.squeeze(x) if axes is None else np.squeeze(x, axis=tuple(a % x.ndim for a in axes))]


def _gather(st, n, ins):
    return [np.take(ins[0], ins[1].astype(np.int64), axis=int(st.attr(n, "axis", 0)))]


def _concat(st, n, ins):
    return [np.concatenate([np.asarray(v) for v in ins], axis=int(st.attr(n, "axis", 0)))]


def _cast(st, n, ins):
    return [ins[0].astype(helper.tensor_dtype_to_np_dtype(int(st.attr(n, "to"))))]


def _constant(st, n, ins):
    for a in n.attribute:
        v = helper.get_attribute_value(a)
        if a.name == "value":
            return [numpy_helper.to_array(v)]
        if a.name in ("value_float", "value_int"):
            return [np.array(v, dtype=np.float32 if a.name == "value_float" else np.int64)]
        if a.name in ("value_floats", "value_ints"):
            return [np.array(v, dtype=np.float32 if a.name == "value_floats" else np.int64)]
    raise ValueError("Constant node without a supported value attribute")


def _constant_of_shape(st, n, ins):
    v = st.attr(n, "value")
    value = numpy_helper.to_array(v).reshape(-1) if v is not None else np.zeros(1, np.float32)
    return [np.full(tuple(int(d) for d in ins[0].reshape(-1)), value[0], dtype=value.dtype)]


def _reshape(st, n, ins):
    shape = [int(d) for d in ins[1].reshape(-1)]
    allowzero = int(st.attr(n, "allowzero", 0))
    if not allowzero:
        shape = [ins[0].shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return [ins[0].reshape(shape)]


def _slice(st, n, ins):
    x = ins[0]
    if st.opset < 10:
        starts, ends = st.attr(n, "starts"), st.attr(n, "ends")
        axes, steps = st.attr(n, "axes"), None
    else:
        starts, ends = list(ins[1]), list(ins[2])
        axes = list(ins[3]) if len(ins) > 3 and ins[3] is not None else None
        steps = list(ins[4]) if len(ins) > 4 and ins[4] is not None else None
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * x.ndim
    for s, e, a, k in zip(starts, ends, axes, steps):
        index[int(a) % x.ndim] = slice(int(s), int(e), int(k))
    return [x[tuple(index)]]


def _transpose(st, n, ins):
    perm = st.attr(n, "perm")
    return [np.transpose(ins[0], None if perm is None else [int(p) for p in perm])]


def _binary(fn: Callable[[Any, Any], Any]):
    def run(st, n, ins):
        a, b = ins
        out = fn(a, b)
        return [np.asarray(out).astype(np.result_type(a, b), copy=False)]

    return run


def _div(a, b):
    if np.issubdtype(np.result_type(a, b), np.integer):
        return np.trunc(a / b).astype(np.result_type(a, b))  # ONNX integer division truncates
    return a / b


_FOLDERS: dict[str, Callable[[OnnxState, NodeProto, list[np.ndarray]], list[np.ndarray]]] = {
    "Constant": _constant,
    "ConstantOfShape": _constant_of_shape,
    "Identity": lambda st, n, ins: [ins[0]],
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Gather": _gather,
    "Concat": _concat,
    "Cast": _cast,
    "Reshape": _reshape,
    "Slice": _slice,
    "Transpose": _transpose,
    "Add": _binary(np.add),
    "Sub": _binary(np.subtract),
    "Mul": _binary(np.multiply),
    "Div": _binary(_div),
    "Sqrt": lambda st, n, ins: [np.sqrt(ins[0])],
    "Neg": lambda st, n, ins: [np.negative(ins[0])],
}


def _reference(st: OnnxState, n: NodeProto, ins: list[np.ndarray]) -> list[np.ndarray]:
    from onnx.reference import ReferenceEvaluator

    node = NodeProto()
    node.CopyFrom(n)
    feeds = {name: v for name, v in zip(n.input, ins) if name}
    return [np.asarray(v) for v in ReferenceEvaluator(node, opsets={"": st.opset}).run(None, feeds)]


class FoldConstants(NodePass):
    """Replace a node whose inputs are all constants (or static shapes) by its results."""

    name = "fold_constants"

    def _static_shape(self, st: OnnxState, tensor: str) -> tuple[int, ...] | None:
        if tensor in st.consts:
            return tuple(st.consts[tensor].shape)
        s = st.shapes.get(tensor)
        return s if s is not None and all(isinstance(d, int) and d > 0 for d in s) else None

    def match(self, st: OnnxState, n: NodeProto) -> bool:
        if n.domain not in ("", "ai.onnx") or n.op_type in _NEVER or not n.output:
            return False
        if any(o in st.outputs for o in n.output):
            return False
        if n.op_type in ("Shape", "Size"):
            return self._static_shape(st, n.input[0]) is not None
        return all((not i) or i in st.consts for i in n.input)

    def rewrite(self, st: OnnxState, n: NodeProto) -> None:
        if n.op_type in ("Shape", "Size"):
            shape = self._static_shape(st, n.input[0])
            if n.op_type == "Size":
                values = [np.array(int(np.prod(shape)), dtype=np.int64)]
            else:
                start, end = int(st.attr(n, "start", 0)), st.attr(n, "end")
                values = [np.array(shape[start:end], dtype=np.int64)]
        else:
            ins = [st.consts[i] if i else None for i in n.input]
            while ins and ins[-1] is None:
                ins.pop()
            folder = _FOLDERS.get(n.op_type)
            try:
                values = folder(st, n, ins) if folder else _reference(st, n, ins)
            except Exception as e:  # noqa: BLE001 - any evaluation failure is reported as one sentence
                from ..errors import UnsupportedModelError

                raise UnsupportedModelError(
                    f"node {n.name or n.output[0]!r} ({n.op_type}) has only constant inputs but "
                    f"could not be evaluated at import time: {e}"
                ) from None
        for name, v in zip(n.output, values):
            if name:
                st.consts[name] = np.asarray(v)
                st.shapes[name] = tuple(np.asarray(v).shape)
        st.remove(n)
