"""compare: per-layer SQNR and errors against onnxruntime, agreement and accuracy."""
from __future__ import annotations

import math

import numpy as np
import pytest

from fpga_sim.compare import compare, reference_run, sqnr_db
from fpga_sim.onnx_import import load_onnx
from fpga_sim.quantize import quantize
from tests.helpers_onnx import ort_run
from tests.test_onnx_import import small_cnn


def test_sqnr_definition():
    ref = np.array([3.0, -4.0])
    assert sqnr_db(ref, ref) == math.inf
    assert sqnr_db(ref, ref + np.array([0.3, 0.4])) == pytest.approx(20.0)  # signal 25, noise 0.25
    assert sqnr_db(np.zeros(2), np.ones(2)) == -math.inf


def test_reference_exposes_intermediate_tensors():
    m = small_cnn()
    x = np.random.default_rng(0).random((2, 1, 6, 6))
    ref = reference_run(m, {"x": x}, ["relu1", "pool", "relu2", "logits", "not_a_tensor"])
    assert set(ref) == {"relu1", "pool", "relu2", "logits"}
    np.testing.assert_allclose(ref["logits"], ort_run(m, {"x": x})[0], rtol=1e-6)


def test_per_layer_errors_shrink_with_width_and_are_measured_against_onnxruntime():
    m = small_cnn()
    g = load_onnx(m)
    x = np.random.default_rng(1).random((16, 1, 6, 6))
    labels = np.arange(16) % 3
    narrow = compare(m, quantize(g, precision="ap_fixed<8,4>"), x, labels=labels)
    wide = compare(m, quantize(g, precision="ap_fixed<24,8>"), x, labels=labels)
    assert [e.tensor for e in wide.layers] == [n.outputs[0] for n in g.nodes]
    for a, b in zip(narrow.layers, wide.layers):
        assert b.sqnr_db > a.sqnr_db + 30, (a, b)
        assert b.max_abs_error < 1e-3
    # the reported error is the difference from onnxruntime's float, recomputed here
    ref = ort_run(m, {"x": x})[0]
    out = wide.sim.outputs["logits"]
    assert wide.outputs["logits"].max_abs_error == pytest.approx(float(np.abs(out - ref).max()))
    assert wide.top1_agreement == 1.0
    assert wide.accuracy_float == pytest.approx(float(np.mean(ref.argmax(1) == labels)))
    assert narrow.worst() is not None and narrow.worst().sqnr_db == min(e.sqnr_db for e in narrow.layers)
    d = wide.to_dict()
    assert len(d["layers"]) == len(g.nodes) and d["top1_agreement"] == 1.0
