"""The MAC engine's route table: every route forced by name (`forced_route`) and checked bit for
bit against the independent int64 reference (benchmarks/int_reference.py) and the per-term
reference; a route that is not exact for a call refuses; the default picks; the bounds at
their edges; the fused epilogue against `requant` for every mode; the weight cache."""
import contextlib
import itertools

import numpy as np
import pytest

import fpga_sim.ops.mac_routes as routes_mod
from fpga_sim.errors import ConfigError
from fpga_sim.ops.mac_bounds import gemm_plan, split_plan
from fpga_sim.ops.mac_kernels import forced_route, recording_routes
from benchmarks.int_reference import hls_layer
from fpga_sim.fixed import Fixed
from fpga_sim.fixed_kernels import requant_array
from fpga_sim.graph import LayerTypes, Node
from fpga_sim.machine import single_layer_qgraph
from fpga_sim.ops.base import REGISTRY
from fpga_sim.ops.conv import ConvAttrs
from fpga_sim.ops.dense import DenseAttrs
from fpga_sim.fixed_kernels import cast_params
from fpga_sim.ops.mac_epilogue import fused_epilogue, scale_cast, sum_cast
from tests.test_ops_conv import ref_conv_fixed

CONV, DENSE = REGISTRY["Conv"], REGISTRY["Dense"]


def layer(x, w, b, tin, tw, res, *, groups=1, pad=1, tb="ap_fixed<24,12>", relu=True):
    """(node, qgraph, raw x) of one conv with the given raw values and its safe accumulator."""
    cout, cg, k, _ = w.shape
    attrs = ConvAttrs((k, k), (1, 1), (pad,) * 4, (1, 1), groups)
    node = Node("c", "Conv", ["x"], ["y"], attrs, {"weight": w.astype(float), "bias": np.zeros(cout)},
                "relu" if relu else None)
    ti, twt = Fixed.parse(tin), Fixed.parse(tw)
    acc = CONV.safe_accum(node, [ti], twt)
    lt = LayerTypes(result=Fixed.parse(res), weight=twt, bias=Fixed.parse(tb), accum=acc)
    qg = single_layer_qgraph(node, x.shape[1:], ti, lt, {"weight": w, "bias": b})
    return node, qg


def run_and_check(node, qg, x, route=None):
    """Run the layer (through `route` when given), check it, return the routes taken."""
    lt = qg.layer_types["c"]
    qp = qg.qparams["c"]
    with forced_route(route), recording_routes() as taken:
        (got,), n = CONV.run_fixed(node, [x], qg)
    a = node.attrs
    want = hls_layer(x, qg.tensor_types["x"], qp["weight"], qp["bias"], lt.weight, lt.bias, lt.accum, lt.result,
                     node.activation == "relu", {"stride": a.strides, "pads": a.pads, "groups": a.groups})
    np.testing.assert_array_equal(got, want)
    _, n_want = ref_conv_fixed(x, qp["weight"], qp["bias"], a, qg.tensor_types["x"], lt.weight, lt.bias, lt.accum,
                               lt.result, node.activation == "relu")
    assert n == n_want
    return taken


def random_layer(rng, c=8, cout=8, k=3, hw=6, groups=1, tin="ap_fixed<16,6>", tw="ap_fixed<8,2>",
                 res="ap_fixed<16,6,AP_RND_CONV,AP_SAT>", full=True):
    """Full-range raw values (the worst case for the bounds) or small ones."""
    ti, twt = Fixed.parse(tin), Fixed.parse(tw)
    xr = (ti.min_raw, ti.max_raw) if full else (-8, 8)
    x = rng.integers(xr[0], xr[1] + 1, (2, c, hw, hw))
    x[0, :, 0, 0] = ti.min_raw if full else -8               # extreme values present
    w = rng.integers(twt.min_raw, twt.max_raw + 1, (cout, c // groups, k, k))
    b = rng.integers(-(1 << 20), 1 << 20, cout)
    return layer(x, w, b, tin, tw, res, groups=groups), x


# ----------------------------------------------------------------------------- every route, forced
SMALL = dict(full=False)                                            # every bound holds
FORCED = [
    ("depthwise", dict(SMALL, groups=8)), ("depthwise", dict(groups=8, tw="ap_fixed<16,2>")),
    ("ort_f32", SMALL), ("ort_f32", dict(SMALL, groups=2)),
    ("ort_int8", dict(tin="ap_fixed<8,3>", tw="ap_fixed<8,2>")),
    ("ort_int8", dict(tin="ap_ufixed<8,3>", tw="ap_fixed<8,2>")),    # unsigned 8-bit values: zero point 0
    ("ort_f32_slices", SMALL), ("ort_f32_slices", dict(SMALL, groups=2)),
    ("ort_f32_slices", dict(tw="ap_fixed<6,2>")),                    # full range: the slices are needed
    ("ort_f32_limbs", SMALL), ("ort_f32_limbs", dict()),             # full range 16 x 8 bits
    ("ort_int8_limbs", dict()), ("ort_int8_limbs", dict(tw="ap_fixed<16,2>", groups=2)),  # 2 and 4 byte parts
    ("ort_int8_limbs", dict(tin="ap_ufixed<16,6>", tw="ap_fixed<16,2>")),  # unsigned 16 bits: zero point 0
    ("blas_f32", SMALL), ("blas_f32_limbs", dict()), ("blas_f64", dict(tw="ap_fixed<16,2>")),
    ("blas_f64_limbs", dict(tw="ap_fixed<24,2>", tin="ap_fixed<24,6>", res="ap_fixed<24,6,AP_RND,AP_SAT>")),
    ("conv_int64", dict()), ("conv_int64", dict(groups=2, tw="ap_fixed<16,2>")),
    ("narrow_channels", dict()), ("narrow_batch", dict(groups=2)), ("per_term", dict()),
    ("wide", SMALL), ("wide", dict(groups=2)),
]


@pytest.mark.parametrize("route,kw", FORCED, ids=[f"{r}-{i}" for i, (r, _) in enumerate(FORCED)])
def test_every_route_is_exact_when_forced(route, kw):
    rng = np.random.default_rng(len(route) + len(kw))
    (node, qg), x = random_layer(rng, **kw)
    assert run_and_check(node, qg, x, route) == [route]


def test_every_route_of_the_table_is_forced_above():
    # the dense routes are the default picks of test_dense_at_batch_one_reads_narrow_weights
    assert {r for r, _ in FORCED} | {"dense_int32", "dense_int64"} == set(routes_mod.ROUTE_NAMES)


@pytest.mark.parametrize("route,kw,why", [
    ("ort_f32", dict(), "2\\*\\*24"),                                   # full-range 16 x 8 bits
    ("ort_int8", dict(), "more than 8 bits"),
    ("ort_int8_limbs", dict(tin="ap_fixed<24,6>"), "more than 16 bits"),
    ("blas_f32", dict(tw="ap_fixed<16,2>"), "reaches 2\\*\\*24"),
    ("dense_int64", SMALL, "not a dense layer"),
    ("conv_int64", dict(tin="ap_fixed<16,6>", tw="ap_fixed<8,2>", acc="ap_fixed<16,6>"), "drop|exceeds"),
])
def test_a_route_that_is_not_exact_refuses(route, kw, why):
    acc = kw.pop("acc", None)
    (node, qg), x = random_layer(np.random.default_rng(3), **kw)
    if acc:
        qg.layer_types["c"] = LayerTypes(qg.layer_types["c"].result, qg.layer_types["c"].weight,
                                         qg.layer_types["c"].bias, Fixed.parse(acc))
    with pytest.raises(ConfigError, match=why), forced_route(route):
        CONV.run_fixed(node, [x], qg)


def test_unknown_route_names_the_accepted_ones():
    with pytest.raises(ConfigError, match="unknown MAC route 'fast'.*accepted: depthwise, ort_f32, "):
        with forced_route("fast"):
            pass


# ----------------------------------------------------------------------------- default picks
@pytest.mark.parametrize("kw,want", [
    (SMALL, "ort_f32"),
    (dict(tw="ap_fixed<6,2>"), "ort_f32_slices"),
    (dict(), "ort_f32_limbs"),
    (dict(tin="ap_fixed<8,3>", tw="ap_fixed<8,2>"), "ort_f32"),      # 8-bit values, sums below 2**24
    (dict(c=6, cout=6, groups=6, tw="ap_fixed<6,2>"), "depthwise"),   # one input channel per output
    (dict(c=6, cout=12, groups=3, tw="ap_fixed<6,2>"), "ort_f32"),     # two per output: one grouped Conv
])
def test_default_route(kw, want):
    (node, qg), x = random_layer(np.random.default_rng(9), **kw)
    assert run_and_check(node, qg, x) == [want]


def test_full_range_16_bit_weights_and_inputs_go_through_byte_limbs():
    (node, qg), x = random_layer(np.random.default_rng(12), tw="ap_fixed<16,2>")
    assert run_and_check(node, qg, x) == ["ort_int8_limbs"]


@pytest.mark.parametrize("tw,want", [("ap_fixed<8,2>", "blas_f32_limbs"), ("ap_fixed<16,2>", "blas_f64")])
def test_default_blas_routes_without_onnxruntime(tw, want, monkeypatch):
    monkeypatch.setattr(routes_mod, "USE_ORT", False)
    (node, qg), x = random_layer(np.random.default_rng(8), tw=tw)
    assert run_and_check(node, qg, x) == [want]


@pytest.mark.parametrize("tw,extreme,second", [
    ("ap_fixed<8,2>", True, ("dense_int32", np.int8)),     # all products at the extreme: sum 300 * 2**22 < 2**31
    ("ap_fixed<8,2>", False, ("dense_int32", np.int8)),
    ("ap_fixed<16,6>", False, ("dense_int64", np.int16)),  # bound above 2**31: int64 sums on the narrow copy
])
def test_dense_at_batch_one_reads_narrow_weights(tw, extreme, second, monkeypatch):
    calls = []
    for name in ("dense_exact", "dense_int32"):
        real = getattr(routes_mod, name)
        monkeypatch.setattr(routes_mod, name, lambda *a, real=real: calls.append(a[1].dtype) or real(*a))
    rng = np.random.default_rng(10)
    ti, tw, res = Fixed.parse("ap_fixed<16,6>"), Fixed.parse(tw), Fixed.parse("ap_fixed<16,6,AP_RND,AP_SAT>")
    w = rng.integers(tw.min_raw, tw.max_raw + 1, (7, 300))
    x = rng.integers(ti.min_raw, ti.max_raw + 1, (1, 300))
    if extreme:
        w[:], x[:] = tw.min_raw, ti.min_raw
    node = Node("d", "Dense", ["x"], ["y"], DenseAttrs(300, 7), {"weight": w.astype(float)}, "relu")
    acc = DENSE.safe_accum(node, [ti], tw)
    qg = single_layer_qgraph(node, (300,), ti, LayerTypes(res, tw, None, acc), {"weight": w})
    for route, dtype in (("dense_int64", np.int64), second):          # the narrow copy is made on the second call
        with recording_routes() as taken:
            (got,), n = DENSE.run_fixed(node, [x], qg)
        np.testing.assert_array_equal(got, hls_layer(x, ti, w, None, tw, None, acc, res, True))
        assert taken == [route] and calls[-1] == dtype
        assert n == res.cast_counted(hls_layer(x, ti, w, None, tw, None, acc, acc, False), acc)[1]


# ----------------------------------------------------------------------------- depthwise geometry
DEPTHWISE = [
    dict(),                                                              # 3x3, stride 1: the fused nine taps
    dict(stride=(2, 2), pads=(1, 1, 1, 1), res="ap_fixed<9,2,AP_TRN_ZERO,AP_SAT>"),
    dict(pads=(2, 0, 1, 3), dil=(2, 2)),
    dict(stride=(2, 1), pads=(0, 1, 2, 1), dil=(1, 2), k=(3, 2)),
    dict(mult=2, k=(5, 5), stride=(2, 2), pads=(2, 2, 2, 2)),            # channel multiplier 2
    dict(c=1, mult=5, k=(1, 3), pads=(0, 1, 0, 1), relu=False),          # one input channel, groups 1
    dict(tin="ap_fixed<16,6>", tw="ap_fixed<16,2>"),                     # full range: float64 lanes
    dict(tin="ap_fixed<32,10>", tw="ap_fixed<24,2>", res="ap_fixed<40,12,AP_RND_CONV,AP_SAT_SYM>"),  # int64 lanes
    dict(tin="ap_fixed<32,10>", tw="ap_fixed<24,2>", res="ap_fixed<63,30,AP_RND_INF,AP_SAT>"),  # requant's cast
]
LANES = [np.float32, np.float32, np.float32, np.float32, np.float32, np.float32, np.float64, np.int64, np.int64]


@pytest.mark.parametrize("kw,lane", list(zip(DEPTHWISE, LANES)), ids=[str(i) for i in range(len(DEPTHWISE))])
def test_depthwise_geometry_and_lanes(kw, lane, monkeypatch):
    """The depthwise pass on strides, dilations, asymmetric pads, multipliers and each lane type,
    against the term-by-term reference (values and overflow count), chosen by default for a
    grouped conv (a one-channel image, groups 1, takes it only when forced)."""
    lanes = []
    real = routes_mod.lane_zero
    monkeypatch.setattr(routes_mod, "lane_zero", lambda b: lanes.append(real(b)) or lanes[-1])
    rng = np.random.default_rng(len(str(kw)))
    c, mult, (kh, kw_) = kw.get("c", 5), kw.get("mult", 1), kw.get("k", (3, 3))
    ti, tw = Fixed.parse(kw.get("tin", "ap_fixed<8,3>")), Fixed.parse(kw.get("tw", "ap_fixed<8,2>"))
    res = Fixed.parse(kw.get("res", "ap_fixed<10,3,AP_RND_CONV,AP_WRAP>"))
    x = rng.integers(ti.min_raw, ti.max_raw + 1, (2, c, 9, 11))
    x[0, :, 0, 0] = ti.min_raw
    w = rng.integers(tw.min_raw, tw.max_raw + 1, (c * mult, 1, kh, kw_))
    b = rng.integers(-(1 << 14), 1 << 14, c * mult)
    attrs = ConvAttrs((kh, kw_), kw.get("stride", (1, 1)), kw.get("pads", (1, 1, 1, 1)), kw.get("dil", (1, 1)), c)
    node = Node("c", "Conv", ["x"], ["y"], attrs, {"weight": w.astype(float), "bias": np.zeros(c * mult)},
                "relu" if kw.get("relu", True) else None)
    tb = Fixed.parse("ap_fixed<24,12>")
    acc = CONV.safe_accum(node, [ti], tw)
    qg = single_layer_qgraph(node, x.shape[1:], ti, LayerTypes(res, tw, tb, acc), {"weight": w, "bias": b})
    with recording_routes() as taken, (forced_route("depthwise") if c == 1 else contextlib.nullcontext()):
        (got,), n = CONV.run_fixed(node, [x], qg)
    want, n_want = ref_conv_fixed(x, w, b, attrs, ti, tw, tb, acc, res, node.activation == "relu")
    np.testing.assert_array_equal(got, want)
    assert (n, taken, [type(z) for z in lanes]) == (n_want, ["depthwise"], [lane])


def test_depthwise_refuses_two_input_channels_per_output():
    (node, qg), x = random_layer(np.random.default_rng(4), c=8, cout=8, groups=4, full=False)
    with pytest.raises(ConfigError, match="2 input channels per output"), forced_route("depthwise"):
        CONV.run_fixed(node, [x], qg)


def test_channel_stats_is_numpy_min_and_max_per_channel():
    from fpga_sim.ops.mac_stats import channel_stats
    x = np.random.default_rng(6).integers(-2**40, 2**40, (3, 4, 5, 6))
    x[:, 1] = -7                                     # one negative-only channel: its max is -7, not 0
    lo, hi = channel_stats(x)
    np.testing.assert_array_equal(lo, x.min(axis=(0, 2, 3)))
    np.testing.assert_array_equal(hi, x.max(axis=(0, 2, 3)))
    assert [v.tolist() for v in channel_stats(np.zeros((0, 4, 5, 6), np.int64))] == [[0] * 4, [0] * 4]


# ----------------------------------------------------------------------------- bounds at the edge
def test_split_plan_edges():
    def plan(xmax, wsum):
        return split_plan(np.full(16, xmax), {1: np.array([[wsum]]), 2: np.array([[wsum / 2] * 2]).astype(np.int64)}, 1)
    assert plan(4095, 4097) == (1, 0)                 # 2**24 - 1: one float32 Conv
    assert plan(4096, 4096) == (2, 0)                 # 2**24: two channel slices
    assert plan(1 << 15, 1 << 12) == (2, 8)           # slices too wide: limbs
    assert plan(1 << 15, 1 << 20) is None


def test_float32_exact_at_the_largest_sum():
    # 17 channels of x = 4095 times w = 241: the sum is exactly 2**24 - 1, one float32 Conv
    x = np.full((1, 17, 4, 4), 4095)
    w = np.full((1, 17, 1, 1), 241)
    node, qg = layer(x, w, np.zeros(1, np.int64), "ap_fixed<16,16>", "ap_fixed<16,16>", "ap_fixed<40,40>",
                     pad=0, relu=False)
    with recording_routes() as taken:
        (got,), _ = CONV.run_fixed(node, [x], qg)
    assert (got == (1 << 24) - 1).all() and taken == ["ort_f32"]
    x[0, 0, 0, 0] = 4096                              # one more: 2**24 is not exact in float32 any more
    with pytest.raises(ConfigError, match="2\\*\\*24"), forced_route("ort_f32"):
        CONV.run_fixed(node, [x], qg)


def test_gemm_plan_edges():
    assert gemm_plan(4095, 4097) == (np.float32, 0)
    assert gemm_plan(4096, 4096)[1] > 0
    assert gemm_plan(1 << 26, 1 << 26) == (np.float64, 0)         # 2**52
    assert gemm_plan(1 << 27, 1 << 26) == (np.float64, 14)        # 2**53: two float64 limbs
    assert gemm_plan(1 << 40, 1 << 40) is None


# ----------------------------------------------------------------------------- epilogue
@pytest.mark.parametrize("width,signed", [(1, True), (2, False), (16, True), (40, False), (62, True), (64, True)])
def test_fused_epilogue_matches_requant_for_every_mode(width, signed):
    rng = np.random.default_rng(width)
    v = np.concatenate([rng.integers(-2**40, 2**40, 200), np.arange(-40, 40), [2**40 - 1, -2**40]]).astype(np.int64)
    parts = np.stack([v & 0xFFFFF, v >> 20]).astype(np.float32).reshape(1, 1, 2, 1, -1)
    for rnd, ovf, shift in itertools.product(range(7), range(4), [-30, -1, 0, 1, 5, 41, 62]):
        vv = v >> 32 if shift < 0 else v
        p = parts if shift >= 0 else np.stack([vv, 0 * vv]).astype(np.float32).reshape(1, 1, 2, 1, -1)
        want = np.empty_like(vv)
        n_want = requant_array(vv, shift, width, signed, rnd, ovf, want)
        for relu, dense in itertools.product((False, True), (False, True)):
            # conv layout: the values along HW of one output; dense (HW = 1): along the B outputs
            pp, out = (p.reshape(1, 1, 2, -1, 1), np.empty((1, vv.size, 1), np.int64)) if dense else \
                (p, np.empty((1, 1, vv.size), np.int64))
            bias = np.zeros(pp.shape[3], np.int64)
            n = fused_epilogue(pp, np.array([0, 20]), 0, bias, cast_params(shift, width, signed, rnd, ovf), relu, out)
            np.testing.assert_array_equal(out.ravel(), np.maximum(want, 0) if relu else want)
            assert n == n_want


@pytest.mark.parametrize("width,signed", [(1, True), (3, False), (16, True), (40, False), (62, True), (64, True)])
def test_sum_cast_and_scale_cast_match_requant_for_every_mode(width, signed):
    rng = np.random.default_rng(width + 100)
    a = np.concatenate([rng.integers(-2**30, 2**30, 300), np.arange(-20, 20), [2**30 - 1, -2**30]]).astype(np.int64)
    b = rng.permutation(a)
    rows = rng.integers(-50, 50, (3, 1)).astype(np.int64)
    for rnd, ovf, shift in itertools.product(range(7), range(4), [-12, 0, 1, 7, 33]):
        p = cast_params(shift, width, signed, rnd, ovf)
        want = np.empty_like(a)
        n_want = requant_array((a << 3) + (b << 1), shift, width, signed, rnd, ovf, want)
        prod = a[:3 * 114].reshape(1, 3, 114) * rows[None]
        want_s = np.empty(prod.size, np.int64)
        ns_want = requant_array(prod.reshape(-1), shift, width, signed, rnd, ovf, want_s)
        for relu in (False, True):
            out = np.empty_like(a)
            assert sum_cast(a, 3, b, 1, p, True, relu, out) == n_want
            np.testing.assert_array_equal(out, np.maximum(want, 0) if relu else want)
            out_s = np.empty((1, 3, 114), np.int64)
            assert scale_cast(a[:3 * 114].reshape(1, 3, 114), rows, p, relu, out_s) == ns_want
            np.testing.assert_array_equal(out_s.reshape(-1), np.maximum(want_s, 0) if relu else want_s)


# ----------------------------------------------------------------------------- weight cache
def test_new_weights_never_meet_a_stale_session():
    (node, qg), x = random_layer(np.random.default_rng(11), full=False)
    run_and_check(node, qg, x)
    w = qg.qparams["c"]["weight"]
    with pytest.raises(ValueError):
        w[0, 0, 0, 0] += 1                   # cached weights are frozen
    qg.qparams["c"]["weight"] = -w           # a new array: a new entry, new results
    run_and_check(node, qg, x)


@pytest.mark.parametrize("shape", [(7, 12, 3, 3), (5, 6, 1, 1), (3, 1, 5, 5), (9, 60)])
def test_abs_sums_in_blocks_equal_the_sums_of_the_definition(shape, monkeypatch):
    """abs_sums walks the weights a block of output channels at a time (bounded memory); with
    blocks of a few rows it must still give, per slice count J, sum |w| over each slice."""
    import fpga_sim.ops.mac_int64 as m

    monkeypatch.setattr(m, "ABS_SUM_BLOCK", 50)
    w = np.random.default_rng(len(shape)).integers(-(1 << 40), 1 << 40, shape)
    cout, cg = shape[:2]
    got = m.abs_sums(w)
    flat = [[int(abs(v)) for v in w[o].reshape(cg, -1).ravel()] for o in range(cout)]
    for j in range(1, min(cg, m.MAX_SLICES) + 1):
        if cg % j:
            assert j not in got
            continue
        per = len(flat[0]) // j
        want = [[sum(flat[o][s * per:(s + 1) * per]) for s in range(j)] for o in range(cout)]
        assert got[j].tolist() == want
