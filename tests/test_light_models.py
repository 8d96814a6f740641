"""Real architectures (the ONNX zoo's light models that the onnx package ships) at 224x224:
import, quantise, simulate, and agree with onnxruntime layer by layer.

The light files hold every weight as ConstantOfShape(0.02).  AlexNet's parameter and MAC counts
are checked on that file as shipped (constant folding makes the weights).  Numerical agreement
is checked on the same architectures with realistic random weights (`randomised_light`): with
0.02 everywhere, activations grow to 1e12 (AlexNet) and 1e31 (VGG-19), beyond any fixed-point
type, and every channel holds the same value.

Every model of the set runs at `auto<24>` (24-bit weights, biases and activations, integer
bits from calibration) within 40 dB of onnxruntime with the same top-1 class.  VGG-19 and ZFNet-512
need accumulators of 63+ bits there (the MAC engine's wide routes).  The final Softmax's type holds
1.0 whatever the calibration image (`Op.result_bound`): calibrated, ZFNet-512's was ap_fixed<24,-6>
and a probability of the test image saturated (32.6 dB).

Stated tolerance at the wide setting (weights and biases auto<22>: 22 bits with integer bits from
their own range; activations ap_fixed<24,12>; softmax probabilities ap_fixed<24,1>): every layer's
SQNR against onnxruntime >= 40 dB, the output's >= 40 dB, and the same top-1 class.
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest

from fpga_sim.comparison import compare
from fpga_sim.onnx_import import load_onnx
from fpga_sim.quantization import quantize
from fpga_sim.simulation import cost_report
from tests.helpers_onnx import light_model_path, randomised_light

WIDE = {
    "Model": {"Precision": {"weight": "auto<22>", "bias": "auto<22>", "result": "ap_fixed<24,12>"}},
    "LayerType": {"Softmax": {"Precision": {"result": "ap_fixed<24,1>"}}},
}
MIN_SQNR_DB = 40.0


def _alexnet_counts_by_hand(size: int) -> tuple[int, int]:
    """Parameters and MACs of BVLC AlexNet (grouped conv2/4/5) from its geometry at size x size."""
    out = lambda h, k, s, p: (h + p - k) // s + 1  # noqa: E731
    h1 = out(size, 11, 4, 0)                 # conv1
    h2 = out(out(h1, 3, 2, 0), 5, 1, 4)       # pool1, conv2 (pad 2)
    h3 = out(h2, 3, 2, 0)                     # pool2; conv3-5 keep the size (pad 1)
    convs = [(96, 3, 11, h1), (256, 48, 5, h2), (384, 256, 3, h3), (384, 192, 3, h3), (256, 192, 3, h3)]
    fcs = [(9216, 4096), (4096, 4096), (4096, 1000)]
    params = sum(co * ci * k * k + co for co, ci, k, _ in convs) + sum(i * o + o for i, o in fcs)
    macs = sum(co * ci * k * k * h * h for co, ci, k, h in convs) + sum(i * o for i, o in fcs)
    return params, macs


@pytest.mark.slow
def test_alexnet_as_shipped_has_the_lectures_61m_parameters_and_1_5_gops():
    """At Caffe's 227x227 input (the lecture's AlexNet): 61M parameters, 724M MACs = 1.45 G ops.
    (The light file declares 224x224, where conv1 gives 54x54 and the MACs are 655M.)"""
    m = onnx.load(str(light_model_path("bvlc_alexnet")))
    for d in m.graph.input[0].type.tensor_type.shape.dim[2:]:
        d.dim_value = 227
    g = load_onnx(m)  # ConstantOfShape weights folded to arrays
    rep = cost_report(quantize(g))
    params, macs = _alexnet_counts_by_hand(227)
    assert rep.totals["params"] == params == 60_965_224
    assert rep.totals["macs"] == macs == 724_406_816
    assert abs(params - 61e6) / 61e6 < 0.01                 # lecture: 61M parameters
    assert abs(2 * macs - 1.5e9) / 1.5e9 < 0.05             # lecture: ~1.5 billion operations
    assert rep.totals["param_bits"] == 16 * params
    host = {r.op for r in rep.layers if not r.on_accelerator}
    assert "Softmax" in host and set(rep.totals["host_layers"]) == {r.name for r in rep.layers if not r.on_accelerator}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["squeezenet", "vgg19"])     # the others: test_every_light_model_at_auto24
def test_light_model_matches_onnxruntime_at_224(name):
    model = randomised_light(name)
    g = load_onnx(model)
    assert g.shapes[g.inputs[0]] == (3, 224, 224)
    x = np.random.default_rng(0).random((1, 3, 224, 224))
    wide = compare(model, quantize(g, config=WIDE), x)
    assert len(wide.layers) == len(g.nodes)  # every layer compared with the same ONNX tensor
    worst = wide.worst()
    assert worst.sqnr_db >= MIN_SQNR_DB, f"{worst.name} ({worst.op}): {worst.sqnr_db:.1f} dB"
    out = wide.outputs[g.outputs[0]]
    assert out.sqnr_db >= MIN_SQNR_DB and wide.top1_agreement == 1.0
    t = wide.sim.totals
    assert t["cycles"] > 0 and t["macs"] > 0 and t["overflows"] == 0
    if name != "squeezenet":
        return  # the default and auto runs below are shown once, on the cheapest model (0.35 G MACs)
    # the default type runs too; it loses precision (and says where) but the same layers are reported
    default = compare(model, quantize(g), x, reference=wide.reference)
    assert [e.name for e in default.layers] == [e.name for e in wide.layers]
    assert default.outputs[g.outputs[0]].sqnr_db < out.sqnr_db
    assert default.sim.totals["overflows"] == sum(r.overflows for r in default.sim.layers) + default.sim.totals["input_overflows"]
    # auto precision at the same 16-bit budget, calibrated on two other images, recovers it:
    # integer bits per tensor from its range (values beyond it saturate, AP_SAT)
    cal = np.random.default_rng(1).random((2, 3, 224, 224))
    auto = compare(model, quantize(g, calibration=cal, precision="auto<16>"), x, reference=wide.reference)
    assert auto.outputs[g.outputs[0]].sqnr_db >= MIN_SQNR_DB and auto.top1_agreement == 1.0
    assert auto.outputs[g.outputs[0]].sqnr_db > default.outputs[g.outputs[0]].sqnr_db + 30


LIGHT = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet", "squeezenet",
         "vgg19", "zfnet512"]


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT)
def test_every_light_model_at_auto24(name):
    """The whole light set (ShuffleNet's channel shuffle is a Transpose that moves data) at
    auto<24>, calibrated on another image: every layer and the output >= 40 dB, same top-1."""
    model = randomised_light(name)
    g = load_onnx(model)
    if name in ("vgg19", "zfnet512"):   # the accumulator check, before minutes of calibration
        quantize(g, precision="ap_fixed<24,8>")
    x = np.random.default_rng(0).random((1, 3, 224, 224))
    cal = np.random.default_rng(1).random((1, 3, 224, 224))
    qg = quantize(g, calibration=cal, precision="auto<24>")
    c = compare(model, qg, x)
    assert len(c.layers) == len(g.nodes)
    worst = c.worst()
    assert worst.sqnr_db >= MIN_SQNR_DB, f"{worst.name} ({worst.op}): {worst.sqnr_db:.1f} dB"
    assert c.outputs[g.outputs[0]].sqnr_db >= MIN_SQNR_DB and c.top1_agreement == 1.0
    last = g.nodes[-1]
    if last.op == "Softmax":        # probabilities are typed to hold 1.0, not the calibration's largest
        assert qg.tensor_types[last.outputs[0]].int_bits == 2
    if name == "shufflenet":
        assert any(n.op == "Transpose" for n in g.nodes)      # the shuffle really moves data
