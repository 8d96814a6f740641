"""Split lowered to Slices: every output against onnxruntime (sizes as attribute, input, equal
parts, opset 18's num_outputs); mismatched sizes refused in one sentence."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.ops import ONNX_LOWERING, get_op

from .ops_support import FakeContext, ort_run


def _model(shape, n_out, axis, split=None, opset=13, num_outputs=None):
    inputs, inits, attrs = ["x"], [], {"axis": axis}
    if split is not None and opset >= 13:
        inputs.append("sp")
        inits.append(numpy_helper.from_array(np.array(split, np.int64), "sp"))
    elif split is not None:
        attrs["split"] = split
    if num_outputs is not None:
        attrs["num_outputs"] = num_outputs
    node = helper.make_node("Split", inputs, [f"y{i}" for i in range(n_out)], name="n0", **attrs)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None) for i in range(n_out)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return onnx.shape_inference.infer_shapes(m)


@pytest.mark.parametrize("shape,n_out,axis,split,opset,num", [
    ((2, 6, 4), 3, 1, None, 13, None), ((2, 6, 5), 2, 2, [2, 3], 13, None), ((2, 6, 5), 3, -2, [1, 4, 1], 11, None),
    ((2, 7, 3), 3, 1, None, 18, 3),
])
def test_split_outputs_match_onnxruntime(shape, n_out, axis, split, opset, num):
    m = _model(shape, n_out, axis, split, opset, num)
    x = np.random.default_rng(n_out).normal(size=shape).astype(np.float32)
    nodes = ONNX_LOWERING["Split"].lower(m.graph.node[0], FakeContext(m))
    assert [n.op for n in nodes] == ["Slice"] * n_out
    for node, ref in zip(nodes, ort_run(m, {"x": x})):
        assert node.outputs == [f"y{nodes.index(node)}"]
        np.testing.assert_array_equal(get_op("Slice").run_float(node, [x])[0], ref)


@pytest.mark.parametrize("n_out,split,match", [
    (2, [2, 3], r"split sizes \[2, 3\] sum to 5 but the axis has 6 elements; positive sizes summing to 6"),
    (3, [3, 3], r"2 split sizes \[3, 3\] for 3 outputs; one size per output"),
    (4, None, r"the axis of size 6 does not split into 4 equal parts"),
])
def test_mismatched_split_sizes_are_one_sentence(n_out, split, match):
    # onnx's shape inference itself refuses mismatched sizes: those models are built without it
    m = _model((1, 6, 2), n_out, 1) if split is None else _raw_model((1, 6, 2), n_out, split)
    with pytest.raises(UnsupportedModelError, match=r"node 'n0' \(Split\): " + match):
        ONNX_LOWERING["Split"].lower(m.graph.node[0], FakeContext(m))


def _raw_model(shape, n_out, split):
    """A Split model with value_info for the input only (no shape inference: it would refuse)."""
    node = helper.make_node("Split", ["x", "sp"], [f"y{i}" for i in range(n_out)], name="n0", axis=1)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None) for i in range(n_out)],
                          [numpy_helper.from_array(np.array(split, np.int64), "sp")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def test_batch_axis_split_is_refused():
    m = _model((2, 6), 2, 0)
    with pytest.raises(UnsupportedModelError, match="axis 0 is the batch axis"):
        ONNX_LOWERING["Split"].lower(m.graph.node[0], FakeContext(m))
