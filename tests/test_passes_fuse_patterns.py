"""fuse_patterns: the decomposed SiLU, GELU and LayerNorm that PyTorch writes below opsets 24,
20 and 17 become one op each, and the fused float graph still equals onnxruntime on the
original model; near misses are left alone."""
from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from onnx import helper

import fpga_sim
from fpga_sim.simulation import run_float
from tests.helpers_onnx import make_model, ort_run

torch = pytest.importorskip("torch")


class _Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(8, 8)
        self.ln = torch.nn.LayerNorm(8)

    def forward(self, x):
        h = torch.nn.functional.gelu(self.fc(x))
        return torch.nn.functional.silu(self.ln(h)) + x


def _export(opset: int):
    torch.manual_seed(0)
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Block().eval(), torch.randn(1, 4, 8), f, opset_version=opset, dynamo=False,
                          input_names=["x"], output_names=["y"])
    import onnx
    return onnx.load_from_string(f.getvalue())


@pytest.mark.parametrize("opset", [13, 16])
def test_torch_exports_fuse_and_match_onnxruntime(opset):
    model = _export(opset)
    assert {"Erf", "Sigmoid", "ReduceMean", "Sqrt"} <= {n.op_type for n in model.graph.node}
    g = fpga_sim.load_onnx(model)
    # (the 3-D MatMul keeps its bias Add: MatMulAddToGemm fuses 2-D inputs only)
    assert [n.op for n in g.nodes] == ["Dense", "Add", "Gelu", "LayerNormalization", "Silu", "Add"]
    x = np.random.default_rng(opset).normal(size=(1, 4, 8)).astype(np.float32)   # exported with batch 1
    ref = ort_run(model, {"x": x})[0]
    np.testing.assert_allclose(run_float(g, x)["y"], ref, rtol=1e-4, atol=1e-5)


def test_gelu_with_half_first_and_mul_by_inverse_sqrt2():
    nodes = [helper.make_node("Mul", ["x", "half"], ["h"]), helper.make_node("Mul", ["x", "isq"], ["s"]),
             helper.make_node("Erf", ["s"], ["e"]), helper.make_node("Add", ["one", "e"], ["a"]),
             helper.make_node("Mul", ["h", "a"], ["y"])]
    inits = {"half": np.float32(0.5), "isq": np.float32(0.70710677), "one": np.float32(1.0)}
    m = make_model(nodes, {"x": [1, 6]}, {"y": None}, inits)
    g = fpga_sim.load_onnx(m)
    assert [n.op for n in g.nodes] == ["Gelu"] and g.nodes[0].outputs == ["y"]
    x = np.random.default_rng(0).normal(size=(1, 6)).astype(np.float32)
    np.testing.assert_allclose(run_float(g, x)["y"], ort_run(m, {"x": x})[0], rtol=1e-5, atol=1e-6)


def test_near_misses_are_left_alone():
    # Sigmoid read twice (also a graph output); Erf's 1 + erf scaled by 0.4 instead of 0.5
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["x", "s"], ["y"]),
             helper.make_node("Div", ["x", "sq2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
             helper.make_node("Add", ["e", "one"], ["a"]), helper.make_node("Mul", ["x", "a"], ["m"]),
             helper.make_node("Mul", ["m", "k"], ["z"])]
    inits = {"sq2": np.float32(1.4142135), "one": np.float32(1.0), "k": np.float32(0.4)}
    m = make_model(nodes, {"x": [1, 6]}, {"y": None, "s": None, "z": None}, inits)
    ops = [n.op for n in fpga_sim.load_onnx(m).nodes]
    assert "Silu" not in ops and "Gelu" not in ops and "Erf" in ops and "Sigmoid" in ops


class _TanhGelu(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.gelu(x, approximate="tanh") + x


def test_tanh_gelu_below_opset_20_fuses():
    import onnx

    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_TanhGelu(), torch.randn(1, 12), f, opset_version=17, dynamo=False, input_names=["x"])
    model = onnx.load_from_string(f.getvalue())
    assert "Tanh" in {n.op_type for n in model.graph.node}
    g = fpga_sim.load_onnx(model)
    assert [n.op for n in g.nodes] == ["Gelu", "Add"] and g.nodes[0].attrs.variant == "tanh"
    x = np.random.default_rng(2).normal(0, 2, (1, 12)).astype(np.float32)
    np.testing.assert_allclose(run_float(g, x)[g.outputs[0]], ort_run(model, {"x": x})[0], rtol=1e-5, atol=1e-6)
