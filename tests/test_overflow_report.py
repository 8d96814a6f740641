"""Overflow warnings on a layer built to overflow by a known count, and on the shipped models."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from fpga_sim.bundled import get_bundled, load_digits8
from fpga_sim.fixed import Fixed
from fpga_sim.onnx_import import load_onnx
from fpga_sim.overflow_report import holding_type, overflow_warnings, pre_activation_ranges
from fpga_sim.quantization import quantize
from fpga_sim.simulation import simulate
from tests.helpers_onnx import make_model

# y = relu(W x): y0 = x0 + x1, y1 = x0 - x1.  Rows 2-4 each push one pre-activation value out of
# [-4, 4) (5, -5 and 5.5): three overflows in a result type ap_fixed<8,3>.
X = np.array([[1.0, 1.0], [3.0, 2.0], [-3.0, -2.0], [2.5, -3.0]])


def sum_diff_model() -> object:
    """The ONNX model of y = relu(W x) above (a Gemm named fc, then a Relu the importer fuses)."""
    nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["y"], name="fc", transB=1),
             helper.make_node("Relu", ["y"], ["z"], name="relu")]
    return make_model(nodes, {"x": ["N", 2]}, {"z": ["N", 2]},
                      {"W": np.array([[1.0, 1.0], [1.0, -1.0]], np.float32), "b": np.zeros(2, np.float32)})


def _sum_diff() -> object:
    return load_onnx(sum_diff_model())


@pytest.mark.parametrize("result, mode", [("ap_fixed<8,3>", "wrapped"), ("ap_fixed<8,3,AP_RND,AP_SAT>", "saturated")])
def test_a_result_type_too_narrow_by_a_known_count(result, mode):
    g = _sum_diff()
    qg = quantize(g, precision="ap_fixed<16,6>", config={"LayerName": {"fc": {"Precision": {"result": result}}}})
    sim = simulate(qg, X)
    (w,) = overflow_warnings(qg, sim, X)
    assert (w.layer, w.count, w.samples, w.slot, w.type, w.mode) == ("fc", 3, 4, "result", result, mode)
    assert (w.lo, w.hi) == (-5.0, 5.5)               # before the fused ReLU: what the result type must hold
    assert w.fix == str(Fixed.parse(result.replace("8,3", "9,4")))
    assert w.line().startswith(f"overflow: fc (Dense): 3 values {mode} over 4 samples in result type {result}")
    fixed = quantize(g, precision="ap_fixed<16,6>", config={"LayerName": {"fc": {"Precision": {"result": w.fix}}}})
    assert simulate(fixed, X).totals["overflows"] == 0 and not overflow_warnings(fixed, simulate(fixed, X), X)


def test_a_narrow_accumulator_is_named_with_one_that_cannot_overflow():
    g = _sum_diff()
    qg = quantize(g, precision="ap_fixed<16,6>", config={"LayerName": {"fc": {"Precision": {"accum": "ap_fixed<10,3>"}}}})
    sim = simulate(qg, X)
    (w,) = overflow_warnings(qg, sim, X)
    assert (w.slot, w.type, w.count) == ("accum", "ap_fixed<10,3>", 3)      # 3 + 2, -3 - 2, 2.5 + 3 overflow an add
    safe = quantize(g, precision="ap_fixed<16,6>").layer_types["fc"].accum
    assert w.fix == str(safe)


def test_inputs_and_parameters_that_do_not_fit():
    g = _sum_diff()
    qg = quantize(g, precision="ap_fixed<16,6>", config={"LayerName": {"x": {"Precision": {"result": "ap_fixed<6,2>"}},
                                                                      "fc": {"Precision": {"weight": "ap_ufixed<4,1>"}}}})
    sim = simulate(qg, X)
    by = {w.slot: w for w in overflow_warnings(qg, sim, X)}
    assert by["input"].layer == "x" and by["input"].count == sim.totals["input_overflows"] > 0
    assert (by["input"].lo, by["input"].hi) == (-3.0, 3.0) and by["input"].fix == "ap_fixed<7,3>"
    assert by["weight"].type == "ap_ufixed<4,1>" and by["weight"].count == qg.quant_overflows["fc"] == 1   # the -1


def test_holding_type_keeps_the_fraction_and_modes():
    t = Fixed.parse("ap_fixed<16,6,AP_RND,AP_SAT>")
    assert str(holding_type(t, -3.0, 43.2)) == "ap_fixed<17,7,AP_RND,AP_SAT>"
    assert str(holding_type(t, 0.0, 10.0)) == "ap_fixed<17,7,AP_RND,AP_SAT>"     # at least one bit more
    assert str(holding_type(Fixed(8, 2, signed=False), 0.0, 9.0)) == "ap_ufixed<10,4>"


def test_no_overflow_no_warning_and_no_float_run(monkeypatch):
    import fpga_sim.overflow_report as rep

    g = _sum_diff()
    qg = quantize(g, precision="ap_fixed<16,6>")
    monkeypatch.setattr(rep, "pre_activation_ranges", lambda *a: pytest.fail("float run without an overflow"))
    assert overflow_warnings(qg, simulate(qg, X), X) == []


@pytest.mark.parametrize("name", ["lenet", "mlp"])
def test_shipped_models_at_a_narrow_type_and_the_fixes_remove_the_overflows(name):
    g = load_onnx(str(get_bundled(name).onnx_path))
    x_tr, _, x_te, _ = load_digits8()
    x = x_te[:64].astype(np.float64)
    qg = quantize(g, calibration=x_tr[:64], precision="ap_fixed<10,2>")
    sim = simulate(qg, x)
    warns = overflow_warnings(qg, sim, x)
    assert warns and {w.layer for w in warns if w.slot == "result"} == {r.name for r in sim.layers if r.overflows}
    assert all(w.count == sim.layer(w.layer).overflows for w in warns if w.slot == "result")
    ranges = pre_activation_ranges(qg, x)
    assert all((w.lo, w.hi) == ranges[w.layer] for w in warns)
    fixes = {w.layer: {"Precision": {"result": w.fix}} for w in warns if w.slot == "result"}
    wider = quantize(g, calibration=x_tr[:64], precision="ap_fixed<10,2>", config={"LayerName": fixes})
    after = simulate(wider, x)
    assert after.totals["overflows"] == 0                  # the suggested types hold every value


def test_negative_values_saturated_before_a_relu_are_called_harmless():
    g, x = _sum_diff(), X[2:3]                       # (-3, -2): only y0 = -5 leaves ap_fixed<8,3>
    sat = {"LayerName": {"fc": {"Precision": {"result": "ap_fixed<8,3,AP_RND,AP_SAT>"}}}}
    qg = quantize(g, precision="ap_fixed<16,6>", config=sat)
    (w,) = overflow_warnings(qg, simulate(qg, x), x)
    assert w.harmless and w.line().endswith("the fused ReLU zeroes them")
    assert np.array_equal(simulate(qg, x).outputs["z"], [[0.0, 0.0]])
    wrap = quantize(g, precision="ap_fixed<16,6>", config={"LayerName": {"fc": {"Precision": {"result": "ap_fixed<8,3>"}}}})
    (w,) = overflow_warnings(wrap, simulate(wrap, x), x)
    assert not w.harmless and simulate(wrap, x).outputs["z"][0, 0] == 3.0      # -5 wrapped to +3
