"""quantize: default types, hls4ml-style overrides (dict and TOML), auto precision, clear errors."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import ConfigError
from fpga_sim.fixed import Fixed
from fpga_sim.onnx_import import load_onnx
from fpga_sim.ops import get_op
from fpga_sim.quantization import int_bits_for, parse_type, quantize
from tests.test_onnx_import import small_cnn

T16 = Fixed.parse("ap_fixed<16,6>")


@pytest.fixture(scope="module")
def graph():
    return load_onnx(small_cnn())


def test_default_precision_everywhere_and_safe_accumulators(graph):
    qg = quantize(graph)
    assert qg.tensor_types["x"] == T16
    for n in graph.nodes:
        lt = qg.layer_types[n.name]
        assert lt.result == T16 and qg.tensor_types[n.outputs[0]] == T16
        if n.op in ("Conv", "Dense"):
            assert lt.weight == T16 and lt.bias == T16
            in_types = [qg.tensor_types[t] for t in n.inputs]
            assert lt.accum == get_op(n.op).safe_accum(n, in_types, lt.weight) and lt.accum.width > 32
            # by hand: a 16x16-bit product is 32 bits with 20 fractional bits; K products and the
            # bias need ceil(log2(K + 1)) more bits (conv1 K = 9, fc1 K = 36, fc2 K = 8)
            k = int(np.prod(n.params["weight"].shape[1:]))
            width = 32 + int(np.ceil(np.log2(k + 1)))
            assert lt.accum == Fixed(width, width - 20), (n.name, str(lt.accum))
            # and the worst case really fits: (K + 1) products of (-2^15)^2
            assert (k + 1) * 2**30 <= lt.accum.max_raw
            np.testing.assert_array_equal(qg.qparams[n.name]["weight"], T16.quantize(n.params["weight"]))
            np.testing.assert_array_equal(qg.qparams[n.name]["bias"], T16.quantize(n.params["bias"]))


def test_hls4ml_style_overrides_by_name_and_type(graph, tmp_path):
    conv = next(n for n in graph.nodes if n.op == "Conv")
    dense = [n for n in graph.nodes if n.op == "Dense"]
    cfg = {
        "Model": {"Precision": "fixed<18,8>"},                      # hls4ml spells it without ap_
        "LayerType": {"Dense": {"Precision": "ap_fixed<12,4>"}},
        "LayerName": {
            conv.name: {"Precision": {"weight": "ap_fixed<8,2>", "bias": "ap_fixed<10,4>",
                                      "result": "ap_fixed<14,6,AP_RND,AP_SAT>", "accum": "ap_fixed<20,10>"}},
            dense[-1].outputs[0]: {"Precision": {"result": "ap_fixed<24,10>"}},  # by its ONNX tensor name
            "x": {"Precision": {"result": "ap_ufixed<8,1>"}},
        },
    }
    qg = quantize(graph, config=cfg)
    lt = qg.layer_types[conv.name]
    assert (str(lt.weight), str(lt.bias), str(lt.result), str(lt.accum)) == (
        "ap_fixed<8,2>", "ap_fixed<10,4>", "ap_fixed<14,6,AP_RND,AP_SAT>", "ap_fixed<20,10>")
    assert str(qg.tensor_types["x"]) == "ap_ufixed<8,1>"
    assert str(qg.layer_types[dense[0].name].weight) == "ap_fixed<12,4>"
    assert str(qg.layer_types[dense[-1].name].result) == "ap_fixed<24,10>"
    assert str(qg.layer_types[dense[-1].name].weight) == "ap_fixed<12,4>"  # LayerType still applies
    # the max-pool after the conv keeps the conv's result type (it cannot leave its range)
    pool = next(n for n in graph.nodes if n.op == "MaxPool")
    assert qg.layer_types[pool.name].result == lt.result
    np.testing.assert_array_equal(qg.qparams[conv.name]["weight"], Fixed.parse("ap_fixed<8,2>").quantize(conv.params["weight"]))
    # the same config as a TOML file gives the same types
    toml = tmp_path / "q.toml"
    toml.write_text(
        '[Model]\nPrecision = "fixed<18,8>"\n[LayerType.Dense]\nPrecision = "ap_fixed<12,4>"\n'
        f'[LayerName."{conv.name}".Precision]\nweight = "ap_fixed<8,2>"\nbias = "ap_fixed<10,4>"\n'
        'result = "ap_fixed<14,6,AP_RND,AP_SAT>"\naccum = "ap_fixed<20,10>"\n'
        f'[LayerName."{dense[-1].outputs[0]}".Precision]\nresult = "ap_fixed<24,10>"\n'
        '[LayerName.x.Precision]\nresult = "ap_ufixed<8,1>"\n')
    assert quantize(graph, config=toml).layer_types == qg.layer_types


@pytest.mark.parametrize("cfg,match", [
    ({"LayerName": {"nope": {"Precision": "ap_fixed<8,3>"}}}, "LayerName.nope: the graph has no layer, output tensor or input"),
    ({"LayerType": {"Softmax": {"Precision": "ap_fixed<8,3>"}}}, "LayerType.Softmax: the graph has no layer of that type"),
    ({"Model": {"Precison": "ap_fixed<8,3>"}}, "Model.Precison is not known; accepted: Precision"),
    ({"Layers": {}}, "key 'Layers' is not known; accepted: Model, LayerName, LayerType"),
    ({"Model": {"Precision": {"wieght": "ap_fixed<8,3>"}}}, "Model.Precision.wieght is not known"),
    ({"Model": {"Precision": "float32"}}, "Model.Precision: cannot parse fixed-point type 'float32'"),
    ({"Model": {"Precision": "auto"}}, "needs calibration data"),
])
def test_config_errors_name_what_is_wrong(graph, cfg, match):
    with pytest.raises(ConfigError, match=match):
        quantize(graph, config=cfg)


def test_config_file_errors(graph, tmp_path):
    with pytest.raises(ConfigError, match="config file '.*none.toml' does not exist"):
        quantize(graph, config=tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[Model\nPrecision=")
    with pytest.raises(ConfigError, match="config file '.*bad.toml' is not valid TOML: Expected"):
        quantize(graph, config=bad)


def test_int_bits_rule_against_brute_force():
    for v in [1e-3, 0.49, 0.5, 0.99, 1.0, 1.5, 2.0, 3.99, 4.0, 5.3, 1000.0, 1024.0]:
        i = int_bits_for(v)
        # smallest signed I (may be negative, as ap_fixed allows) whose range [-2^(I-1), 2^(I-1)) holds v
        want = next(k for k in range(-60, 60) if v < 2.0 ** (k - 1))
        assert i == want, v
    assert int_bits_for(0.0) == 1
    assert parse_type("auto<12>", "p").width == 12 and parse_type("auto", "p").width == 16
    assert parse_type("auto<10,AP_TRN,AP_WRAP>", "p").overflow == "AP_WRAP"


def test_auto_precision_picks_integer_bits_from_calibration_ranges(graph):
    from fpga_sim.simulation import run_float

    x = np.random.default_rng(0).random((32, 1, 6, 6)) * 3.0
    qg = quantize(graph, calibration=x, precision="auto<12>")
    ranges = run_float(graph, x, keep_all=True)
    for t, v in ranges.items():
        ty = qg.tensor_types[t]
        assert ty.width == 12 and ty.overflow == "AP_SAT"
        m = float(np.abs(v).max())
        assert ty.max >= m * (1 - 2 ** -10) and ty.max / 2 < m or m == 0, (t, str(ty), m)
    for n in graph.nodes:
        if "weight" in n.params:
            w = qg.layer_types[n.name].weight
            assert w.width == 12 and w.int_bits == int_bits_for(float(np.abs(n.params["weight"]).max()))


def test_types_too_wide_for_a_safe_accumulator_name_the_layer(graph):
    conv = next(n for n in graph.nodes if n.op == "Conv")
    # 32-bit data and weights: a 64-bit product plus growth, beyond int64 but within 128 bits (the
    # MAC engine's wide route); 64-bit ones need more than 128 bits and are refused
    qg = quantize(graph, precision="ap_fixed<32,16>")
    assert 64 < qg.layer_types[conv.name].accum.width <= 128
    with pytest.raises(ConfigError, match=f"layer {conv.name} \\(Conv\\): no accumulator that cannot overflow"):
        quantize(graph, precision="ap_fixed<64,32>")
