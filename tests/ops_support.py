"""Test support shared by every test file: the one slow Fraction oracle of ap_fixed semantics,
one-node ONNX models, the one stand-in lowering context, a one-node QGraph, onnxruntime runs."""
from __future__ import annotations

import importlib
import math
import struct
from fractions import Fraction
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed
from fpga_sim.graph import Graph, LayerTypes, QGraph
from fpga_sim.ops import ONNX_LOWERING, get_op
from fpga_sim.onnx_import import LoweringContext

# the element-wise, pooling and layout ops (imported one by one: conv/dense may not exist yet)
OWN_MODULES = ("relu", "leaky_relu", "sigmoid", "tanh", "maxpool", "avgpool", "add", "mul", "batchnorm",
               "concat", "reshape", "pad", "lrn", "softmax", "transpose", "slice", "split", "gather", "squeeze",
               "expand", "depth_to_space", "resize", "conv_transpose")
for _m in OWN_MODULES:
    try:
        importlib.import_module(f"fpga_sim.ops.{_m}")
    except ModuleNotFoundError as e:  # a module not written yet: its own test file fails loudly
        if e.name != f"fpga_sim.ops.{_m}":
            raise

ROUNDINGS = ("AP_TRN", "AP_TRN_ZERO", "AP_RND", "AP_RND_ZERO", "AP_RND_MIN_INF", "AP_RND_INF", "AP_RND_CONV")
OVERFLOWS = ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM")


# ------------------------------------------------------------------ the one Fraction oracle of ap_fixed
# A value is decoded exactly, multiplied by 2**frac, rounded by the mode's definition, then the
# overflow mode is applied to the rounded integer.  Two ap_fixed.h details are modelled explicitly
# (see fixed_kernels): its decoding of doubles (denormals with the hidden bit set and exponent
# -1023; infinities and NaN with exponent 1024) and AP_SAT_SYM's "never the most negative code".
def ap_double_value(x: float) -> Fraction:
    """The exact value ap_fixed's constructor reads from the bits of double x."""
    bits = struct.unpack("<Q", struct.pack("<d", float(x)))[0]
    sign, exp_field, frac_bits = bits >> 63, (bits >> 52) & 0x7FF, bits & ((1 << 52) - 1)
    if exp_field == 0 and frac_bits == 0:
        return Fraction(0)
    man = (1 << 52) | frac_bits  # hidden bit always set, even for denormals, inf and NaN
    exp = exp_field - 1023  # -1023 for denormals, 1024 for inf and NaN
    value = Fraction(man) * Fraction(2) ** (exp - 52)
    return -value if sign else value


def round_to_integer(v: Fraction, rounding: str) -> int:
    """v rounded to an integer by an ap_fixed rounding mode, straight from the definitions."""
    fl = math.floor(v)
    rem = v - fl
    half = Fraction(1, 2)
    if rounding == "AP_TRN":  # toward minus infinity
        return fl
    if rounding == "AP_TRN_ZERO":  # toward zero
        return fl if v >= 0 or rem == 0 else fl + 1
    if rem != half:  # not a tie: every AP_RND* mode goes to the nearest integer
        return fl + (1 if rem > half else 0)
    tie_up = {
        "AP_RND": True,  # halves toward plus infinity
        "AP_RND_ZERO": v < 0,  # halves toward zero
        "AP_RND_MIN_INF": False,  # halves toward minus infinity
        "AP_RND_INF": v > 0,  # halves away from zero
        "AP_RND_CONV": fl % 2 == 1,  # halves to even
    }[rounding]
    return fl + (1 if tie_up else 0)


def apply_overflow(q: int, t: Fixed) -> tuple[int, bool]:
    """The overflow mode of t applied to the rounded integer q: (raw, overflowed)."""
    lo = -(1 << (t.width - 1)) if t.signed else 0
    hi = (1 << (t.width - 1)) - 1 if t.signed else (1 << t.width) - 1
    sym = t.overflow == "AP_SAT_SYM" and t.signed
    if lo <= q <= hi:
        if sym and q == lo and t.width > 1:
            return lo + 1, True
        return q, False
    if t.overflow == "AP_WRAP":
        return (q - lo) % (1 << t.width) + lo, True
    if t.overflow == "AP_SAT_ZERO":
        return 0, True
    if q > hi:
        return hi, True
    return (lo + 1 if sym and t.width > 1 else lo), True


def ref_from_value(v: Fraction, t: Fixed) -> tuple[int, bool]:
    """An exact value converted into t: (raw, overflowed)."""
    return apply_overflow(round_to_integer(v * Fraction(2) ** t.frac, t.rounding), t)


def ref_quantize(x: float, t: Fixed) -> tuple[int, bool]:
    """t(x) for a double x, as ap_fixed's constructor from double."""
    return ref_from_value(ap_double_value(x), t)


def ref_value(raw: int, t: Fixed) -> Fraction:
    """The exact value of raw bits `raw` of type t."""
    return Fraction(int(raw)) / Fraction(2) ** t.frac


def ref_cast(raw: int, src: Fixed, dst: Fixed) -> tuple[int, bool]:
    """dst(src value with raw bits `raw`)."""
    return ref_from_value(ref_value(raw, src), dst)


def ref_elementwise(x: np.ndarray, one: Any, relu: bool = False) -> tuple[np.ndarray, int]:
    """A slow element-wise reference: one(i, raw) -> (raw result, overflowed) for element i of x
    (C order), then the fused ReLU; (the results shaped like x, the overflow count)."""
    out, n = [], 0
    for i, v in enumerate(x.reshape(-1).tolist()):
        r, o = one(i, v)
        out.append(max(r, 0) if relu else r)
        n += o
    return np.array(out, dtype=np.int64).reshape(x.shape), n


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
        self._shapes: dict[str, tuple[int, ...]] = {}
        for vi in list(model.graph.input) + list(model.graph.value_info) + list(model.graph.output):
            dims = vi.type.tensor_type.shape.dim
            if dims and all(d.HasField("dim_value") for d in dims):
                self._shapes[vi.name] = tuple(d.dim_value for d in dims)[1:]
        self.batch_one = all([d.dim_value for d in vi.type.tensor_type.shape.dim][:1] == [1]   # as the importer's
                             for vi in model.graph.input if vi.name not in self._consts)

    @classmethod
    def of(cls, consts: dict[str, np.ndarray], shapes: dict[str, tuple[int, ...]], opset: int = 17) -> "FakeContext":
        """A context from constants and per-sample shapes given directly (no model)."""
        ctx = cls.__new__(cls)
        ctx.model, ctx.opset, ctx.batch_one = None, opset, False
        ctx._consts, ctx._shapes = dict(consts), {k: tuple(v) for k, v in shapes.items()}
        return ctx

    def const(self, tensor: str):
        return self._consts.get(tensor)

    def shape(self, tensor: str) -> tuple[int, ...]:
        if tensor in self._consts:
            return tuple(self._consts[tensor].shape)
        return self._shapes[tensor]

    attrs = LoweringContext.attrs     # the importer's own decoding (strings, tensors)

    def error(self, onnx_node, message: str) -> UnsupportedModelError:
        return UnsupportedModelError(f"node {onnx_node.name!r} ({onnx_node.op_type}): {message}")


def lower(model: onnx.ModelProto):
    """Lower the model's single node with the registered op; returns (op, node, ctx)."""
    ctx = FakeContext(model)
    onode = model.graph.node[0]
    nodes = ONNX_LOWERING[onode.op_type].lower(onode, ctx)
    assert len(nodes) == 1
    return get_op(nodes[0].op), nodes[0], ctx   # the op of the node made (Squeeze lowers to Reshape)


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


def check_movement(model: onnx.ModelProto, rng: np.random.Generator, n_types: int = 4) -> tuple[Any, Any]:
    """A data-movement op against onnxruntime: float outputs equal exactly; raw integers moved by
    onnxruntime (as float32, exact below 2^24) then cast with the Fraction oracle equal the
    integer kernel, overflow count included, for random input/result types; the cost is a copy
    per output.  Returns (op, node)."""
    op, node, _ = lower(model)
    names = [i.name for i in model.graph.input]
    shapes = {vi.name: tuple(d.dim_value for d in vi.type.tensor_type.shape.dim) for vi in model.graph.input}
    feeds = {n: rng.normal(size=shapes[n]).astype(np.float32) for n in names}
    ref = ort_run(model, feeds)[0]
    assert tuple(op.infer_shapes(node, [shapes[n][1:] for n in node.inputs])[0]) == ref.shape[1:]
    np.testing.assert_array_equal(op.run_float(node, [feeds[n] for n in node.inputs])[0], ref)
    for _ in range(n_types):
        t_in = [random_type(rng, width=(4, 20)) for _ in node.inputs]
        t_out = random_type(rng, width=(4, 20))
        qg = qgraph_for(op, node, [shapes[n][1:] for n in node.inputs], t_in, t_out)
        raws = {n: random_raw(rng, t, shapes[n]) for n, t in zip(node.inputs, t_in)}
        (y,), n_over = op.run_fixed(node, [raws[n] for n in node.inputs], qg)
        # which input each output came from: move (raw, input number) pairs through onnxruntime
        moved = ort_run(model, {n: raws[n].astype(np.float32) for n in names})[0].astype(np.int64)
        tag = ort_run(model, {n: np.full(shapes[n], k, np.float32) for k, n in enumerate(names)})[0].astype(np.int64)
        exp = [ref_cast(int(v), t_in[node.inputs.index(names[k])], t_out) for v, k in zip(moved.reshape(-1), tag.reshape(-1))]
        np.testing.assert_array_equal(y, np.array([r for r, _ in exp], np.int64).reshape(moved.shape))
        assert n_over == sum(o for _, o in exp)
    t = Fixed(8, 3)
    check_element_cost(op, node, qgraph_for(op, node, [shapes[n][1:] for n in node.inputs], [t] * len(node.inputs), t), 1)
    return op, node
