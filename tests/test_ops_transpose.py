"""Transpose by any permutation: float and integer kernels against onnxruntime and the Fraction
oracle, size-1 moves lowered to a free Reshape, refusals in one sentence."""
import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError

from .ops_support import check_movement, lower, one_node_model

CASES = [((2, 6, 4, 5), [0, 2, 3, 1]), ((2, 6, 4, 5), [0, 3, 1, 2]), ((3, 4, 2, 3, 5), [0, 1, 3, 2, 4]),
         ((2, 7, 3), [0, 2, 1]), ((2, 2, 3, 4, 5), [0, 4, 2, 3, 1])]


@pytest.mark.parametrize("shape,perm", CASES)
def test_transpose_matches_onnxruntime_and_the_oracle(shape, perm):
    op, node = check_movement(one_node_model("Transpose", [("x", shape)], attrs={"perm": perm}),
                              np.random.default_rng(len(shape) + perm[1]))
    assert node.op == "Transpose" and node.attrs.perm == tuple(p - 1 for p in perm[1:])


def test_channel_shuffle_as_shufflenet_writes_it():
    """Reshape (N, g, C/g, H, W) -> Transpose [0, 2, 1, 3, 4]: the perm moves data."""
    check_movement(one_node_model("Transpose", [("x", (2, 2, 3, 4, 4))], attrs={"perm": [0, 2, 1, 3, 4]}),
                   np.random.default_rng(7))


def test_moving_only_size_one_axes_is_a_free_reshape():
    op, node, _ = lower(one_node_model("Transpose", [("x", (2, 5, 1, 1))], attrs={"perm": [0, 2, 3, 1]}))
    assert node.op == "Reshape" and node.attrs.shape == (1, 1, 5)


@pytest.mark.parametrize("perm,match", [
    ([0, 1, 1], r"perm \[0, 1, 1\] is not a permutation of the 3 axes 0..2"),
    ([0, 1], r"perm \[0, 1\] is not a permutation of the 3 axes"),
    ([1, 0, 2], r"perm \[1, 0, 2\] moves the batch axis 0"),
])
def test_bad_perms_are_one_sentence(perm, match):
    with pytest.raises(UnsupportedModelError, match=r"node 'n0' \(Transpose\): " + match):
        lower(one_node_model("Transpose", [("x", (1, 3, 4))], attrs={"perm": perm}))
