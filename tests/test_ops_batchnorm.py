"""Standalone BatchNormalization: scale-and-shift integer arithmetic against a slow reference;
float against onnxruntime across opsets."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed, product_type

from .ops_support import ref_cast, lower, one_node_model, ort_run, apply_overflow, qgraph_for, random_raw, random_type


def bn_consts(rng, c):
    return {"g": rng.uniform(0.5, 2, c).astype(np.float32), "b": rng.normal(size=c).astype(np.float32),
            "m": rng.normal(size=c).astype(np.float32), "v": rng.uniform(0.1, 2, c).astype(np.float32)}


def reference(x, s, b, t_in, t_s, t_b, t_acc, t_out):
    t_p = product_type(t_in, t_s)
    s, b = np.broadcast_to(s, x.shape), np.broadcast_to(b, x.shape)
    y = np.zeros(x.shape, dtype=np.int64)
    n = 0
    for idx in np.ndindex(*x.shape):
        acc, o1 = ref_cast(int(b[idx]), t_b, t_acc)
        p, o2 = ref_cast(int(x[idx]) * int(s[idx]), t_p, t_acc)
        acc, o3 = apply_overflow(acc + p, t_acc)
        y[idx], o4 = ref_cast(acc, t_acc, t_out)
        n += o1 + o2 + o3 + o4
    return y, n


@pytest.mark.parametrize("seed", range(4))
def test_batchnorm_fixed_matches_reference(seed):
    rng = np.random.default_rng(seed)
    m = one_node_model("BatchNormalization", [("x", (1, 3, 4, 4))], consts=bn_consts(rng, 3))
    op, node, _ = lower(m)
    t_in, t_out = random_type(rng), random_type(rng)
    t_s, t_b = random_type(rng, width=(6, 16), signed=True), random_type(rng, width=(6, 16), signed=True)
    t_acc = op.safe_accum(node, [t_in], t_s) if seed % 2 else random_type(rng, width=(6, 14))
    qg = qgraph_for(op, node, [(3, 4, 4)], [t_in], t_out, weight=t_s, bias=t_b, accum=t_acc)
    x = random_raw(rng, t_in, (2, 3, 4, 4))
    (y,), n = op.run_fixed(node, [x], qg)
    q = qg.qparams["n0"]
    # the folded constants, by hand: scale = g / sqrt(v + eps), bias = b - m * scale (eps = 1e-5)
    c = {k: v.astype(np.float64).reshape(3, 1, 1) for k, v in bn_consts(np.random.default_rng(seed), 3).items()}
    scale = c["g"] / np.sqrt(c["v"] + 1e-5)
    np.testing.assert_array_equal(q["scale"].reshape(3, 1, 1), t_s.quantize(scale))
    np.testing.assert_array_equal(q["bias"].reshape(3, 1, 1), t_b.quantize(c["b"] - c["m"] * scale))
    ref, nref = reference(x, q["scale"], q["bias"], t_in, t_s, t_b, t_acc, t_out)
    np.testing.assert_array_equal(y, ref)
    assert n == nref


@pytest.mark.parametrize("opset,shape", [(7, (2, 3, 4, 5)), (9, (2, 3)), (14, (2, 3, 6)), (15, (2, 3, 4, 5))])
def test_batchnorm_float_matches_onnxruntime(opset, shape):
    rng = np.random.default_rng(opset)
    x = rng.normal(size=shape).astype(np.float32)
    m = one_node_model("BatchNormalization", [("x", x.shape)], consts=bn_consts(rng, 3), attrs={"epsilon": 1e-3}, opset=opset)
    op, node, _ = lower(m)
    np.testing.assert_allclose(op.run_float(node, [x])[0], ort_run(m, {"x": x})[0], rtol=1e-5, atol=1e-5)


def test_wide_type_matches_float():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 4, 4))
    m = one_node_model("BatchNormalization", [("x", x.shape)], consts=bn_consts(rng, 3))
    op, node, _ = lower(m)
    t = Fixed(32, 16)
    qg = qgraph_for(op, node, [(3, 4, 4)], [t], t, weight=t, bias=t)
    (y,), n = op.run_fixed(node, [t.quantize(x)], qg)
    assert n == 0
    np.testing.assert_allclose(t.to_float(y), op.run_float(node, [x])[0], atol=1e-4)


def test_batchnorm_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(UnsupportedModelError, match="n0.*BatchNormalization.*training_mode"):
        lower(one_node_model("BatchNormalization", [("x", (1, 3, 4))], consts=bn_consts(rng, 3), attrs={"training_mode": 1}, opset=15))
    with pytest.raises(UnsupportedModelError, match="must all be constants"):
        lower(one_node_model("BatchNormalization", [("x", (1, 3, 4)), ("g", (3,)), ("b", (3,)), ("m", (3,)), ("v", (3,))]))


def test_cost_is_a_multiply_and_an_add_per_output():
    from .ops_support import check_element_cost
    rng = np.random.default_rng(3)
    op, node, _ = lower(one_node_model("BatchNormalization", [("x", (1, 3, 2, 2))], consts=bn_consts(rng, 3)))
    t = Fixed(8, 3)
    check_element_cost(op, node, qgraph_for(op, node, [(3, 2, 2)], [t], t, weight=t, bias=t), 2)
