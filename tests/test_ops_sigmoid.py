"""Sigmoid: its float function, its table's default geometry, and onnxruntime across opsets
(the table arithmetic itself is tested in test_ops_lut.py)."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.ops.sigmoid import sigmoid

from .ops_support import lower, one_node_model, ort_run


def test_sigmoid_is_stable_and_exact_in_float64():
    x = np.array([-800.0, -40.0, -1.0, 0.0, 1e-9, 3.0, 800.0])
    with np.errstate(over="ignore"):
        naive = 1.0 / (1.0 + np.exp(-x))
    np.testing.assert_allclose(sigmoid(x), naive, rtol=1e-15, atol=1e-300)
    assert not np.isnan(sigmoid(x)).any()


@pytest.mark.parametrize("opset", [6, 13])
def test_default_table_and_float_against_onnxruntime(opset):
    x = np.random.default_rng(opset).normal(0, 5, (2, 3, 7)).astype(np.float32)
    m = one_node_model("Sigmoid", [("x", x.shape)], opset=opset)
    op, node, _ = lower(m)
    assert (node.attrs.table_bits, node.attrs.range_log2) == (10, 3)      # 1024 entries over [-8, 8)
    np.testing.assert_allclose(op.run_float(node, [x])[0], ort_run(m, {"x": x})[0], rtol=1e-6, atol=1e-7)
