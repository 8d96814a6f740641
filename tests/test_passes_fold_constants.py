"""Constant folding: exporter shape chains and node-made weights become constants."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from fpga_sim.onnx_import import prepare
from tests.helpers_onnx import make_model


def _flatten_chain(opset: int):
    """torch's old Flatten export: Shape -> Gather(0) -> Unsqueeze -> Concat([n, -1]) -> Reshape."""
    if opset >= 13:
        unsq = [helper.make_node("Constant", [], ["ax"], value_ints=[0]),
                helper.make_node("Unsqueeze", ["n", "ax"], ["n1"])]
    else:
        unsq = [helper.make_node("Unsqueeze", ["n"], ["n1"], axes=[0])]
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Constant", [], ["i0"], value=helper.make_tensor("i0", TensorProto.INT64, [], [0])),
        helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
        *unsq,
        helper.make_node("Constant", [], ["m1"], value=helper.make_tensor("m1", TensorProto.INT64, [1], [-1])),
        helper.make_node("Concat", ["n1", "m1"], ["shape"], axis=0),
        helper.make_node("Cast", ["shape"], ["shape64"], to=TensorProto.INT64),
        helper.make_node("Reshape", ["x", "shape64"], ["y"]),
    ]
    return make_model(nodes, {"x": ["N", 2, 3, 4]}, {"y": ["N", 24]}, opset=opset)


def test_flatten_chain_folds_to_a_constant_shape_in_old_and_new_opsets():
    for opset in (9, 11, 13, 17):
        st, _, _ = prepare(_flatten_chain(opset))
        assert [n.op_type for n in st.nodes] == ["Reshape"], opset
        np.testing.assert_array_equal(st.consts[st.nodes[0].input[1]], [1, -1])
        assert st.shapes["y"] == (1, 24)


def test_constant_of_shape_weights_fold_to_full_arrays():
    nodes = [
        helper.make_node("ConstantOfShape", ["wshape"], ["w"],
                         value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.25])),
        helper.make_node("Transpose", ["w"], ["wt"], perm=[1, 0]),
        helper.make_node("MatMul", ["x", "wt"], ["y"]),
    ]
    m = make_model(nodes, {"x": [1, 3]}, {"y": None}, {"wshape": np.array([5, 3], np.int64)})
    st, _, _ = prepare(m)
    assert [n.op_type for n in st.nodes] == ["MatMul"]
    w = st.consts[st.nodes[0].input[1]]
    assert w.shape == (3, 5) and w.dtype == np.float32 and np.all(w == 0.25)


def test_unusual_constant_op_goes_through_the_reference_evaluator():
    # Range is not in the NumPy table: it must still fold, with onnx's reference result.
    nodes = [
        helper.make_node("Range", ["a", "b", "d"], ["r"]),
        helper.make_node("Cast", ["r"], ["rf"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["x", "rf"], ["y"]),
    ]
    inits = {"a": np.array(0.0, np.float32), "b": np.array(4.0, np.float32), "d": np.array(1.0, np.float32)}
    st, _, _ = prepare(make_model(nodes, {"x": [1, 4]}, {"y": None}, inits))
    assert [n.op_type for n in st.nodes] == ["Add"]
    np.testing.assert_array_equal(st.consts["rf"], [0, 1, 2, 3])


def test_graph_output_that_is_constant_is_not_folded_away():
    nodes = [helper.make_node("Shape", ["x"], ["s"])]
    m = make_model(nodes, {"x": [1, 2]}, {})
    m.graph.output.append(helper.make_tensor_value_info("s", TensorProto.INT64, [2]))
    st, _, _ = prepare(m)
    assert [n.op_type for n in st.nodes] == ["Shape"]
