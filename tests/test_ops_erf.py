"""Erf: clamped table against the slow reference and onnxruntime."""
from __future__ import annotations

from .lut_support import check_lut_accuracy, check_lut_fixed


def test_fixed_matches_reference_and_onnxruntime():
    op, node = check_lut_fixed("Erf", seed=3)
    assert (node.attrs.range_log2, node.attrs.below, node.attrs.above) == (2, "clamp", "clamp")
    assert 0 < check_lut_accuracy("Erf", scale=2.0, atol=0.006)
