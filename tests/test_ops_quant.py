"""QONNX quantisers (fpga_sim/ops/quant.py): types, folding, and bit-exactness against qonnx.

The reference is qonnx's own executor (`execute_onnx`) on models written as Brevitas's
export_qonnx writes them (tests/helpers_qonnx.py); no arithmetic of ours is the reference.
"""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim import load_onnx, quantize, simulate
from fpga_sim.errors import ConfigError, FpgaSimError, UnsupportedModelError
from fpga_sim.fixed import Fixed

from .helpers_qonnx import QonnxBuilder, digits, qonnx_cnn, qonnx_mlp, qonnx_reference

pytest.importorskip("qonnx")


def _chain(op: str = "Quant", in_shape=(4, 6), **kw):
    """x -> one quantiser (keyword arguments of QonnxBuilder.quant) -> output."""
    b = QonnxBuilder()
    y = b.quant("x", op=op, **kw)
    return b.model("x", list(in_shape), y, list(in_shape))


@pytest.mark.parametrize("make,image", [(qonnx_mlp, False), (qonnx_cnn, True)])
def test_digits_models_equal_qonnx_execute_onnx_bit_for_bit(make, image):
    model, x = make(), digits(400, image)
    ref = qonnx_reference(model, x)
    qg = quantize(load_onnx(model))
    y = simulate(qg, x).outputs["global_out"]
    assert y.shape == ref.shape
    assert np.unique(ref).size > 10                      # not a saturated, constant output
    np.testing.assert_array_equal(y, ref.astype(np.float64))


def test_model_types_become_the_graph_types_and_calibration_does_not_change_them():
    model, x = qonnx_cnn(), digits(50, True)
    g = load_onnx(model)
    qg = quantize(g, calibration=x, precision="auto<12>")
    conv1 = qg.layer_types["/conv1/Conv"]
    # Conv weights: 6-bit narrow per-channel scales 2^-4..2^-6 -> one type with 6 + 2 bits
    assert conv1.weight == Fixed(8, 2, True, "AP_RND_CONV", "AP_SAT_SYM")
    # the Quant after Relu is the Conv's result type: unsigned 6 bits at 2^-3, saturating
    assert conv1.result == Fixed(6, 3, False, "AP_RND_CONV", "AP_SAT")
    assert qg.layer_types["/conv2/Conv"].result.rounding == "AP_TRN"      # rounding_mode=FLOOR
    assert qg.tensor_types["global_in"] == Fixed(8, 5, False, "AP_RND_CONV", "AP_SAT")
    assert set(qg.from_model["/fc/Gemm"]) == {"weight", "bias", "result"}
    # the same types whatever default and calibration are given
    qg2 = quantize(g, precision="ap_fixed<4,2>")
    assert qg2.layer_types == qg.layer_types


def test_a_config_that_retypes_a_model_typed_slot_is_an_error_unless_overridden():
    g = load_onnx(qonnx_mlp())
    cfg = {"LayerName": {"/fc0/Gemm": {"Precision": {"weight": "ap_fixed<8,2>"}}}}
    with pytest.raises(ConfigError, match=r"/fc0/Gemm.*already types its weight"):
        quantize(g, config=cfg)
    qg = quantize(g, config=cfg, override_model_types=True)
    assert qg.layer_types["/fc0/Gemm"].weight == Fixed(8, 2)
    assert qg.from_model == {}


@pytest.mark.parametrize("rounding,ap", [("ROUND", "AP_RND_CONV"), ("HALF_EVEN", "AP_RND_CONV"), ("FLOOR", "AP_TRN"),
                                         ("DOWN", "AP_TRN_ZERO"), ("HALF_UP", "AP_RND_INF"),
                                         ("HALF_DOWN", "AP_RND_ZERO")])
@pytest.mark.parametrize("signed,narrow", [(True, False), (True, True), (False, False)])
def test_one_quantiser_equals_qonnx_for_every_rounding_mode(rounding, ap, signed, narrow):
    model = _chain(scale=2.0 ** -3, bits=5, signed=signed, narrow=narrow, rounding=rounding)
    # values on and between the grid, ties included, and far outside the range (saturation)
    x = (np.arange(-24 * 8, 24 * 8) / 16.0).astype(np.float32)
    x = np.resize(x, (x.size // 24, 4, 6))
    qg = quantize(load_onnx(model), precision="ap_fixed<24,12>")
    t = qg.layer_types[qg.nodes[0].name].result
    assert (t.rounding, t.overflow) == (ap, "AP_SAT_SYM" if narrow else "AP_SAT")
    np.testing.assert_array_equal(simulate(qg, x).outputs["global_out"], qonnx_reference(model, x))


def test_brevitas_round_to_zero_is_qonnx_down():
    from fpga_sim.ops.quant import ROUNDING

    assert ROUNDING["ROUND_TO_ZERO"] == ROUNDING["DOWN"] == "AP_TRN_ZERO"


def test_bipolar_and_trunc_equal_qonnx():
    b = QonnxBuilder()
    h = b.quant("x", scale=2.0 ** -4, bits=10)
    bip = b.quant(h, op="BipolarQuant", scale=2.0 ** -1)
    model_b = b.model("x", [3, 5], bip, [3, 5])
    x = np.random.default_rng(3).uniform(-3, 3, (40, 3, 5)).astype(np.float32)
    x[0, 0, :3] = [0.0, -0.0, -1e-3]
    qg = quantize(load_onnx(model_b))
    np.testing.assert_array_equal(simulate(qg, x).outputs["global_out"], qonnx_reference(model_b, x))

    b = QonnxBuilder()
    h = b.quant("x", scale=2.0 ** -4, bits=10)
    ins = [h, b.const("ts", 2.0 ** -4), b.const("tz", 0.0), b.const("tib", 10.0), b.const("tos", 2.0 ** -1),
           b.const("tob", 4.0)]
    from onnx import helper

    b.nodes.append(helper.make_node("Trunc", ins, ["t_out"], domain="qonnx.custom_op.general", name="Trunc_0",
                                    rounding_mode="FLOOR", signed=1, narrow=0))
    model_t = b.model("x", [3, 5], "t_out", [3, 5], qonnx_opset=2)
    qg = quantize(load_onnx(model_t))
    assert qg.layer_types["Trunc_0"].result == Fixed(4, 3, True, "AP_TRN", "AP_SAT")
    np.testing.assert_array_equal(simulate(qg, x).outputs["global_out"], qonnx_reference(model_t, x))


def test_per_channel_weights_fold_exactly_as_qonnx_computes_them():
    from qonnx.custom_op.general.quant import quant as qonnx_quant

    from fpga_sim.ops.quant import quantize_const

    b = QonnxBuilder()
    w = np.random.default_rng(0).normal(0, 1, (4, 3, 2, 2))
    s = (2.0 ** -np.array([2, 3, 4, 5])).reshape(4, 1, 1, 1)
    b.quant(b.const("w", w), s, 5, narrow=True)
    consts = {i.name: np.asarray(__import__("onnx").numpy_helper.to_array(i), np.float64) for i in b.inits}
    value, t = quantize_const(b.nodes[0], consts)
    ref = qonnx_quant(consts["w"], consts[b.nodes[0].input[1]], np.float64(0), np.float64(5), True, True, "ROUND")
    np.testing.assert_array_equal(value, ref)
    assert t == Fixed(8, 3, True, "AP_RND_CONV", "AP_SAT_SYM")
    np.testing.assert_array_equal(t.to_float(t.quantize(value)), value)


@pytest.mark.parametrize("kw,match", [
    (dict(bits=0, scale=0.5), r"bit width 0 is outside the accepted 1 to 64"),
    (dict(bits=65, scale=0.5), r"bit width 65 is outside"),
    (dict(bits=2.5, scale=0.5), r"bit width \[2.5\] must be one integer"),
    (dict(bits=8, scale=0.0), r"scale \[0.0\] must be finite and > 0"),
    (dict(bits=8, scale=-0.25), r"scale \[-0.25\] must be finite and > 0"),
    (dict(bits=8, scale=0.3), r"not a power of two"),
    (dict(bits=8, scale=0.5, zeropt=300.0), r"zero point \[300.0\] must be integers inside .*\[-128, 127\]"),
    (dict(bits=8, scale=0.5, zeropt=2.0), r"only 0 maps onto an ap_fixed type"),
    (dict(bits=8, scale=0.5, rounding="CEIL"), r"rounding_mode 'CEIL' has no ap_fixed equivalent"),
    (dict(bits=8, scale=0.5, signed=False, narrow=True), r"narrow=1 with signed=0"),
    (dict(bits=8, scale=np.full(4, 0.5)), r"per-channel scale \(4 values\) on an activation"),
])
def test_bad_quantisers_name_the_node_attribute_and_what_is_accepted(kw, match):
    with pytest.raises(UnsupportedModelError, match=r"node 'Quant_1' \(Quant\): .*" + match):
        load_onnx(_chain(**kw))


def test_a_computed_scale_is_refused():
    from onnx import helper

    b = QonnxBuilder()
    s = b.node("Relu", ["x"], "/s/Relu")
    b.nodes.append(helper.make_node("Quant", ["x", s, b.const("z", 0.0), b.const("bw", 8.0)], ["q"],
                                    domain="qonnx.custom_op.general", name="Quant_x", signed=1, narrow=0))
    with pytest.raises(FpgaSimError, match=r"'Quant_x' \(Quant\): input 1 \(scale\) must be a constant"):
        load_onnx(b.model("x", [4], "q", [4]))


def test_per_channel_scale_that_does_not_broadcast_is_refused():
    b = QonnxBuilder()
    b.quant(b.const("w", np.ones((4, 3))), np.full((3, 1), 0.5), 8)
    y = b.node("Gemm", ["x", b.nodes[-1].output[0]], "/g/Gemm", transB=1)
    with pytest.raises(UnsupportedModelError, match=r"scale of shape \(3, 1\) does not broadcast to .*\(4, 3\)"):
        load_onnx(b.model("x", [3], y, [4]))
