"""Pow by 2: an exact square and one cast, against the slow reference of test_ops_mul and
onnxruntime; other exponents are refused."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.ops import load_all

from .ops_support import lower, one_node_model, ort_run, qgraph_for, random_raw, random_type
from .test_ops_mul import reference

load_all()


def test_square_matches_reference_and_onnxruntime():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 5)).astype(np.float32)
    m = one_node_model("Pow", [("x", x.shape)], consts={"e": np.float32(2.0)})
    op, node, _ = lower(m)
    assert node.inputs == ["x"] and not node.params
    np.testing.assert_allclose(op.run_float(node, [x])[0], ort_run(m, {"x": x})[0], rtol=1e-6)
    for _ in range(4):
        t_in, t_out = random_type(rng), random_type(rng)
        qg = qgraph_for(op, node, [(3, 5)], [t_in], t_out)
        xr = random_raw(rng, t_in, (2, 3, 5))
        (y,), n = op.run_fixed(node, [xr], qg)
        ref, nref = reference(xr, xr, t_in, t_in, t_out)
        np.testing.assert_array_equal(y, ref)
        assert n == nref


def test_other_exponents_are_refused():
    with pytest.raises(UnsupportedModelError, match="exponent 3 is not supported; Pow by 2"):
        lower(one_node_model("Pow", [("x", (1, 3))], consts={"e": np.float32(3.0)}))


def test_cli_refuses_other_exponents(tmp_path, capsys):
    from .cli_support import check_cli_refusal

    check_cli_refusal(tmp_path, capsys, one_node_model("Pow", [("x", (1, 3))], consts={"e": np.float32(0.5)}),
                      "exponent 0.5 is not supported; Pow by 2 (and 1) is")
