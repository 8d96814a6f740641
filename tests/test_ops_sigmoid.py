"""Sigmoid: its float function, its table's default geometry, and onnxruntime across opsets
(the table arithmetic itself is tested in test_ops_lut.py)."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.ops.sigmoid import sigmoid

from .lut_support import check_default_table


def test_sigmoid_is_stable_and_exact_in_float64():
    x = np.array([-800.0, -40.0, -1.0, 0.0, 1e-9, 3.0, 800.0])
    with np.errstate(over="ignore"):
        naive = 1.0 / (1.0 + np.exp(-x))
    np.testing.assert_allclose(sigmoid(x), naive, rtol=1e-15, atol=1e-300)
    assert not np.isnan(sigmoid(x)).any()


@pytest.mark.parametrize("opset", [6, 13])
def test_default_table_and_float_against_onnxruntime(opset):
    check_default_table("Sigmoid", opset, sigma=5, range_log2=3)      # 1024 entries over [-8, 8)
