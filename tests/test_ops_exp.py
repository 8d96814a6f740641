"""Exp: table over [-8, 8) against the slow reference; relative accuracy where softmax uses it."""
from __future__ import annotations

from fpga_sim.fixed import Fixed

from .lut_support import check_lut_accuracy, check_lut_fixed


def test_fixed_matches_reference_and_onnxruntime():
    op, node = check_lut_fixed("Exp", seed=4)
    assert node.attrs.range_log2 == 3
    # bin 1/64: relative error e^(1/128) - 1 = 0.79 % at most, plus the entries' rounding
    assert 0 < check_lut_accuracy("Exp", scale=1.0, atol=0.0081, t_out=Fixed(24, 8), relative=True)
