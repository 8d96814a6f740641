"""The op contract: registration checks and the class attributes that replace the old lists."""
import pytest

from fpga_sim.ops import ONNX_LOWERING, REGISTRY, load_all
from fpga_sim.ops.base import Op, op


def test_an_onnx_op_type_claimed_twice_is_refused_before_anything_registers():
    load_all()
    before_reg, before_low = dict(REGISTRY), dict(ONNX_LOWERING)
    with pytest.raises(RuntimeError, match=r"'Relu' is claimed by both fpga_sim\.ops\.relu and"):
        @op("SecondRelu")
        class SecondRelu(Op):
            onnx_ops = ("NotAnOnnxOp", "Relu")
    assert REGISTRY == before_reg and ONNX_LOWERING == before_low


def test_every_onnx_type_has_exactly_one_module_and_the_flags_are_where_the_lists_were():
    load_all()
    claims = {}
    for name, inst in REGISTRY.items():
        for t in type(inst).onnx_ops:
            claims.setdefault(t, []).append(name)
    assert all(len(v) == 1 for v in claims.values()), claims
    keeps = {n for n, i in REGISTRY.items() if i.keeps_input_type}
    assert {"MaxPool", "Reshape", "Pad", "Relu", "Concat"} <= keeps
    assert not {"Conv", "Dense", "Add", "AveragePool"} & keeps
    assert {n for n, i in REGISTRY.items() if i.relu_fusable} >= {"Conv", "Dense"}


def test_ops_without_a_float32_variant_say_so_with_none():
    from fpga_sim.hardware import Hardware

    load_all()
    assert REGISTRY["Relu"].cost_float32(None, None, Hardware.lecture()) is None
