"""The lecture's fixed_point: its printed results, and that it is ap_fixed<NOB+1, NOIB+1,
AP_RND_INF, AP_SAT_SYM> (checked against an exact transcription of the slide's code)."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from fpga_sim import fixed_point
from fpga_sim.errors import FpgaSimError
from fpga_sim.fixed import Fixed
from fpga_sim.lecture import lecture_type


def slide_fixed_point(x: float, nob: int, noib: int) -> float:
    """The slide's function, in exact arithmetic: round() is Python 2's (halves away from zero)."""
    if math.isnan(x):
        return math.nan
    power = Fraction(2) ** (nob - noib)
    mx = 2**nob - 1
    if math.isinf(x):
        return float(math.copysign(mx, x) / power)
    v = Fraction(x) * power
    r = math.floor(abs(v) + Fraction(1, 2)) * (1 if v >= 0 else -1)
    return float(Fraction(min(max(r, -mx), mx)) / power)


def test_the_slides_printed_results():
    assert fixed_point(1.25, 3, 1) == 1.25
    assert fixed_point(1.25, 3, 0) == 0.875
    assert fixed_point(1.25, 3, 2) == 1.5  # needs round half away from zero (Python 3 gives 1.0)
    assert round(1.25 * 2 ** (3 - 2)) / 2 ** (3 - 2) == 1.0  # ... which is why: Python 3's round


def test_it_is_the_ap_fixed_type_over_many_values():
    rng = np.random.default_rng(7)
    for nob in list(range(1, 12)) + [20, 31, 52]:
        for noib in (-3, 0, 1, nob // 2, nob, nob + 3):
            t = lecture_type(nob, noib)
            assert t == Fixed(nob + 1, noib + 1, True, "AP_RND_INF", "AP_SAT_SYM")
            lsb = 2.0 ** (noib - nob)
            k = rng.integers(-(2**nob) - 4, 2**nob + 4, 200).astype(np.float64)
            x = np.concatenate([(k + 0.5) * lsb, k * lsb, np.nextafter((k + 0.5) * lsb, 0),
                                rng.normal(0, 2.0**noib, 200), [0.0, -0.0, np.inf, -np.inf, 1e300]])
            got = fixed_point(x, nob, noib)
            via_type = t.to_float(t.quantize(x))
            slide = np.array([slide_fixed_point(v, nob, noib) for v in x])
            assert np.array_equal(got, slide), (nob, noib)
            assert np.array_equal(via_type, slide), (nob, noib)


def test_scalars_arrays_nan_and_zero_bits():
    assert isinstance(fixed_point(0.3, 4, 1), float)
    assert fixed_point([[0.3, -0.3]], 4, 1).shape == (1, 2)
    assert math.isnan(fixed_point(float("nan"), 4, 1))
    # NOB = 0: the slide clips to [-0, 0]; ap_fixed<1,..,AP_SAT_SYM> would keep -1 (documented)
    assert fixed_point([-3.0, -0.2, 0.7, 5.0], 0, 0).tolist() == [0.0, 0.0, 0.0, 0.0]
    for noib in (-2, 0, 3):   # ... which is what the slide's code gives too
        xs = [-3.0, -0.2, 0.7, 5.0, 0.49, -0.51]
        assert fixed_point(xs, 0, noib).tolist() == [slide_fixed_point(v, 0, noib) for v in xs]
    t = lecture_type(0, 0)
    assert t.to_float(t.quantize([-3.0])).tolist() == [-1.0]


@pytest.mark.parametrize("nob, noib, says", [
    (-1, 0, "NOB=-1"), (64, 0, "NOB=64"), (2.5, 0, "NOB=2.5"), (3, 1.0, "NOIB=1.0"), (3, 10**5, "NOIB=100000"),
])
def test_bad_bit_counts_are_value_errors_quoting_the_input(nob, noib, says):
    with pytest.raises(ValueError) as info:
        fixed_point(1.0, nob, noib)
    assert isinstance(info.value, FpgaSimError) and says in str(info.value)
