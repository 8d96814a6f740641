"""QONNX models built with onnx.helper exactly as Brevitas's `export_qonnx` writes them.

Brevitas is not installed (its current release pins setuptools < 81, older than the shared
environment's), so the models are written node by node in its layout: every quantiser is a
`Quant(x, scale, zeropt, bitwidth)` node of domain `qonnx.custom_op.general` with attributes
`signed`, `narrow`, `rounding_mode`; weights and biases are float initializers read through
their own Quant (weights narrow, per-tensor or per-output-channel scales; biases 32-bit
Int32Bias with scale = input scale x weight scale); a QuantReLU is Relu followed by an
unsigned Quant; Linear is Gemm(transB=1), Conv a Conv with (Cout, Cin, kh, kw) weights.
The reference is qonnx's own executor, `qonnx.core.onnx_exec.execute_onnx`.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QONNX = "qonnx.custom_op.general"


class QonnxBuilder:
    """Collects nodes and initializers; every method returns the name of the tensor it made."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._k = 0

    def _name(self, base: str) -> str:
        self._k += 1
        return f"{base}_{self._k}"

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def quant(self, x: str, scale, bits: int = 1, signed: bool = True, narrow: bool = False,
              rounding: str = "ROUND", zeropt=0.0, op: str = "Quant") -> str:
        out = self._name(f"{x}_quant")
        s = self.const(f"{out}_scale", scale)
        ins = [x, s]
        if op != "BipolarQuant":
            ins += [self.const(f"{out}_zeropt", zeropt), self.const(f"{out}_bitwidth", float(bits))]
        attrs = {} if op == "BipolarQuant" else dict(signed=int(signed), narrow=int(narrow), rounding_mode=rounding)
        self.nodes.append(helper.make_node(op, ins, [out], domain=QONNX, name=f"Quant_{self._k}", **attrs))
        return out

    def node(self, op: str, inputs: list[str], name: str, **attrs) -> str:
        out = self._name(name.strip("/").replace("/", "_"))
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def model(self, inp: str, in_shape: list, out: str, out_shape: list, name: str = "qonnx",
              qonnx_opset: int = 1) -> onnx.ModelProto:
        """qonnx_opset 2: qonnx's Trunc v2 (with output_scale); 1 is what Brevitas declares."""
        self.nodes.append(helper.make_node("Identity", [out], ["global_out"], name="/out/Identity"))
        g = helper.make_graph(self.nodes, name, [helper.make_tensor_value_info(inp, TensorProto.FLOAT, [None] + in_shape)],
                              [helper.make_tensor_value_info("global_out", TensorProto.FLOAT, [None] + out_shape)], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QONNX, qonnx_opset)])
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m


def _w(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[1:]))


def qonnx_mlp(seed: int = 0, w_bits: int = 4, a_bits: int = 6) -> onnx.ModelProto:
    """64 -> 32 -> 16 -> 10 on 8x8 digits: 8-bit input, per-tensor 4-bit weights, QuantReLU."""
    rng = np.random.default_rng(seed)
    b = QonnxBuilder()
    x = b.quant("global_in", 2.0 ** -3, 8, signed=False)          # digits pixels 0..16
    s_in, sizes = 2.0 ** -3, (64, 32, 16, 10)
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        s_w = 2.0 ** -(w_bits - 1)
        w = b.quant(b.const(f"fc{i}.weight", _w(rng, n_out, n_in) * 0.5), s_w, w_bits, narrow=True)
        bias = b.quant(b.const(f"fc{i}.bias", rng.standard_normal(n_out)), s_in * s_w, 32)
        x = b.node("Gemm", [x, w, bias], f"/fc{i}/Gemm", transB=1)
        if i < len(sizes) - 2:
            x = b.node("Relu", [x], f"/relu{i}/Relu")
            s_in = 2.0 ** -2
            x = b.quant(x, s_in, a_bits, signed=False)
    x = b.quant(x, 2.0 ** -2, 8, signed=True)
    return b.model("global_in", [64], x, [10], "qonnx_mlp")


def qonnx_cnn(seed: int = 0) -> onnx.ModelProto:
    """8x8 digits CNN: Conv(8, 3x3, per-channel 6-bit weights) + QuantReLU, MaxPool,
    Conv(8, 3x3, FLOOR rounding on its output) + QuantReLU, Flatten, Gemm (8-bit out)."""
    rng = np.random.default_rng(seed)
    b = QonnxBuilder()
    x = b.quant("global_in", 2.0 ** -3, 8, signed=False)
    s_in = 2.0 ** -3
    s_w = 2.0 ** -np.array([4, 5, 5, 6, 4, 5, 6, 5], np.float64).reshape(8, 1, 1, 1)
    w = b.quant(b.const("conv1.weight", _w(rng, 8, 1, 3, 3) * 0.5), s_w, 6, narrow=True)
    bias = b.quant(b.const("conv1.bias", rng.standard_normal(8) * 0.2), (s_in * s_w).reshape(8), 32)
    x = b.node("Conv", [x, w, bias], "/conv1/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    x = b.quant(b.node("Relu", [x], "/relu1/Relu"), 2.0 ** -3, 6, signed=False)
    x = b.node("MaxPool", [x], "/pool/MaxPool", kernel_shape=[2, 2], strides=[2, 2])
    s_in, s_w2 = 2.0 ** -3, 2.0 ** -4
    w = b.quant(b.const("conv2.weight", _w(rng, 8, 8, 3, 3) * 0.5), s_w2, 5, narrow=True)
    x = b.node("Conv", [x, w], "/conv2/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    x = b.quant(b.node("Relu", [x], "/relu2/Relu"), 2.0 ** -2, 5, signed=False, rounding="FLOOR")
    x = b.node("Flatten", [x], "/flatten/Flatten", axis=1)
    s_w3 = 2.0 ** -5
    w = b.quant(b.const("fc.weight", _w(rng, 10, 128) * 0.5), s_w3, 6, narrow=True)
    bias = b.quant(b.const("fc.bias", rng.standard_normal(10) * 0.2), 2.0 ** -2 * s_w3, 32)
    x = b.node("Gemm", [x, w, bias], "/fc/Gemm", transB=1)
    x = b.quant(x, 2.0 ** -3, 8, signed=True, narrow=True)
    return b.model("global_in", [1, 8, 8], x, [10], "qonnx_cnn")


def digits(n: int, image: bool) -> np.ndarray:
    """The first n scikit-learn digits (pixel values 0..16), as (n, 64) or (n, 1, 8, 8) float32."""
    from sklearn.datasets import load_digits

    x = load_digits().data[:n].astype(np.float32)
    return x.reshape(n, 1, 8, 8) if image else x


def qonnx_reference(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    """qonnx's own execution of the model on the batch x (float32)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    m = ModelWrapper(onnx.ModelProto.FromString(model.SerializeToString()))
    m.set_tensor_shape(m.graph.input[0].name, list(x.shape))
    m = m.transform(InferShapes())
    return execute_onnx(m, {m.graph.input[0].name: x.astype(np.float32)})[m.graph.output[0].name]
