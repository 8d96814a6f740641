"""QDQ models as onnxruntime's own quantiser writes them (`quantize_static`), from float
models built with onnx.helper, calibrated on the scikit-learn digits (pixels / 16)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .helpers_onnx import make_model, rng_weights
from .helpers_qonnx import digits


def float_cnn() -> onnx.ModelProto:
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="/conv1/Conv"),
             helper.make_node("Relu", ["c1"], ["r1"], name="/relu1/Relu"),
             helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="/pool/MaxPool"),
             helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="/conv2/Conv"),
             helper.make_node("Relu", ["c2"], ["r2"], name="/relu2/Relu"),
             helper.make_node("Flatten", ["r2"], ["f"], axis=1, name="/flatten/Flatten"),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], transB=1, name="/fc/Gemm")]
    inits = {"w1": rng_weights(1, 8, 1, 3, 3), "b1": rng_weights(2, 8) * 0.1, "w2": rng_weights(3, 8, 8, 3, 3),
             "b2": rng_weights(4, 8) * 0.1, "w3": rng_weights(5, 10, 128), "b3": rng_weights(6, 10) * 0.1}
    return make_model(nodes, {"x": ["N", 1, 8, 8]}, {"y": ["N", 10]}, inits)


def float_mlp() -> onnx.ModelProto:
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["m1"], name="/fc1/MatMul"),
             helper.make_node("Add", ["m1", "b1"], ["a1"], name="/fc1/Add"),
             helper.make_node("Relu", ["a1"], ["r1"], name="/relu1/Relu"),
             helper.make_node("Gemm", ["r1", "w2", "b2"], ["y"], transB=1, name="/fc2/Gemm")]
    inits = {"w1": rng_weights(7, 32, 64).T.copy(), "b1": rng_weights(8, 32) * 0.1,
             "w2": rng_weights(9, 10, 32), "b2": rng_weights(10, 10) * 0.1}
    return make_model(nodes, {"x": ["N", 64]}, {"y": ["N", 10]}, inits)


def qdq_model(float_model: onnx.ModelProto, image: bool, per_channel: bool = True, activations: str = "QUInt8",
              tmp=None) -> onnx.ModelProto:
    """quantize_static (QDQ format, int8 weights) of float_model, calibrated on 400 digits."""
    import tempfile
    from pathlib import Path

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    x = digits(400, image) / 16.0

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"x": x[i:i + 50]} for i in range(0, len(x), 50)])

        def get_next(self):
            return next(self.batches, None)

    with tempfile.TemporaryDirectory() as d:
        src, dst = Path(d) / "f.onnx", Path(d) / "q.onnx"
        onnx.save(float_model, src)
        quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                        activation_type=getattr(QuantType, activations), weight_type=QuantType.QInt8)
        return onnx.load(str(dst))


def output_scale(model: onnx.ModelProto) -> tuple[float, int]:
    """(scale, zero point) of the QuantizeLinear that writes the model's output."""
    out = model.graph.output[0].name
    dq = next(n for n in model.graph.node if n.output[0] == out)
    init = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    return float(init[dq.input[1]]), int(init[dq.input[2]]) if len(dq.input) > 2 else 0
