"""Transpose by any permutation: float and integer kernels against onnxruntime and the Fraction
oracle, size-1 moves lowered to a free Reshape, perms that move the batch at batch 1, refusals
in one sentence."""
import numpy as np
import pytest

import fpga_sim
from fpga_sim.errors import UnsupportedModelError
from fpga_sim.simulation import run_float

from .ops_support import check_movement, lower, one_node_model, ort_run

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
    ([1, 0, 2], r"perm \[1, 0, 2\] brings axis 1 \(size 3\) to the front, where fpga-sim keeps the batch axis; "
                r"perms that keep axis 0 first, or bring an axis of size 1 there \(exact at batch 1\), are accepted"),
])
def test_bad_perms_are_one_sentence(perm, match):
    with pytest.raises(UnsupportedModelError, match=r"node 'n0' \(Transpose\): " + match):
        lower(one_node_model("Transpose", [("x", (1, 3, 4))], attrs={"perm": perm}))


# (per-sample shape, perm): the axis brought to the front has size 1, the batch goes behind it
BATCH_MOVES = [((1, 4, 5), [1, 3, 0, 2]), ((2, 1, 3, 1), [4, 3, 0, 2, 1]), ((2, 3, 1), [3, 2, 0, 1])]


@pytest.mark.parametrize("shape,perm", BATCH_MOVES)
def test_perms_that_move_a_batch_of_one_match_onnxruntime(shape, perm):
    """The model's batch is the constant 1: the batch and the size-1 axis that takes its place
    are interchangeable, so the node is a per-sample transpose (float and integer kernels)."""
    op, node = check_movement(one_node_model("Transpose", [("x", (1,) + shape)], attrs={"perm": perm}),
                              np.random.default_rng(len(shape)))
    assert node.op == "Transpose" and node.attrs.onnx_perm == tuple(perm) and node.attrs.batch_one


def test_a_batch_of_one_swapped_with_a_size_one_axis_only_is_a_free_reshape():
    op, node, _ = lower(one_node_model("Transpose", [("x", (1, 1, 6))], attrs={"perm": [1, 0, 2]}))
    assert node.op == "Reshape" and node.attrs.shape == (1, 6)


def _batch_moved(batch):
    m = one_node_model("Transpose", [("x", (batch, 1, 4, 5))], attrs={"perm": [1, 3, 0, 2]})
    g = fpga_sim.load_onnx(m)
    return m, g, fpga_sim.quantize(g, precision="ap_fixed<16,4>")


def test_a_model_whose_batch_is_one_runs_each_sample_alone():
    """Several samples through a batch-1 model: each equals onnxruntime's run of it alone."""
    m, g, qg = _batch_moved(1)
    x = np.random.default_rng(2).normal(size=(3, 1, 4, 5)).astype(np.float32)
    alone = np.concatenate([ort_run(m, {"x": x[i:i + 1]})[0] for i in range(3)])
    np.testing.assert_array_equal(run_float(g, x)["y0"], alone)
    sim = fpga_sim.simulate(qg, x)
    np.testing.assert_array_equal(sim.outputs["y0"], qg.tensor_types["x"].to_float(qg.tensor_types["x"].quantize(alone)))


def test_a_symbolic_batch_moved_runs_at_batch_one_and_is_refused_above():
    m, g, qg = _batch_moved("N")
    x = np.random.default_rng(3).normal(size=(1, 1, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(run_float(g, x)["y0"], ort_run(m, {"x": x})[0])
    t = qg.tensor_types["x"]
    np.testing.assert_array_equal(fpga_sim.simulate(qg, x).outputs["y0"], t.to_float(t.quantize(ort_run(m, {"x": x})[0])))
    with pytest.raises(UnsupportedModelError, match=r"^node 'n0' \(Transpose\): perm \[1, 3, 0, 2\] moves the batch axis 0 "
                       r"to axis 2, which is a per-sample transpose only for a batch of 1, but the batch is 4; a batch "
                       r"of 1, or a model whose batch dimension is the constant 1 \(each sample then runs alone\), is accepted$"):
        fpga_sim.simulate(qg, np.repeat(x, 4, axis=0))
