"""Slice with steps (negative too), negative and clamped bounds, any per-sample axes, opset 9
attributes and 10+ inputs: against onnxruntime and the Fraction oracle; refusals in one sentence."""
import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError

from .ops_support import check_movement, lower, one_node_model

I64MAX = np.iinfo(np.int64).max
CASES = [  # shape, starts, ends, axes, steps
    ((2, 6, 5, 4), [1], [5], [1], None),
    ((2, 6, 5, 4), [0, 1], [I64MAX, -1], [2, 3], [2, 1]),
    ((2, 6, 5, 4), [-1], [-I64MAX], [-1], [-1]),             # reverse the last axis
    ((2, 6, 5, 4), [4, 0], [0, 100], [1, 2], [-2, 3]),
    ((2, 6, 5, 4), [0, -3], [I64MAX, -1], [0, 1], [1, 1]),  # the whole batch axis is fine
    ((2, 8, 3), [-100], [100], [2], [1]),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_slice_matches_onnxruntime_and_the_oracle(case):
    shape, s, e, ax, st = CASES[case]
    consts = {"s": np.array(s, np.int64), "e": np.array(e, np.int64), "a": np.array(ax, np.int64)}
    if st is not None:
        consts["t"] = np.array(st, np.int64)
    check_movement(one_node_model("Slice", [("x", shape)], consts=consts), np.random.default_rng(case))


def test_opset_9_attributes():
    check_movement(one_node_model("Slice", [("x", (2, 6, 5))], attrs={"starts": [1, -2], "ends": [4, 5], "axes": [1, 2]},
                                  opset=9), np.random.default_rng(9))


@pytest.mark.parametrize("s,e,ax,st,match", [
    ([0], [3], [1], [0], "step 0 on axis 1; non-zero steps are accepted"),
    ([0], [1], [0], [1], r"the slice 0:1:1 cuts the batch axis 0"),
    ([3], [1], [1], [1], r"the slice 3:1:1 of axis 1 \(size 4\) is empty"),
    ([0, 1], [2, 3], [1, -2], [1, 1], "axis -2 is given twice"),
    ([0, 0], [2], [1], [1], "starts, ends, axes and steps have lengths 2, 1, 1, 1"),
])
def test_bad_slices_are_one_sentence(s, e, ax, st, match):
    consts = {"s": np.array(s, np.int64), "e": np.array(e, np.int64), "a": np.array(ax, np.int64), "t": np.array(st, np.int64)}
    with pytest.raises(UnsupportedModelError, match=r"node 'n0' \(Slice\): " + match):
        lower(one_node_model("Slice", [("x", (1, 4, 3))], consts=consts))
