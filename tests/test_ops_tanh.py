"""Tanh: its table's default geometry and onnxruntime across opsets (the table arithmetic itself
is tested in test_ops_lut.py)."""
from __future__ import annotations

import numpy as np
import pytest

from .ops_support import lower, one_node_model, ort_run


@pytest.mark.parametrize("opset", [6, 13])
def test_default_table_and_float_against_onnxruntime(opset):
    x = np.random.default_rng(opset).normal(0, 2, (2, 3, 7)).astype(np.float32)
    m = one_node_model("Tanh", [("x", x.shape)], opset=opset)
    op, node, _ = lower(m)
    assert (node.attrs.table_bits, node.attrs.range_log2) == (10, 2)      # 1024 entries over [-4, 4)
    np.testing.assert_allclose(op.run_float(node, [x])[0], ort_run(m, {"x": x})[0], rtol=1e-6, atol=1e-7)
    table = node.params["table"]
    np.testing.assert_allclose(table, -table[::-1], atol=1e-15)           # odd function, centred bins
