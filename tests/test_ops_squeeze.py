"""Squeeze/Unsqueeze lower to a free Reshape (values are checked in test_ops_reshape.py); here
the opset 13 axes input against onnxruntime and the refusals."""
import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError

from .ops_support import lower, one_node_model, ort_run


@pytest.mark.parametrize("op_type,shape,axes", [("Squeeze", (2, 1, 4, 1), [-1]), ("Unsqueeze", (2, 4), [2, 1]),
                                                ("Unsqueeze", (2, 4, 3), [-1])])
def test_axes_input(op_type, shape, axes):
    m = one_node_model(op_type, [("x", shape)], consts={"a": np.array(axes, np.int64)})
    op, node, _ = lower(m)
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    ref = ort_run(m, {"x": x})[0]
    assert node.op == "Reshape" and node.attrs.shape == ref.shape[1:]
    np.testing.assert_array_equal(op.run_float(node, [x])[0], ref)


@pytest.mark.parametrize("op_type,axes,match", [("Squeeze", [2], "axis 2 has size 4; only axes of size 1"),
                                                ("Squeeze", [0], "axis 0 is the batch axis"),
                                                ("Unsqueeze", [0], "axis 0 is the batch axis"),
                                                ("Unsqueeze", [1, 1], "axis 1 is given twice"),
                                                ("Squeeze", [5], "axis 5 is out of range for a rank-4 tensor")])
def test_refusals(op_type, axes, match):
    with pytest.raises(UnsupportedModelError, match=rf"node 'n0' \({op_type}\): " + match):
        lower(one_node_model(op_type, [("x", (1, 1, 4, 1))], attrs={"axes": axes}, opset=11))
