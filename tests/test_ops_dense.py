"""Dense: Gemm/MatMul lowering, shapes, float reference, bit-accurate kernels and cost."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import fpga_sim.ops.mac_kernels as conv_mod
import fpga_sim.ops.mac_routes as routes_mod
import fpga_sim.ops.dense  # noqa: F401  (registers Dense)
from fpga_sim.errors import FpgaSimError
from fpga_sim.fixed import Fixed, product_type
from fpga_sim.graph import LayerTypes, Node
from fpga_sim.hardware import Hardware
from fpga_sim.machine import single_layer_qgraph
from fpga_sim.ops.base import REGISTRY
from fpga_sim.ops.dense import DenseAttrs

from .ops_support import FakeContext

DENSE = REGISTRY["Dense"]



def ref_dense_fixed(x, w, b, tin, tw, tb, acc, res, relu):
    """Pure Python ints, one output at a time, every cast through Fixed.cast_counted."""
    pty = product_type(tin, tw)
    out = np.zeros((x.shape[0], w.shape[0]), np.int64)
    ovf = 0
    for n in range(x.shape[0]):
        for o in range(w.shape[0]):
            a = 0
            if b is not None:
                (a,), k = acc.cast_counted([b[o]], tb)
                ovf += k
            for i in range(w.shape[1]):
                (t,), k1 = acc.cast_counted([int(x[n, i]) * int(w[o, i])], pty)
                (a,), k2 = acc.cast_counted([a + t], acc)
                ovf += k1 + k2
            (y,), k3 = res.cast_counted([a], acc)
            out[n, o] = max(y, 0) if relu else y
            ovf += k3
    return out, ovf


def make(rng, n_in, n_out, *, acc=None, tin="ap_fixed<8,3>", tw="ap_fixed<8,1>", res="ap_fixed<8,4,AP_RND,AP_SAT>",
         relu=True, scale=0.3, batch=3):
    node = Node("fc", "Dense", ["x"], ["y"], DenseAttrs(n_in, n_out),
                {"weight": rng.normal(0, scale, (n_out, n_in)), "bias": rng.normal(0, 1, n_out)}, "relu" if relu else None)
    ti = Fixed.parse(tin)
    lt = LayerTypes(Fixed.parse(res), Fixed.parse(tw), Fixed.parse("ap_fixed<10,4>"), Fixed.parse(acc) if acc else None)
    qg = single_layer_qgraph(node, (n_in,), ti, lt)
    return node, qg, ti.quantize(rng.normal(0, 2, (batch, n_in)))


@pytest.mark.parametrize("n_in,n_out,acc,batch", [
    (40, 8, None, 20),                           # fast path: onnxruntime ConvInteger (8-bit)
    (40, 8, "ap_fixed<40,20>", 20),              # products shifted left into a finer accumulator
    (40, 8, None, 3),                            # small batch: direct exact int64 loop
    (5, 3, None, 3),
    (40, 8, "ap_fixed<12,4>", 3),                # narrow wrapping accumulator: per-term casts
    (40, 8, "ap_fixed<13,5,AP_RND_INF,AP_SAT>", 20),
])
def test_matches_reference(n_in, n_out, acc, batch):
    node, qg, x = make(np.random.default_rng(n_in + n_out), n_in, n_out, acc=acc, scale=1.0 if acc else 0.3, batch=batch)
    lt = qg.layer_types["fc"]
    a = lt.accum or DENSE.safe_accum(node, [qg.tensor_types["x"]], lt.weight)
    (got,), n = DENSE.run_fixed(node, [x], qg)
    qp = qg.qparams["fc"]
    want, m = ref_dense_fixed(x, qp["weight"], qp["bias"], qg.tensor_types["x"], lt.weight, lt.bias, a, lt.result, True)
    np.testing.assert_array_equal(got, want)
    assert n == m
    if acc:
        assert n > 0


def test_fast_path_is_taken(monkeypatch):
    monkeypatch.setattr(routes_mod, "USE_ORT", False)
    node, qg, x = make(np.random.default_rng(0), 64, 16, batch=16)
    with conv_mod.recording_routes() as log:
        DENSE.run_fixed(node, [x], qg)
        node, qg, x = make(np.random.default_rng(0), 64, 16, batch=1)
        DENSE.run_fixed(node, [x], qg)
    assert log[0].startswith("blas_")
    assert log[1].startswith("dense_")          # one sample: weights are read once by the integer loop


def test_gemm_lowering_alpha_beta_transb_against_onnxruntime():
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(1)
    b = rng.normal(size=(5, 7)).astype(np.float32)     # transB=1: (out, in)
    c = rng.normal(size=(1, 5)).astype(np.float32)
    x = rng.normal(size=(3, 7)).astype(np.float32)
    n = helper.make_node("Gemm", ["x", "B", "C"], ["y"], alpha=0.5, beta=2.0, transB=1, name="g0")
    g = helper.make_graph([n], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 7])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(b, "B"), numpy_helper.from_array(c, "C")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    (node,) = DENSE.lower(n, FakeContext.of({"B": b, "C": c}, {"x": (7,)}))
    assert node.params["weight"].shape == (5, 7) and node.attrs == DenseAttrs(7, 5)
    np.testing.assert_allclose(DENSE.run_float(node, [x.astype(np.float64)])[0], want, rtol=1e-5, atol=1e-5)


def test_matmul_lowering_and_leading_axes():
    rng = np.random.default_rng(2)
    b = rng.normal(size=(6, 4))
    n = helper.make_node("MatMul", ["x", "B"], ["y"])
    (node,) = DENSE.lower(n, FakeContext.of({"B": b}, {"x": (2, 6)}))
    assert node.name == "y" and "bias" not in node.params
    x = rng.normal(size=(3, 2, 6))
    np.testing.assert_allclose(DENSE.run_float(node, [x])[0], x @ b)
    assert DENSE.infer_shapes(node, [(2, 6)]) == [(2, 4)]


def test_lowering_errors():
    n = helper.make_node("Gemm", ["x", "B"], ["y"], transA=1, name="g1")
    with pytest.raises(FpgaSimError, match="g1.*transA=1"):
        DENSE.lower(n, FakeContext.of({"B": np.zeros((3, 3))}, {"x": (3,)}))
    n = helper.make_node("Gemm", ["x", "z"], ["y"], name="mm")   # (MatMul of two activations: ops/matmul.py)
    with pytest.raises(FpgaSimError, match="mm.*constant 2-D matrix"):
        DENSE.lower(n, FakeContext.of({}, {"x": (3,)}))
    node = Node("fc", "Dense", ["x"], ["y"], DenseAttrs(3, 2), {"weight": np.zeros((2, 3))})
    with pytest.raises(FpgaSimError, match="expects 3 input features"):
        DENSE.infer_shapes(node, [(4,)])


def test_cost_k_above_and_below_m():
    rng = np.random.default_rng(3)
    hw = Hardware.lecture()
    node, qg, _ = make(rng, 26, 10, tin="ap_fixed<16,6>", tw="ap_fixed<16,6>")
    r = DENSE.cost(node, qg, hw)
    assert (r.macs_per_output, r.cycles) == (26, 20)             # ceil(26/25) = 2 cycles each
    node, qg, _ = make(rng, 24, 10, tin="ap_fixed<16,6>", tw="ap_fixed<16,6>")
    assert DENSE.cost(node, qg, hw).cycles == 10
    f = DENSE.cost(node, qg, hw, float32=True)
    assert DENSE.cost_float32(node, qg, hw).to_dict() == f.to_dict()   # the op-contract hook
    assert f.energy_total_pj > DENSE.cost(node, qg, hw).energy_total_pj
