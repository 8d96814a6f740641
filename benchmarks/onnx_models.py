"""The ONNX models the benchmarks run: single layers built here, and the onnx package's light zoo.

Weights are generated from a seed (He-style scale, so activations stay within the fixed-point
ranges benchmarked); the light models ship their weights as ConstantOfShape nodes filled with one
value, which are replaced here by generated initializers of the same shapes.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def _io(name: str, shape: tuple[int, ...]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def _weights(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    return (rng.standard_normal(shape) * np.sqrt(1.0 / fan_in)).astype(np.float32)


def conv_model(batch: int, cin: int, hw: int, cout: int, k: int = 3, groups: int = 1,
               relu: bool = True, seed: int = 0) -> onnx.ModelProto:
    """One Conv (same padding, stride 1) with optional ReLU; depthwise when groups == cin == cout."""
    rng = np.random.default_rng(seed)
    w = _weights(rng, (cout, cin // groups, k, k), (cin // groups) * k * k)
    b = (rng.standard_normal(cout) * 0.1).astype(np.float32)
    pad = k // 2
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["conv_out" if relu else "y"],
                              kernel_shape=[k, k], pads=[pad] * 4, strides=[1, 1], group=groups)]
    if relu:
        nodes.append(helper.make_node("Relu", ["conv_out"], ["y"]))
    graph = helper.make_graph(nodes, "conv", [_io("x", (batch, cin, hw, hw))],
                              [_io("y", (batch, cout, hw, hw))],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return _model(graph)


def dense_model(batch: int, n_in: int, n_out: int, relu: bool = True, seed: int = 0) -> onnx.ModelProto:
    """One Gemm (y = x W^T + b) with optional ReLU."""
    rng = np.random.default_rng(seed)
    w = _weights(rng, (n_out, n_in), n_in)
    b = (rng.standard_normal(n_out) * 0.1).astype(np.float32)
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["gemm_out" if relu else "y"], transB=1)]
    if relu:
        nodes.append(helper.make_node("Relu", ["gemm_out"], ["y"]))
    graph = helper.make_graph(nodes, "dense", [_io("x", (batch, n_in))], [_io("y", (batch, n_out))],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return _model(graph)


def _model(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="fpga-sim benchmarks")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def light_dir() -> Path:
    return Path(os.path.dirname(onnx.__file__)) / "backend" / "test" / "data" / "light"


def light_model(name: str, seed: int = 0, batch: int = 1) -> onnx.ModelProto:
    """The onnx package's light_<name>.onnx with generated weights and a fixed batch size.

    Every ConstantOfShape node (whose shape input is an initializer) becomes an initializer of
    that shape: conv/dense weights get N(0, 1/fan_in) values, 1-D tensors (biases) small values,
    BatchNormalization's scale and variance values in [0.5, 1.5].
    """
    path = light_dir() / f"light_{name}.onnx"
    if not path.exists():
        raise FileNotFoundError(f"{path} is not installed; the onnx package ships light_{name}.onnx "
                                "with its backend test data")
    model = onnx.load(str(path))
    g = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    rng = np.random.default_rng(seed)
    # BatchNormalization's scale and variance: near 1 and positive (a normalised layer)
    bn_scale = {n.input[1] for n in g.node if n.op_type == "BatchNormalization"}
    bn_var = {n.input[4] for n in g.node if n.op_type == "BatchNormalization"}
    keep, new_inits, used = [], [], set()
    for node in g.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in inits:
            shape = tuple(int(s) for s in inits[node.input[0]])
            used.add(node.input[0])
            if len(shape) >= 2:
                value = _weights(rng, shape, int(np.prod(shape[1:])))
            elif node.output[0] in bn_scale | bn_var:
                value = rng.uniform(0.5, 1.5, shape).astype(np.float32)
            else:
                value = (rng.standard_normal(shape) * 0.05).astype(np.float32)
            new_inits.append(numpy_helper.from_array(value, node.output[0]))
        else:
            keep.append(node)
    # Keep initializers that are still read (e.g. Reshape's shape), drop the __SHAPE ones.
    still = [t for t in g.initializer if t.name not in used]
    const_names = set(inits) | {t.name for t in new_inits}
    inputs = [i for i in g.input if i.name not in const_names]
    for i in inputs:
        dims = i.type.tensor_type.shape.dim
        if len(dims) == 4:
            dims[0].ClearField("dim_param")
            dims[0].dim_value = batch
    for o in g.output:
        dims = o.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_param")
            dims[0].dim_value = batch
    graph = helper.make_graph(keep, g.name or name, inputs, list(g.output), still + new_inits)
    out = helper.make_model(graph, opset_imports=list(model.opset_import),
                            producer_name="fpga-sim benchmarks")
    out.ir_version = max(model.ir_version, 4)  # initializers need not be graph inputs from IR 4
    onnx.checker.check_model(out)
    return out


def activation_input(model: onnx.ModelProto) -> tuple[str, tuple[int, ...]]:
    """Name and shape of the model's single non-constant input."""
    consts = {t.name for t in model.graph.initializer}
    ins = [i for i in model.graph.input if i.name not in consts]
    if len(ins) != 1:
        raise ValueError(f"expected one activation input, found {[i.name for i in ins]}")
    shape = tuple(d.dim_value for d in ins[0].type.tensor_type.shape.dim)
    return ins[0].name, shape


def small_cnn(batch: int = 1, seed: int = 0) -> onnx.ModelProto:
    """conv3x3(1->8)+ReLU, 2x2 max-pool, conv3x3(8->16)+ReLU, global average pool, 1x1 conv to 10.

    Built without torch so a child process that times start-up imports only what fpga-sim
    needs; the classifier is a 1x1 conv so the model needs no layout op.
    """
    rng = np.random.default_rng(seed)
    inits = {
        "w1": _weights(rng, (8, 1, 3, 3), 9), "b1": np.zeros(8, np.float32),
        "w2": _weights(rng, (16, 8, 3, 3), 72), "b2": np.zeros(16, np.float32),
        "w3": _weights(rng, (10, 16, 1, 1), 16), "b3": np.zeros(10, np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
        helper.make_node("Conv", ["g", "w3", "b3"], ["y"], kernel_shape=[1, 1]),
    ]
    graph = helper.make_graph(nodes, "small_cnn", [_io("x", (batch, 1, 8, 8))], [_io("y", (batch, 10, 1, 1))],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return _model(graph)


def mlp_model(sizes: tuple[int, ...] = (64, 32, 10), seed: int = 0) -> onnx.ModelProto:
    """Gemm+ReLU layers of the given widths (no ReLU after the last), symbolic batch, no torch."""
    rng = np.random.default_rng(seed)
    nodes, inits, t = [], [], "x"
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        inits += [numpy_helper.from_array(_weights(rng, (b, a), a), f"w{i}"),
                  numpy_helper.from_array((rng.standard_normal(b) * 0.1).astype(np.float32), f"b{i}")]
        last = i == len(sizes) - 2
        out = "y" if last else f"h{i}"
        nodes.append(helper.make_node("Gemm", [t, f"w{i}", f"b{i}"], [out if last else f"g{i}"], transB=1))
        if not last:
            nodes.append(helper.make_node("Relu", [f"g{i}"], [out]))
        t = out
    graph = helper.make_graph(nodes, "mlp", [_io("x", ("N", sizes[0]))], [_io("y", ("N", sizes[-1]))], inits)
    return _model(graph)


def mobilenet_v2(batch: int = 1, seed: int = 0, width: float = 1.0) -> onnx.ModelProto:
    """MobileNetV2 (Sandler et al. 2018) at 224x224 with generated weights, built without torch:
    a 3x3 stride-2 stem, 17 inverted residual blocks (1x1 expand + ReLU6, 3x3 depthwise +
    ReLU6, 1x1 linear projection, an Add when the block keeps its shape), a 1x1 conv to 1280,
    global average pooling and a 1000-way Gemm.  Batch norms are folded into the convs."""
    rng = np.random.default_rng(seed)
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []
    lo, hi = "relu6_lo", "relu6_hi"
    inits += [numpy_helper.from_array(np.array(0.0, np.float32), lo), numpy_helper.from_array(np.array(6.0, np.float32), hi)]

    def conv(x: str, cin: int, cout: int, k: int, stride: int, groups: int, relu6: bool) -> str:
        i = len(nodes)
        w = _weights(rng, (cout, cin // groups, k, k), (cin // groups) * k * k)
        b = (rng.standard_normal(cout) * 0.05).astype(np.float32)
        inits.extend([numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")])
        y = f"c{i}"
        nodes.append(helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [y], kernel_shape=[k, k], strides=[stride] * 2,
                                      pads=[k // 2] * 4, group=groups))
        if relu6:
            nodes.append(helper.make_node("Clip", [y, lo, hi], [y + "_r"]))
            y += "_r"
        return y

    def ch(c: int) -> int:
        return max(8, int(c * width + 4) // 8 * 8)

    t, c = conv("x", 3, ch(32), 3, 2, 1, True), ch(32)
    for expand, cout, reps, stride in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                                       (6, 160, 3, 2), (6, 320, 1, 1)):
        for r in range(reps):
            s, co, hidden = stride if r == 0 else 1, ch(cout), c * expand
            y = conv(t, c, hidden, 1, 1, 1, True) if expand != 1 else t
            y = conv(y, hidden, hidden, 3, s, hidden, True)
            y = conv(y, hidden, co, 1, 1, 1, False)
            if s == 1 and c == co:
                nodes.append(helper.make_node("Add", [t, y], [y + "_add"]))
                y += "_add"
            t, c = y, co
    t = conv(t, c, 1280, 1, 1, 1, True)
    nodes.append(helper.make_node("GlobalAveragePool", [t], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], axis=1))
    inits += [numpy_helper.from_array(_weights(rng, (1000, 1280), 1280), "fc_w"),
              numpy_helper.from_array((rng.standard_normal(1000) * 0.05).astype(np.float32), "fc_b")]
    nodes.append(helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["y"], transB=1))
    graph = helper.make_graph(nodes, "mobilenet_v2", [_io("x", (batch, 3, 224, 224))], [_io("y", (batch, 1000))], inits)
    return _model(graph)
