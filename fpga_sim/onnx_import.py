"""`load_onnx`: an ONNX model -> the float `Graph` the quantiser and engine work on.

Steps: read and check the model, fix the batch dimension to 1 and infer shapes, run the
ONNX-level passes (constant folding, Dropout/Identity removal, BatchNorm folding, MatMul+Add ->
Gemm), lower each remaining node through its op module (`fpga_sim.ops.ONNX_LOWERING`), then run
the graph-level passes (ReLU fusion).  Tensor names stay the ONNX names.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import ModelProto, NodeProto, TensorProto, helper, numpy_helper

from .errors import FpgaSimError, UnsupportedModelError
from .graph import Graph, Node
from .passes import GRAPH_PASSES, ONNX_PASSES, OnnxState, run_passes

MIN_OPSET = 9
# Constants up to this many elements go into the model used for shape inference; larger ones
# (weights) enter it as typed inputs, so their data is never copied.
_SMALL_CONST = 4096


class LoweringContext:
    """What an op's `lower(onnx_node, ctx)` may ask about the model being imported."""

    def __init__(self, state: OnnxState, source: str) -> None:
        self._st = state
        self._source = source
        self.opset: int = state.opset
        self.batch_one: bool = state.batch_one   # the model runs one sample per batch (axis 0 is the constant 1)

    def const(self, tensor: str) -> np.ndarray | None:
        """The value of a constant tensor (initializer or folded), else None."""
        return self._st.consts.get(tensor) if tensor else None

    def shape(self, tensor: str) -> tuple[int, ...]:
        """Per-sample shape of an activation (batch dropped); a constant's full shape."""
        if tensor in self._st.consts:
            return tuple(self._st.consts[tensor].shape)
        s = self._st.shapes.get(tensor)
        if s is None or not all(isinstance(d, int) for d in s):
            raise UnsupportedModelError(
                f"{self._source}: the shape of tensor {tensor!r} is unknown after shape inference; "
                f"models need static shapes apart from the batch dimension"
            )
        return tuple(s[1:])

    def attrs(self, onnx_node: NodeProto) -> dict[str, Any]:
        """Attributes as Python values (strings decoded, tensors as NumPy arrays)."""
        out: dict[str, Any] = {}
        for a in onnx_node.attribute:
            v = helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode()
            elif isinstance(v, list) and v and isinstance(v[0], bytes):
                v = [s.decode() for s in v]
            elif isinstance(v, TensorProto):
                v = numpy_helper.to_array(v)
            out[a.name] = v
        return out

    def error(self, onnx_node: NodeProto, message: str) -> FpgaSimError:
        """An error naming the node and its op (the op adds what is wrong and what is accepted)."""
        return UnsupportedModelError(
            f"{self._source}: node {onnx_node.name!r} ({onnx_node.op_type}): {message}"
        )


# ------------------------------------------------------------------------------------- reading
def _read(model: str | os.PathLike | ModelProto) -> tuple[ModelProto, str]:
    if isinstance(model, ModelProto):
        return model, model.graph.name or "model"
    path = Path(model)
    if not path.is_file():
        raise UnsupportedModelError(f"ONNX model {str(path)!r} does not exist or is not a file")
    try:
        proto = onnx.load(str(path))
    except Exception as e:  # noqa: BLE001 - protobuf raises several kinds
        raise UnsupportedModelError(
            f"{path} could not be read as an ONNX model (a protobuf ModelProto file is expected): "
            f"{type(e).__name__}: {e}"
        ) from None
    if not proto.graph.node and not proto.graph.output:
        raise UnsupportedModelError(f"{path} is not an ONNX model: it holds no graph")
    return proto, str(path)


def _opset(proto: ModelProto, source: str) -> int:
    newest = onnx.defs.onnx_opset_version()
    versions = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    others = sorted({o.domain for o in proto.opset_import if o.domain not in ("", "ai.onnx")})
    used = {n.domain for n in proto.graph.node if n.domain not in ("", "ai.onnx") and not _custom_ok(n)}
    if used:
        raise UnsupportedModelError(
            f"{source}: nodes from operator domains {sorted(used)} are not supported; only the "
            f"default ONNX domain (opsets {MIN_OPSET} to {newest}) is (declared: {others})"
        )
    if not versions:
        raise UnsupportedModelError(f"{source}: the model declares no ONNX opset")
    v = versions[0]
    if v > newest:
        raise UnsupportedModelError(
            f"{source}: opset {v} is newer than the installed onnx supports; opsets {MIN_OPSET} to {newest} are accepted"
        )
    return v


def tolerated(proto: ModelProto) -> ModelProto:
    """A copy with what onnxruntime tolerates made explicit, so onnx.checker can judge the rest:
    an IR version older than the opset requires (IR 3 also wants initializers listed as graph
    inputs, which `onnx.version_converter` does not add) is raised to the opset's minimum (and at
    least 4), value_info without a type is dropped (it is only a hint; shapes are inferred), and
    graph outputs without a type or shape get the ones ONNX shape inference finds (onnxruntime
    infers them the same way)."""
    need = max(4, helper.find_min_ir_version_for(list(proto.opset_import), ignore_unknown=True))
    if (proto.ir_version >= need and all(vi.HasField("type") for vi in proto.graph.value_info)
            and all(vi.type.tensor_type.HasField("shape") for vi in proto.graph.output)):
        return proto                      # nothing to make explicit: no copy of a large model
    fixed = ModelProto()
    fixed.CopyFrom(proto)
    fixed.ir_version = max(fixed.ir_version, need)
    keep = [vi for vi in fixed.graph.value_info if vi.HasField("type")]
    del fixed.graph.value_info[:]
    fixed.graph.value_info.extend(keep)
    untyped = [vi for vi in fixed.graph.output if not vi.type.tensor_type.HasField("shape")]
    if untyped:
        try:
            inferred = {vi.name: vi for vi in onnx.shape_inference.infer_shapes(fixed, strict_mode=False).graph.output}
        except Exception:  # noqa: BLE001 - the checker below names what is wrong
            inferred = {}
        for vi in untyped:
            hit = inferred.get(vi.name)
            if hit is not None and hit.type.tensor_type.HasField("shape"):
                vi.type.CopyFrom(hit.type)
                continue
            # not inferable (e.g. a bad attribute): the importer infers shapes itself and then lets
            # the op module name what is wrong; the declared output shape is not read
            if not vi.type.tensor_type.elem_type:
                vi.type.tensor_type.elem_type = TensorProto.FLOAT
            vi.type.tensor_type.shape.SetInParent()
    return fixed


def _custom_ok(n: NodeProto) -> bool:
    """Nodes of other domains the importer reads (QONNX quantisers, its own requantisers)."""
    from .ops.quant import is_qonnx
    from .ops.requant import DOMAIN

    return is_qonnx(n) or (n.domain == DOMAIN and n.op_type == "Requant")


def _shape_stand_in(n: NodeProto) -> NodeProto:
    """For shape inference: a custom-domain quantiser keeps its input's shape (an Identity)."""
    return helper.make_node("Identity", [n.input[0]], [n.output[0]]) if _custom_ok(n) else n


def _check(proto: ModelProto, source: str) -> ModelProto:
    """onnx.checker on the model as onnxruntime would read it (`tolerated`), then lift opsets
    below MIN_OPSET with the version converter."""
    proto = tolerated(proto)
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UnsupportedModelError(f"{source} is not a valid ONNX model: {first}") from None
    except ValueError as e:  # >2 GB protos: the checker wants a path
        if not Path(source).is_file():
            raise UnsupportedModelError(f"{source}: the model is too large to check in memory: {e}") from None
        try:
            onnx.checker.check_model(source)
        except onnx.checker.ValidationError as e2:
            raise UnsupportedModelError(f"{source} is not a valid ONNX model: {str(e2).strip().splitlines()[0]}") from None
    v = _opset(proto, source)
    if v < MIN_OPSET:
        try:
            from onnx import version_converter

            proto = version_converter.convert_version(proto, MIN_OPSET)
        except Exception as e:  # noqa: BLE001
            raise UnsupportedModelError(
                f"{source}: opset {v} could not be converted to opset {MIN_OPSET} "
                f"(opsets {MIN_OPSET} to {onnx.defs.onnx_opset_version()} are accepted): {e}"
            ) from None
    return proto


# ------------------------------------------------------------------------------ shape inference
def _value_shape(vi: onnx.ValueInfoProto) -> tuple | None:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim)


def _infer(st: OnnxState, elem: dict[str, int], source: str) -> None:
    """Shape inference on a skeleton of the current state (big constants enter as typed inputs)."""
    inputs, inits = [], []
    for name in st.inputs:
        inputs.append(helper.make_tensor_value_info(name, elem.get(name, TensorProto.FLOAT), st.shapes.get(name)))
    used = {i for n in st.nodes for i in n.input}
    for name, v in st.consts.items():
        if name not in used:
            continue
        if v.size <= _SMALL_CONST:
            inits.append(numpy_helper.from_array(np.asarray(v), name))
        else:
            inputs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape))
    outputs = [helper.make_tensor_value_info(o, elem.get(o, TensorProto.FLOAT), None) for o in st.outputs]
    g = helper.make_graph([_shape_stand_in(n) for n in st.nodes], "skeleton", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", st.opset)])
    m.ir_version = min(m.ir_version, 10)
    try:
        inferred = onnx.shape_inference.infer_shapes(m, check_type=False, strict_mode=False, data_prop=True)
    except Exception as e:  # noqa: BLE001
        raise UnsupportedModelError(f"{source}: ONNX shape inference failed: {str(e).strip().splitlines()[0]}") from None
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        s = _value_shape(vi)
        if s is not None:
            st.shapes[vi.name] = s


def _state(proto: ModelProto, source: str) -> tuple[OnnxState, dict[str, int]]:
    consts = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    inputs, shapes, elem, batches = [], {}, {}, []
    read = {i for n in proto.graph.node for i in n.input} | {o.name for o in proto.graph.output}
    for vi in proto.graph.input:
        if vi.name in consts or vi.name not in read:
            continue  # constants (IR 3 lists them as inputs) and inputs nothing reads
        s = _value_shape(vi)
        if s is None or not s:
            raise UnsupportedModelError(f"{source}: graph input {vi.name!r} has no shape; a static shape (batch may be symbolic) is needed")
        if any(not isinstance(d, int) or d <= 0 for d in s[1:]):
            raise UnsupportedModelError(
                f"{source}: graph input {vi.name!r} has shape {list(s)}; only the batch dimension may be symbolic"
            )
        inputs.append(vi.name)
        batches.append(s[0])
        shapes[vi.name] = (1,) + tuple(s[1:])  # batch fixed to 1 for shape folding
        elem[vi.name] = vi.type.tensor_type.elem_type
    for vi in proto.graph.output:
        elem[vi.name] = vi.type.tensor_type.elem_type
    nodes = []
    for n in proto.graph.node:
        c = NodeProto()
        c.CopyFrom(n)
        nodes.append(c)
    st = OnnxState(nodes, consts, inputs, [o.name for o in proto.graph.output], shapes, _opset(proto, source))
    st.batch_one = bool(batches) and all(b == 1 for b in batches)
    st.original = [(n.name or f"{n.op_type}_{n.output[0]}", n.op_type, list(n.input), list(n.output)) for n in nodes]
    return st, elem


# ------------------------------------------------------------------------------------ lowering
def _name_nodes(st: OnnxState) -> None:
    taken: set[str] = set()
    for n in st.nodes:
        name = n.name or f"{n.op_type}_{n.output[0]}"
        base, k = name, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        n.name = name
        taken.add(name)


def _lower(st: OnnxState, source: str) -> list[Node]:
    from .ops import ONNX_LOWERING, load_all

    load_all()
    unsupported = [n for n in st.nodes if n.op_type not in ONNX_LOWERING]
    if unsupported:
        n = unsupported[0]
        more = f" ({len(unsupported) - 1} more unsupported nodes)" if len(unsupported) > 1 else ""
        raise UnsupportedModelError(
            f"{source}: node {n.name!r} uses op {n.op_type!r}, which is not supported{more}; "
            f"supported ONNX ops: {', '.join(sorted(ONNX_LOWERING))}"
        )
    ctx = LoweringContext(st, source)
    nodes: list[Node] = []
    for n in st.nodes:
        try:
            nodes.extend(ONNX_LOWERING[n.op_type].lower(n, ctx))
        except FpgaSimError:
            raise
        except Exception as e:  # noqa: BLE001 - a lowering bug or an odd model: one sentence
            raise ctx.error(n, f"could not be lowered: {type(e).__name__}: {e}") from e
    return nodes


def _graph_shapes(g: Graph, st: OnnxState, source: str) -> None:
    from .ops import REGISTRY

    for n in g.nodes:
        try:
            in_shapes = [g.shapes[t] for t in n.inputs]
        except KeyError as e:
            raise UnsupportedModelError(f"{source}: node {n.name!r} reads tensor {e.args[0]!r}, which nothing produces") from None
        try:
            outs = REGISTRY[n.op].infer_shapes(n, in_shapes)
        except NotImplementedError:
            outs = [tuple(st.shapes[t][1:]) if t in st.shapes else None for t in n.outputs]
        for t, s in zip(n.outputs, outs):
            if s is None:
                raise UnsupportedModelError(f"{source}: the shape of {t!r} (output of node {n.name!r}) is unknown")
            onnx_s = st.shapes.get(t)
            if onnx_s is not None and all(isinstance(d, int) for d in onnx_s) and tuple(onnx_s[1:]) != tuple(s):
                raise UnsupportedModelError(
                    f"{source}: node {n.name!r} ({n.op}) gives {t!r} the per-sample shape {tuple(s)} "
                    f"but ONNX shape inference says {tuple(onnx_s[1:])}"
                )
            g.shapes[t] = tuple(int(d) for d in s)


def prepare(model: str | os.PathLike | ModelProto, fuse: bool = True) -> tuple[OnnxState, str, str]:
    """Read, check, infer shapes and run the ONNX-level passes: (state, source, graph name)."""
    proto, source = _read(model)
    proto = _check(proto, source)
    st, elem = _state(proto, source)
    for _ in range(10):  # fold, infer the shapes folded constants reveal, fold again
        _infer(st, elem, source)
        counts = run_passes(st, ONNX_PASSES if fuse else ONNX_PASSES[:4])
        if not any(counts.values()):
            break
    _infer(st, elem, source)
    _name_nodes(st)
    return st, source, proto.graph.name or Path(source).stem


def load_onnx(model: str | os.PathLike | ModelProto, fuse: bool = True) -> Graph:
    """Import an ONNX model (path or ModelProto) as a float `Graph`.

    Raises UnsupportedModelError, with one sentence naming the file/node/op, for malformed
    files, unsupported ops or opsets, and shapes that are not static.
    """
    from .hls4ml_config import origins
    from .passes.absorb_quant import QUANT_GRAPH_PASSES, attach_model_types, type_standalone

    st, source, name = prepare(model, fuse)
    nodes = _lower(st, source)
    g = Graph(
        name=name,
        nodes=nodes,
        inputs=list(st.inputs),
        outputs=list(st.outputs),
        shapes={t: tuple(st.shapes[t][1:]) for t in st.inputs},
        source=source,
    )
    for t in g.outputs:
        if t in st.consts:
            raise UnsupportedModelError(f"{source}: graph output {t!r} is a constant; nothing is computed for it")
    _graph_shapes(g, st, source)
    attach_model_types(g, st)
    g.real_scales = dict(st.real_scales)
    if fuse:
        run_passes(g, GRAPH_PASSES)
    run_passes(g, QUANT_GRAPH_PASSES)   # after ReLU fusion: quantisers into the layers before them
    type_standalone(g)
    g.origin = origins(st.original, g)
    return g
