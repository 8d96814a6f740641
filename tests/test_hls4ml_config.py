"""hls4ml configurations as hls4ml writes them (fpga_sim/hls4ml_config.py).

The slow test is the check that matters: hls4ml's own C-simulation (`hls_model.predict` of
the project hls4ml generates and compiles with g++) and fpga-sim, given the very config
object hls4ml's `config_from_pytorch_model(..., granularity='name')` returned (types filled in,
nothing renamed), agree bit for bit on every output of an MLP and a CNN.
"""
from __future__ import annotations

import copy
import json
import shutil

import numpy as np
import pytest
from onnx import helper

from fpga_sim import load_onnx, quantize, simulate
from fpga_sim.errors import ConfigError
from fpga_sim.fixed import Fixed
from fpga_sim.hls4ml_config import hls4ml_name, is_hls4ml

from .helpers_onnx import make_model, rng_weights


def _torch_named_mlp():
    """What torch.onnx.export writes for fc1 -> relu1 -> fc2 (node names are module paths)."""
    nodes = [helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["/fc1/Gemm_output_0"], name="/fc1/Gemm", transB=1),
             helper.make_node("Relu", ["/fc1/Gemm_output_0"], ["/relu1/Relu_output_0"], name="/relu1/Relu"),
             helper.make_node("Gemm", ["/relu1/Relu_output_0", "fc2.weight", "fc2.bias"], ["y"], name="/fc2/Gemm", transB=1)]
    inits = {"fc1.weight": rng_weights(0, 16, 12), "fc1.bias": rng_weights(1, 16) * 0.1,
             "fc2.weight": rng_weights(2, 4, 16), "fc2.bias": rng_weights(3, 4) * 0.1}
    return make_model(nodes, {"x": ["N", 12]}, {"y": ["N", 4]}, inits)


def _hls4ml_dict(relu_result="auto"):
    """The dict config_from_pytorch_model returns for that model (copied from hls4ml 1.3)."""
    layer = {"Trace": False, "Precision": {"result": "auto", "weight": "auto", "bias": "auto", "accum": "auto"},
             "ReuseFactor": 1}
    return {
        "Model": {"Precision": {"default": "ap_fixed<16,6>"}, "ReuseFactor": 1, "ChannelsLastConversion": "full",
                  "TransposeOutputs": False, "Strategy": "Latency", "BramFactor": 1000000000, "TraceOutput": False},
        "PytorchModel": "MLP(...)", "InputShape": [12],
        "LayerName": {
            "x": {"Trace": False, "Precision": {"result": "fixed<10,4,RND,SAT>"}},
            "fc1": copy.deepcopy(layer) | {"Precision": {"result": "fixed<12,5>", "weight": "fixed<8,2>", "bias": "auto",
                                                         "accum": "auto"}},
            "relu1": {"Trace": False, "Precision": {"result": relu_result, "table": "fixed<18,8,TRN,WRAP,0>"},
                      "ReuseFactor": 1, "TableSize": 1024},
            "fc2": copy.deepcopy(layer),
        },
    }


def test_names_as_torch_and_hls4ml_write_them():
    assert hls4ml_name("/fc1/Gemm") == "fc1"
    assert hls4ml_name("/0/Gemm") == "_0"                      # a Sequential's child: hls4ml prefixes "_"
    assert hls4ml_name("/2/2.0/Gemm") == "_2_0"
    assert hls4ml_name("/block/block.conv1/Conv") == "block_conv1"
    assert hls4ml_name("Gemm_0") is None
    assert is_hls4ml(_hls4ml_dict()) and not is_hls4ml({"Model": {"Precision": "ap_fixed<8,3>"}})


def test_the_config_applies_as_written_and_reports_what_does_not_apply():
    g = load_onnx(_torch_named_mlp())
    assert [n.op for n in g.nodes] == ["Dense", "Dense"]          # the ReLU is fused into fc1
    qg = quantize(g, config=_hls4ml_dict(), precision="ap_fixed<18,7>")
    fc1, fc2 = qg.layer_types["/fc1/Gemm"], qg.layer_types["/fc2/Gemm"]
    assert (fc1.weight, fc1.result) == (Fixed(8, 2), Fixed(12, 5))
    assert fc1.bias == Fixed(16, 6)                               # auto -> the model default, not --precision
    assert qg.tensor_types["x"] == Fixed(10, 4, True, "AP_RND", "AP_SAT")
    assert fc2.weight == Fixed(16, 6) and fc2.accum.width > 16    # auto accumulator: the exact one
    notes = "\n".join(qg.config_notes)
    for key in ("Model.Strategy", "Model.ReuseFactor", "LayerName.relu1.TableSize", "LayerName.fc1.Trace", "PytorchModel"):
        assert f"{key}: not applicable" in notes
    assert "relu1: a ReLU fused into '/fc1/Gemm' (same result type)" in notes
    assert [n.op for n in qg.nodes] == ["Dense", "Dense"]
    assert g.nodes[0].activation == "relu"                        # the caller's graph is never changed


def test_a_fused_relu_with_its_own_type_is_split_off_with_the_extra_cast():
    g = load_onnx(_torch_named_mlp())
    qg = quantize(g, config=_hls4ml_dict(relu_result="ufixed<6,2,RND,SAT>"))
    assert [(n.name, n.op, n.activation) for n in qg.nodes] == [
        ("/fc1/Gemm", "Dense", None), ("relu1", "Relu", None), ("/fc2/Gemm", "Dense", None)]
    assert qg.layer_types["/fc1/Gemm"].result == Fixed(12, 5)
    assert qg.layer_types["relu1"].result == Fixed(6, 2, False, "AP_RND", "AP_SAT")
    # the split graph computes cast(fc1) -> ReLU -> cast(relu1): one more rounding than the fused layer
    x = np.random.default_rng(0).normal(0, 1, (64, 12))
    y = simulate(qg, x, trace=True)
    pre = y.tensors["/fc1/Gemm__pre_relu"]
    expected = Fixed(6, 2, False, "AP_RND", "AP_SAT").quantize(np.maximum(pre, 0))
    np.testing.assert_array_equal(y.tensors_raw["/relu1/Relu_output_0"], expected)
    assert len(g.nodes) == 2


def test_settings_that_do_not_change_numerics_are_accepted_and_say_why():
    qg = quantize(load_onnx(_torch_named_mlp()), config={"Model": {"ReuseFactor": 4, "Precision": "ap_fixed<12,4>"}})
    assert qg.layer_types["/fc2/Gemm"].weight == Fixed(12, 4)
    assert qg.config_notes == ["Model.ReuseFactor: not applicable (parallelism comes from Hardware(n_dsp=...))"]


def test_json_files_and_unknown_names(tmp_path):
    g = load_onnx(_torch_named_mlp())
    path = tmp_path / "hls4ml_config.json"
    path.write_text(json.dumps(_hls4ml_dict()))
    assert quantize(g, config=path).layer_types["/fc1/Gemm"].weight == Fixed(8, 2)
    bad = _hls4ml_dict()
    bad["LayerName"]["fc9"] = {"Precision": {"result": "fixed<8,3>"}}
    with pytest.raises(ConfigError, match=r"LayerName.fc9: no layer of the model has that hls4ml name.*fc1, fc2, relu1"):
        quantize(g, config=bad)


def test_a_folded_batchnorm_gives_its_result_type_to_its_conv():
    nodes = [helper.make_node("Conv", ["x", "w"], ["/conv1/Conv_output_0"], name="/conv1/Conv", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["/conv1/Conv_output_0", "g", "b", "m", "v"], ["/bn/BN_output_0"],
                              name="/bn/BatchNormalization")]
    inits = {"w": rng_weights(0, 2, 1, 3, 3), "g": np.ones(2, np.float32), "b": np.zeros(2, np.float32),
             "m": np.zeros(2, np.float32), "v": np.ones(2, np.float32)}
    g = load_onnx(make_model(nodes, {"x": ["N", 1, 4, 4]}, {"/bn/BN_output_0": ["N", 2, 4, 4]}, inits))
    cfg = {"InputShape": [1, 4, 4], "LayerName": {"conv1": {"Precision": {"weight": "fixed<6,2>", "result": "fixed<16,6>"}},
                                                  "bn": {"Precision": {"result": "fixed<10,4>", "scale": "auto"}}}}
    qg = quantize(g, config=cfg)
    assert qg.layer_types["/conv1/Conv"].result == Fixed(10, 4) and qg.layer_types["/conv1/Conv"].weight == Fixed(6, 2)
    assert any("BatchNorm folded into '/conv1/Conv'" in n for n in qg.config_notes)


# ------------------------------------------------------------------ against hls4ml's C-sim
def _torch_models():
    import torch
    from torch import nn

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.relu1, self.fc2 = nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)

        def forward(self, x):
            return self.fc2(self.relu1(self.fc1(x)))

    class CNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.act, self.pool = nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
            self.flat, self.fc = nn.Flatten(), nn.Linear(64, 10)

        def forward(self, x):
            return self.fc(self.flat(self.pool(self.act(self.conv1(x)))))

    torch.manual_seed(0)
    return [("mlp", MLP().eval(), (64,), {"fc1": "fc1", "relu1": "relu1", "fc2": "fc2"}),
            ("cnn", CNN().eval(), (1, 8, 8), {"fc1": "conv1", "relu1": "act", "fc2": "fc"})]


@pytest.mark.slow
@pytest.mark.gxx
@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")
@pytest.mark.parametrize("which", ["mlp", "cnn"])
def test_hls4ml_csim_and_fpga_sim_agree_bit_for_bit_on_hls4mls_own_config(which, tmp_path):
    torch = pytest.importorskip("torch")
    hls4ml = pytest.importorskip("hls4ml")
    name, model, shape, role = next(m for m in _torch_models() if m[0] == which)
    cfg = hls4ml.utils.config_from_pytorch_model(model, shape, granularity="name", backend="Vitis",
                                                 default_precision="ap_fixed<16,6>")
    layers = cfg["LayerName"]
    layers["x"]["Precision"]["result"] = "fixed<10,5,RND,SAT>"
    layers[role["fc1"]]["Precision"].update(weight="fixed<8,2>", bias="fixed<10,3>", result="fixed<12,5,RND,SAT>")
    layers[role["relu1"]]["Precision"]["result"] = "ufixed<8,3,RND,SAT>"         # differs from its host's
    layers[role["fc2"]]["Precision"].update(weight="fixed<7,1,RND,SAT>", bias="fixed<12,4>", accum="fixed<22,9>",
                                            result="fixed<14,6>")
    hls_model = hls4ml.converters.convert_from_pytorch_model(model, hls_config=copy.deepcopy(cfg), backend="Vitis",
                                                             output_dir=str(tmp_path / "hls4ml"), io_type="io_parallel")
    hls_model.compile()
    x = np.random.default_rng(0).normal(0, 2, (200,) + shape).astype(np.float32)
    expected = np.asarray(hls_model.predict(np.ascontiguousarray(x)))

    onnx_path = tmp_path / f"{name}.onnx"
    torch.onnx.export(model, torch.zeros((1,) + shape), str(onnx_path), dynamo=False, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    qg = quantize(load_onnx(onnx_path), config=cfg)
    y = simulate(qg, x).outputs["y"]
    assert np.unique(y).size > 50                                   # not saturated: the check can fail
    np.testing.assert_array_equal(y, expected.reshape(y.shape))
