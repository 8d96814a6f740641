"""Tanh: its table's default geometry and onnxruntime across opsets (the table arithmetic itself
is tested in test_ops_lut.py)."""
from __future__ import annotations

import numpy as np
import pytest

from .lut_support import check_default_table


@pytest.mark.parametrize("opset", [6, 13])
def test_default_table_and_float_against_onnxruntime(opset):
    node = check_default_table("Tanh", opset, sigma=2, range_log2=2)      # 1024 entries over [-4, 4)
    table = node.params["table"]
    np.testing.assert_allclose(table, -table[::-1], atol=1e-15)           # odd function, centred bins
