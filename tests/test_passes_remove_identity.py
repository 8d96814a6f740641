"""Dropout and Identity removal keeps graph output names."""
from __future__ import annotations

from onnx import helper

from fpga_sim.onnx_import import prepare
from tests.helpers_onnx import make_model


def test_dropout_and_identity_vanish_and_readers_are_rewired():
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Dropout", ["a"], ["b", "mask"], ratio=0.5),
        helper.make_node("Identity", ["b"], ["c"]),
        helper.make_node("Sigmoid", ["c"], ["y"]),
    ]
    st, _, _ = prepare(make_model(nodes, {"x": [1, 4]}, {"y": None}, opset=10))
    assert [n.op_type for n in st.nodes] == ["Relu", "Sigmoid"]
    assert list(st.nodes[1].input) == ["a"]


def test_identity_on_the_graph_output_renames_its_producer():
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Identity", ["a"], ["y"])]
    st, _, _ = prepare(make_model(nodes, {"x": [1, 4]}, {"y": None}))
    assert [(n.op_type, list(n.output)) for n in st.nodes] == [("Relu", ["y"])]


def test_dropout_whose_mask_is_read_stays():
    nodes = [helper.make_node("Dropout", ["x"], ["a", "mask"]), helper.make_node("Relu", ["a"], ["y"])]
    m = make_model(nodes, {"x": [1, 4]}, {"y": None}, opset=11)
    m.graph.output.append(helper.make_tensor_value_info("mask", 9, [1, 4]))
    st, _, _ = prepare(m)
    assert [n.op_type for n in st.nodes] == ["Dropout", "Relu"]


def test_opset13_dropout_with_training_mode_false_is_removed_and_true_stays():
    import numpy as np

    for training, expect in ((False, ["Relu"]), (True, ["Dropout", "Relu"])):
        nodes = [helper.make_node("Dropout", ["x", "r", "t"], ["a"]), helper.make_node("Relu", ["a"], ["y"])]
        inits = {"r": np.array(0.5, np.float32), "t": np.array(training)}
        st, _, _ = prepare(make_model(nodes, {"x": [1, 4]}, {"y": None}, inits, opset=13))
        assert [n.op_type for n in st.nodes] == expect
