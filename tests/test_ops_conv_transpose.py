"""ConvTranspose as zero insertion + Conv: float against onnxruntime over strides, pads,
dilations, output_padding, output_shape, auto_pad and groups; the zero insertion's integers
against the Fraction oracle; the Conv's integers are the MAC engine's (tests/test_ops_conv.py)."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed
from fpga_sim.ops import ONNX_LOWERING, get_op

from .ops_support import FakeContext, check_element_cost, lower, ort_run, qgraph_for, random_raw, random_type, ref_cast


def model(cin, cout_g, k, hw=(5, 4), group=1, bias=True, **attrs):
    rng = np.random.default_rng(cin * 7 + k[0])
    w = rng.normal(size=(cin, cout_g) + tuple(k)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w")]
    names = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rng.normal(size=cout_g * group).astype(np.float32), "b"))
        names.append("b")
    node = helper.make_node("ConvTranspose", names, ["y"], name="n0", group=group, **attrs)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (2, cin) + hw)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return onnx.shape_inference.infer_shapes(m)


CASES = [
    dict(cin=3, cout_g=4, k=(3, 3), strides=[2, 2]),
    dict(cin=3, cout_g=2, k=(3, 2), strides=[2, 3], pads=[1, 0, 1, 1], output_padding=[1, 2]),
    dict(cin=4, cout_g=3, k=(3, 3), strides=[1, 2], dilations=[2, 1], pads=[2, 1, 0, 1]),
    dict(cin=4, cout_g=1, k=(4, 4), group=4, strides=[2, 2], pads=[1, 1, 1, 1], bias=False),   # depthwise upsampling
    dict(cin=2, cout_g=3, k=(3, 3), group=2, strides=[2, 2], output_shape=[10, 9]),
    dict(cin=2, cout_g=2, k=(3, 3), strides=[2, 2], auto_pad="SAME_UPPER"),
    dict(cin=2, cout_g=2, k=(2, 3), strides=[3, 2], auto_pad="SAME_LOWER"),
    dict(cin=2, cout_g=2, k=(3, 3), pads=[3, 0, 0, 2]),                                     # cropping pads
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_float_matches_onnxruntime(case):
    m = model(**CASES[case])
    x = np.random.default_rng(case).normal(size=tuple(d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim))
    x = x.astype(np.float32)
    zi, conv = ONNX_LOWERING["ConvTranspose"].lower(m.graph.node[0], FakeContext(m))
    assert (zi.op, conv.op, conv.outputs) == ("ZeroInsert", "Conv", ["y"])
    z = get_op("ZeroInsert").run_float(zi, [x])[0]
    y = get_op("Conv").run_float(conv, [z])[0]
    ref = ort_run(m, {"x": x})[0]
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_zero_insertion_integers_and_cost():
    m = model(**CASES[1])
    zi, _ = ONNX_LOWERING["ConvTranspose"].lower(m.graph.node[0], FakeContext(m))
    op = get_op("ZeroInsert")
    rng = np.random.default_rng(3)
    shape = zi.attrs.in_shapes[0]
    for _ in range(3):
        t_in, t_out = random_type(rng), random_type(rng)
        qg = qgraph_for(op, zi, [shape], [t_in], t_out)
        x = random_raw(rng, t_in, (2,) + shape)
        (z,), n = op.run_fixed(zi, [x], qg)
        zf = op.run_float(zi, [np.arange(1, x.size + 1, dtype=np.float64).reshape(x.shape)])[0]  # which input lands where
        flat = x.reshape(-1)
        exp = [ref_cast(int(flat[int(k) - 1]), t_in, t_out) if k else (0, False) for k in zf.reshape(-1)]
        np.testing.assert_array_equal(z.reshape(-1), [r for r, _ in exp])
        assert n == sum(o for _, o in exp)
    t = Fixed(8, 3)
    rep = check_element_cost(op, zi, qgraph_for(op, zi, [shape], [t], t), 1)
    assert "multiplies 6x more often than a zero-skipping design" in rep.notes      # strides 2x3


def test_refusals():
    m = model(cin=2, cout_g=2, k=(3, 3), pads=[3, 3, 3, 3])
    with pytest.raises(UnsupportedModelError, match=r"n0.*ConvTranspose.*leave a 3x2 zero-inserted input, smaller than the 3x3 kernel"):
        ONNX_LOWERING["ConvTranspose"].lower(m.graph.node[0], FakeContext(m))
    m = model(cin=3, cout_g=2, k=(3, 3), group=2)
    with pytest.raises(UnsupportedModelError, match=r"do not match 3 input channels in 2 groups"):
        ONNX_LOWERING["ConvTranspose"].lower(m.graph.node[0], FakeContext(m))
