"""compare: per-layer SQNR and errors against onnxruntime, agreement and accuracy."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from fpga_sim.comparison import Comparison, LayerError, compare, reference_run, sqnr_db
from fpga_sim.onnx_import import load_onnx
from fpga_sim.quantization import quantize
from tests.helpers_onnx import ort_run
from tests.test_onnx_import import small_cnn


def test_sqnr_definition():
    ref = np.array([3.0, -4.0])
    assert sqnr_db(ref, ref) == math.inf
    assert sqnr_db(ref, ref + np.array([0.3, 0.4])) == pytest.approx(20.0)  # signal 25, noise 0.25
    assert sqnr_db(np.zeros(2), np.ones(2)) == -math.inf


def test_reference_exposes_intermediate_tensors():
    m = small_cnn()
    x = np.random.default_rng(0).random((2, 1, 6, 6))
    n_outputs = len(m.graph.output)
    ref = reference_run(m, {"x": x}, ["relu1", "pool", "relu2", "logits", "not_a_tensor"])
    assert set(ref) == {"relu1", "pool", "relu2", "logits"}
    assert len(m.graph.output) == n_outputs  # the caller's model is left as it was
    np.testing.assert_allclose(ref["logits"], ort_run(m, {"x": x})[0], rtol=1e-6)


def test_per_layer_errors_shrink_with_width_and_are_measured_against_onnxruntime():
    m = small_cnn()
    g = load_onnx(m)
    x = np.random.default_rng(1).random((16, 1, 6, 6))
    labels = np.arange(16) % 3
    narrow = compare(m, quantize(g, precision="ap_fixed<8,4>"), x, labels=labels)
    wide = compare(m, quantize(g, precision="ap_fixed<24,8>"), x, labels=labels)
    assert [e.tensor for e in wide.layers] == [n.outputs[0] for n in g.nodes]
    for a, b in zip(narrow.layers, wide.layers):
        assert b.sqnr_db > a.sqnr_db + 30, (a, b)
        assert b.max_abs_error < 1e-3
    # the reported error is the difference from onnxruntime's float, recomputed here
    ref = ort_run(m, {"x": x})[0]
    out = wide.sim.outputs["logits"]
    # (onnxruntime's default optimisations here reorder float32 sums: equal to float32 rounding)
    assert wide.outputs["logits"].max_abs_error == pytest.approx(float(np.abs(out - ref).max()), rel=1e-3, abs=1e-6)
    assert wide.top1_agreement == 1.0
    assert wide.accuracy_float == pytest.approx(float(np.mean(ref.argmax(1) == labels)))
    assert narrow.worst() is not None and narrow.worst().sqnr_db == min(e.sqnr_db for e in narrow.layers)
    d = json.loads(json.dumps(wide.to_dict(), allow_nan=False))  # strict JSON
    assert len(d["layers"]) == len(g.nodes) and d["top1_agreement"] == 1.0
    assert d["layers"][0]["sqnr_db"] == pytest.approx(wide.layers[0].sqnr_db) and d["layers"][0]["exact"] is False
    # a bit-exact layer: SQNR +inf is written as null with exact = true
    exact = LayerError("n", "MaxPool", "t", "ap_fixed<8,3>", math.inf, 0.0, 1.0)
    row = Comparison([exact], {}, None).to_dict()["layers"][0]
    assert row["sqnr_db"] is None and row["exact"] is True


# ------------------------------------------------------- trained models: fixed point agrees
def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data / 16.0).astype(np.float64), d.target


def _train_mlp_numpy(x: np.ndarray, y: np.ndarray, hidden: int = 32, steps: int = 300):
    """64-32-10 ReLU MLP, full-batch Adam on softmax cross-entropy (a second or two)."""
    r = np.random.default_rng(0)
    p = {"w1": r.normal(0, np.sqrt(2 / 64), (64, hidden)), "b1": np.zeros(hidden),
         "w2": r.normal(0, np.sqrt(2 / hidden), (hidden, 10)), "b2": np.zeros(10)}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v2 = {k: np.zeros_like(v) for k, v in p.items()}
    onehot = np.eye(10)[y]
    for t in range(1, steps + 1):
        h = np.maximum(x @ p["w1"] + p["b1"], 0)
        z = h @ p["w2"] + p["b2"]
        e = np.exp(z - z.max(1, keepdims=True))
        dz = (e / e.sum(1, keepdims=True) - onehot) / len(x)
        dh = (dz @ p["w2"].T) * (h > 0)
        grads = {"w2": h.T @ dz, "b2": dz.sum(0), "w1": x.T @ dh, "b1": dh.sum(0)}
        for k, gk in grads.items():
            m[k] = 0.9 * m[k] + 0.1 * gk
            v2[k] = 0.999 * v2[k] + 0.001 * gk ** 2
            p[k] -= 0.01 * (m[k] / (1 - 0.9 ** t)) / (np.sqrt(v2[k] / (1 - 0.999 ** t)) + 1e-8)
    return p


@pytest.mark.slow
def test_trained_mlp_at_ap_fixed_16_6_agrees_with_float_on_99_percent():
    from onnx import helper

    from tests.helpers_onnx import make_model

    x, y = _digits()
    p = _train_mlp_numpy(x[:1200], y[:1200])
    inits = {k: v.astype(np.float32) for k, v in p.items()}
    nodes = [  # MatMul + Add, as many exporters write a Linear layer
        helper.make_node("MatMul", ["x", "w1"], ["m1"]), helper.make_node("Add", ["m1", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["r1"]),
        helper.make_node("MatMul", ["r1", "w2"], ["m2"]), helper.make_node("Add", ["m2", "b2"], ["logits"]),
    ]
    model = make_model(nodes, {"x": ["N", 64]}, {"logits": ["N", 10]}, inits)
    g = load_onnx(model)
    assert [(n.op, n.activation) for n in g.nodes] == [("Dense", "relu"), ("Dense", None)]
    test_x, test_y = x[1200:], y[1200:]
    c = compare(model, quantize(g, precision="ap_fixed<16,6>"), test_x, labels=test_y)
    assert c.accuracy_float > 0.9            # the float model learned something
    assert c.top1_agreement >= 0.99
    assert abs(c.accuracy_fixed - c.accuracy_float) <= 0.01


@pytest.mark.slow
def test_trained_cnn_exported_by_torch_agrees_at_ap_fixed_16_6():
    import io
    import warnings

    import torch   # the 'models' extra, installed by .[all] as the README's test line does: no skip

    import onnx

    x, y = _digits()
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 3, padding=1), torch.nn.BatchNorm2d(6), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Dropout(0.1),
        torch.nn.Linear(8 * 4 * 4, 10))
    xt = torch.tensor(x[:1200].reshape(-1, 1, 8, 8), dtype=torch.float32)
    yt = torch.tensor(y[:1200])
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for epoch in range(8):
        for i in range(0, len(xt), 64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xt[i:i + 64]), yt[i:i + 64]).backward()
            opt.step()
    net.eval()
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)     # the legacy exporter announces its deprecation
        torch.onnx.export(net, torch.zeros(1, 1, 8, 8), f, dynamo=False, input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}}, opset_version=13)
    model = onnx.load_from_string(f.getvalue())
    g = load_onnx(model)
    assert [n.op for n in g.nodes if n.op in ("Conv", "Dense")] == ["Conv", "Conv", "Dense"]
    test_x, test_y = x[1200:].reshape(-1, 1, 8, 8), y[1200:]
    c = compare(model, quantize(g, precision="ap_fixed<16,6>"), test_x, labels=test_y)
    assert c.accuracy_float > 0.9
    assert c.top1_agreement >= 0.99


# ---------------------------------------- every supported op, whole pipeline, wide type vs onnxruntime
# weights 22 bits: 32-bit inputs x 22-bit weights + log2(K) stays within the engine's 62-bit accumulators
WIDE_OPS = {"Model": {"Precision": {"result": "ap_fixed<32,16>", "weight": "ap_fixed<22,6>", "bias": "ap_fixed<22,6>"}}}


def _op_case(op_type: str):
    """(nodes, inits, output shape) of a model computing one op on x (2, 3, 8, 8) (Relu'd x as 2nd input)."""
    r = np.random.default_rng(7)
    c = lambda *s: r.normal(0, 0.5, s).astype(np.float32)  # noqa: E731
    from onnx import helper as h

    relu = h.make_node("Relu", ["x"], ["xr"])
    cases = {
        "Conv": ([h.make_node("Conv", ["x", "w", "b"], ["y"], strides=[2, 1], pads=[1, 0, 2, 1], dilations=[1, 2])],
                 {"w": c(4, 3, 3, 3), "b": c(4)}),
        "ConvDepthwiseSame": ([h.make_node("Conv", ["x", "w"], ["y"], group=3, auto_pad="SAME_UPPER", strides=[2, 2],
                                           kernel_shape=[3, 3])], {"w": c(3, 1, 3, 3)}),
        "Gemm": ([h.make_node("Flatten", ["x"], ["f"]),
                  h.make_node("Gemm", ["f", "w", "b"], ["y"], alpha=0.5, beta=2.0, transB=1)], {"w": c(5, 192), "b": c(5)}),
        "MatMul": ([h.make_node("Flatten", ["x"], ["f"]), h.make_node("MatMul", ["f", "w"], ["y"])], {"w": c(192, 6)}),
        "Relu": ([h.make_node("Relu", ["x"], ["y"])], {}),
        "LeakyRelu": ([h.make_node("LeakyRelu", ["x"], ["y"], alpha=0.1)], {}),
        "PRelu": ([h.make_node("PRelu", ["x", "s"], ["y"])], {"s": np.array([0.1, 0.2, 0.3], np.float32).reshape(3, 1, 1)}),
        "Clip": ([h.make_node("Clip", ["x", "lo", "hi"], ["y"])], {"lo": np.array(0, np.float32), "hi": np.array(0.6, np.float32)}),
        "Sigmoid": ([h.make_node("Sigmoid", ["x"], ["y"])], {}),
        "Tanh": ([h.make_node("Tanh", ["x"], ["y"])], {}),
        "MaxPool": ([h.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])], {}),
        "AveragePool": ([h.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                                     count_include_pad=1)], {}),
        "GlobalAveragePool": ([h.make_node("GlobalAveragePool", ["x"], ["y"])], {}),
        "GlobalMaxPool": ([h.make_node("GlobalMaxPool", ["x"], ["y"])], {}),
        "Add": ([relu, h.make_node("Add", ["x", "xr"], ["y"])], {}),
        "Sum": ([relu, h.make_node("LeakyRelu", ["x"], ["xs"], alpha=0.25),
                 h.make_node("Sum", ["x", "xr", "xs"], ["y"])], {}),
        "Mul": ([h.make_node("Mul", ["x", "k"], ["y"])], {"k": np.array([0.5, -1.25, 3.0], np.float32).reshape(3, 1, 1)}),
        "Concat": ([relu, h.make_node("Concat", ["x", "xr"], ["y"], axis=1)], {}),
        "Flatten": ([h.make_node("Flatten", ["x"], ["y"])], {}),
        "Reshape": ([h.make_node("Reshape", ["x", "s"], ["y"])], {"s": np.array([0, 12, -1], np.int64)}),
        # a layout change (moves only size-1 axes), as before a Flatten in exported nets
        "Transpose": ([h.make_node("GlobalAveragePool", ["x"], ["gp"]),
                       h.make_node("Transpose", ["gp"], ["y"], perm=[0, 2, 3, 1])], {}),
        "Pad": ([h.make_node("Pad", ["x", "p"], ["y"])], {"p": np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64)}),
        "LRN": ([h.make_node("LRN", ["x"], ["y"], size=3, alpha=1e-2, beta=0.75, bias=1.0)], {}),
        "Softmax": ([h.make_node("Flatten", ["x"], ["f"]), h.make_node("Softmax", ["f"], ["y"], axis=1)], {}),
        "BatchNormalization": ([relu, h.make_node("BatchNormalization", ["xr", "g", "be", "mu", "var"], ["y"])],
                               {"g": c(3), "be": c(3), "mu": c(3), "var": np.array([0.5, 1.0, 2.0], np.float32)}),
        # data movement (issue 19): the engine's index maps against onnxruntime, whole pipeline
        "TransposeMoves": ([h.make_node("Transpose", ["x"], ["y"], perm=[0, 3, 1, 2])], {}),
        "Slice": ([h.make_node("Slice", ["x", "s0", "s1", "s2", "s3"], ["y"])],
                  {"s0": np.array([7, 1], np.int64), "s1": np.array([0, 8], np.int64), "s2": np.array([3, 2], np.int64),
                   "s3": np.array([-2, 3], np.int64)}),
        "Split": ([h.make_node("Split", ["x", "sp"], ["a", "y"], axis=2)], {"sp": np.array([3, 5], np.int64)}),
        "Gather": ([h.make_node("Gather", ["x", "i"], ["y"], axis=3)], {"i": np.array([[7, 0], [-1, 2]], np.int64)}),
        "Expand": ([h.make_node("GlobalAveragePool", ["x"], ["gp"]), h.make_node("Expand", ["gp", "s"], ["y"])],
                   {"s": np.array([1, 3, 4, 5], np.int64)}),
        "DepthToSpace": ([h.make_node("SpaceToDepth", ["x"], ["sd"], blocksize=2),
                          h.make_node("DepthToSpace", ["sd"], ["y"], blocksize=2, mode="CRD")], {}),
        "ResizeNearest": ([h.make_node("Resize", ["x", "", "sc"], ["y"], mode="nearest")],
                          {"sc": np.array([1, 1, 1.5, 2], np.float32)}),
        "ResizeLinear": ([h.make_node("Resize", ["x", "", "sc"], ["y"], mode="linear")],
                         {"sc": np.array([1, 1, 2, 0.75], np.float32)}),
        "ConvTranspose": ([h.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], pads=[1, 0, 0, 1],
                                       output_padding=[1, 0])], {"w": c(3, 2, 3, 3), "b": c(2)}),
    }
    return cases[op_type]


# Tolerance at the wide setting (results ap_fixed<32,16>: LSB 1.5e-5; weights ap_fixed<22,6>):
# max abs error <= 1e-3 on inputs ~N(0, 1); look-up-table ops (Sigmoid, Tanh) are limited by
# their table's resolution, not the type: <= 1e-2.
OP_TOL = {"Sigmoid": 1e-2, "Tanh": 1e-2, "ResizeLinear": 2e-3}   # linear resize: 12-bit weights (ops/resize.py)


@pytest.mark.parametrize("op_type", [
    "Conv", "ConvDepthwiseSame", "Gemm", "MatMul", "Relu", "LeakyRelu", "PRelu", "Clip", "Sigmoid", "Tanh",
    "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Add", "Sum", "Mul", "Concat", "Flatten",
    "Reshape", "Transpose", "Pad", "LRN", "Softmax", "BatchNormalization", "TransposeMoves", "Slice", "Split", "Gather",
    "Expand", "DepthToSpace", "ResizeNearest", "ResizeLinear", "ConvTranspose"])
def test_every_supported_op_matches_onnxruntime_at_a_wide_type(op_type):
    from tests.helpers_onnx import make_model

    nodes, inits = _op_case(op_type)
    model = make_model(nodes, {"x": ["N", 3, 8, 8]}, {"y": None}, inits)
    g = load_onnx(model)
    x = np.random.default_rng(0).normal(size=(2, 3, 8, 8))
    c = compare(model, quantize(g, config=WIDE_OPS), x)
    out = c.outputs["y"]
    assert out.max_abs_error <= OP_TOL.get(op_type, 1e-3), out
    assert c.sim.totals["overflows"] == 0
