"""Gather of an activation by constant indices (scalar, vector, matrix, negative) on any
per-sample axis: against onnxruntime and the Fraction oracle; refusals in one sentence."""
import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError

from .ops_support import check_movement, lower, one_node_model


@pytest.mark.parametrize("shape,axis,idx", [
    ((2, 5, 4), 1, np.array(0)),                       # ViT's class token x[:, 0]
    ((2, 5, 4), 2, np.array([3, -1, 0, 0])),
    ((2, 3, 4, 5), -1, np.array([[1, 2], [4, 0]])),
    ((2, 6, 3), 1, np.array([5, 4, 3, 2, 1, 0])),
])
def test_gather_matches_onnxruntime_and_the_oracle(shape, axis, idx):
    check_movement(one_node_model("Gather", [("x", shape)], attrs={"axis": axis}, consts={"i": idx.astype(np.int64)}),
                   np.random.default_rng(idx.size))


def test_refusals():
    with pytest.raises(UnsupportedModelError, match=r"indices \[0, 5\] are empty or out of range for an axis of 5"):
        lower(one_node_model("Gather", [("x", (1, 5))], attrs={"axis": 1}, consts={"i": np.array([0, 5], np.int64)}))
    with pytest.raises(UnsupportedModelError, match="axis 0 is the batch axis"):
        lower(one_node_model("Gather", [("x", (1, 5))], consts={"i": np.array([0], np.int64)}))
    with pytest.raises(UnsupportedModelError, match="the indices are not a constant"):
        lower(one_node_model("Gather", [("x", (1, 5)), ("i", (2,))], attrs={"axis": 1}))
