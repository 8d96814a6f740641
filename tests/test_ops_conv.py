"""Conv: lowering, shapes, float reference, bit-accurate kernels (both paths) and cost."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import fpga_sim.ops.mac_kernels as conv_mod
import fpga_sim.ops.mac_routes as routes_mod
from fpga_sim.errors import FpgaSimError
from fpga_sim.fixed import Fixed, product_type
from fpga_sim.fixed_kernels import ROUNDING
from fpga_sim.graph import LayerTypes, Node
from fpga_sim.hardware import Hardware
from fpga_sim.machine import single_layer_qgraph
from fpga_sim.ops.base import REGISTRY
from fpga_sim.ops.conv import ConvAttrs

from .ops_support import FakeContext

CONV = REGISTRY["Conv"]



def ref_conv_fixed(x, w, b, a, tin, tw, tb, acc, res, relu):
    """Slow, obviously correct: loop over kernel taps, every cast through Fixed.cast_counted."""
    n_b, c_in, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    (sh, sw), (pt, pl, pb, pr), (dh, dw), groups = a.strides, a.pads, a.dilations, a.groups
    ho = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    pty = product_type(tin, tw)
    accv = np.zeros((n_b, cout, ho, wo), np.int64)
    ovf = 0
    if b is not None:
        for oc in range(cout):
            v, n = acc.cast_counted(np.array([b[oc]]), tb)
            accv[:, oc] = v[0]
            ovf += n * n_b * ho * wo
    coutg = cout // groups
    for oc in range(cout):
        g = oc // coutg
        for c in range(cg):
            for i in range(kh):
                for j in range(kw):
                    patch = xp[:, g * cg + c, i * dh: i * dh + sh * (ho - 1) + 1: sh, j * dw: j * dw + sw * (wo - 1) + 1: sw]
                    term, n1 = acc.cast_counted(patch * w[oc, c, i, j], pty)
                    s, n2 = acc.cast_counted(accv[:, oc] + term, acc)
                    accv[:, oc] = s
                    ovf += n1 + n2
    y, n3 = res.cast_counted(accv, acc)
    if relu:
        y = np.maximum(y, 0)
    return y, ovf + n3


def make(rng, c, h, w, cout, k, *, stride=1, pads=(0, 0, 0, 0), dil=1, groups=1, tin="ap_fixed<8,3>",
         tw="ap_fixed<8,2>", tb="ap_fixed<12,4>", acc=None, res="ap_fixed<10,4>", relu=True, bias=True, scale=0.5):
    params = {"weight": rng.normal(0, scale, (cout, c // groups, k, k))}
    if bias:
        params["bias"] = rng.normal(0, 1.0, cout)
    node = Node("conv0", "Conv", ["x"], ["y"], ConvAttrs((k, k), (stride, stride), pads, (dil, dil), groups),
                params, "relu" if relu else None)
    ti = Fixed.parse(tin)
    lt = LayerTypes(result=Fixed.parse(res), weight=Fixed.parse(tw), bias=Fixed.parse(tb) if bias else None,
                    accum=Fixed.parse(acc) if acc else None)
    qg = single_layer_qgraph(node, (c, h, w), ti, lt)
    x = ti.quantize(rng.normal(0, 2.0, (2, c, h, w)))
    return node, qg, x


def check(node, qg, x):
    lt = qg.layer_types[node.name]
    tin = qg.tensor_types["x"]
    acc = lt.accum or CONV.safe_accum(node, [tin], lt.weight)
    qp = qg.qparams[node.name]
    (got,), n = CONV.run_fixed(node, [x], qg)
    want, m = ref_conv_fixed(x, qp["weight"], qp.get("bias"), node.attrs, tin, lt.weight, lt.bias, acc, lt.result,
                             node.activation == "relu")
    np.testing.assert_array_equal(got, want)
    assert n == m
    return n


@pytest.fixture
def spy():
    """Counts of the kinds of MAC route taken (mac_routes' names, recorded by the engine)."""
    kinds = {"ort": ("ort_int8",), "ort_limbs": ("ort_int8_limbs",), "ort_f32": ("ort_f32", "ort_f32_slices", "ort_f32_limbs"),
             "im2col": ("blas_f32", "blas_f32_limbs", "blas_f64", "blas_f64_limbs"), "conv_exact": ("conv_int64",),
             "direct_cast": ("narrow_batch", "narrow_channels", "per_term"), "depthwise": ("depthwise",)}

    class Spy(dict):
        def __getitem__(self, kind):
            n = sum(log.count(r) for r in kinds[kind])
            # BLAS runs one GEMM per group: the old spy counted im2col calls
            return n * self.groups if kind == "im2col" else n

    with conv_mod.recording_routes() as log:
        s = Spy()
        s.groups = 1
        yield s


CASES = [
    dict(c=3, h=9, w=8, cout=4, k=3),
    dict(c=4, h=11, w=11, cout=6, k=3, stride=2, pads=(1, 1, 1, 1)),
    dict(c=2, h=10, w=9, cout=4, k=3, pads=(2, 0, 1, 3), dil=2),
    dict(c=4, h=8, w=8, cout=8, k=3, groups=2, pads=(1, 1, 1, 1)),
    dict(c=6, h=7, w=7, cout=6, k=3, groups=6, pads=(1, 1, 1, 1)),        # depthwise
    dict(c=6, h=7, w=7, cout=12, k=5, groups=6, stride=2, pads=(2, 2, 2, 2)),  # depthwise multiplier 2
    dict(c=1, h=13, w=13, cout=5, k=5, bias=False, relu=False),
]


@pytest.mark.parametrize("use_ort", [True, False])
@pytest.mark.parametrize("case", CASES)
def test_wide_accumulator_matches_reference(case, use_ort, spy, monkeypatch):
    monkeypatch.setattr(routes_mod, "USE_ORT", use_ort)
    spy.groups = case.get("groups", 1)
    node, qg, x = make(np.random.default_rng(len(str(case))), **case)
    check(node, qg, x)
    assert spy["direct_cast"] == 0      # the safe accumulator never needs per-term casts
    # a grouped conv with one input channel per output: the direct depthwise pass; else small bounds: one
    # onnxruntime float32 Conv; without it BLAS on im2col when weights are reused enough,
    # else the exact row-wise int64 loop
    groups = case.get("groups", 1)
    big = case["cout"] // groups >= 4
    if case["c"] == groups > 1:
        assert spy["depthwise"] == 1 and (spy["ort_f32"], spy["im2col"], spy["conv_exact"]) == (0, 0, 0)
        return
    assert (spy["ort_f32"], spy["im2col"], spy["conv_exact"]) == (
        (1, 0, 0) if use_ort else (0, groups, 0) if big else (0, 0, 1))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("acc", ["ap_fixed<12,5>", "ap_fixed<14,6,AP_RND,AP_SAT>", "ap_fixed<16,5,AP_TRN,AP_SAT_SYM>"])
def test_narrow_accumulators_overflow_and_round_per_term(case, acc, spy):
    node, qg, x = make(np.random.default_rng(7), **case, acc=acc, scale=1.5)
    n = check(node, qg, x)
    assert spy["direct_cast"] == 1 and n > 0


@pytest.mark.parametrize("rnd", ROUNDING)
@pytest.mark.parametrize("ovf,use_ort", [("AP_WRAP", True), ("AP_SAT", False)])
def test_every_result_rounding_mode_on_the_fast_path(rnd, ovf, use_ort, spy, monkeypatch):
    monkeypatch.setattr(routes_mod, "USE_ORT", use_ort)
    node, qg, x = make(np.random.default_rng(3), c=4, h=8, w=8, cout=8, k=3, pads=(1, 1, 1, 1),
                       res=f"ap_fixed<7,3,{rnd},{ovf}>", scale=1.0)
    check(node, qg, x)
    assert (spy["ort_f32"], spy["im2col"], spy["direct_cast"]) == ((1, 0, 0) if use_ort else (0, 1, 0))


def test_unsigned_input_and_fast_path_float64():
    rng = np.random.default_rng(5)
    node, qg, x = make(rng, c=8, h=6, w=6, cout=4, k=3, tin="ap_ufixed<16,4>", tw="ap_fixed<16,2>",
                       res="ap_fixed<16,8,AP_RND_CONV,AP_SAT>")
    x = np.abs(x)
    check(node, qg, x)


def test_gemm_plan_picks_an_exact_float_format():
    assert conv_mod.gemm_plan(127, 128 * 576) == (np.float32, 0)
    assert conv_mod.gemm_plan(1 << 14, 9216) == (np.float32, 8)          # two float32 limbs
    assert conv_mod.gemm_plan(1 << 15, 576 << 15) == (np.float64, 0)
    assert conv_mod.gemm_plan(1 << 30, 1 << 30) == (np.float64, 16)      # two float64 limbs
    assert conv_mod.gemm_plan(1 << 40, 1 << 40) is None


@pytest.mark.parametrize("use_ort", [True, False])
@pytest.mark.parametrize("tin,tw,f32", [("ap_fixed<16,6>", "ap_fixed<8,2>", True), ("ap_fixed<16,6>", "ap_fixed<16,2>", False),
                                        ("ap_ufixed<16,6>", "ap_fixed<8,2>", True)])
def test_limb_and_float64_gemm_paths(tin, tw, f32, use_ort, spy, monkeypatch):
    monkeypatch.setattr(routes_mod, "USE_ORT", use_ort)
    rng = np.random.default_rng(11)
    node, qg, x = make(rng, c=8, h=7, w=7, cout=4, k=3, pads=(1, 1, 1, 1), tin=tin, tw=tw,
                       res="ap_fixed<18,8,AP_RND_ZERO,AP_SAT>", scale=2.0)
    t = qg.tensor_types["x"]
    x = t.quantize(rng.uniform(t.min, t.max, x.shape))      # full-range inputs: large bounds
    check(node, qg, x)
    assert spy["ort"] == 0                               # 16-bit inputs: not an 8-bit ConvInteger
    # float32 (two limbs) through onnxruntime's Conv, else ConvIntegers on byte limbs; without
    # onnxruntime BLAS (float32 limbs or float64)
    assert (spy["ort_f32"], spy["ort_limbs"], spy["im2col"]) == (
        (1, 0, 0) if use_ort and f32 else (0, 1, 0) if use_ort else (0, 0, 1))


def test_float32_conv_exact_on_a_blocked_layout_shape(spy):
    # 16 channels in and out: onnxruntime may pick its NCHWc kernels; still exact integers
    node, qg, x = make(np.random.default_rng(12), c=16, h=14, w=14, cout=16, k=3, pads=(1, 1, 1, 1),
                       tin="ap_fixed<16,6>", tw="ap_fixed<8,1>", res="ap_fixed<16,6,AP_RND,AP_SAT>")
    check(node, qg, x)
    assert spy["ort_f32"] == 1


def test_ort_int8_refuses_what_it_cannot_do_exactly():
    from fpga_sim.ops.ort_int8 import conv_integer
    a = ConvAttrs((1, 1))
    x = np.full((1, 2, 2, 2), 200)
    w = np.ones((2, 2, 1, 1), np.int64)
    rng = (int(x.min()), int(x.max()))
    assert conv_integer(x, w, a, rng, 400, {}) is not None     # unsigned 8-bit values: zero point 0
    assert conv_integer(x - 400, w, a, (rng[0] - 400, rng[1] - 400), 400, {}) is None   # needs 9 bits
    assert conv_integer(x, w, a, rng, 1 << 31, {}) is None     # could leave int32


def test_safe_accum_never_overflows_at_the_type_extremes():
    rng = np.random.default_rng(1)
    node, qg, _ = make(rng, c=3, h=5, w=5, cout=2, k=3, res="ap_fixed<40,30>", bias=False, relu=False)
    lt = qg.layer_types["conv0"]
    qg.qparams["conv0"]["weight"] = np.full((2, 3, 3, 3), lt.weight.min_raw)
    x = np.full((1, 3, 5, 5), qg.tensor_types["x"].min_raw)
    acc = CONV.safe_accum(node, [qg.tensor_types["x"]], lt.weight)
    qg.layer_types["conv0"] = LayerTypes(result=lt.result, weight=lt.weight, accum=acc)
    (y,), n = CONV.run_fixed(node, [x], qg)
    assert n == 0 and y[0, 0, 0, 0] == 27 * 128 * 128 >> (acc.frac - lt.result.frac)


def test_float_reference_matches_onnxruntime():
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(2)
    w = rng.normal(size=(6, 2, 3, 3)).astype(np.float32)
    b = rng.normal(size=6).astype(np.float32)
    x = rng.normal(size=(2, 4, 9, 10)).astype(np.float32)
    kw = dict(strides=[2, 1], pads=[1, 0, 2, 1], dilations=[1, 2], group=2)
    g = helper.make_graph([helper.make_node("Conv", ["x", "w", "b"], ["y"], **kw)], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    (node,) = CONV.lower(m.graph.node[0], FakeContext.of({"w": w, "b": b}, {"x": x.shape[1:]}))
    assert node.attrs == ConvAttrs((3, 3), (2, 1), (1, 0, 2, 1), (1, 2), 2)
    got = CONV.run_float(node, [x.astype(np.float64)])[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert CONV.infer_shapes(node, [x.shape[1:]])[0] == want.shape[1:]


@pytest.mark.parametrize("mode,pads", [("SAME_UPPER", (0, 0, 1, 1)), ("SAME_LOWER", (1, 1, 0, 0)), ("VALID", (0, 0, 0, 0))])
def test_auto_pad(mode, pads):
    w = np.zeros((2, 1, 2, 2))
    n = helper.make_node("Conv", ["x", "w"], ["y"], auto_pad=mode, name="c1")
    (node,) = CONV.lower(n, FakeContext.of({"w": w}, {"x": (1, 6, 6)}))
    assert node.attrs.pads == pads and node.name == "c1"


def test_lowering_errors_name_the_node():
    n = helper.make_node("Conv", ["x", "w"], ["y"], name="badconv")
    with pytest.raises(FpgaSimError, match="badconv.*weights must be a constant"):
        CONV.lower(n, FakeContext.of({}, {"x": (1, 6, 6)}))
    with pytest.raises(FpgaSimError, match="only 2-D convolutions"):
        CONV.lower(n, FakeContext.of({"w": np.zeros((2, 1, 3))}, {"x": (1, 6)}))
    node = Node("c", "Conv", ["x"], ["y"], ConvAttrs((3, 3)), {"weight": np.zeros((2, 3, 3, 3))})
    with pytest.raises(FpgaSimError, match="do not match 4 input channels"):
        CONV.infer_shapes(node, [(4, 8, 8)])


def test_cost_through_the_machine():
    rng = np.random.default_rng(0)
    hw = Hardware.lecture()
    # several input channels and stride 2: 3 channels, 3x3 -> K = 27 > 25: 2 cycles per output
    node, qg, _ = make(rng, c=3, h=13, w=13, cout=4, k=3, stride=2, tin="ap_fixed<16,6>", tw="ap_fixed<16,6>")
    r = CONV.cost(node, qg, hw)
    assert (r.outputs, r.macs_per_output, r.cycles, r.bound) == (4 * 6 * 6, 27, 2 * 144, "compute")
    assert r.dram_writes == 144 and r.energy_pj["mult"] > 0
    w = CONV.work(node, qg)
    assert (w.input_words, w.weight_words, w.bias_words, w.input_bits) == (3 * 13 * 13, 4 * 27 + 4, 4, 16)


def test_compression_shows_in_the_cost():
    rng = np.random.default_rng(4)
    node, qg, _ = make(rng, c=8, h=8, w=8, cout=8, k=3, pads=(1, 1, 1, 1))
    wq = qg.qparams["conv0"]["weight"]
    wq[np.abs(wq) < np.quantile(np.abs(wq), 0.75)] = 0          # 75 % pruned
    wq[:] = (wq // 16) * 16                                      # shared: at most 16 distinct values
    hw = Hardware(n_dsp=64, weights="dram")
    plain = CONV.cost(node, qg, hw)
    sparse = CONV.cost(node, qg, hw.replace(skip_zero_weights=True))
    shared = CONV.cost(node, qg, hw.replace(weights_as_codebook=True))
    assert sparse.macs < plain.macs / 3 and sparse.dram_reads < plain.dram_reads
    assert shared.energy_pj["dram_read"] < plain.energy_pj["dram_read"]
    assert CONV.work(node, qg, hw).nonzero_weight_words is None       # not computed when unused
    assert CONV.work(node, qg).nonzero_weight_words == np.count_nonzero(wq)


@pytest.mark.parametrize("rnd", ROUNDING)
def test_every_result_rounding_mode_on_the_per_term_path(rnd, spy):
    node, qg, x = make(np.random.default_rng(8), c=3, h=7, w=7, cout=4, k=3, pads=(1, 1, 1, 1),
                       acc="ap_fixed<14,6,AP_RND_CONV,AP_WRAP>", res=f"ap_fixed<7,3,{rnd},AP_SAT_SYM>", scale=1.0)
    check(node, qg, x)
    assert spy["direct_cast"] == 1
