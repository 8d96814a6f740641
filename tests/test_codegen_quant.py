"""Generated HLS of models that carry their own types (codegen/layers_quant.py): C-simulated
with g++ against Xilinx's ap_fixed.h, equal to the engine bit for bit (and so to qonnx)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import codegen
from fpga_sim import Hardware, load_onnx, quantize, simulate

from .helpers_qonnx import digits, qonnx_cnn, qonnx_mlp

pytestmark = [pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed"),
              pytest.mark.slow, pytest.mark.gxx]


def test_qonnx_models_csim_equal_the_engine(tmp_path):
    hw = Hardware(n_dsp=16)
    jobs, cases = [], []
    for make, image in ((qonnx_mlp, False), (qonnx_cnn, True)):
        x = digits(64, image)
        qg = quantize(load_onnx(make()))
        sim = simulate(qg, x, hardware=hw)
        out = codegen.write_hls(qg, tmp_path / make.__name__, hardware=hw, sim=sim, project_name=make.__name__)
        jobs.append((out, x))
        cases.append((qg, sim))
    for (qg, sim), got in zip(cases, codegen.csim_batch(jobs, tmp_path / "build", qgs=[c[0] for c in cases])):
        raw = got["global_out"]
        assert np.unique(raw).size > 10
        np.testing.assert_array_equal(raw, sim.outputs_raw["global_out"])
