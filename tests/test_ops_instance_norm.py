"""InstanceNormalization: per-channel rows of LayerNorm's arithmetic against the slow
reference, float and fixed against onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed
from fpga_sim.ops import load_all

from .norm_support import norm_reference
from .ops_support import lower, one_node_model, ort_run, qgraph_for, random_raw, random_type

load_all()


def _model(shape, seed=0):
    rng = np.random.default_rng(seed)
    c = shape[1]
    return one_node_model("InstanceNormalization", [("x", shape)], attrs={"epsilon": 1e-4},
                          consts={"g": rng.uniform(0.5, 1.5, c).astype(np.float32),
                                  "b": rng.normal(0, 0.3, c).astype(np.float32)})


def test_fixed_matches_reference():
    rng = np.random.default_rng(5)
    op, node, _ = lower(_model((1, 3, 4, 4)))
    assert node.attrs.per_channel
    for _ in range(3):
        t_in = random_type(rng, width=(8, 16), int_bits=(2, 6))
        t_out = random_type(rng, width=(10, 18), int_bits=(3, 6), signed=True)
        qg = qgraph_for(op, node, [(3, 4, 4)], [t_in], t_out, weight=Fixed(16, 4), bias=Fixed(12, 2))
        x = random_raw(rng, t_in, (2, 3, 4, 4))
        (y,), n = op.run_fixed(node, [x], qg)
        ref, nref = norm_reference(x, qg, node)
        np.testing.assert_array_equal(y, ref)
        assert n == nref


def test_against_onnxruntime():
    m = _model((2, 3, 4, 5))
    op, node, _ = lower(m)
    x = np.random.default_rng(1).normal(0.5, 1.5, (2, 3, 4, 5)).astype(np.float32)
    ref = ort_run(m, {"x": x})[0]
    np.testing.assert_allclose(op.run_float(node, [x])[0], ref, rtol=1e-4, atol=1e-5)
    t = Fixed(20, 5)
    qg = qgraph_for(op, node, [(3, 4, 5)], [t], t, weight=Fixed(18, 4), bias=Fixed(16, 2))
    (y,), _ = op.run_fixed(node, [t.quantize(x.astype(np.float64))], qg)
    assert 1e-5 < np.abs(t.to_float(y) - ref).max() < 4e-3


def test_scale_must_be_per_channel():
    with pytest.raises(UnsupportedModelError, match="scale must be a constant with one value per channel"):
        lower(one_node_model("InstanceNormalization", [("x", (1, 3, 4))],
                             consts={"g": np.ones(2, np.float32), "b": np.zeros(3, np.float32)}))
