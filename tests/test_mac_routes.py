"""The exact fast routes of the MAC engine, each forced and checked bit for bit against the
independent int64 reference (benchmarks/int_reference.py), the bounds that pick them at their
edges, the fused epilogue against `requant` for every mode, and the weight cache."""
import itertools

import numpy as np
import pytest

import fpga_sim.ops.mac_kernels as mk
import fpga_sim.ops.ort_int8 as ort_mod
from benchmarks.int_reference import hls_layer
from fpga_sim.fixed import Fixed
from fpga_sim.fixed_kernels import requant_array
from fpga_sim.graph import LayerTypes, Node
from fpga_sim.machine import single_layer_qgraph
from fpga_sim.ops.base import REGISTRY
from fpga_sim.ops.conv import ConvAttrs
from fpga_sim.ops.dense import DenseAttrs
from fpga_sim.ops.mac_epilogue import cast_params, fused_epilogue
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


def run_and_check(node, qg, x):
    lt = qg.layer_types["c"]
    qp = qg.qparams["c"]
    (got,), n = CONV.run_fixed(node, [x], qg)
    a = node.attrs
    want = hls_layer(x, qg.tensor_types["x"], qp["weight"], qp["bias"], lt.weight, lt.bias, lt.accum, lt.result,
                     node.activation == "relu", {"stride": a.strides, "pads": a.pads, "groups": a.groups})
    np.testing.assert_array_equal(got, want)
    _, n_want = ref_conv_fixed(x, qp["weight"], qp["bias"], a, qg.tensor_types["x"], lt.weight, lt.bias, lt.accum,
                               lt.result, node.activation == "relu")
    assert n == n_want


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


@pytest.fixture
def routes(monkeypatch):
    """Counts of each route taken; `force` pins split_plan's answer or disables ConvInteger."""
    seen = {"int": 0, "f32": 0, "plan": None, "blas": 0, "dense": 0, "dense_int32": 0, "loop": 0}
    real_int, real_f32, real_plan = ort_mod.conv_integer, ort_mod.conv_float32, ort_mod.split_plan

    def conv_integer(*a):
        r = real_int(*a) if seen.get("int_ok", True) else None
        seen["int"] += r is not None
        return r

    def conv_float32(*a):
        r = real_f32(*a)
        seen["f32"] += r is not None
        return r

    def split_plan(*a):
        real = real_plan(*a)
        seen["real_plan"] = real
        return seen["plan"] if seen["plan"] is not None else real

    def counted(name, fn):
        def f(*a):
            seen[name] += 1
            seen[name + "_args"] = a
            return fn(*a)
        return f

    monkeypatch.setattr(ort_mod, "conv_integer", conv_integer)
    monkeypatch.setattr(ort_mod, "conv_float32", conv_float32)
    monkeypatch.setattr(ort_mod, "split_plan", split_plan)
    monkeypatch.setattr(mk, "im2col", counted("blas", mk.im2col))
    monkeypatch.setattr(mk, "dense_exact", counted("dense", mk.dense_exact))
    monkeypatch.setattr(mk, "dense_int32", counted("dense_int32", mk.dense_int32))
    monkeypatch.setattr(mk, "conv_exact", counted("loop", mk.conv_exact))
    return seen


# ----------------------------------------------------------------------------- forced routes
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("plan", [(1, 0), (2, 0), (4, 0), (2, 3)])
def test_float32_parts_are_exact_whenever_their_bound_holds(plan, groups, routes):
    # small values: every plan's bound holds, so each forced plan must give the exact result
    rng = np.random.default_rng(sum(plan) + groups)
    (node, qg), x = random_layer(rng, groups=groups, full=False)
    routes["plan"], routes["int_ok"] = plan, False
    run_and_check(node, qg, x)
    assert routes["f32"] == 1 and routes["blas"] == routes["loop"] == 0


@pytest.mark.parametrize("tin,tw,want", [("ap_fixed<16,6>", "ap_fixed<6,2>", (4, 0)),
                                         ("ap_fixed<16,6>", "ap_fixed<8,2>", (2, 8))])
def test_float32_slices_and_limbs_on_full_range_values(tin, tw, want, routes):
    (node, qg), x = random_layer(np.random.default_rng(5), c=8, k=3, tin=tin, tw=tw)
    run_and_check(node, qg, x)
    assert routes["real_plan"] == want and routes["f32"] == 1


def test_conv_integer_route_on_8_bit_values(routes):
    (node, qg), x = random_layer(np.random.default_rng(6), tin="ap_fixed<8,3>", tw="ap_fixed<8,2>")
    routes["plan"] = (2, 0)                 # ConvInteger is tried when one float32 Conv is not enough
    run_and_check(node, qg, x)
    assert routes["int"] == 1 and routes["f32"] == 0


def test_unsigned_8_bit_values_use_zero_point_0(routes):
    (node, qg), x = random_layer(np.random.default_rng(7), tin="ap_ufixed<8,3>", tw="ap_fixed<8,2>")
    routes["plan"] = (2, 0)
    run_and_check(node, qg, x)
    assert routes["int"] == 1


@pytest.mark.parametrize("tw", ["ap_fixed<8,2>", "ap_fixed<16,2>"])   # float32 limbs, float64
def test_blas_routes_without_onnxruntime(tw, routes, monkeypatch):
    monkeypatch.setattr(mk, "USE_ORT", False)
    (node, qg), x = random_layer(np.random.default_rng(8), tw=tw)
    run_and_check(node, qg, x)
    assert routes["blas"] == 1 and routes["f32"] == routes["int"] == 0


def test_depthwise_goes_through_one_grouped_float32_conv(routes):
    (node, qg), x = random_layer(np.random.default_rng(9), c=6, cout=6, groups=6, tw="ap_fixed<6,2>")
    run_and_check(node, qg, x)
    assert routes["real_plan"] == (1, 0) and routes["f32"] == 1 and routes["loop"] == 0


@pytest.mark.parametrize("tw,extreme,second", [
    ("ap_fixed<8,2>", True, ("dense_int32", np.int8)),     # all products at the extreme: sum 300 * 2**22 < 2**31
    ("ap_fixed<8,2>", False, ("dense_int32", np.int8)),
    ("ap_fixed<16,6>", False, ("dense", np.int16)),        # bound above 2**31: int64 sums on the narrow copy
])
def test_dense_at_batch_one_reads_narrow_weights(tw, extreme, second, routes):
    rng = np.random.default_rng(10)
    ti, tw, res = Fixed.parse("ap_fixed<16,6>"), Fixed.parse(tw), Fixed.parse("ap_fixed<16,6,AP_RND,AP_SAT>")
    w = rng.integers(tw.min_raw, tw.max_raw + 1, (7, 300))
    x = rng.integers(ti.min_raw, ti.max_raw + 1, (1, 300))
    if extreme:
        w[:], x[:] = tw.min_raw, ti.min_raw
    node = Node("d", "Dense", ["x"], ["y"], DenseAttrs(300, 7), {"weight": w.astype(float)}, "relu")
    acc = DENSE.safe_accum(node, [ti], tw)
    qg = single_layer_qgraph(node, (300,), ti, LayerTypes(res, tw, None, acc), {"weight": w})
    for kernel, dtype in (("dense", np.int64), second):          # the narrow copy is made on the second call
        (got,), n = DENSE.run_fixed(node, [x], qg)
        np.testing.assert_array_equal(got, hls_layer(x, ti, w, None, tw, None, acc, res, True))
        assert routes[kernel] >= 1 and routes[kernel + "_args"][1].dtype == dtype
        assert n == res.cast_counted(hls_layer(x, ti, w, None, tw, None, acc, acc, False), acc)[1]


# ----------------------------------------------------------------------------- bounds at the edge
def test_split_plan_edges():
    def plan(xmax, wsum):
        return ort_mod.split_plan(np.full(16, xmax), {1: np.array([[wsum]]), 2: np.array([[wsum / 2] * 2]).astype(np.int64)}, 1)
    assert plan(4095, 4097) == (1, 0)                 # 2**24 - 1: one float32 Conv
    assert plan(4096, 4096) == (2, 0)                 # 2**24: two channel slices
    assert plan(1 << 15, 1 << 12) == (2, 8)           # slices too wide: limbs
    assert plan(1 << 15, 1 << 20) is None


def test_float32_exact_at_the_largest_sum(routes):
    # 17 channels of x = 4095 times w = 241: the sum is exactly 2**24 - 1, one float32 Conv
    x = np.full((1, 17, 4, 4), 4095)
    w = np.full((1, 17, 1, 1), 241)
    node, qg = layer(x, w, np.zeros(1, np.int64), "ap_fixed<16,16>", "ap_fixed<16,16>", "ap_fixed<40,40>",
                     pad=0, relu=False)
    (got,), _ = CONV.run_fixed(node, [x], qg)
    assert (got == (1 << 24) - 1).all() and routes["real_plan"] == (1, 0) and routes["f32"] == 1


def test_gemm_plan_edges():
    assert mk.gemm_plan(4095, 4097) == (np.float32, 0)
    assert mk.gemm_plan(4096, 4096)[1] > 0


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
        for relu in (False, True):
            out = np.empty((1, 1, vv.size), np.int64)
            n = fused_epilogue(p, np.array([0, 20]), 0, np.zeros(1, np.int64), cast_params(shift, width, signed, rnd, ovf),
                               relu, out)
            np.testing.assert_array_equal(out.ravel(), np.maximum(want, 0) if relu else want)
            assert n == n_want


# ----------------------------------------------------------------------------- weight cache
def test_new_weights_never_meet_a_stale_session():
    (node, qg), x = random_layer(np.random.default_rng(11), full=False)
    run_and_check(node, qg, x)
    w = qg.qparams["c"]["weight"]
    with pytest.raises(ValueError):
        w[0, 0, 0, 0] += 1                   # cached weights are frozen
    qg.qparams["c"]["weight"] = -w           # a new array: a new entry, new results
    run_and_check(node, qg, x)
