"""Small ONNX models built with onnx.helper for the importer, pass and pipeline tests."""
from __future__ import annotations

from typing import Iterable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


def make_model(
    nodes: Iterable[onnx.NodeProto],
    inputs: dict[str, list],
    outputs: dict[str, list | None],
    inits: dict[str, np.ndarray] | None = None,
    opset: int = 13,
    name: str = "test",
) -> onnx.ModelProto:
    """A checked model: inputs/outputs map names to shapes (None: unknown), inits to arrays."""
    g = helper.make_graph(
        list(nodes),
        name,
        [helper.make_tensor_value_info(k, F, v) for k, v in inputs.items()],
        [helper.make_tensor_value_info(k, F, v) for k, v in outputs.items()],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    # outputs given as None take the shape inference finds (the checker wants one)
    inferred = onnx.shape_inference.infer_shapes(m, data_prop=True)
    known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for o in m.graph.output:
        if not o.type.tensor_type.HasField("shape") and o.name in known:
            o.type.CopyFrom(known[o.name].type)
    onnx.checker.check_model(m)
    return m


def rng_weights(seed: int, *shape: int, scale: float | None = None) -> np.ndarray:
    """He-scaled random weights (float32), so activations stay O(1) through a network."""
    r = np.random.default_rng(seed)
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    s = scale if scale is not None else np.sqrt(2.0 / fan_in)
    return (r.standard_normal(shape) * s).astype(np.float32)


def ort_run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {k: v.astype(np.float32) for k, v in feeds.items()})


def state_model(st, opset: int | None = None) -> onnx.ModelProto:
    """The importer's OnnxState as a runnable model again (all constants as initializers)."""
    used = {i for n in st.nodes for i in n.input}
    g = helper.make_graph(
        list(st.nodes),
        "state",
        [helper.make_tensor_value_info(t, F, None) for t in st.inputs],
        [helper.make_tensor_value_info(t, F, None) for t in st.outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in st.consts.items() if k in used],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset or st.opset)])
    m.ir_version = 8
    return m


def light_model_path(name: str):
    """A model of the ONNX zoo's light set that the onnx package ships (weights are constants)."""
    from pathlib import Path

    return Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / f"light_{name}.onnx"


def _he_uniform(r: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    """He-uniform weights, U(-a, a) with a = sqrt(6 / fan_in), made in place (float32)."""
    a = np.float32(np.sqrt(6.0 / fan_in))
    v = r.random(shape, dtype=np.float32)
    v *= 2 * a
    v -= a
    return v


def _feeds_sum(node: onnx.NodeProto, readers: dict) -> bool:
    return any(u.op_type in ("Sum", "Add") for u, _ in readers.get(node.output[0], []))


def randomised_light(name: str, seed: int = 0) -> onnx.ModelProto:
    """A light zoo model whose constant weights (ConstantOfShape, all 0.02) are replaced by
    realistic random ones: He-uniform conv/dense weights, small biases, BatchNorm statistics near
    1 (small on the last BN of a residual branch, else ResNet-50's activations double in
    variance at every block), so activations stay in a range a fixed-point type can hold (with
    0.02 everywhere VGG-19's activations reach 1e31)."""
    m = onnx.load(str(light_model_path(name)))
    r = np.random.default_rng(seed)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    readers: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
    for n in m.graph.node:
        for k, i in enumerate(n.input):
            readers.setdefault(i, []).append((n, k))
    keep, new = [], []
    for n in m.graph.node:
        if n.op_type != "ConstantOfShape":
            keep.append(n)
            continue
        shape = tuple(int(d) for d in inits[n.input[0]])
        user, k = readers[n.output[0]][0]
        if user.op_type == "Conv" and k == 1:
            v = _he_uniform(r, shape, int(np.prod(shape[1:])))
        elif user.op_type == "Gemm" and k == 1:
            trans_b = any(a.name == "transB" and a.i for a in user.attribute)
            v = _he_uniform(r, shape, shape[1] if trans_b else shape[0])
        elif user.op_type == "BatchNormalization" and k == 1 and _feeds_sum(user, readers):
            v = r.uniform(0.1, 0.3, shape)   # last BN of a residual branch: small, as trained ResNets have
        elif user.op_type == "BatchNormalization" and k in (1, 4):   # scale, variance
            v = r.uniform(0.6, 1.4, shape)
        else:                                                         # biases, BN shift and mean
            v = r.normal(0.0, 0.05, shape)
        new.append((n.output[0], v.astype(np.float32, copy=False)))
    del m.graph.node[:]
    m.graph.node.extend(keep)
    used = {i for n in keep for i in n.input}
    kept_inits = [t for t in m.graph.initializer if t.name in used]  # drop the shape constants
    del m.graph.initializer[:]
    m.graph.initializer.extend(kept_inits)
    inputs = [i for i in m.graph.input if i.name in used]  # IR 3 files list constants as inputs too
    del m.graph.input[:]
    m.graph.input.extend(inputs)
    for name, v in new:  # filled in place: one copy of the data, not three
        t = m.graph.initializer.add()
        t.name, t.data_type = name, TensorProto.FLOAT
        t.dims.extend(v.shape)
        t.raw_data = v.tobytes()
    m.ir_version = max(m.ir_version, 4)  # IR 3 wants every initializer listed as a graph input
    return m
