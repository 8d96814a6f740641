"""MaxPool / GlobalMaxPool: integer windows against a slow loop; float against onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed

from .ops_support import ref_cast, lower, one_node_model, ort_run, qgraph_for, random_raw, random_type

CASES = [
    dict(kernel_shape=[2, 2], strides=[2, 2]),
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    dict(kernel_shape=[3, 2], strides=[2, 1], pads=[0, 1, 1, 0], ceil_mode=1),
    dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
    dict(kernel_shape=[2, 3], dilations=[2, 1]),
    dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
    dict(kernel_shape=[2, 2], strides=[3, 3], auto_pad="SAME_LOWER"),
    dict(kernel_shape=[3, 3], auto_pad="VALID"),
    dict(kernel_shape=[3, 3]),   # strides, pads, dilations at the spec defaults
]


def reference(x, t_in, t_out, out_shape, a):
    """Per output: max over the window positions that fall inside the tensor, then one cast."""
    y = np.zeros(x.shape[:2] + out_shape, dtype=np.int64)
    n = 0
    kh, kw = a.kernel
    for b, c, oh, ow in np.ndindex(*y.shape):
        vals = []
        for i in range(kh):
            for j in range(kw):
                h = oh * a.strides[0] - a.pads[0] + i * a.dilations[0]
                w = ow * a.strides[1] - a.pads[1] + j * a.dilations[1]
                if 0 <= h < x.shape[2] and 0 <= w < x.shape[3]:
                    vals.append(int(x[b, c, h, w]))
        y[b, c, oh, ow], o = ref_cast(max(vals), t_in, t_out)
        n += o
    return y, n


@pytest.mark.parametrize("case", range(len(CASES)))
def test_maxpool_float_matches_onnxruntime(case):
    rng = np.random.default_rng(case)
    x = rng.normal(size=(2, 3, 7, 8)).astype(np.float32)
    m = one_node_model("MaxPool", [("x", x.shape)], attrs=CASES[case], opset=12)
    op, node, ctx = lower(m)
    ref = ort_run(m, {"x": x})[0]
    assert op.infer_shapes(node, [(3, 7, 8)]) == [ref.shape[1:]]
    np.testing.assert_array_equal(op.run_float(node, [x])[0], ref)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_maxpool_fixed_matches_reference(case):
    rng = np.random.default_rng(10 + case)
    m = one_node_model("MaxPool", [("x", (1, 2, 7, 8))], attrs=CASES[case], opset=12)
    op, node, _ = lower(m)
    t_in, t_out = random_type(rng), random_type(rng)
    qg = qgraph_for(op, node, [(2, 7, 8)], [t_in], t_out)
    x = random_raw(rng, t_in, (2, 2, 7, 8))
    (y,), n = op.run_fixed(node, [x], qg)
    ref, nref = reference(x, t_in, t_out, y.shape[2:], node.attrs)
    np.testing.assert_array_equal(y, ref)
    assert n == nref


def test_global_and_1d_maxpool():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 4, 5, 6)).astype(np.float32)
    m = one_node_model("GlobalMaxPool", [("x", x.shape)])
    op, node, _ = lower(m)
    np.testing.assert_array_equal(op.run_float(node, [x])[0], ort_run(m, {"x": x})[0])
    t = Fixed(8, 4, rounding="AP_RND", overflow="AP_SAT")
    qg = qgraph_for(op, node, [(4, 5, 6)], [t], t)
    xr = t.quantize(x)
    (y,), n = op.run_fixed(node, [xr], qg)
    np.testing.assert_array_equal(y, xr.max(axis=(2, 3), keepdims=True))
    x1 = rng.normal(size=(2, 3, 9)).astype(np.float32)
    m = one_node_model("MaxPool", [("x", x1.shape)], attrs=dict(kernel_shape=[3], strides=[2], pads=[1, 1]))
    op, node, _ = lower(m)
    ref = ort_run(m, {"x": x1})[0]
    np.testing.assert_array_equal(op.run_float(node, [x1])[0], ref)
    qg = qgraph_for(op, node, [(3, 9)], [t], t)
    (y,), _ = op.run_fixed(node, [t.quantize(x1)], qg)
    np.testing.assert_array_equal(y, t.quantize(ref))


def test_maxpool_errors():
    with pytest.raises(UnsupportedModelError, match="n0.*MaxPool.*Indices output is not supported; only the pooled values are"):
        lower(one_node_model("MaxPool", [("x", (1, 2, 4, 4))], n_outputs=2, attrs=dict(kernel_shape=[2, 2])))
    with pytest.raises(UnsupportedModelError, match="kernel_shape is missing"):
        lower(_no_kernel())
    with pytest.raises(UnsupportedModelError, match=r"per-sample shape \(2, 4, 4, 4\); 1-D and 2-D pooling \(\(C, L\) or \(C, H, W\)\) are supported"):
        lower(one_node_model("MaxPool", [("x", (1, 2, 4, 4, 4))], attrs=dict(kernel_shape=[2, 2, 2])))
    with pytest.raises(UnsupportedModelError, match="entirely in the padding; pads smaller than the window are accepted"):
        lower(one_node_model("MaxPool", [("x", (1, 2, 4, 4))], attrs=dict(kernel_shape=[2, 2], pads=[3, 0, 0, 0])))


def _no_kernel():
    """A MaxPool node without its required kernel_shape (built without shape inference)."""
    from onnx import TensorProto, helper
    node = helper.make_node("MaxPool", ["x"], ["y0"], name="n0")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                          [helper.make_tensor_value_info("y0", TensorProto.FLOAT, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def test_cost_is_one_compare_per_window_element():
    from .ops_support import check_element_cost
    t = Fixed(8, 3)
    op, node, _ = lower(one_node_model("MaxPool", [("x", (1, 2, 8, 8))], attrs=dict(kernel_shape=[3, 3], strides=[2, 2])))
    rep = check_element_cost(op, node, qgraph_for(op, node, [(2, 8, 8)], [t], t), 9)
    assert rep.bound == "bandwidth"          # 9 compares < 25 lanes: the DRAM write port limits
    op, node, _ = lower(one_node_model("GlobalMaxPool", [("x", (1, 2, 8, 8))]))
    rep = check_element_cost(op, node, qgraph_for(op, node, [(2, 8, 8)], [t], t), 64)
    assert rep.cycles == 2 * 3 and rep.bound == "compute"   # ceil(64 / 25) cycles per output


def test_window_taps_are_the_tap_table_of_the_numba_kernels():
    """pooling.window_taps (NumPy, for MaxPool) lists the same taps as windows.tap_table (the
    Numba table the conv kernels use), padding, strides and dilations included."""
    from fpga_sim.ops.pooling import PoolAttrs, out_len, window_taps
    from fpga_sim.ops.windows import tap_table

    for (kh, kw), (sh, sw), pads, (dh, dw), (h, w) in [((2, 2), (2, 2), (0, 0, 0, 0), (1, 1), (6, 6)),
                                                       ((3, 3), (2, 2), (1, 1, 1, 1), (1, 1), (7, 5)),
                                                       ((3, 2), (1, 3), (2, 0, 1, 1), (2, 1), (9, 8)),
                                                       ((5, 5), (1, 1), (0, 0, 0, 0), (1, 1), (5, 5))]:
        a = PoolAttrs((kh, kw), (sh, sw), pads, (dh, dw))
        oh = out_len(h, kh, sh, pads[0], pads[2], dh, False)
        ow = out_len(w, kw, sw, pads[1], pads[3], dw, False)
        starts, offs = window_taps(a, h, w, oh, ow)
        want_starts, want_offs, _ = tap_table(1, kh, kw, h, w, oh, ow, sh, sw, pads[0], pads[1], dh, dw)
        assert starts.tolist() == want_starts.tolist()
        assert offs.tolist() == want_offs[:want_starts[-1]].tolist()
