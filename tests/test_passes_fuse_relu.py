"""ReLU fusion into Conv/Dense, and the pass driver that repeats passes until nothing changes."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from fpga_sim.onnx_import import load_onnx
from fpga_sim.passes import NodePass, run_passes
from fpga_sim.simulation import run_float
from tests.helpers_onnx import make_model, ort_run, rng_weights


def _model(tail: list, outputs: dict) -> object:
    inits = {"w": rng_weights(1, 3, 2, 3, 3), "b": np.full(3, 0.1, np.float32),
             "lo": np.array(0.0, np.float32), "hi": np.array(0.5, np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]), *tail]
    return make_model(nodes, {"x": ["N", 2, 5, 5]}, outputs, inits)


def test_relu_fuses_and_keeps_its_name_and_values():
    m = _model([helper.make_node("Relu", ["c"], ["r"]), helper.make_node("Sigmoid", ["r"], ["y"])], {"y": None})
    fused, plain = load_onnx(m), load_onnx(m, fuse=False)
    assert [(n.op, n.activation, n.outputs) for n in fused.nodes] == [("Conv", "relu", ["r"]), ("Sigmoid", None, ["y"])]
    assert [n.op for n in plain.nodes] == ["Conv", "Relu", "Sigmoid"]
    x = np.random.default_rng(0).normal(size=(3, 2, 5, 5))
    np.testing.assert_array_equal(run_float(fused, x)["y"], run_float(plain, x)["y"])
    # and both are onnxruntime's answer on the original model, not only each other's
    np.testing.assert_allclose(run_float(fused, x)["y"], ort_run(m, {"x": x})[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tail,outputs", [
    # the conv output has another reader
    ([helper.make_node("Relu", ["c"], ["y"]), helper.make_node("Sigmoid", ["c"], ["z"])], {"y": None, "z": None}),
    # the conv output is a graph output itself
    ([helper.make_node("Relu", ["c"], ["y"])], {"y": None, "c": None}),
    # Clip(0, 0.5) is lowered by the same op as Relu but is not max(x, 0)
    ([helper.make_node("Clip", ["c", "lo", "hi"], ["y"])], {"y": None}),
])
def test_relu_is_not_fused_when_it_would_change_something(tail, outputs):
    g = load_onnx(_model(tail, outputs))
    assert g.nodes[0].op == "Conv" and g.nodes[0].activation is None and g.nodes[0].outputs == ["c"]


class _CountDown(NodePass):
    """A toy pass that changes one node per application until a counter runs out."""

    name = "count_down"

    def __init__(self, n: int, name: str = "count_down") -> None:
        self.left = n
        self.name = name

    def match(self, ir, node) -> bool:
        return self.left > 0 and node == "a"

    def rewrite(self, ir, node) -> None:
        self.left -= 1


class _IR:
    nodes = ["a", "b"]


def test_driver_repeats_until_no_pass_changes_anything():
    counts = run_passes(_IR(), [_CountDown(3, "three"), _CountDown(1, "one")])
    assert counts == {"three": 3, "one": 1}  # rounds in which each pass changed something
    p = _CountDown(4)
    assert run_passes(_IR(), [p]) == {"count_down": 4} and p.left == 0
    with pytest.raises(RuntimeError, match="did not settle"):
        run_passes(_IR(), [_CountDown(10)], max_rounds=5)
