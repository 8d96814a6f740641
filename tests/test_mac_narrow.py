"""mac_narrow: the fast narrow-accumulator MAC equals conv_direct and a pure-Python reference,
outputs and overflow counts, on shapes and types that wrap, saturate and truncate a lot."""
import numpy as np
import pytest

from fpga_sim.fixed import Fixed, product_type
from fpga_sim.ops.conv import ConvAttrs
from fpga_sim.ops.mac_per_term import conv_direct
from fpga_sim.ops.mac_narrow import BATCH_LANES_MIN_N, run_mac_narrow
from tests.ops_support import ref_cast


def out_size(h, k, s, p0, p1, d):
    return (h + p0 + p1 - d * (k - 1) - 1) // s + 1


def ref_conv(x, w, bias, a, tin, tw, acc, res, relu):
    """Python integers, every cast through ops_support: (raw out, overflow events)."""
    n_b, _, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    (sh, sw), (pt, pl, pb, pr), (dh, dw), groups = a.strides, a.pads, a.dilations, a.groups
    ho, wo = out_size(h, kh, sh, pt, pb, dh), out_size(wd, kw, sw, pl, pr, dw)
    pty = product_type(tin, tw)
    out = np.zeros((n_b, cout, ho, wo), np.int64)
    events = 0
    for n in range(n_b):
        for oc in range(cout):
            ch0 = oc // (cout // groups) * cg
            for oh in range(ho):
                for ow in range(wo):
                    s = int(bias[oc])
                    for c in range(cg):
                        for i in range(kh):
                            for j in range(kw):
                                ih, iw = oh * sh - pt + i * dh, ow * sw - pl + j * dw
                                if 0 <= ih < h and 0 <= iw < wd:
                                    term, f1 = ref_cast(int(x[n, ch0 + c, ih, iw]) * int(w[oc, c, i, j]), pty, acc)
                                    s, f2 = ref_cast(s + term, acc, acc)
                                    events += f1 + f2
                    y, f3 = ref_cast(s, acc, res)
                    out[n, oc, oh, ow] = max(y, 0) if relu else y
                    events += f3
    return out, events


def run_both(x, w, bias, a, tin, tw, acc, res, relu):
    """(run_mac_narrow's, conv_direct's) (out, events); narrow's is None when it declines.  Both
    of mac_narrow's kernels run (output channels as lanes, samples as lanes) and must agree."""
    _, _, h, wd = x.shape
    _, _, kh, kw = w.shape
    (sh, sw), (pt, pl, pb, pr), (dh, dw), groups = a.strides, a.pads, a.dilations, a.groups
    ho, wo = out_size(h, kh, sh, pt, pb, dh), out_size(wd, kw, sw, pl, pr, dw)
    pshift, fshift = tin.frac + tw.frac - acc.frac, acc.frac - res.frac
    o1 = np.empty((x.shape[0], w.shape[0], ho, wo), np.int64)
    o2 = np.empty_like(o1)
    n1 = run_mac_narrow(x, w, bias, a, pshift, acc, fshift, res, relu, o1, lanes="channels")
    o3 = np.empty_like(o1)
    n3 = run_mac_narrow(x, w, bias, a, pshift, acc, fshift, res, relu, o3, lanes="batch")
    assert (n1 is None) == (n3 is None)
    if n1 is not None:
        np.testing.assert_array_equal(o3, o1)
        assert n3 == n1
    n2 = conv_direct(x, w, bias, sh, sw, pt, pl, dh, dw, groups, ho, wo, pshift, *acc.codes, fshift,
                     *res.codes, relu, o2)
    return (None if n1 is None else (o1, n1)), (o2, int(n2))


def random_case(rng, dense):
    """A random layer whose narrow accumulator wraps or saturates often."""
    sg = rng.random() < 0.85
    aw = int(rng.integers(6, 14))
    rnd = rng.choice(["AP_TRN", "AP_TRN", "AP_RND", "AP_RND_MIN_INF"])
    ovf = rng.choice(["AP_WRAP", "AP_WRAP", "AP_SAT", "AP_SAT_SYM", "AP_SAT_ZERO"])
    acc = Fixed.parse(f"ap_{'' if sg else 'u'}fixed<{aw},{int(rng.integers(1, aw))},{rnd},{ovf}>")
    tin = Fixed.parse(f"ap_{'' if rng.random() < 0.8 else 'u'}fixed<{int(rng.integers(3, 13))},{int(rng.integers(1, 5))}>")
    tw = Fixed.parse(f"ap_fixed<{int(rng.integers(3, 13))},{int(rng.integers(0, 4))}>")
    res = Fixed.parse(f"ap_fixed<{int(rng.integers(4, 12))},{int(rng.integers(1, 6))}>")
    if dense:
        groups, c, cout, k, s, d, pads, h, wd = 1, int(rng.integers(1, 40)), int(rng.integers(1, 12)), 1, 1, 1, (0,) * 4, 1, 1
    else:
        groups = int(rng.choice([1, 1, 2, 3]))
        c = groups * int(rng.integers(1, 4))
        cout = groups if rng.random() < 0.2 else groups * int(rng.integers(1, 4))   # depthwise sometimes
        k, s, d = int(rng.choice([1, 2, 3])), int(rng.integers(1, 3)), int(rng.integers(1, 3))
        pads = tuple(int(v) for v in rng.integers(0, 3, 4))
        h, wd = int(rng.integers(d * (k - 1) + 1, 8)), int(rng.integers(d * (k - 1) + 1, 8))
    a = ConvAttrs((k, k), (s, s), pads, (d, d), groups)
    x = rng.integers(tin.min_raw, tin.max_raw + 1, (2, c, h, wd))
    x[rng.random(x.shape) < 0.3] = 0
    w = rng.integers(tw.min_raw, tw.max_raw + 1, (cout, c // groups, k, k))
    bias = rng.integers(acc.min_raw, acc.max_raw + 1, cout)
    if ovf == "AP_SAT_SYM" and sg:
        bias = np.maximum(bias, acc.min_raw + 1)                  # a cast bias never holds the lowest code
    return x, w, bias, a, tin, tw, acc, res, bool(rng.random() < 0.5)


@pytest.mark.parametrize("dense", [False, True])
@pytest.mark.parametrize("seed", range(10))
def test_matches_conv_direct_and_python_reference(seed, dense):
    case = random_case(np.random.default_rng(seed + 100 * dense), dense)
    fast, direct = run_both(*case)
    want = ref_conv(*case)
    assert fast is not None
    np.testing.assert_array_equal(fast[0], want[0])
    np.testing.assert_array_equal(direct[0], want[0])
    assert fast[1] == direct[1] == want[1]


def test_many_random_layers_match_conv_direct():
    """Wider sweep against conv_direct alone (the Python reference is too slow for it)."""
    rng = np.random.default_rng(1)
    events = 0
    for it in range(120):
        fast, direct = run_both(*random_case(rng, dense=it % 3 == 0))
        assert fast is not None
        np.testing.assert_array_equal(fast[0], direct[0])
        assert fast[1] == direct[1]
        events += direct[1]
    assert events > 1000                      # the sweep really wraps and saturates


@pytest.mark.parametrize("acc", ["ap_fixed<16,6>", "ap_fixed<16,6,AP_RND,AP_SAT>", "ap_fixed<12,6>"])
def test_hls4ml_like_dense_layer(acc):
    """ap_fixed<16,6> everywhere (hls4ml's default), a post-ReLU input with zeros, K = 300; the
    narrow accumulators make some outputs wrap (or saturate), most not."""
    rng = np.random.default_rng(3)
    t = Fixed.parse("ap_fixed<16,6>")
    x = np.maximum(t.quantize(rng.normal(0, 1.5, (5, 300, 1, 1))), 0)
    w = t.quantize(rng.normal(0, 0.8, (40, 300, 1, 1)))
    ta = Fixed.parse(acc)
    bias = ta.quantize(rng.normal(0, 1, 40))
    case = (x, w, bias, ConvAttrs((1, 1)), t, t, ta, t, True)
    fast, direct = run_both(*case)
    np.testing.assert_array_equal(fast[0], direct[0])
    assert fast[1] == direct[1] > 0
    want = ref_conv(x[:1], w, bias, *case[3:])
    np.testing.assert_array_equal(fast[0][:1], want[0])


@pytest.mark.parametrize("acc,tin,why", [
    ("ap_fixed<12,4,AP_RND_CONV>", "ap_fixed<8,3>", "ties to even depend on parity"),
    ("ap_fixed<12,4,AP_TRN_ZERO>", "ap_fixed<8,3>", "rounding toward zero depends on the sign"),
    ("ap_fixed<40,20>", "ap_fixed<8,3>", "accumulator wider than int32"),
    ("ap_fixed<30,20>", "ap_fixed<24,3>", "products wider than int32"),
])
def test_declines_what_int32_or_a_constant_rounding_cannot_do(acc, tin, why):
    t, ta = Fixed.parse(tin), Fixed.parse(acc)
    rng = np.random.default_rng(0)
    x = rng.integers(t.min_raw, t.max_raw + 1, (1, 2, 3, 3))
    w = np.full((2, 2, 1, 1), (1 << 15) - 1)
    fast, _ = run_both(x, w, np.zeros(2, np.int64), ConvAttrs((1, 1)), t, Fixed.parse("ap_fixed<16,1>"), ta,
                       Fixed.parse("ap_fixed<8,3>"), False)
    assert fast is None, why


def test_left_shift_product_cast_and_unsigned_accumulator():
    """pshift < 0 (the accumulator has more fraction bits than the product: the cast is a left
    shift folded into the weights) with an unsigned accumulator that negative terms leave."""
    rng = np.random.default_rng(5)
    tin, tw = Fixed.parse("ap_fixed<6,3>"), Fixed.parse("ap_fixed<5,2>")
    for acc in ("ap_ufixed<12,3>", "ap_fixed<14,5,AP_TRN,AP_SAT>"):
        ta = Fixed.parse(acc)
        assert ta.frac > tin.frac + tw.frac
        x = rng.integers(tin.min_raw, tin.max_raw + 1, (2, 3, 5, 5))
        w = rng.integers(tw.min_raw, tw.max_raw + 1, (4, 3, 3, 3))
        bias = rng.integers(ta.min_raw, ta.max_raw + 1, 4)
        case = (x, w, bias, ConvAttrs((3, 3), (1, 1), (1, 1, 1, 1)), tin, tw, ta, Fixed.parse("ap_fixed<8,4>"), False)
        fast, direct = run_both(*case)
        want = ref_conv(*case)
        np.testing.assert_array_equal(fast[0], want[0])
        assert fast[1] == direct[1] == want[1] > 0


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("res", ["ap_fixed<8,3>", "ap_fixed<10,5,AP_RND,AP_SAT>", "ap_fixed<8,3,AP_TRN,AP_SAT_SYM>"])
def test_final_cast_identity_or_not(res, relu):
    """A result type holding every accumulator value skips the cast; AP_SAT_SYM's lowest code
    (an event) and narrower types do not."""
    rng = np.random.default_rng(11)
    tin, tw, acc = Fixed.parse("ap_fixed<8,3>"), Fixed.parse("ap_fixed<6,1>"), Fixed.parse("ap_fixed<8,3>")
    x = rng.integers(tin.min_raw, tin.max_raw + 1, (2, 3, 5, 5))
    w = rng.integers(tw.min_raw, tw.max_raw + 1, (4, 3, 3, 3))
    bias = rng.integers(acc.min_raw, acc.max_raw + 1, 4)
    case = (x, w, bias, ConvAttrs((3, 3), (1, 1), (1, 1, 1, 1)), tin, tw, acc, Fixed.parse(res), relu)
    fast, direct = run_both(*case)
    want = ref_conv(*case)
    np.testing.assert_array_equal(fast[0], want[0])
    assert fast[1] == direct[1] == want[1] > 0


@pytest.mark.parametrize("cout,k,hw,relu", [(10, 1, 1, False), (16, 5, 8, True), (32, 5, 4, True), (3, 3, 6, False)])
def test_samples_as_lanes_route(cout, k, hw, relu):
    """Batches of BATCH_LANES_MIN_N or more with few output channels take the samples-as-lanes kernel by default
    (batch sizes not a multiple of 8 too); the hls4ml digits shapes (a 10-output dense layer, the
    LeNet convolutions) with ap_fixed<16,6> everywhere, inputs made large enough that some
    outputs need the tracked and the per-term tiers."""
    rng = np.random.default_rng(cout * 100 + k)
    t = Fixed.parse("ap_fixed<16,6>")
    cin = 16 if hw == 4 else (1 if hw == 8 else 40)
    x = t.quantize(rng.normal(0, 3.0, (BATCH_LANES_MIN_N + 3, cin, hw, hw)))
    x[rng.random(x.shape) < 0.4] = 0
    w = t.quantize(rng.normal(0, 0.7, (cout, cin, k, k)))
    bias = t.quantize(rng.normal(0, 2, cout))
    a = ConvAttrs((k, k), (1, 1), (k // 2,) * 4)
    case = (x, w, bias, a, t, t, t, t, relu)
    fast, direct = run_both(*case)
    np.testing.assert_array_equal(fast[0], direct[0])
    assert fast[1] == direct[1] > 0
    o = np.empty_like(fast[0])
    assert run_mac_narrow(x, w, bias, a, 10, t, 0, t, relu, o) == direct[1]      # the default route
    np.testing.assert_array_equal(o, direct[0])
    want = ref_conv(x[:2], w, bias, *case[3:])
    np.testing.assert_array_equal(fast[0][:2], want[0])
