"""HardSwish: zero/identity tails against the slow reference, accuracy against onnxruntime."""
from __future__ import annotations

from .lut_support import check_lut_accuracy, check_lut_fixed


def test_fixed_matches_reference_and_onnxruntime():
    op, node = check_lut_fixed("HardSwish", opset=14, seed=2)
    assert (node.attrs.range_log2, node.attrs.below, node.attrs.above) == (2, "zero", "identity")
    assert 0 < check_lut_accuracy("HardSwish", opset=14, scale=5.0, atol=0.01)
