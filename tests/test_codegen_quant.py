"""Generated HLS of models that carry their own types (codegen/layers_quant.py): C-simulated
with g++ against Xilinx's ap_fixed.h, equal to the engine bit for bit (and so to qonnx; QDQ:
the integer requantiser computes what the engine computes)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import codegen
from fpga_sim import Hardware, load_onnx, quantize, simulate

from .helpers_qdq import float_cnn, float_mlp, qdq_model
from .helpers_qonnx import digits, qonnx_cnn, qonnx_mlp

pytestmark = [pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed"),
              pytest.mark.slow, pytest.mark.gxx]


def test_qonnx_and_qdq_models_csim_equal_the_engine(tmp_path):
    hw = Hardware(n_dsp=16)
    models = [("qonnx_mlp", qonnx_mlp(), False, "global_out"), ("qonnx_cnn", qonnx_cnn(), True, "global_out"),
              ("qdq_cnn", qdq_model(float_cnn(), True, True, "QUInt8"), True, "y"),
              ("qdq_mlp", qdq_model(float_mlp(), False, True, "QInt8"), False, "y")]
    jobs, cases = [], []
    for name, model, image, out_name in models:
        x = digits(64, image) / (16.0 if name.startswith("qdq") else 1.0)
        qg = quantize(load_onnx(model))
        sim = simulate(qg, x, hardware=hw)
        out = codegen.write_hls(qg, tmp_path / name, hardware=hw, sim=sim, project_name=name)
        jobs.append((out, x))
        cases.append((qg, sim, out_name))
    for (qg, sim, out_name), got in zip(cases, codegen.csim_batch(jobs, tmp_path / "build", qgs=[c[0] for c in cases])):
        raw = got[out_name]
        assert np.unique(raw).size > 10
        np.testing.assert_array_equal(raw, sim.outputs_raw[out_name])
