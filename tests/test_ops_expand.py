"""Expand (numpy broadcasting to a constant shape): against onnxruntime and the Fraction oracle
(overflows counted per output element); refusals in one sentence."""
import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError

from .ops_support import check_movement, lower, one_node_model


@pytest.mark.parametrize("shape,target", [((2, 3, 1), [1, 3, 4]), ((2, 1, 4, 1), [2, 4, 3]), ((2, 1, 2), [3, 2])])
def test_expand_matches_onnxruntime_and_the_oracle(shape, target):
    check_movement(one_node_model("Expand", [("x", shape)], consts={"s": np.array(target, np.int64)}),
                   np.random.default_rng(len(target)))


@pytest.mark.parametrize("target,match", [([1, 1, 3, 4], "more axes than the rank-3 input"), ([4, 3, 4], "sets the batch axis to 4"),
                                          ([1, 2, 4], "does not broadcast")])
def test_refusals(target, match):
    with pytest.raises(UnsupportedModelError, match=r"node 'n0' \(Expand\): shape .*" + match):
        lower(one_node_model("Expand", [("x", (1, 3, 1))], consts={"s": np.array(target, np.int64)}))
