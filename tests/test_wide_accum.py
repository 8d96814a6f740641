"""MAC layers whose accumulators (up to 128 bits) or products (64 x 64 bits) leave int64: the route
table's wide route, against a Fraction/Python-int reference of the HLS arithmetic and against
ap_fixed.h compiled with g++; and the 63/64-bit accumulators that stay on the int64 routes."""
from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction

import numpy as np
import pytest

from fpga_sim.errors import FpgaSimError
from fpga_sim.fixed import Fixed
from fpga_sim.fixed_kernels import OVERFLOW, ROUNDING
from fpga_sim.graph import LayerTypes, Node
from fpga_sim.machine import single_layer_qgraph
from fpga_sim.ops.base import REGISTRY
from fpga_sim.ops.conv import ConvAttrs
from fpga_sim.ops.dense import DenseAttrs
from fpga_sim.ops.mac_kernels import forced_route, recording_routes
from fpga_sim.ops.mac_wide import requant_obj

from .ops_support import ref_from_value

CONV, DENSE = REGISTRY["Conv"], REGISTRY["Dense"]


def raw_values(rng, t: Fixed, size) -> np.ndarray:
    """Raw int64 values of t: full range, the extremes present."""
    v = np.array([int(a) for a in rng.integers(-(1 << 62), 1 << 62, int(np.prod(size)))], dtype=object)
    v = (v * 4 + rng.integers(0, 4, v.size).astype(object))     # the full 64 bits
    v = v % (t.max_raw - t.min_raw + 1) + t.min_raw
    v[:2] = [t.min_raw, t.max_raw]
    return v.astype(np.int64).reshape(size)


def ref_mac(xs, ws, bias, tin, tw, tb, acc, res, relu):
    """One output as HLS computes it, term by term, in Fractions: (raw result, overflow events)."""
    ev = 0
    a, f = ref_from_value(Fraction(int(bias)) * Fraction(1, 2) ** tb.frac, acc) if bias is not None else (0, False)
    ev += f
    scale = Fraction(1, 2) ** acc.frac
    for x, w in zip(xs, ws):
        term, f1 = ref_from_value(Fraction(int(x) * int(w)) * Fraction(1, 2) ** (tin.frac + tw.frac), acc)
        a, f2 = ref_from_value((a + term) * scale, acc)
        ev += f1 + f2
    y, f = ref_from_value(a * scale, res)
    return (max(y, 0) if relu else y), ev + f


def dense_layer(rng, n_in, n_out, tin, tw, tb, acc, res, batch=2):
    tin, tw, tb, res = (Fixed.parse(t) for t in (tin, tw, tb, res))
    w, x, b = raw_values(rng, tw, (n_out, n_in)), raw_values(rng, tin, (batch, n_in)), raw_values(rng, tb, n_out)
    node = Node("d", "Dense", ["x"], ["y"], DenseAttrs(n_in, n_out), {"weight": np.zeros((n_out, n_in)),
                                                                    "bias": np.zeros(n_out)}, "relu")
    acc = DENSE.safe_accum(node, [tin], tw) if acc is None else Fixed.parse(acc)
    qg = single_layer_qgraph(node, (n_in,), tin, LayerTypes(res, tw, tb, acc), {"weight": w, "bias": b})
    return node, qg, x, (tin, tw, tb, acc, res)


def check_dense(node, qg, x, types, route=None):
    w, b = qg.qparams["d"]["weight"], qg.qparams["d"]["bias"]
    with forced_route(route), recording_routes() as taken:
        (got,), n = DENSE.run_fixed(node, [x], qg)
    want = [[ref_mac(x[i], w[o], b[o], *types, True) for o in range(w.shape[0])] for i in range(x.shape[0])]
    assert got.tolist() == [[y for y, _ in row] for row in want]
    assert n == sum(e for row in want for _, e in row)
    return taken, n


# ----------------------------------------------------------------------------- the cast
def test_requant_obj_matches_the_reference_for_wide_types_and_every_mode():
    rng = np.random.default_rng(1)
    for i in range(56):
        t = Fixed(int(rng.integers(60, 129)), int(rng.integers(-8, 140)), i % 2 == 0, ROUNDING[i % 7],
                  OVERFLOW[(i // 7) % 4])
        shift = int(rng.integers(-20, 70))
        span = 1 << (t.width + max(shift, 0) + 2)
        v = [int(rng.integers(-(1 << 62), 1 << 62)) * span // (1 << 62) for _ in range(60)]
        v += [t.min_raw << max(shift, 0), t.max_raw << max(shift, 0), 0, -1, 1]
        v += [(k << max(shift, 0)) + (1 << (shift - 1)) * s for k in (-3, 2) for s in (-1, 1) if shift > 0]
        got, flags = requant_obj(np.array(v, dtype=object), shift, t)
        want = [ref_from_value(Fraction(a) * Fraction(1, 2) ** (shift + t.frac), t) for a in v]
        assert got.tolist() == [r for r, _ in want], t
        assert flags.tolist() == [bool(f) for _, f in want], t


# ----------------------------------------------------------------------------- layers beyond int64
def test_32_bit_data_and_weights_with_their_safe_accumulator_take_the_wide_route():
    node, qg, x, types = dense_layer(np.random.default_rng(2), 40, 3, "ap_fixed<32,8>", "ap_fixed<32,2>",
                                     "ap_fixed<40,12>", None, "ap_fixed<24,10,AP_RND_CONV,AP_SAT>")
    assert types[3].width == 70 and not types[3].fits_int64
    taken, n = check_dense(node, qg, x, types)
    assert taken == ["wide"] and n > 0                    # the 24-bit result saturates


@pytest.mark.parametrize("acc", ["ap_fixed<100,60,AP_RND,AP_SAT>", "ap_fixed<128,70,AP_TRN_ZERO,AP_SAT_SYM>",
                                 "ap_fixed<90,50,AP_RND_INF,AP_WRAP>", "ap_ufixed<96,40,AP_RND_CONV,AP_SAT_ZERO>"])
def test_64_bit_products_per_term_with_narrower_accumulators_that_overflow(acc):
    node, qg, x, types = dense_layer(np.random.default_rng(len(acc)), 12, 3, "ap_fixed<64,20>", "ap_fixed<64,4>",
                                     "ap_fixed<64,30>", acc, "ap_fixed<64,30,AP_RND,AP_SAT>")
    taken, n = check_dense(node, qg, x, types)
    assert taken == ["wide"] and n > 0


def test_a_wide_convolution_with_padding_stride_and_groups():
    rng = np.random.default_rng(4)
    tin, tw, tb = Fixed.parse("ap_fixed<40,10>"), Fixed.parse("ap_fixed<40,3>"), Fixed.parse("ap_fixed<48,20>")
    acc, res = Fixed.parse("ap_fixed<84,30,AP_RND,AP_SAT>"), Fixed.parse("ap_fixed<32,12,AP_RND_ZERO,AP_SAT_SYM>")
    x, w, b = raw_values(rng, tin, (2, 4, 5, 5)), raw_values(rng, tw, (4, 2, 3, 3)), raw_values(rng, tb, 4)
    x[0, :, 1:3] = 0                                         # zero inputs and weights: skipped terms
    w[1, 0] = 0
    attrs = ConvAttrs((3, 3), (2, 1), (1, 0, 1, 2), (1, 1), 2)
    node = Node("c", "Conv", ["x"], ["y"], attrs, {"weight": np.zeros(w.shape), "bias": np.zeros(4)}, None)
    qg = single_layer_qgraph(node, (4, 5, 5), tin, LayerTypes(res, tw, tb, acc), {"weight": w, "bias": b})
    with recording_routes() as taken:
        (got,), n = CONV.run_fixed(node, [x], qg)
    assert taken == ["wide"]
    (sh, sw), (pt, pl, _, _) = attrs.strides, attrs.pads
    events = 0
    for nn in range(2):
        for oc in range(4):
            g = oc // 2
            for oh in range(got.shape[2]):
                for ow in range(got.shape[3]):
                    xs, ws = [], []
                    for c in range(2):
                        for i in range(3):
                            for j in range(3):
                                ih, iw = oh * sh - pt + i, ow * sw - pl + j
                                if 0 <= ih < 5 and 0 <= iw < 5:
                                    xs.append(x[nn, g * 2 + c, ih, iw])
                                    ws.append(w[oc, c, i, j])
                    y, e = ref_mac(xs, ws, b[oc], tin, tw, tb, acc, res, False)
                    assert got[nn, oc, oh, ow] == y
                    events += e
    assert n == events and n > 0


# ----------------------------------------------------------------------------- 63/64 bits stay on int64
def test_24_bit_types_with_a_63_bit_safe_accumulator_stay_on_an_int64_route():
    # VGG-19's widest layer at 24-bit types: 4608 terms of 48-bit products need 63 bits
    node, qg, x, types = dense_layer(np.random.default_rng(5), 4608, 2, "ap_fixed<26,8>", "ap_fixed<24,2>",
                                     "ap_fixed<24,8>", None, "ap_fixed<24,8,AP_RND,AP_SAT>", batch=1)
    assert types[3].width == 63
    taken, _ = check_dense(node, qg, x, types)
    assert taken[0] != "wide"
    assert check_dense(node, qg, x, types, route="wide")[0] == ["wide"]     # the wide route agrees


def test_a_64_bit_saturating_accumulator_that_may_overflow_goes_wide():
    # acc + term of two 64-bit values can leave int64: per_term refuses, the wide route counts right
    node, qg, x, types = dense_layer(np.random.default_rng(6), 16, 2, "ap_fixed<32,8>", "ap_fixed<32,2>",
                                     "ap_fixed<32,8>", "ap_fixed<64,10,AP_TRN,AP_SAT>", "ap_fixed<32,8>")
    with pytest.raises(FpgaSimError, match="can sum beyond int64"), forced_route("per_term"):
        DENSE.run_fixed(node, [x], qg)
    taken, n = check_dense(node, qg, x, types)
    assert taken == ["wide"] and n > 0


def test_data_types_beyond_int64_are_refused_in_one_sentence():
    node, qg, x, _ = dense_layer(np.random.default_rng(7), 4, 2, "ap_fixed<32,8>", "ap_fixed<32,2>",
                                 "ap_fixed<32,8>", None, "ap_fixed<32,8>")
    lt = qg.layer_types["d"]
    qg.layer_types["d"] = LayerTypes(Fixed(70, 20), lt.weight, lt.bias, lt.accum)
    with pytest.raises(FpgaSimError, match="result type ap_fixed<70,20> does not fit int64; .* at most 64 bits"):
        DENSE.run_fixed(node, [x], qg)


# ----------------------------------------------------------------------------- ap_fixed.h
_CPP = r"""
#include <cstdio>
#include "ap_fixed.h"
typedef %(TIN)s tin_t; typedef %(TW)s tw_t; typedef %(TB)s tb_t; typedef %(ACC)s acc_t; typedef %(RES)s res_t;
int main() {
  long long x[%(K)d] = {%(X)s}, w[%(O)d][%(K)d] = {%(W)s}, b[%(O)d] = {%(B)s};
  for (int o = 0; o < %(O)d; ++o) {
    tb_t bb; bb.setBits(b[o]);
    acc_t acc = bb;
    for (int k = 0; k < %(K)d; ++k) {
      tin_t xv; xv.setBits(x[k]); tw_t wv; wv.setBits(w[o][k]);
      acc_t term = xv * wv;
      acc = acc + term;
    }
    res_t y = acc;
    printf("%%lld\n", (long long)y.range(%(RW)d - 1, 0).to_int64() << (64 - %(RW)d) >> (64 - %(RW)d));
  }
  return 0;
}
"""


def _cpp(t: Fixed) -> str:
    return f"{'ap_fixed' if t.signed else 'ap_ufixed'}<{t.width},{t.int_bits},{t.rounding},{t.overflow}>"


def _ll(v: int) -> str:
    return "(-9223372036854775807LL - 1)" if v == -(1 << 63) else f"{v}LL"


@pytest.mark.gxx
@pytest.mark.parametrize("tin,tw,acc", [
    ("ap_fixed<48,12>", "ap_fixed<40,2>", "ap_fixed<96,40,AP_RND,AP_SAT>"),
    ("ap_fixed<64,20>", "ap_fixed<64,4>", "ap_fixed<128,50,AP_RND_CONV,AP_WRAP>"),
    ("ap_fixed<36,10>", "ap_fixed<36,3>", "ap_fixed<70,14,AP_TRN_ZERO,AP_SAT_SYM>"),
])
def test_wide_dense_matches_ap_fixed_h(tin, tw, acc, tmp_path):
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    from fpga_sim.aptypes import find_ap_types

    node, qg, x, types = dense_layer(np.random.default_rng(8), 24, 3, tin, tw, "ap_fixed<48,20>", acc,
                                     "ap_fixed<40,16,AP_RND,AP_SAT>", batch=1)
    tin_t, tw_t, tb_t, acc_t, res_t = types
    w, b = qg.qparams["d"]["weight"], qg.qparams["d"]["bias"]
    src = _CPP % dict(TIN=_cpp(tin_t), TW=_cpp(tw_t), TB=_cpp(tb_t), ACC=_cpp(acc_t), RES=_cpp(res_t), K=24, O=3,
                      RW=res_t.width, X=",".join(_ll(int(v)) for v in x[0]),
                      W=",".join("{" + ",".join(_ll(int(v)) for v in row) + "}" for row in w),
                      B=",".join(_ll(int(v)) for v in b))
    (tmp_path / "wide.cpp").write_text(src)
    subprocess.run(["g++", "-O0", "-std=c++14", "-w", f"-I{find_ap_types()}", str(tmp_path / "wide.cpp"), "-o",
                    str(tmp_path / "wide")], check=True, capture_output=True, text=True)
    theirs = [int(v) for v in subprocess.run([str(tmp_path / "wide")], check=True, capture_output=True,
                                             text=True).stdout.split()]
    with recording_routes() as taken:
        (got,), _ = DENSE.run_fixed(node, [x], qg)
    assert taken == ["wide"] and got[0].tolist() == [max(v, 0) for v in theirs]      # the fused ReLU
