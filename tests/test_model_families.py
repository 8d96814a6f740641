"""One small model of each post-2016 family, exported from PyTorch (tests/family_models.py):
each imports, runs at auto<24> within 2 % of onnxruntime (max error over max |output|), and is
costed layer by layer (cycles and energy), and its generated HLS is C-simulated bit-exactly
against the engine."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import fpga_sim
from fpga_sim.hardware import Hardware

torch = pytest.importorskip("torch")
from .family_models import FAMILIES, export  # noqa: E402  (needs torch)

BATCH = 4
# the ops that make each family what it is (after import, fusion and placement)
SIGNATURE = {
    "mobilenet_v2": {"Conv", "Relu", "Add"},
    "mobilenet_v3": {"HardSwish", "HardSigmoid", "Mul", "AveragePool"},
    "efficientnet": {"Silu", "Sigmoid", "Mul"},
    "yolo_head": {"Silu", "LeakyRelu", "Resize", "Concat"},
    "shufflenet_v2": {"Slice", "Concat", "Transpose", "Reshape"},
    "unet": {"ZeroInsert", "Resize", "Concat", "MaxPool"},
    "vit": {"LayerNormalization", "MatMul", "SoftmaxLut", "Gelu", "Concat", "Gather"},
    "mlp_mixer": {"LayerNormalization", "Transpose", "Gelu", "ReduceMean"},
}


def _run(name: str, precision: str = "auto<24>"):
    model = export(name)
    graph = fpga_sim.load_onnx(model)
    x = np.random.default_rng(len(name)).normal(size=(BATCH,) + FAMILIES[name][1][1:])
    qg = fpga_sim.quantize(graph, calibration=x, precision=precision)
    comp = fpga_sim.compare(model, qg, x, hardware=Hardware(n_dsp=16))
    return model, graph, qg, x, comp


@pytest.mark.parametrize("name", list(SIGNATURE))
def test_family_within_two_percent_and_costed(name):
    _, graph, qg, _, comp = _run(name)
    ops = {n.op for n in graph.nodes}
    assert SIGNATURE[name] <= ops, ops
    (out,) = graph.outputs
    ref, got = comp.reference[out], comp.sim.outputs[out]
    rel = np.abs(got - ref).max() / np.abs(ref).max()
    assert 0 < rel < 0.02, rel              # not bit-equal (fixed point), within 2 %
    layers = comp.sim.layers
    assert [r.name for r in layers] == [n.name for n in qg.nodes]
    for r in layers:                        # a Reshape is free (a layout change, no data moved)
        free = r.bound == "layout"
        assert r.on_accelerator and (r.cycles > 0) != free and (sum(r.energy_pj.values()) > 0) != free, r.name
    assert comp.sim.totals["cycles"] == sum(r.cycles for r in layers)
    assert comp.sim.totals["macs"] == sum(r.macs for r in layers) > 0


@pytest.mark.slow
@pytest.mark.gxx
@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")
def test_hls_of_every_family_is_bit_exact(tmp_path):
    """One g++ build for the eight projects (the MobileNetV2 block and the ViT's transformer block
    among them): every output value of the C-simulation equals the engine's."""
    import codegen

    hw = Hardware(n_dsp=16)
    jobs, cases = [], []
    for name in SIGNATURE:
        _, graph, qg, x, comp = _run(name)
        out = codegen.write_hls(qg, tmp_path / name, hardware=hw, sim=comp.sim, project_name=name)
        jobs.append((out, x))
        cases.append((name, graph, comp.sim))
    for (name, graph, sim), got in zip(cases, codegen.csim_batch(jobs, tmp_path / "build")):
        for t in graph.outputs:
            assert np.array_equal(got[t], sim.outputs_raw[t]), f"{name}: {t} differs in {np.sum(got[t] != sim.outputs_raw[t])}"
            assert np.unique(got[t]).size > 10
