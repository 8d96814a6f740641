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
