"""fixed_kernels: the scalar kernels as other Numba kernels use them, at the extremes of shift,
width and int64, against the pure-Python reference."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
from numba import njit

from fpga_sim.fixed import Fixed, product_type
from fpga_sim.fixed_kernels import (OVERFLOW, ROUNDING, cast_array, cast_params, quantize_array, quantize_exact,
                                    quantize_scalar, requant, requant_array)

from .ops_support import apply_overflow, ref_cast, ref_from_value, ref_quantize, round_to_integer

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@njit(nogil=True)  # not cached: a cached caller would keep a stale inlined requant
def _requant_each(v, shifts, width, signed, rnd, ovf, out, flags):
    for i in range(v.size):
        out[i], flags[i] = requant(v[i], shifts[i], width, signed, rnd, ovf)


@njit(nogil=True)  # not cached: a cached caller would keep a stale inlined requant
def _quantize_each(x, frac, width, signed, rnd, ovf, out):
    for i in range(x.size):
        out[i], _ = quantize_scalar(x[i], frac, width, signed, rnd, ovf)


@njit(nogil=True)  # not cached: a cached caller would keep a stale inlined requant
def _dot(a, b, shift_p, acc_codes, shift_o, out_codes):
    """An engine-style dot product: exact products, cast to the accumulator, saturating adds."""
    aw, asg, ar, ao = acc_codes
    ow, osg, orr, oo = out_codes
    acc = np.int64(0)
    n = 0
    for i in range(a.size):
        p, o1 = requant(a[i] * b[i], shift_p, aw, asg, ar, ao)
        acc, o2 = requant(acc + p, 0, aw, asg, ar, ao)
        n += o1 + o2
    r, o3 = requant(acc, shift_o, ow, osg, orr, oo)
    return r, n + o3


def _ref_requant(v: int, shift: int, t: Fixed) -> tuple[int, bool]:
    return ref_from_value(Fraction(v) / Fraction(2) ** shift * Fraction(2) ** -t.frac, t)


def test_requant_at_int64_and_shift_extremes():
    values = [0, 1, -1, 2, -2, 3, -3, 5, -5, 2**62, -(2**62), INT64_MAX, INT64_MIN, INT64_MIN + 1,
              2**52 + 1, -(2**52) - 1, 12345678901234567, -98765432109876543]
    shifts = [-200, -64, -63, -62, -40, -1, 0, 1, 2, 31, 61, 62, 63, 64, 65, 126, 127, 128, 500, 10**5]
    v = np.array([a for a in values for _ in shifts], dtype=np.int64)
    s = np.array([b for _ in values for b in shifts], dtype=np.int64)
    for width, signed in [(64, True), (63, False), (1, True), (1, False), (8, True), (33, False)]:
        for q in ROUNDING:
            for o in OVERFLOW:
                t = Fixed(width, 0, signed, q, o)
                out, flags = np.empty_like(v), np.empty(v.size, dtype=np.bool_)
                _requant_each(v, s, *t.codes, out, flags)
                for vi, si, got, fl in zip(v.tolist(), s.tolist(), out.tolist(), flags.tolist()):
                    assert (got, fl) == _ref_requant(vi, si, t), (t, vi, si)


def test_array_fast_path_equals_exact_scalar_path():
    """quantize_array's float fast path (and the rare values it leaves to quantize_exact) against
    quantize_scalar's integer path, every mode, with the overflow counts."""
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0, 4, 3000), (rng.integers(-2000, 2000, 3000) + 0.5) / 64,
                        -rng.uniform(0, 1 / 32, 500), rng.normal(0, 1e4, 500) * 2.0 ** rng.integers(-60, 60, 500),
                        [-0.49999999999999994 / 32, 2.0**-1022, -(2.0**-1022), 0.0, -0.0, 1.5, -1.5, 2.5, -2.5]])
    for frac in (-3, 0, 5, 20, 60):
        for width, signed in ((16, True), (7, False), (62, True), (64, True), (63, False)):
            for q in range(7):
                for o in range(4):
                    fast, slow = np.empty(x.size, np.int64), np.empty(x.size, np.int64)
                    p = cast_params(2, width, signed, q, o)
                    n, rare = quantize_array(x, 2.0**frac, p, fast)
                    if rare:
                        n += quantize_exact(x, frac, width, signed, q, o, True, fast)
                    _quantize_each(x, frac, width, signed, q, o, slow)
                    n_slow = sum(quantize_scalar(v, frac, width, signed, q, o)[1] for v in x[:50])
                    assert np.array_equal(fast, slow), (frac, width, q, o)
                    assert n == Fixed(width, width - frac, signed, ROUNDING[q], OVERFLOW[o]).quantize_counted(x)[1]
                    assert quantize_exact(x[:50], frac, width, signed, q, o, False, slow[:50]) == n_slow


def test_rare_values_take_the_exact_path_inside_an_array():
    """Values outside quantize_array's domain (NaN, infinities, huge, denormal, tiny products)
    mixed with common ones, against the Fraction reference, every mode."""
    x = np.array([1.25, np.nan, -np.nan, np.inf, -np.inf, 1e300, -1e300, 5e-324, -5e-324, 2.0**-1030,
                  -(2.0**-1040), 2.0**60, -(2.0**60), 3.0, -0.75])
    for q in ROUNDING:
        for o in OVERFLOW:
            for t in (Fixed(16, 6, True, q, o), Fixed(8, 8, False, q, o), Fixed(64, 40, True, q, o)):
                raw, n = t.quantize_counted(x)
                want = [ref_quantize(v, t) for v in x]
                assert raw.tolist() == [w[0] for w in want], t
                assert n == sum(w[1] for w in want), t


def test_quantize_with_huge_fractional_bits_takes_the_exact_path():
    for t in (Fixed(16, -1200), Fixed(16, 1100, False, "AP_RND", "AP_SAT"), Fixed(8, -3000, True, "AP_TRN_ZERO")):
        x = np.array([0.0, 1.0, -1.0, 5e-324, -5e-324, 2.0**-1070, -(2.0**-1060), 1e300, 2.0**1020])
        want = [ref_quantize(v, t)[0] for v in x]
        assert t.quantize(x).tolist() == want, t


def test_engine_style_dot_product_matches_reference():
    rng = np.random.default_rng(4)
    for _ in range(60):
        ta = Fixed(int(rng.integers(2, 17)), int(rng.integers(-2, 6)), True)
        tb = Fixed(int(rng.integers(2, 17)), int(rng.integers(-2, 6)), bool(rng.random() < 0.5))
        tacc = Fixed(int(rng.integers(4, 33)), int(rng.integers(-1, 12)), True,
                     ROUNDING[rng.integers(7)], OVERFLOW[rng.integers(4)])
        tout = Fixed(8, int(rng.integers(0, 5)), True, ROUNDING[rng.integers(7)], OVERFLOW[rng.integers(4)])
        a = rng.integers(ta.min_raw, ta.max_raw, 20, endpoint=True)
        b = rng.integers(tb.min_raw, tb.max_raw, 20, endpoint=True)
        tp = product_type(ta, tb)
        got = _dot(a, b, tp.frac - tacc.frac, tacc.codes, tacc.frac - tout.frac, tout.codes)
        acc, n = 0, 0
        for x, y in zip(a.tolist(), b.tolist()):
            p, o1 = ref_cast(x * y, tp, tacc)
            acc, o2 = apply_overflow(acc + p, tacc)  # acc + p is exact in the accumulator's LSBs
            n += o1 + o2
        r, o3 = ref_cast(acc, tacc, tout)
        assert got == (r, n + o3), (ta, tb, tacc, tout)


def test_reference_rounding_definitions_on_halves():
    """The reference itself, on the textbook table of halves (so it cannot drift silently)."""
    halves = [Fraction(k, 2) for k in (-5, -3, -1, 1, 3, 5)]
    table = {
        "AP_TRN": [-3, -2, -1, 0, 1, 2], "AP_TRN_ZERO": [-2, -1, 0, 0, 1, 2],
        "AP_RND": [-2, -1, 0, 1, 2, 3], "AP_RND_ZERO": [-2, -1, 0, 0, 1, 2],
        "AP_RND_MIN_INF": [-3, -2, -1, 0, 1, 2], "AP_RND_INF": [-3, -2, -1, 1, 2, 3],
        "AP_RND_CONV": [-2, -2, 0, 0, 2, 2],
    }
    for mode, want in table.items():
        assert [round_to_integer(h, mode) for h in halves] == want, mode


def test_fast_cast_equals_requant_over_all_of_int64():
    """cast_array's branch-free formulas against requant_array on values at the int64 extremes
    (where v + rounding constant would leave int64), every mode, widths to 64, shifts to 62."""
    rng = np.random.default_rng(5)
    edges = [0, 1, -1, 2**62 - 1, 2**62, -(2**62), -(2**62) - 1, INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1]
    v = np.concatenate([np.array(edges, np.int64), rng.integers(INT64_MIN, INT64_MAX, 300, endpoint=True),
                        rng.integers(-(2**20), 2**20, 300)])
    for width, signed in ((64, True), (63, False), (63, True), (62, True), (62, False), (16, True), (1, True), (1, False)):
        for shift in (-62, -40, -3, -1, 0, 1, 5, 40, 61, 62):
            for q in range(7):
                for o in range(4):
                    fast, want = np.empty_like(v), np.empty_like(v)
                    n = cast_array(v, cast_params(shift, width, signed, q, o), fast)
                    assert n == requant_array(v, shift, width, signed, q, o, want), (width, shift, q, o)
                    assert np.array_equal(fast, want), (width, signed, shift, q, o)
