"""Fixed: spelling, properties, and quantize/cast against the pure-Python reference."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import FpgaSimError
from fpga_sim.fixed import Fixed, product_type
from fpga_sim.fixed_kernels import OVERFLOW, ROUNDING

from .ops_support import ref_cast, ref_quantize

# ------------------------------------------------------------------------------ spelling

@pytest.mark.parametrize("text, expected, canonical", [
    ("ap_fixed<8,3>", Fixed(8, 3), "ap_fixed<8,3>"),
    (" ap_fixed < 8 , 3 > ", Fixed(8, 3), "ap_fixed<8,3>"),
    ("ap_fixed<8,3,AP_RND>", Fixed(8, 3, True, "AP_RND"), "ap_fixed<8,3,AP_RND>"),
    ("ap_fixed<8,3,AP_TRN,AP_SAT>", Fixed(8, 3, True, "AP_TRN", "AP_SAT"), "ap_fixed<8,3,AP_TRN,AP_SAT>"),
    ("ap_fixed<16,6,AP_RND_CONV,AP_SAT_SYM,0>", Fixed(16, 6, True, "AP_RND_CONV", "AP_SAT_SYM"),
     "ap_fixed<16,6,AP_RND_CONV,AP_SAT_SYM>"),
    ("ap_fixed<8,3,AP_TRN,AP_WRAP>", Fixed(8, 3), "ap_fixed<8,3>"),
    ("ap_ufixed<4,-2,AP_RND_ZERO,AP_SAT_ZERO>", Fixed(4, -2, False, "AP_RND_ZERO", "AP_SAT_ZERO"),
     "ap_ufixed<4,-2,AP_RND_ZERO,AP_SAT_ZERO>"),
    ("ap_ufixed<3,7>", Fixed(3, 7, False), "ap_ufixed<3,7>"),
    ("ap_int<12>", Fixed(12, 12), "ap_fixed<12,12>"),
    ("ap_uint<1>", Fixed(1, 1, False), "ap_ufixed<1,1>"),
    ("ap_fixed<64,64>", Fixed(64, 64), "ap_fixed<64,64>"),
    ("fixed<16,6,RND,SAT>", Fixed(16, 6, True, "AP_RND", "AP_SAT"), "ap_fixed<16,6,AP_RND,AP_SAT>"),
    ("ufixed<8,0>", Fixed(8, 0, False), "ap_ufixed<8,0>"),
])
def test_parse_and_canonical_spelling(text, expected, canonical):
    t = Fixed.parse(text)
    assert t == expected
    assert str(t) == canonical
    assert Fixed.parse(str(t)) == t


def test_every_mode_round_trips_through_its_spelling():
    for signed in (True, False):
        for q in ROUNDING:
            for o in OVERFLOW:
                t = Fixed(7, 2, signed, q, o)
                assert Fixed.parse(str(t)) == t
                assert str(t).startswith("ap_fixed<" if signed else "ap_ufixed<")


@pytest.mark.parametrize("text, says", [
    ("ap_fixed<0,3>", "W >= 1"),
    ("ap_int<-2>", "W >= 1"),
    ("ap_fixed<8,3,AP_ROUND>", "AP_RND_CONV"),
    ("ap_fixed<8,3,AP_RND,AP_CLIP>", "AP_SAT_SYM"),
    ("ap_fixed<8,3,AP_RND,AP_WRAP_SM>", "not supported"),
    ("ap_fixed<8,3,AP_RND,AP_SAT,3>", "N other than 0"),
    ("ap_fixed<65,3>", "1..64"),
    ("ap_ufixed<64,3>", "does not fit int64"),
    ("ap_fixed<8>", "ap_fixed<W,I>"),
    ("ap_int<8,3>", "ap_int<W>"),
    ("ap_fixed<8.0,3>", "ap_fixed<W,I>"),
    ("float", "ap_fixed<W,I>"),
    ("", "ap_fixed<W,I>"),
])
def test_bad_spellings_are_value_errors_quoting_the_input(text, says):
    with pytest.raises(ValueError) as info:
        Fixed.parse(text)
    assert isinstance(info.value, FpgaSimError)
    assert repr(text) in str(info.value) and says in str(info.value)


@pytest.mark.parametrize("kwargs, says", [
    (dict(width=0, int_bits=0), "width 0 is not supported.*widths 1..64 are accepted"),
    (dict(width=64, int_bits=0, signed=False), "width 64 is not supported for ap_ufixed.*widths 1..63 are accepted"),
    (dict(width=8.0, int_bits=3), "width 8.0 must be an integer"),
    (dict(width=8, int_bits=3, signed="yes"), "signed 'yes' must be True or False"),
    (dict(width=8, int_bits=3, rounding="nearest"), "rounding mode 'nearest'.*; accepted: AP_TRN, .*AP_RND_CONV"),
    (dict(width=8, int_bits=3, overflow="clip"), "overflow mode 'clip'.*; accepted: AP_WRAP, .*AP_SAT_SYM"),
    (dict(width=8, int_bits=10**6), r"int_bits 1000000 is outside -4096\.\.4096"),
])
def test_bad_constructor_arguments(kwargs, says):
    with pytest.raises(FpgaSimError, match=says):
        Fixed(**kwargs)


def test_immutable_and_hashable():
    t = Fixed(8, 3)
    with pytest.raises(AttributeError):
        t.width = 9
    assert len({Fixed(8, 3), Fixed.parse("ap_fixed<8,3>"), Fixed(8, 3, True, "AP_TRN", "AP_WRAP")}) == 1


# ---------------------------------------------------------------------------- properties

@pytest.mark.parametrize("t, frac, lo, hi, res", [
    (Fixed(8, 3), 5, -4.0, 4 - 2**-5, 2**-5),
    (Fixed(8, 3, False), 5, 0.0, 8 - 2**-5, 2**-5),
    (Fixed(4, -2), 6, -2**-3, 2**-3 - 2**-6, 2**-6),  # I < 0: all fractional, below 1/8
    (Fixed(3, 7), -4, -64.0, 48.0, 16.0),  # I > W: steps of 16
    (Fixed(1, 1), 0, -1.0, 0.0, 1.0),  # W = 1 signed: {-1, 0}
    (Fixed(1, 0, False), 1, 0.0, 0.5, 0.5),
    (Fixed(64, 32), 32, -2.0**31, 2.0**31 - 2**-32, 2**-32),
])
def test_properties(t, frac, lo, hi, res):
    assert (t.frac, t.min, t.max, t.resolution) == (frac, lo, hi, res)
    assert t.to_float([t.min_raw, t.max_raw]).tolist() == [lo, hi]
    assert t.max_raw - t.min_raw == 2**t.width - 1


def test_product_type_is_exact_and_limited_to_int64():
    a, b = Fixed(8, 3, True, "AP_RND", "AP_SAT"), Fixed(6, -1, False)
    assert product_type(a, b) == Fixed(14, 2, True)
    assert product_type(Fixed(32, 4), Fixed(32, 4)) == Fixed(64, 8)
    assert product_type(Fixed(31, 4, False), Fixed(32, 4, False)) == Fixed(63, 8, False)
    with pytest.raises(FpgaSimError, match="does not fit int64"):
        product_type(Fixed(32, 4, False), Fixed(32, 4, False))


# ------------------------------------------------------------------- against the reference

def random_type(rng, max_signed: int = 64) -> Fixed:
    signed = bool(rng.random() < 0.5)
    w = int(rng.integers(1, (max_signed if signed else max_signed - 1) + 1))
    i = int(rng.integers(-4, w + 5)) if rng.random() < 0.9 else int(rng.integers(-70, 140))
    return Fixed(w, i, signed, ROUNDING[rng.integers(7)], OVERFLOW[rng.integers(4)])


def probe_values(rng, t: Fixed, n: int) -> np.ndarray:
    """Ties at and around t's LSB, values just beside them, in and far out of range, specials."""
    lsb = t.resolution
    k = rng.integers(-(2**min(t.width + 1, 52)), 2**min(t.width + 1, 52), size=n).astype(np.float64)
    ties = (k + 0.5) * lsb
    return np.concatenate([
        [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 5e-324, -5e-324, 1e308, -1e308,
         t.min, t.max, t.min - lsb / 2, t.max + lsb / 2, -lsb / 2, lsb / 2, -0.49999999999999994 * lsb],
        ties, np.nextafter(ties, np.inf), np.nextafter(ties, -np.inf), ties * 0.25,
        rng.normal(0, max(abs(t.max), lsb) * 1.5, n),
        rng.choice([-1.0, 1.0], n) * np.exp2(rng.uniform(-t.frac - 70, t.int_bits + 70, n)),
    ])


def test_quantize_matches_reference_including_overflow_counts():
    rng = np.random.default_rng(1)
    for _ in range(80):
        t = random_type(rng)
        x = probe_values(rng, t, 16)
        raw, n_ovf = t.quantize_counted(x)
        ref = [ref_quantize(v, t) for v in x]
        bad = [(v, r, e) for v, r, e in zip(x, raw.tolist(), ref) if r != e[0]]
        assert not bad, f"{t}: (x, Fixed, reference) {bad[:5]}"
        assert n_ovf == sum(o for _, o in ref), t


def test_every_small_type_and_mode_matches_reference():
    """Exhaustive over W 1..3, I -2..4, both signs, every mode: the corner types (W = 1,
    I < 0, I > W) where AP_SAT_SYM, wrap and rounding interact most."""
    grid = np.array([k / 16 for k in range(-160, 161, 3)] + [-0.5, 0.5, -1.5, 1.5, -4.0, -8.0, 1e9, -1e9])
    for w in (1, 2, 3):
        for i in range(-2, 5):
            for signed in (True, False):
                for q in ROUNDING:
                    for o in OVERFLOW:
                        t = Fixed(w, i, signed, q, o)
                        raw, n = t.quantize_counted(grid)
                        ref = [ref_quantize(v, t) for v in grid]
                        assert raw.tolist() == [r for r, _ in ref], t
                        assert n == sum(f for _, f in ref), t


def test_quantize_keeps_shape_and_accepts_scalars_and_lists():
    t = Fixed(8, 3, True, "AP_RND", "AP_SAT")
    assert t.quantize(1.3).shape == () and int(t.quantize(1.3)) == 42
    x = np.arange(24, dtype=np.float64).reshape(2, 3, 4)[:, ::2, :] / 7  # non-contiguous view
    assert t.quantize(x).shape == (2, 2, 4)
    assert t.quantize(x).tolist() == [[[ref_quantize(v, t)[0] for v in row] for row in m] for m in x]
    assert t.quantize([1.3, -1.3]).tolist() == [42, -42]


def test_cast_matches_reference_including_overflow_counts():
    rng = np.random.default_rng(2)
    for _ in range(100):
        src, dst = random_type(rng), random_type(rng)
        edges = [src.min_raw, src.max_raw, 0, min(1, src.max_raw), max(-1, src.min_raw)]
        raw = np.concatenate([edges, rng.integers(src.min_raw, src.max_raw, size=40, endpoint=True)])
        out, n_ovf = dst.cast_counted(raw, src)
        ref = [ref_cast(r, src, dst) for r in raw.tolist()]
        bad = [(r, o, e) for r, o, e in zip(raw.tolist(), out.tolist(), ref) if o != e[0]]
        assert not bad, f"{src} -> {dst}: (raw, Fixed, reference) {bad[:5]}"
        assert n_ovf == sum(o for _, o in ref), (src, dst)


def test_cast_rejects_a_source_that_is_not_a_type():
    with pytest.raises(FpgaSimError, match="must be a Fixed"):
        Fixed(8, 3).cast([1, 2], "ap_fixed<8,3>")


def test_with_modes_and_to_float():
    t = Fixed(6, 2).with_modes(overflow="AP_SAT")
    assert t == Fixed(6, 2, True, "AP_TRN", "AP_SAT")
    assert t.to_float(t.quantize([1.3, -5.0, 9.0])).tolist() == [1.25, -2.0, 2.0 - 1 / 16]
