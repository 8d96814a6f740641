"""HardSigmoid: table geometry from alpha/beta, tails, slow reference and onnxruntime."""
from __future__ import annotations

import pytest

from fpga_sim.ops.hard_sigmoid import ramp_range_log2

from .lut_support import check_lut_accuracy, check_lut_fixed


def test_range_holds_the_ramp():
    assert ramp_range_log2(0.2, 0.5) == 2           # corners at -2.5 and 2.5
    assert ramp_range_log2(1 / 6, 0.5) == 2         # PyTorch's Hardsigmoid: corners at -3, 3
    assert ramp_range_log2(0.05, 0.5) == 4          # corners at -10, 10


@pytest.mark.parametrize("attrs", [None, {"alpha": 1 / 6, "beta": 0.5}, {"alpha": 0.5, "beta": 0.3}])
def test_fixed_matches_reference_and_onnxruntime(attrs):
    op, node = check_lut_fixed("HardSigmoid", attrs, seed=len(attrs or ()))
    assert node.attrs.below == node.attrs.above == "clamp"
    assert check_lut_accuracy("HardSigmoid", attrs, atol=0.004) > 0      # error visible, not zero
