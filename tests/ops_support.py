"""Test support for the op modules: one-node ONNX models, a stand-in lowering context, a
one-node QGraph, onnxruntime runs, and a slow pure-Python reference of ap_fixed casts."""
from __future__ import annotations

import importlib
import math
from fractions import Fraction
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed
from fpga_sim.graph import Graph, LayerTypes, QGraph
from fpga_sim.ops import ONNX_LOWERING

# the element-wise, pooling and layout ops (imported one by one: conv/dense may not exist yet)
OWN_MODULES = ("relu", "leaky_relu", "sigmoid", "tanh", "maxpool", "avgpool", "add", "mul", "batchnorm",
               "concat", "reshape", "pad", "lrn", "softmax")
for _m in OWN_MODULES:
    try:
        importlib.import_module(f"fpga_sim.ops.{_m}")
    except ModuleNotFoundError as e:  # a module not written yet: its own test file fails loudly
        if e.name != f"fpga_sim.ops.{_m}":
            raise

ROUNDINGS = ("AP_TRN", "AP_TRN_ZERO", "AP_RND", "AP_RND_ZERO", "AP_RND_MIN_INF", "AP_RND_INF", "AP_RND_CONV")
OVERFLOWS = ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM")


# ------------------------------------------------------------------ slow reference of ap_fixed
def round_ref(value: Fraction, rounding: str) -> int:
    """Round an exact rational to an integer as ap_fixed's quantisation mode does."""
    fl = math.floor(value)
    rem = value - fl
    if rem == 0:
        return fl
    if rounding == "AP_TRN":
        return fl
    if rounding == "AP_TRN_ZERO":
        return fl if value > 0 else fl + 1
    if rem != Fraction(1, 2):
        return fl + (rem > Fraction(1, 2))
    return {
        "AP_RND": fl + 1,
        "AP_RND_ZERO": fl if value > 0 else fl + 1,
        "AP_RND_MIN_INF": fl,
        "AP_RND_INF": fl + 1 if value > 0 else fl,
        "AP_RND_CONV": fl if fl % 2 == 0 else fl + 1,
    }[rounding]


def overflow_ref(q: int, t: Fixed) -> tuple[int, bool]:
    lo, hi = t.min_raw, t.max_raw
    sym = t.overflow == "AP_SAT_SYM" and t.signed and t.width > 1
    if lo <= q <= hi:
        if sym and q == lo:     # ap_fixed.h: AP_SAT_SYM never yields the asymmetric minimum
            return lo + 1, True
        return q, False
    if t.overflow == "AP_WRAP":
        m = q % (1 << t.width)
        if t.signed and m >= 1 << (t.width - 1):
            m -= 1 << t.width
        return m, True
    if t.overflow == "AP_SAT_ZERO":
        return 0, True
    if q > hi:
        return hi, True
    return (-hi if sym else lo), True


def value_ref(raw: int, t: Fixed) -> Fraction:
    return Fraction(int(raw)) / (Fraction(2) ** t.frac)


def to_type_ref(value: Fraction, t: Fixed) -> tuple[int, bool]:
    """An exact rational assigned to type t: round with t's mode, then t's overflow."""
    return overflow_ref(round_ref(value * Fraction(2) ** t.frac, t.rounding), t)


def cast_ref(raw: int, src: Fixed, dst: Fixed) -> tuple[int, bool]:
    return to_type_ref(value_ref(raw, src), dst)


def random_type(rng: np.random.Generator, width=(4, 16), int_bits=(-2, 8), signed: bool | None = None) -> Fixed:
    w = int(rng.integers(width[0], width[1] + 1))
    i = int(rng.integers(int_bits[0], int_bits[1] + 1))
    s = bool(rng.integers(0, 2)) if signed is None else signed
    return Fixed(w, i, s, ROUNDINGS[rng.integers(len(ROUNDINGS))], OVERFLOWS[rng.integers(len(OVERFLOWS))])


def random_raw(rng: np.random.Generator, t: Fixed, shape) -> np.ndarray:
    return rng.integers(t.min_raw, t.max_raw + 1, size=shape, dtype=np.int64)


# ------------------------------------------------------------------ ONNX one-node models
def one_node_model(op_type: str, inputs: list[tuple[str, tuple[int, ...]]], n_outputs: int = 1,
                   attrs: dict[str, Any] | None = None, consts: dict[str, np.ndarray] | None = None,
                   opset: int = 13, input_names: list[str] | None = None) -> onnx.ModelProto:
    """A model with one node; consts become initializers, `inputs` graph inputs (float32)."""
    consts = consts or {}
    names = input_names if input_names is not None else [n for n, _ in inputs] + list(consts)
    node = helper.make_node(op_type, names, [f"y{i}" for i in range(n_outputs)], name="n0", **(attrs or {}))
    g = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs],
        [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None) for i in range(n_outputs)],
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = min(m.ir_version, 9)
    return onnx.shape_inference.infer_shapes(m)


def ort_run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {k: np.asarray(v, dtype=np.float32) for k, v in feeds.items()})


class FakeContext:
    """Stands in for onnx_import.LoweringContext (same API) on a shape-inferred one-node model."""

    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self.opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        self._consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        self._shapes = {}
        for vi in list(model.graph.input) + list(model.graph.value_info) + list(model.graph.output):
            dims = vi.type.tensor_type.shape.dim
            if dims and all(d.HasField("dim_value") for d in dims):
                self._shapes[vi.name] = tuple(d.dim_value for d in dims)[1:]

    def const(self, tensor: str):
        return self._consts.get(tensor)

    def shape(self, tensor: str) -> tuple[int, ...]:
        if tensor in self._consts:
            return tuple(self._consts[tensor].shape)
        return self._shapes[tensor]

    def attrs(self, onnx_node) -> dict[str, Any]:
        return {a.name: helper.get_attribute_value(a) for a in onnx_node.attribute}

    def error(self, onnx_node, message: str) -> UnsupportedModelError:
        return UnsupportedModelError(f"node {onnx_node.name!r} ({onnx_node.op_type}): {message}")


def lower(model: onnx.ModelProto):
    """Lower the model's single node with the registered op; returns (op, node, ctx)."""
    ctx = FakeContext(model)
    onode = model.graph.node[0]
    op = ONNX_LOWERING[onode.op_type]
    nodes = op.lower(onode, ctx)
    assert len(nodes) == 1
    return op, nodes[0], ctx


def qgraph_for(op, node, in_shapes: list[tuple[int, ...]], in_types: list[Fixed], result: Fixed,
               weight: Fixed | None = None, bias: Fixed | None = None, accum: Fixed | None = None) -> QGraph:
    """A QGraph holding one node, with its params quantised by the op's own hook."""
    out_shapes = op.infer_shapes(node, in_shapes)
    shapes = dict(zip(node.inputs, in_shapes)) | dict(zip(node.outputs, out_shapes))
    g = Graph("t", [node], list(dict.fromkeys(node.inputs)), list(node.outputs), shapes)
    lt = LayerTypes(result=result, weight=weight, bias=bias, accum=accum)
    raw, n = op.quantize_params(node, lt) if node.params else ({}, 0)
    tt = dict(zip(node.inputs, in_types)) | {node.outputs[0]: result}
    return QGraph(g, tt, {node.name: lt}, {node.name: raw}, {node.name: n})


def lecture_cost(op, node, qg):
    """The layer's cost on the lecture's machine (25 lanes, 1 DRAM write per cycle, data in SRAM)."""
    from fpga_sim.hardware import Hardware

    return op.cost(node, qg, Hardware.lecture())


def check_element_cost(op, node, qg, ops_per_output: int):
    """A non-MAC layer: no MACs, adds = outputs x ops, and exactly the closed-form cycles of the
    lecture's machine (25 lanes, 1 DRAM write per cycle, no FIFO, zero latency): an output takes
    ceil(ops / 25) cycles when ops > 25, otherwise the write port takes one cycle per output."""
    rep = lecture_cost(op, node, qg)
    outputs = int(np.prod(qg.graph.shapes[node.outputs[0]]))
    assert rep.on_accelerator and rep.outputs == outputs and rep.macs == 0
    assert rep.adds == outputs * ops_per_output
    k = max(ops_per_output, 1)              # a copy still takes one lane operation
    compute = outputs * -(-k // 25) if k >= 25 else -(-outputs // (25 // k))
    assert rep.cycles == max(compute, outputs), (rep.cycles, outputs, ops_per_output)
    assert rep.bound == ("bandwidth" if compute < outputs else "balanced" if compute == outputs else "compute")
    assert rep.dram_writes == outputs and rep.energy_pj["dram_write"] > 0
    return rep
