"""QDQ models (fpga_sim/passes/absorb_qdq.py + ops/requant.py) against onnxruntime's own
execution of the models `onnxruntime.quantization.quantize_static` writes.

onnxruntime fuses DequantizeLinear -> Conv/Gemm -> QuantizeLinear into QLinearConv /
QLinearMatMul and requantises the int32 accumulator in float32 (acc * (s_in*s_w/s_out),
rounded half to even); fpga-sim requantises with a 24-bit integer multiplier and a shift.  The
two can differ by one LSB where a product lands within float32 / 2**-24 of a rounding boundary;
the tests count the outputs that differ, in LSBs of the model's quantised output.
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from fpga_sim import load_onnx, quantize, simulate
from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed

from .helpers_onnx import make_model, ort_run
from .helpers_qdq import float_cnn, float_mlp, output_scale, qdq_model
from .helpers_qonnx import digits

N = 1000


def _lsb_differences(model: onnx.ModelProto, image: bool) -> tuple[np.ndarray, int]:
    x = digits(N, image) / 16.0
    qg = quantize(load_onnx(model))
    sim = simulate(qg, x, trace=True)
    (ref,) = ort_run(model, {"x": x})
    s, zp = output_scale(model)
    q_ort = np.round(ref.astype(np.float64) / s).astype(np.int64)          # (q - zp) as onnxruntime computed it
    final = [n for n in qg.nodes if n.op == "Requant" and n.outputs[0] == "y"][0]
    q_sim = sim.tensors_raw[final.inputs[0]]                              # fpga-sim's centred integers
    return q_sim - q_ort, int(np.unique(q_ort).size)


@pytest.mark.parametrize("make,image", [(float_cnn, True), (float_mlp, False)])
@pytest.mark.parametrize("per_channel,activations", [(True, "QUInt8"), (True, "QInt8"), (False, "QUInt8")])
def test_quantize_static_models_agree_with_onnxruntime_within_one_lsb(make, image, per_channel, activations):
    model = qdq_model(make(), image, per_channel, activations)
    d, distinct = _lsb_differences(model, image)
    assert distinct > 20                                   # outputs vary: the comparison is not vacuous
    assert np.abs(d).max() <= 1
    assert np.count_nonzero(d) <= 0.01 * d.size, f"{np.count_nonzero(d)} of {d.size} outputs differ by 1 LSB"


def test_qdq_layers_are_integer_layers_typed_by_the_model():
    model = qdq_model(float_cnn(), True, True, "QUInt8")
    qg = quantize(load_onnx(model), precision="ap_fixed<18,8>")
    conv = qg.layer_types["/conv1/Conv"]
    assert conv.weight == Fixed(8, 8, True, "AP_RND_CONV", "AP_SAT")          # int8 weights
    assert conv.result == conv.accum and conv.accum.frac == 0                  # the exact accumulator
    ops = [n.op for n in qg.nodes]
    assert ops.count("Requant") == 5 and "QuantizeLinear" not in ops       # Q after MaxPool / Flatten: no node
    # the one tensor that leaves the integer domain takes the default precision
    assert qg.tensor_types["y"] == Fixed(18, 8)
    assert set(qg.from_model["/conv1/Conv"]) == {"weight", "bias"}


def _qdq_chain(q_attrs=None, scale=0.05, zp=np.uint8(3), dq_scale=None, out_is_q=False, axis_scale=None):
    inits = {"s": np.float32(scale), "z": zp, "s2": np.float32(dq_scale or scale)}
    if axis_scale is not None:
        inits["s"] = np.asarray(axis_scale, np.float32)
        inits["z"] = np.zeros(len(axis_scale), np.uint8)
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="Q", **(q_attrs or {}))]
    if not out_is_q:
        nodes.append(helper.make_node("DequantizeLinear", ["q", "s2", "z"], ["y"], name="DQ"))
    opset = 21 if np.asarray(zp).dtype.itemsize > 1 else 13        # 16-bit types: opset 21
    return make_model(nodes, {"x": ["N", 4, 3]}, {("q" if out_is_q else "y"): ["N", 4, 3]}, inits, opset=opset)


@pytest.mark.parametrize("kw,match", [
    (dict(scale=0.0), r"node 'Q' \(QuantizeLinear\): scale \[0.0\] must be finite and > 0"),
    (dict(scale=-1.0), r"scale \[-1.0\] must be finite and > 0"),
    (dict(dq_scale=0.1), r"'DQ' \(DequantizeLinear\): scale \[0.1.*differs from the scale its QuantizeLinear wrote"),
    (dict(out_is_q=True), r"graph output 'q' is an integer \(QuantizeLinear\) tensor; a DequantizeLinear"),
    (dict(axis_scale=[0.1, 0.2, 0.3, 0.4], q_attrs={"axis": 1}), r"4 per-axis scales on an activation are not supported"),
    (dict(axis_scale=[0.1, 0.2], q_attrs={"axis": 1}), r"2 per-axis scales do not match axis 1 of length 4"),
    (dict(axis_scale=[0.1, 0.2], q_attrs={"axis": 5}), r"axis 5 does not exist"),
])
def test_bad_qdq_is_one_sentence_naming_node_and_what_is_accepted(kw, match):
    with pytest.raises(UnsupportedModelError, match=match):
        load_onnx(_qdq_chain(**kw))


def test_a_dequantized_integer_graph_input_is_refused():
    m = make_model([helper.make_node("DequantizeLinear", ["x", "s"], ["y"], name="DQ")], {"x": ["N", 4]}, {"y": None},
                   {"s": np.float32(0.5)})
    with pytest.raises(UnsupportedModelError, match=r"'DQ' \(DequantizeLinear\): dequantises 'x', which no QuantizeLinear"):
        load_onnx(m)


@pytest.mark.parametrize("zp,lo,hi,q_type", [
    (np.uint8(0), 0, 255, Fixed(8, 8, False)), (np.uint8(3), -3, 252, Fixed(9, 9, True)),
    (np.int8(0), -128, 127, Fixed(8, 8, True)), (np.int16(-7), -32761, 32774, Fixed(17, 17, True)),
    (np.uint16(0), 0, 65535, Fixed(16, 16, False))])
def test_a_qdq_pair_is_its_integer_type_and_equals_onnxruntime(zp, lo, hi, q_type):
    scale = 0.04 if hi < 1000 else 0.0004
    model = _qdq_chain(scale=scale, zp=zp)
    qg = quantize(load_onnx(model), precision="ap_fixed<26,10>")
    assert qg.tensor_types["q"] == q_type.with_modes("AP_RND_CONV", "AP_SAT")
    # inputs on the input type's grid (2^-16), past both clamps
    k = np.linspace(lo * scale * 1.2, hi * scale * 1.2, 7200)
    x = (np.round(k * 2 ** 16) / 2 ** 16).reshape(600, 4, 3)
    sim = simulate(qg, x, trace=True)
    (ref,) = ort_run(model, {"x": x})
    q_ort = np.round(ref.astype(np.float64) / np.float32(scale)).astype(np.int64)
    q = sim.tensors_raw["q"]
    assert q.min() == lo and q.max() == hi                                          # both clamps reached
    d = q - q_ort
    assert np.abs(d).max() <= 1 and np.count_nonzero(d) <= (0 if hi < 1000 else 0.01 * d.size)


def test_a_wider_multiplier_makes_the_16_bit_requantiser_exact(monkeypatch):
    """16-bit codes need more than the default 24-bit multiplier to round exactly like exact
    rational arithmetic (x / scale in float64 here: inputs and scale are exact binary values)."""
    import fpga_sim.ops.requant as requant

    scale, zp = np.float32(0.0004), np.int16(-7)
    k = np.linspace(-32761 * 0.0004 * 1.2, 32774 * 0.0004 * 1.2, 7200)
    x = (np.round(k * 2 ** 16) / 2 ** 16).reshape(600, 4, 3)
    exact = np.clip(np.round(x / np.float64(scale)) - 7, -32768, 32767) + 7
    misses = {}
    for bits in (24, 32):
        monkeypatch.setattr(requant, "MULTIPLIER_BITS", bits)
        qg = quantize(load_onnx(_qdq_chain(scale=float(scale), zp=zp)), precision="ap_fixed<26,10>")
        misses[bits] = int(np.count_nonzero(simulate(qg, x, trace=True).tensors_raw["q"] != exact))
    assert misses[32] == 0 and 0 < misses[24] <= 0.01 * x.size
