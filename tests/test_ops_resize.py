"""Resize / Upsample, nearest and linear, scales or sizes, every coordinate and nearest mode:
float against onnxruntime, nearest's integers against the Fraction oracle through onnxruntime,
linear's fixed-point interpolation against a slow pure-Python model of the documented rounding."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed
from fpga_sim.ops.resize import LINEAR_WEIGHT_FRAC

from .ops_support import check_element_cost, check_movement, lower, one_node_model, ort_run, qgraph_for, random_raw, random_type, ref_from_value

COORDS = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric")
NEAREST = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
SCALES = ([1, 1, 2, 2], [1, 1, 0.5, 1.5], [1, 1, 1.7, 0.6])


def resize_model(shape, mode, coord="half_pixel", nearest="round_prefer_floor", scales=None, sizes=None, opset=13):
    consts = {"roi": np.zeros(0, np.float32), "sc": np.array(scales if scales is not None else [], np.float32)}
    names = ["x", "roi", "sc"]
    if sizes is not None:
        consts["sz"] = np.array(sizes, np.int64)
        names.append("sz")
    attrs = {"mode": mode, "coordinate_transformation_mode": coord, "nearest_mode": nearest}
    return one_node_model("Resize", [("x", shape)], consts=consts, input_names=names, attrs=attrs, opset=opset)


@pytest.mark.parametrize("coord", COORDS)
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_float_matches_onnxruntime(mode, coord):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 5, 4)).astype(np.float32)
    for nearest in NEAREST if mode == "nearest" else NEAREST[:1]:
        for scales, sizes in [(s, None) for s in SCALES] + [(None, [2, 3, 7, 3])]:
            m = resize_model(x.shape, mode, coord, nearest, scales, sizes)
            ref = ort_run(m, {"x": x})[0]
            op, node, _ = lower(m)
            y = op.run_float(node, [x])[0]
            assert y.shape == ref.shape
            if mode == "nearest":
                np.testing.assert_array_equal(y, ref)
            else:
                np.testing.assert_allclose(y, ref, rtol=0, atol=2e-6)


@pytest.mark.parametrize("op_type,opset", [("Upsample", 7), ("Upsample", 9), ("Resize", 10)])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_old_opsets_are_asymmetric(op_type, opset, mode):
    x = np.random.default_rng(1).normal(size=(1, 2, 3, 4)).astype(np.float32)
    scales = np.array([1, 1, 2, 1.5], np.float32)
    if opset == 7:
        m = one_node_model(op_type, [("x", x.shape)], attrs={"mode": mode, "scales": scales.tolist()}, opset=opset)
    else:
        m = one_node_model(op_type, [("x", x.shape)], consts={"s": scales}, attrs={"mode": mode}, opset=opset)
    op, node, _ = lower(m)
    np.testing.assert_allclose(op.run_float(node, [x])[0], ort_run(m, {"x": x})[0], rtol=0, atol=2e-6)


@pytest.mark.parametrize("case", range(3))
def test_nearest_is_an_index_map_checked_with_the_oracle(case):
    m = resize_model((2, 3, 4, 5), "nearest", COORDS[case], NEAREST[case], SCALES[case])
    check_movement(m, np.random.default_rng(case))


def _coordinate(coord: str, x: int, scale: float, n_in: int, n_out: int) -> np.float32:
    f = np.float32
    s = f(scale)
    if coord == "asymmetric":
        return f(x) / s
    if coord == "align_corners":
        return f(0) if n_out == 1 else f(x) * f(n_in - 1) / f(n_out - 1)
    if coord == "pytorch_half_pixel" and n_out == 1:
        return f(0)
    return (f(x) + f(0.5)) / s - f(0.5)


def linear_reference(x_raw, t_in, t_out, coord, scales, out_shape):
    """One output at a time in Python: the taps and 12-bit weights as the module documents them,
    the exact rational sum, then one conversion into t_out (Fraction oracle)."""
    in_shape = x_raw.shape[1:]
    taps = []
    for k, (n_in, n_out, s) in enumerate(zip(in_shape, out_shape, scales)):
        axis = []
        for j in range(n_out):
            if n_in == n_out:
                axis.append(((j, 1), (j, 0)))
                continue
            c = min(max(float(_coordinate(coord, j, s, n_in, n_out)), 0.0), n_in - 1.0)
            c = np.float32(c)
            i0 = min(int(c), n_in - 1)
            i1 = min(i0 + 1, n_in - 1)
            w1 = 0 if i0 == i1 else math.floor(float(c - np.float32(i0)) * 2 ** LINEAR_WEIGHT_FRAC + 0.5)
            one = 2 ** LINEAR_WEIGHT_FRAC
            axis.append(((i0, Fraction(one - w1, one)), (i1, Fraction(w1, one))))
        taps.append(axis)
    out = np.zeros((x_raw.shape[0],) + tuple(out_shape), np.int64)
    over = 0
    for b in range(x_raw.shape[0]):
        for idx in np.ndindex(*out_shape):
            total = Fraction(0)
            for choice in np.ndindex(*([2] * len(idx))):
                w = Fraction(1)
                src = []
                for k, (j, c) in enumerate(zip(idx, choice)):
                    i, wk = taps[k][j][c]
                    w *= wk
                    src.append(i)
                if w:
                    total += w * Fraction(int(x_raw[(b,) + tuple(src)])) / Fraction(2) ** t_in.frac
            out[(b,) + idx], o = ref_from_value(total, t_out)
            over += o
    return out, over


@pytest.mark.parametrize("coord", COORDS)
def test_linear_fixed_point_matches_the_slow_reference(coord):
    rng = np.random.default_rng(len(coord))
    shape, scales = (2, 2, 3, 4), [1, 1, 1.5, 0.75]
    m = resize_model(shape, "linear", coord, scales=scales)
    op, node, _ = lower(m)
    for _ in range(3):
        t_in, t_out = random_type(rng, width=(4, 16)), random_type(rng, width=(4, 16))
        qg = qgraph_for(op, node, [shape[1:]], [t_in], t_out)
        x = random_raw(rng, t_in, shape)
        (y,), n = op.run_fixed(node, [x], qg)
        ref, n_ref = linear_reference(x, t_in, t_out, coord, scales[1:], node.attrs.out_shape)
        np.testing.assert_array_equal(y, ref)
        assert n == n_ref


def test_linear_fixed_point_is_close_to_onnxruntime_at_24_bits():
    m = resize_model((1, 2, 6, 6), "linear", scales=[1, 1, 2.5, 1.5])
    x = np.random.default_rng(5).normal(size=(1, 2, 6, 6)).astype(np.float32)
    op, node, _ = lower(m)
    t = Fixed(24, 4, rounding="AP_RND")
    (y,), _ = op.run_fixed(node, [t.quantize(x)], qgraph_for(op, node, [(2, 6, 6)], [t], t))
    ref = ort_run(m, {"x": x})[0]
    err = np.abs(t.to_float(y) - ref).max()
    assert 0 < err < 2.0 ** -(LINEAR_WEIGHT_FRAC - 1) * np.abs(x).max()


def test_linear_cost_counts_the_taps():
    op, node, _ = lower(resize_model((1, 2, 3, 3), "linear", scales=[1, 1, 2, 2]))
    t = Fixed(8, 3)
    check_element_cost(op, node, qgraph_for(op, node, [(2, 3, 3)], [t], t), 4)


@pytest.mark.parametrize("kw,match", [
    ({"mode": "cubic"}, "mode 'cubic' is not supported; 'nearest' and 'linear' are"),
    ({"coord": "tf_crop_and_resize"}, "coordinate_transformation_mode 'tf_crop_and_resize' is not supported"),
    ({"nearest": "nearest_even"}, "nearest_mode 'nearest_even' is not supported"),
    ({"scales": [2, 1, 1, 1]}, "scale 2.0 would resize the batch axis"),
    ({"scales": [1, 1, 2, 2], "sizes": [1, 2, 6, 6]}, "scales and sizes are both given"),
])
def test_unsupported_modes_are_one_sentence(kw, match):
    args = {"mode": "nearest", "coord": "half_pixel", "nearest": "round_prefer_floor", "scales": [1, 1, 2, 2], "sizes": None} | kw
    from onnx import TensorProto, helper, numpy_helper   # built without shape inference (onnx may refuse the mode)
    names = ["x", "roi", "sc"] + (["sz"] if args["sizes"] else [])
    inits = [numpy_helper.from_array(np.zeros(0, np.float32), "roi"), numpy_helper.from_array(np.array(args["scales"], np.float32), "sc")]
    if args["sizes"]:
        inits.append(numpy_helper.from_array(np.array(args["sizes"], np.int64), "sz"))
    node = helper.make_node("Resize", names, ["y0"], name="n0", mode=args["mode"],
                            coordinate_transformation_mode=args["coord"], nearest_mode=args["nearest"])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 2, 3, 3))],
                          [helper.make_tensor_value_info("y0", TensorProto.FLOAT, None)], inits)
    with pytest.raises(UnsupportedModelError, match=r"node 'n0' \(Resize\): " + match):
        lower(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]))


def test_opset_18_axes_with_sizes_and_scales():
    x = np.random.default_rng(2).normal(size=(2, 3, 5, 4)).astype(np.float32)
    for consts, names in [({"roi": np.zeros(0, np.float32), "sc": np.zeros(0, np.float32), "sz": np.array([7, 3], np.int64)},
                           ["x", "roi", "sc", "sz"]),
                          ({"roi": np.zeros(0, np.float32), "sc": np.array([0.6, 2.0], np.float32)}, ["x", "roi", "sc"])]:
        m = one_node_model("Resize", [("x", x.shape)], consts=consts, input_names=names, opset=18,
                           attrs={"mode": "linear", "axes": [-1, 2]})
        op, node, _ = lower(m)
        ref = ort_run(m, {"x": x})[0]
        np.testing.assert_allclose(op.run_float(node, [x])[0], ref, rtol=0, atol=2e-6)
