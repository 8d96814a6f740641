"""DepthToSpace (DCR, CRD) and SpaceToDepth against onnxruntime and the Fraction oracle;
refusals in one sentence."""
import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError

from .ops_support import check_movement, lower, one_node_model


@pytest.mark.parametrize("op_type,shape,attrs", [("DepthToSpace", (2, 8, 3, 2), {"blocksize": 2}),
                                                 ("DepthToSpace", (2, 18, 2, 3), {"blocksize": 3, "mode": "CRD"}),
                                                 ("DepthToSpace", (2, 4, 2, 2), {"blocksize": 2, "mode": "DCR"}),
                                                 ("SpaceToDepth", (2, 3, 4, 6), {"blocksize": 2})])
def test_matches_onnxruntime_and_the_oracle(op_type, shape, attrs):
    check_movement(one_node_model(op_type, [("x", shape)], attrs=attrs), np.random.default_rng(shape[1]))


@pytest.mark.parametrize("op_type,attrs,match", [
    ("DepthToSpace", {"blocksize": 2, "mode": "XYZ"}, "mode 'XYZ' is not supported; 'DCR' and 'CRD' are"),
    ("DepthToSpace", {"blocksize": 3}, "8 channels are not a multiple of blocksize\\^2 = 9"),
    ("SpaceToDepth", {"blocksize": 3}, "height 4 and width 4 are not multiples of blocksize 3"),
    ("DepthToSpace", {"blocksize": 0}, "blocksize 0 is missing or below 1"),
])
def test_refusals(op_type, attrs, match):
    m = one_node_model(op_type, [("x", (1, 8, 4, 4))], attrs=attrs) if attrs.get("mode") != "XYZ" else None
    if m is None:   # onnx's shape inference refuses the mode itself: build the node without it
        from onnx import TensorProto, helper
        node = helper.make_node(op_type, ["x"], ["y0"], name="n0", **attrs)
        g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 8, 4, 4))],
                              [helper.make_tensor_value_info("y0", TensorProto.FLOAT, None)])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(UnsupportedModelError, match=rf"node 'n0' \({op_type}\): " + match):
        lower(m)
