"""LeakyRelu / PRelu: exact product-and-cast against a slow reference; float against onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import FpgaSimError, UnsupportedModelError
from fpga_sim.fixed import Fixed, product_type
from fpga_sim.ops.common import param_type

from .ops_support import ref_cast, ref_elementwise, lower, one_node_model, ort_run, qgraph_for, random_raw, random_type


def reference(x, a, t_in, t_a, t_out, relu=False):
    t_p = product_type(t_in, t_a)
    a = np.broadcast_to(a, x.shape).reshape(-1).tolist()
    return ref_elementwise(x, lambda i, v: ref_cast(v, t_in, t_out) if v > 0 else ref_cast(v * a[i], t_p, t_out), relu)


@pytest.mark.parametrize("seed", range(5))
def test_leaky_relu_fixed_matches_reference(seed):
    rng = np.random.default_rng(seed)
    alpha = float(rng.choice([0.01, 0.1, 0.2, 0.3]))
    m = one_node_model("LeakyRelu", [("x", (1, 4, 3, 3))], attrs={"alpha": alpha})
    op, node, _ = lower(m)
    for _ in range(4):
        t_in, t_out, t_w = random_type(rng), random_type(rng), random_type(rng, int_bits=(-3, 3), signed=True)
        qg = qgraph_for(op, node, [(4, 3, 3)], [t_in], t_out, weight=t_w)
        x = random_raw(rng, t_in, (2, 4, 3, 3))
        (y,), n = op.run_fixed(node, [x], qg)
        assert qg.qparams["n0"]["alpha"].tolist() == [int(t_w.quantize(alpha))]
        ref, nref = reference(x, qg.qparams["n0"]["alpha"], t_in, t_w, t_out)
        np.testing.assert_array_equal(y, ref)
        assert n == nref


def test_prelu_per_channel_fixed_and_fused_relu():
    rng = np.random.default_rng(7)
    slope = rng.uniform(-0.5, 0.5, (3, 1, 1)).astype(np.float32)
    m = one_node_model("PRelu", [("x", (1, 3, 4, 4))], consts={"slope": slope})
    op, node, _ = lower(m)
    t_in, t_out, t_w = Fixed(10, 4, True), Fixed(12, 5, True, "AP_RND_CONV", "AP_SAT"), Fixed(8, 1)
    qg = qgraph_for(op, node, [(3, 4, 4)], [t_in], t_out, weight=t_w)
    np.testing.assert_array_equal(qg.qparams["n0"]["alpha"], t_w.quantize(slope))
    x = random_raw(rng, t_in, (2, 3, 4, 4))
    node.activation = "relu"
    (y,), n = op.run_fixed(node, [x], qg)
    ref, nref = reference(x, qg.qparams["n0"]["alpha"], t_in, t_w, t_out, relu=True)
    np.testing.assert_array_equal(y, ref)
    assert (y >= 0).all() and n == nref


def test_slope_type_falls_back_to_result_type():
    m = one_node_model("LeakyRelu", [("x", (1, 5))])
    op, node, _ = lower(m)
    assert node.params["alpha"][0] == pytest.approx(0.01)      # the spec default
    t = Fixed(16, 6)
    qg = qgraph_for(op, node, [(5,)], [t], t)
    assert param_type(qg.layer_types["n0"]) == t
    assert qg.qparams["n0"]["alpha"][0] == t.quantize(0.01)


@pytest.mark.parametrize("case", ["leaky_default", "leaky", "prelu_scalar", "prelu_channel", "prelu_batched"])
def test_float_matches_onnxruntime(case):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    if case == "leaky_default":
        m = one_node_model("LeakyRelu", [("x", x.shape)])
    elif case == "leaky":
        m = one_node_model("LeakyRelu", [("x", x.shape)], attrs={"alpha": 0.25}, opset=16)
    elif case == "prelu_scalar":
        m = one_node_model("PRelu", [("x", x.shape)], consts={"s": np.array([0.2], np.float32)}, opset=9)
    elif case == "prelu_channel":
        m = one_node_model("PRelu", [("x", x.shape)], consts={"s": rng.normal(size=(3, 1, 1)).astype(np.float32)})
    else:
        m = one_node_model("PRelu", [("x", x.shape)], consts={"s": rng.normal(size=(1, 3, 1, 1)).astype(np.float32)})
    op, node, _ = lower(m)
    np.testing.assert_allclose(op.run_float(node, [x])[0], ort_run(m, {"x": x})[0], rtol=1e-6, atol=1e-7)


def test_errors():
    m = one_node_model("PRelu", [("x", (1, 3, 4)), ("s", (1,))])
    with pytest.raises(UnsupportedModelError, match="n0.*PRelu.*slope must be a constant"):
        lower(m)
    m = one_node_model("PRelu", [("x", (1, 3, 4))], consts={"s": np.ones((2, 3, 4), np.float32)})
    with pytest.raises(UnsupportedModelError, match=r"slope shape \(2, 3, 4\) varies along the batch axis"):
        lower(m)
    op, node, _ = lower(one_node_model("LeakyRelu", [("x", (1, 5))]))
    qg = qgraph_for(op, node, [(5,)], [Fixed(40, 10)], Fixed(16, 6), weight=Fixed(32, 2))
    with pytest.raises(FpgaSimError, match="ap_fixed<40,10> and ap_fixed<32,2> needs 72 bits; types whose widths sum to at most 64 are accepted"):
        op.run_fixed(node, [np.zeros((1, 5), np.int64)], qg)


def test_cost_counts_the_slope_as_parameters():
    from .ops_support import check_element_cost
    op, node, _ = lower(one_node_model("PRelu", [("x", (1, 3, 4))], consts={"s": np.ones((3, 1), np.float32)}))
    t = Fixed(8, 3)
    rep = check_element_cost(op, node, qgraph_for(op, node, [(3, 4)], [t], t, weight=t), 2)
    assert rep.sram_reads == 12 * 2
