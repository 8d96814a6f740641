"""SiLU / Swish: tails, alpha, the slow reference and onnxruntime (opset 24 Swish)."""
from __future__ import annotations

import pytest

from .lut_support import check_lut_accuracy, check_lut_fixed


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_fixed_matches_reference_and_onnxruntime(alpha):
    op, node = check_lut_fixed("Swish", {"alpha": alpha}, opset=24, seed=5)
    assert node.op == "Silu" and node.attrs.coeffs == (alpha,)
    assert (node.attrs.below, node.attrs.above) == ("zero", "identity")
    assert node.attrs.range_log2 == (3 if alpha == 1.0 else 4)
    assert 0 < check_lut_accuracy("Swish", {"alpha": alpha}, opset=24, scale=6.0, atol=0.02)
